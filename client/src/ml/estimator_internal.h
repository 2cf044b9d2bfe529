// Helpers the client's estimators share: parameters as JSON (for specs and
// checkpoints), elapsed seconds, a float64 view of a computed array, fitting
// in one task, and fitted attributes as NDArrays.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dtask/value.h"
#include "dtask/ml/estimator.h"
#include "dtask/ml/params.h"
#include "ml_core/glm_chunk.h"

namespace dtask::ml {

namespace internal {
/// {"C": 0.1, "penalty": "l1"}: ints stay ints, floats floats.
nlohmann::json params_json(const Params& params);

/// Fits `estimator` (by its spec) on X [n, d] and y [n] gathered into one
/// chunk, in one dense_fit task; returns the serialised model. Throws
/// ArrayError on bad shapes, TaskError when the fit fails.
std::string fit_in_one_task(Client& client, const Estimator& estimator, const Array& X, const Array& y);

/// `v` as float64 / int64 NDArrays of `shape` (fitted attributes).
NDArray float64_array(const std::vector<double>& v, std::vector<std::int64_t> shape);
NDArray int64_array(const std::vector<std::int64_t>& v);

/// A whole text file (a saved model); TaskError (IOError) when it cannot be read.
std::string read_text_file(const std::string& path);
/// Writes a saved model; TaskError (IOError) when it cannot be written.
void write_text_file(const std::string& path, const std::string& text);

/// Seconds on the steady clock since `start` (fit and refit times, progress lines).
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace internal

inline NDArray ml_core_cast_float64(const NDArray& a) { return ml_core::to_float64(a); }

}  // namespace dtask::ml
