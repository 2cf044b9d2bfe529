// The GLM numerics of one block of rows, shared by the worker's per-chunk
// ops (worker/ml_ops/glm_ops.cc) and by in-memory fits (dense_glm.h), so a
// grid-search candidate and the distributed estimator compute the same sums.
// These throw std::invalid_argument on bad input, naming the array (x_name,
// y_name), the chunk and the row; an op turns that into a task error.
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/value.h"

namespace dtask::ml_core {

/// `array` as float64 (shared when it already is).
NDArray to_float64(const NDArray& array);
/// `values` as a float64 [n] array.
NDArray float64_vector(const std::vector<double>& values);

/// Σ loss, Σ gradient and (with_hessian) Σ Hessian over the rows of x
/// [rows, d] with targets y [rows] at β [p] (p = d + fit_intercept):
/// float64 [1 + p (+ p*p, row-major)].
///
/// Family "multinomial": y holds each row's class index 0..k-1, β is
/// [W row-major (k*d), b (k, with fit_intercept)] and k = |β| / (d +
/// fit_intercept); the loss is -Σ log softmax(W x + b)[y]. No Hessian
/// (with_hessian throws): it would be (k (d + 1))² per row.
NDArray glm_loss_grad(const NDArray& x, const NDArray& y, const NDArray& beta, const std::string& family,
                      bool fit_intercept, bool with_hessian, std::int64_t chunk, const std::string& x_name,
                      const std::string& y_name);

/// argmin_β (1/n_total) Σ loss(β) + ρ/2 ||β - v||² over these rows, by damped
/// Newton from β0 (consensus ADMM's local step): float64 [p].
NDArray glm_admm_local(const NDArray& x, const NDArray& y, const NDArray& v, const NDArray& beta0, double rho,
                       double n_total, const std::string& family, bool fit_intercept, std::int64_t chunk,
                       const std::string& x_name, const std::string& y_name);

/// The sorted distinct values of y [rows] (float64 [m]); throws on NaN or
/// infinity, naming y, the chunk and the row. A classifier's labels pass.
NDArray class_labels(const NDArray& y, std::int64_t chunk, const std::string& y_name);

/// Each value of y as its index in the sorted `classes` (float64 [rows]),
/// -1 for a value that is not a class.
NDArray class_indices(const NDArray& y, const NDArray& classes);

/// A fitted logistic model applied to x [rows, d]; `classes` [k] sorted.
/// k == 2: β [d (+ 1)], η = x.w + b; k >= 3: β as glm_loss_grad's multinomial.
/// method "decision_function": float64 [rows] (k == 2) or [rows, k];
/// "predict_proba": [rows, k] (softmax; k == 2: 1 - σ(η), σ(η));
/// "predict": the labels, float64 [rows] (argmax, first on ties; k == 2: classes[1] when η > 0).
NDArray glm_apply(const NDArray& x, const NDArray& beta, const NDArray& classes, bool fit_intercept,
                  const std::string& method);

/// The sums behind score(): float64 [7] = [n, Σ (predict == y), Σ (y - μ)²,
/// Σ y, Σ y², Σ (μ - y η), Σ y log y].
NDArray glm_score_parts(const NDArray& x, const NDArray& y, const NDArray& beta, const std::string& family,
                        bool fit_intercept, std::int64_t chunk, const std::string& x_name, const std::string& y_name);

}  // namespace dtask::ml_core
