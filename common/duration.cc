#include "common/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace dtask {

namespace {

/// Milliseconds per unit, or 0 for an unknown unit.
double unit_ms(std::string_view unit) {
  if (unit == "h") return 3'600'000;
  if (unit == "m" || unit == "min") return 60'000;
  if (unit == "s" || unit.empty()) return 1'000;
  if (unit == "ms") return 1;
  return 0;
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto bad = [&] {
    return Status::invalid("cannot read '" + std::string(text) + "' as a duration (e.g. 55m, 2h, 90s, 1h30m)");
  };
  const std::string s(text);
  std::size_t at = 0;
  double total = 0;
  bool any = false;
  while (at < s.size()) {
    const char* begin = s.c_str() + at;
    char* end = nullptr;
    const double number = std::strtod(begin, &end);
    if (end == begin || !std::isfinite(number) || number < 0) return bad();
    at += static_cast<std::size_t>(end - begin);
    std::size_t unit_end = at;
    while (unit_end < s.size() && std::isalpha(static_cast<unsigned char>(s[unit_end])) != 0) ++unit_end;
    const std::string_view unit(s.data() + at, unit_end - at);
    if (unit.empty() && (any || unit_end < s.size())) return bad();  // a bare number stands alone
    const double per = unit_ms(unit);
    if (per == 0) return bad();
    total += number * per;
    any = true;
    at = unit_end;
  }
  if (!any || total > 1e15) return bad();
  return std::chrono::milliseconds(std::llround(total));
}

}  // namespace dtask
