// The per-chunk numerics behind dtask::ml estimators (KMeans, GLMs, ...),
// registered on every worker by register_builtin_ops.
#pragma once

#include "dtask/builtin_ops.h"
#include "worker/op_registry.h"

namespace dtask {

/// Registers every estimator's ops.
void register_ml_ops(OpRegistry& registry);

namespace ml_ops {
void register_kmeans_ops(OpRegistry& registry);
void register_glm_ops(OpRegistry& registry);
/// Cross-validation fits (cv_fit_score, cv_fit_transform, ...); the scoring
/// ops they call by "op:NAME" are looked up in `registry` when they run.
void register_model_selection_ops(OpRegistry& registry);
void register_svm_ops(OpRegistry& registry);
void register_sgd_ops(OpRegistry& registry);
}  // namespace ml_ops

}  // namespace dtask
