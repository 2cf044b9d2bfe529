// Parameters as the JSON the Python oracles read ({"C": 0.1, "penalty": "l1"}):
// ints stay ints, floats floats. For parameter_space_test and svm_test.
#pragma once

#include <nlohmann/json.hpp>
#include <variant>

#include "dtask/ml/core/params.h"

namespace dtask::ml_core::testing {

inline nlohmann::json to_json(const ParamValue& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v.variant());
}

inline nlohmann::json to_json(const Params& p) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : p) out[k] = to_json(v);
  return out;
}

}  // namespace dtask::ml_core::testing
