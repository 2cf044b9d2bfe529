#include "common/byte_size.h"

#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace dtask {

std::uint64_t total_system_memory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
}

Result<std::uint64_t> parse_byte_size(std::string_view text, unsigned share) {
  std::string s(text);
  if (s == "auto") return total_system_memory() / (share == 0 ? 1 : share);
  char* end = nullptr;
  double number = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(number) || number < 0) {
    return Status::invalid("bad byte size '" + s + "' (use e.g. 2GiB, 512MB or auto)");
  }
  std::string unit(end);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.front()))) unit.erase(unit.begin());
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Unit {
    const char* name;
    double factor;
  };
  static constexpr Unit kUnits[] = {{"", 1},         {"b", 1},          {"kb", 1e3},       {"mb", 1e6},
                                    {"gb", 1e9},      {"tb", 1e12},      {"kib", 1024.0},   {"mib", 1048576.0},
                                    {"gib", 1073741824.0}, {"tib", 1099511627776.0}};
  for (const Unit& u : kUnits) {
    if (unit == u.name) {
      double bytes = number * u.factor;
      if (bytes >= 18446744073709551615.0) return Status::invalid("byte size '" + s + "' is too large");
      return static_cast<std::uint64_t>(bytes);
    }
  }
  return Status::invalid("unknown unit '" + unit + "' in byte size '" + s + "' (use B, kB, MB, GB, KiB, MiB, GiB)");
}

std::string format_byte_size(std::uint64_t bytes) {
  static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char out[32];
  std::snprintf(out, sizeof(out), unit == 0 ? "%.0f %s" : "%.2f %s", value, kNames[unit]);
  return out;
}

}  // namespace dtask
