// DistributedGlmObjective: F's terms as distributed passes (worker/ml_ops/glm_ops.cc).
#include "client/src/ml/glm_objective_internal.h"

#include <cmath>

#include "client/src/ml/chunk_passes_internal.h"
#include "dtask/client.h"
#include "ml_core/dense_glm.h"
#include "ml_core/glm_chunk.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml::internal {

DistributedGlmObjective::DistributedGlmObjective(Client& client, Array X, Array y, std::string family,
                                                 bool fit_intercept, ml_core::Penalty penalty, std::int64_t n_outputs)
    : client_(client),
      X_(std::move(X)),
      y_(std::move(y)),
      family_(std::move(family)),
      fit_intercept_(fit_intercept),
      penalty_(penalty),
      p_(n_outputs * (X_.cols() + (fit_intercept ? 1 : 0))) {}

ml_core::Evaluation DistributedGlmObjective::smooth(const std::vector<double>& beta, bool hessian) const {
  NDArray b = ml_core::float64_vector(beta);
  Value total = reduce_over_chunks(client_, {X_, y_}, ops::kGlmLossGrad, [&](std::int64_t chunk) {
    return std::vector<Value>{Value(b), family_, fit_intercept_, hessian, chunk, X_.name(), y_.name()};
  });
  return ml_core::evaluation_from_sums(total.get<NDArray>(), p_, n(), hessian, penalty_, beta);
}

std::vector<std::vector<double>> DistributedGlmObjective::admm_local(const std::vector<std::vector<double>>& v,
                                                                     const std::vector<std::vector<double>>& beta0,
                                                                     double rho) const {
  auto results = map_over_chunks(client_, {X_, y_}, ops::kGlmAdmmLocal, [&](std::int64_t chunk) {
    auto i = static_cast<std::size_t>(chunk);
    return std::vector<Value>{Value(ml_core::float64_vector(v[i])), Value(ml_core::float64_vector(beta0[i])), rho, static_cast<double>(n()),
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
