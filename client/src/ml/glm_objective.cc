// GlmObjective: F's terms as distributed passes (worker/ml_ops/glm_ops.cc).
#include "client/src/ml/glm_objective_internal.h"

#include <cmath>

#include "client/src/ml/chunk_passes_internal.h"
#include "dtask/client.h"

namespace dtask::ml::internal {

namespace {

NDArray to_ndarray(const std::vector<double>& v) {
  NDArray out = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(v.size())});
  std::copy(v.begin(), v.end(), out.mutable_data<double>());
  return out;
}

}  // namespace

GlmObjective::GlmObjective(Client& client, Array X, Array y, std::string family, bool fit_intercept, Penalty penalty)
    : client_(client),
      X_(std::move(X)),
      y_(std::move(y)),
      family_(std::move(family)),
      fit_intercept_(fit_intercept),
      penalty_(penalty),
      p_(X_.cols() + (fit_intercept ? 1 : 0)) {}

Evaluation GlmObjective::smooth(const std::vector<double>& beta, bool hessian) const {
  NDArray b = to_ndarray(beta);
  Value total = reduce_over_chunks(client_, {X_, y_}, "glm_loss_grad", [&](std::int64_t chunk) {
    return std::vector<Value>{Value(b), family_, fit_intercept_, hessian, chunk, X_.name(), y_.name()};
  });
  const NDArray& sums = total.get<NDArray>();
  const double* s = sums.data<double>();
  const double inv_n = 1.0 / static_cast<double>(n());
  Evaluation e;
  e.value = s[0] * inv_n;
  e.grad.assign(s + 1, s + 1 + p_);
  for (double& g : e.grad) g *= inv_n;
  for (std::int64_t j = 0; j < penalty_.n_penalized; ++j) {
    e.value += 0.5 * penalty_.l2 * beta[j] * beta[j];
    e.grad[j] += penalty_.l2 * beta[j];
  }
  if (hessian) {
    e.hess.assign(s + 1 + p_, s + 1 + p_ + p_ * p_);
    for (double& h : e.hess) h *= inv_n;
    for (std::int64_t j = 0; j < penalty_.n_penalized; ++j) e.hess[j * p_ + j] += penalty_.l2;
  }
  return e;
}

double GlmObjective::nonsmooth(const std::vector<double>& beta) const {
  double total = 0;
  for (std::int64_t j = 0; j < penalty_.n_penalized; ++j) total += std::abs(beta[j]);
  return penalty_.l1 * total;
}

std::vector<std::vector<double>> GlmObjective::admm_local(const std::vector<std::vector<double>>& v,
                                                          const std::vector<std::vector<double>>& beta0,
                                                          double rho) const {
  auto results = map_over_chunks(client_, {X_, y_}, "glm_admm_local", [&](std::int64_t chunk) {
    auto i = static_cast<std::size_t>(chunk);
    return std::vector<Value>{Value(to_ndarray(v[i])), Value(to_ndarray(beta0[i])), rho, static_cast<double>(n()),
                              family_, fit_intercept_, chunk, X_.name(), y_.name()};
  });
  std::vector<std::vector<double>> out;
  for (const Value& r : results) {
    const NDArray& a = r.get<NDArray>();
    out.emplace_back(a.data<double>(), a.data<double>() + a.size());
  }
  return out;
}

}  // namespace dtask::ml::internal
