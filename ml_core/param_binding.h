// get_params / set_params for an options struct: each parameter name bound
// to a member, with scikit-learn's checks (an unknown name lists the valid
// ones; a value of the wrong type names both types). One table per
// estimator, used by the client's estimators and by the worker when it
// builds a grid-search candidate from its parameters.
//
//   static const ParamBinding<GlmConfig> kBinding("LogisticRegression",
//       {{"C", &GlmConfig::C}, {"penalty", &GlmConfig::penalty}});
//   DTASK_RETURN_NOT_OK(kBinding.set(config, "C", 0.1));
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "dtask/status.h"
#include "dtask/ml/core/params.h"

namespace dtask::ml_core {

template <typename Options>
class ParamBinding {
 public:
  /// A bound member; a ParamValue member takes any type (checked by the estimator).
  using Member = std::variant<bool Options::*, int Options::*, std::int64_t Options::*, double Options::*,
                              std::string Options::*, ParamValue Options::*>;

  /// `handled_apart`: parameters the estimator sets itself (not bound here),
  /// listed in the errors with the rest.
  ParamBinding(std::string estimator, std::vector<std::pair<std::string, Member>> fields,
               std::vector<std::string> handled_apart = {})
      : estimator_(std::move(estimator)), fields_(std::move(fields)), handled_apart_(std::move(handled_apart)) {}

  const std::string& estimator() const { return estimator_; }

  /// Every parameter's present value.
  Params get(const Options& options) const {
    Params out;
    for (const auto& [name, member] : fields_) {
      std::visit([&, n = name](auto m) { out[n] = to_param(options.*m); }, member);
    }
    return out;
  }

  /// Sets one parameter; Invalid for an unknown name or a wrong type.
  Status set(Options& options, const std::string& name, const ParamValue& value) const {
    for (const auto& [field, member] : fields_) {
      if (field != name) continue;
      return std::visit([&](auto m) { return assign(options.*m, name, value); }, member);
    }
    return Status::invalid("Invalid parameter '" + name + "' for estimator " + estimator_ +
                           ". Valid parameters are: " + names() + ".");
  }

  Status set_all(Options& options, const Params& params) const {
    for (const auto& [name, value] : params) DTASK_RETURN_NOT_OK(set(options, name, value));
    return Status::success();
  }

  /// "['C', 'fit_intercept', ...]" (sorted, as scikit-learn lists them).
  std::string names() const {
    std::vector<std::string> sorted = handled_apart_;
    for (const auto& field : fields_) sorted.push_back(field.first);
    std::sort(sorted.begin(), sorted.end());
    std::string out = "[";
    for (const auto& n : sorted) out += (out.size() > 1 ? ", '" : "'") + n + "'";
    return out + "]";
  }

 private:
  static ParamValue to_param(bool v) { return v; }
  static ParamValue to_param(int v) { return v; }
  static ParamValue to_param(std::int64_t v) { return static_cast<long long>(v); }
  static ParamValue to_param(double v) { return v; }
  static ParamValue to_param(const std::string& v) { return v; }
  static ParamValue to_param(const ParamValue& v) { return v; }

  Status wrong_type(const std::string& name, const char* want, const ParamValue& value) const {
    return Status::invalid(estimator_ + ": parameter '" + name + "' must be " + want + ", got " +
                           value.type_name() + " " + value.repr());
  }
  Status assign(bool& to, const std::string& name, const ParamValue& v) const {
    if (!v.is<bool>()) return wrong_type(name, "bool", v);
    to = v.get<bool>();
    return Status::success();
  }
  Status assign(int& to, const std::string& name, const ParamValue& v) const {
    if (!v.is<std::int64_t>()) return wrong_type(name, "int", v);
    to = static_cast<int>(v.get<std::int64_t>());
    return Status::success();
  }
  Status assign(std::int64_t& to, const std::string& name, const ParamValue& v) const {
    if (!v.is<std::int64_t>()) return wrong_type(name, "int", v);
    to = v.get<std::int64_t>();
    return Status::success();
  }
  Status assign(double& to, const std::string& name, const ParamValue& v) const {
    if (!v.is_number()) return wrong_type(name, "float", v);  // ints widen, as in Python
    to = v.number();
    return Status::success();
  }
  Status assign(std::string& to, const std::string& name, const ParamValue& v) const {
    if (!v.is<std::string>()) return wrong_type(name, "str", v);
    to = v.get<std::string>();
    return Status::success();
  }
  Status assign(ParamValue& to, const std::string&, const ParamValue& v) const {
    to = v;
    return Status::success();
  }

  std::string estimator_;
  std::vector<std::pair<std::string, Member>> fields_;
  std::vector<std::string> handled_apart_;
};

}  // namespace dtask::ml_core
