#include "dtask/ml/core/params.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace dtask::ml_core {

const char* ParamValue::type_name() const {
  if (is<bool>()) return "bool";
  if (is<std::int64_t>()) return "int";
  if (is<double>()) return "float";
  return "str";
}

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, then Python's layout: scientific below 1e-4
  // and from 1e16, else positional with at least one decimal.
  char digits[32];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v, std::chars_format::scientific);
  std::string sci(digits, end);  // d.ddde±XX
  auto e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exponent = std::stoi(sci.substr(e_pos + 1));
  bool negative = !mantissa.empty() && mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string plain;  // the significant digits without the point
  for (char c : mantissa) {
    if (c != '.') plain += c;
  }
  std::string out;
  if (exponent < -4 || exponent >= 16) {
    out = plain.substr(0, 1);
    if (plain.size() > 1) out += "." + plain.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += e;
  } else if (exponent < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + plain;
  } else {
    auto int_digits = static_cast<std::size_t>(exponent + 1);
    if (plain.size() <= int_digits) {
      out = plain + std::string(int_digits - plain.size(), '0') + ".0";
    } else {
      out = plain.substr(0, int_digits) + "." + plain.substr(int_digits);
    }
  }
  return negative ? "-" + out : out;
}

std::string ParamValue::repr() const {
  if (is<bool>()) return get<bool>() ? "True" : "False";
  if (is<std::int64_t>()) return std::to_string(get<std::int64_t>());
  if (is<double>()) return python_float_repr(get<double>());
  return "'" + get<std::string>() + "'";
}

std::string describe(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += ", ";
    out += name + "=" + value.repr();
  }
  return out;
}

}  // namespace dtask::ml_core
