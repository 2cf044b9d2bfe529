// Hyperparameters as scikit-learn's get_params() shows them: a name and a
// typed value (bool, integer, float or string). Shared by the client (which
// builds grids and estimators) and the worker (which fits candidates from a
// spec), so both read a parameter the same way.
//
//   dtask::ml_core::Params p = {{"C", 0.1}, {"penalty", "l1"}, {"fit_intercept", true}};
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include "dtask/status.h"

namespace dtask::ml_core {

/// One parameter value. A string literal is a string (a plain std::variant
/// would make "l1" a bool), an int is an integer, a double a float.
class ParamValue {
 public:
  using Variant = std::variant<bool, std::int64_t, double, std::string>;

  ParamValue() : v_(std::int64_t{0}) {}
  ParamValue(bool v) : v_(v) {}                                   // NOLINT: values convert, as in Python
  ParamValue(int v) : v_(static_cast<std::int64_t>(v)) {}         // NOLINT
  ParamValue(long v) : v_(static_cast<std::int64_t>(v)) {}        // NOLINT
  ParamValue(long long v) : v_(static_cast<std::int64_t>(v)) {}   // NOLINT
  ParamValue(double v) : v_(v) {}                                 // NOLINT
  ParamValue(const char* v) : v_(std::string(v)) {}               // NOLINT
  ParamValue(std::string v) : v_(std::move(v)) {}                 // NOLINT

  const Variant& variant() const { return v_; }
  template <typename T>
  bool is() const {
    return std::holds_alternative<T>(v_);
  }
  template <typename T>
  const T& get() const {
    return std::get<T>(v_);
  }
  bool is_number() const { return is<std::int64_t>() || is<double>(); }
  /// The value as a double (integers widen); only for is_number().
  double number() const { return is<double>() ? get<double>() : static_cast<double>(get<std::int64_t>()); }

  /// "bool", "int", "float" or "str" (Python's type names, for error messages).
  const char* type_name() const;
  /// As Python's repr would print it: 0.1, 10, True, 'l1'. Floats use the
  /// shortest form that reads back the same (Python's repr).
  std::string repr() const;

  bool operator==(const ParamValue& other) const = default;
  auto operator<=>(const ParamValue& other) const = default;

 private:
  Variant v_;
};

/// Parameter name -> value, sorted by name (scikit-learn sorts grid keys).
using Params = std::map<std::string, ParamValue>;

/// "C=0.1, penalty='l1'" (scikit-learn's verbose lines).
std::string describe(const Params& params);

/// The shortest decimal form of `v` that parses back to the same double, as
/// Python's repr(float) (0.1, 1e-05, 2.5, 1.0).
std::string python_float_repr(double v);

}  // namespace dtask::ml_core
