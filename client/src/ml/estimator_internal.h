// Helpers the client's estimators share: parameters as JSON (for specs and
// checkpoints) and a float64 view of a computed array.
#pragma once

#include <nlohmann/json.hpp>

#include "common/value.h"
#include "dtask/ml/params.h"
#include "ml_core/glm_chunk.h"

namespace dtask::ml {

namespace internal {
/// {"C": 0.1, "penalty": "l1"}: ints stay ints, floats floats.
nlohmann::json params_json(const Params& params);
}  // namespace internal

inline NDArray ml_core_cast_float64(const NDArray& a) { return ml_core::to_float64(a); }

}  // namespace dtask::ml
