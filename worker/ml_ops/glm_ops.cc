// The GLM ops: thin wrappers around ml_core/glm_chunk.h, which holds the
// numerics so that a grid-search candidate fitted in one task runs the same
// code on its whole fold.
//
//   glm_loss_grad(X, y, β, family, fit_intercept, with_hessian, chunk, x_name, y_name)
//       -> float64 [1 + p (+ p*p)]: Σ loss, Σ gradient (and Σ Hessian,
//          row-major), p = features + intercept. Summed across chunks by
//          reduce_combine "sum".
//   glm_admm_local(X, y, v, β0, ρ, n, family, fit_intercept, chunk, x_name, y_name)
//       -> float64 [p]: argmin_β (1/n) Σ loss(β) + ρ/2 ||β - v||², by Newton
//          from β0 (consensus ADMM's local step, on the worker holding the chunk).
//   glm_score_parts(X, y, β, family, fit_intercept, chunk, x_name, y_name)
//       -> float64 [7]: the sums behind score().
//   glm_classes(y, chunk, y_name) -> float64 [m]: the chunk's sorted distinct labels.
//   glm_class_index(y, classes) -> float64 [rows]: each label's index in classes (-1: none).
//   glm_apply(X, β, classes, fit_intercept, method) -> a fitted logistic
//       model's decision_function, predict_proba or predict on the chunk
//       (binary or multinomial; see ml_core::glm_apply).
// The family "multinomial" (y as class indices, β = [W (k*d), b (k)]) goes
// through glm_loss_grad unchanged.
#include <string>

#include "ml_core/glm_chunk.h"
#include "worker/array_ops/array_ops.h"
#include "worker/ml_ops/ml_ops.h"

namespace dtask::ml_ops {

void register_glm_ops(OpRegistry& registry) {
  using array_ops::must_register;
  must_register(registry.add(
      ops::kGlmLossGrad, [](const NDArray& x, const NDArray& y, const NDArray& beta, const std::string& family,
                          bool fit_intercept, bool with_hessian, std::int64_t chunk, const std::string& x_name,
                          const std::string& y_name) {
        return ml_core::glm_loss_grad(x, y, beta, family, fit_intercept, with_hessian, chunk, x_name, y_name);
      }));
  must_register(registry.add(
      ops::kGlmAdmmLocal, [](const NDArray& x, const NDArray& y, const NDArray& v, const NDArray& beta0, double rho,
                           double n_total, const std::string& family, bool fit_intercept, std::int64_t chunk,
                           const std::string& x_name, const std::string& y_name) {
        return ml_core::glm_admm_local(x, y, v, beta0, rho, n_total, family, fit_intercept, chunk, x_name, y_name);
      }));
  must_register(registry.add(
      ops::kGlmScoreParts, [](const NDArray& x, const NDArray& y, const NDArray& beta, const std::string& family,
                            bool fit_intercept, std::int64_t chunk, const std::string& x_name,
                            const std::string& y_name) {
        return ml_core::glm_score_parts(x, y, beta, family, fit_intercept, chunk, x_name, y_name);
      }));
  must_register(registry.add(
      ops::kGlmClasses, [](const NDArray& y, std::int64_t chunk, const std::string& y_name) {
        return ml_core::class_labels(y, chunk, y_name);
      }));
  must_register(registry.add(
      ops::kGlmClassIndex, [](const NDArray& y, const NDArray& classes) { return ml_core::class_indices(y, classes); }));
  must_register(registry.add(
      ops::kGlmApply, [](const NDArray& x, const NDArray& beta, const NDArray& classes, bool fit_intercept,
                      const std::string& method) {
        return ml_core::glm_apply(x, beta, classes, fit_intercept, method);
      }));
}

}  // namespace dtask::ml_ops
