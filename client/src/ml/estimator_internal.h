// Helpers the client's estimators share: parameters as JSON (for specs and
// checkpoints), elapsed seconds, and a float64 view of a computed array.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/value.h"
#include "dtask/ml/params.h"
#include "ml_core/glm_chunk.h"

namespace dtask::ml {

namespace internal {
/// {"C": 0.1, "penalty": "l1"}: ints stay ints, floats floats.
nlohmann::json params_json(const Params& params);

/// Seconds on the steady clock since `start` (fit and refit times, progress lines).
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace internal

inline NDArray ml_core_cast_float64(const NDArray& a) { return ml_core::to_float64(a); }

}  // namespace dtask::ml
