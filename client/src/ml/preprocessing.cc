// dtask::ml::StandardScaler: moments by one tree reduction, blockwise transforms.
#include "dtask/ml/preprocessing.h"

#include <cmath>

#include "client/src/array_internal.h"
#include "dtask/client.h"
#include "ml_core/scaler_config.h"

namespace dtask::ml {

using array_internal::fail;

StandardScaler::StandardScaler(StandardScalerOptions options) : options_(options) {}

StandardScaler& StandardScaler::fit(Client& client, const Array& X, const Array&) { return fit(client, X); }

Params StandardScaler::get_params() const {
  return ml_core::scaler_binding().get({options_.with_mean, options_.with_std});
}

StandardScaler& StandardScaler::set_params(const Params& params) {
  ml_core::ScalerConfig config{options_.with_mean, options_.with_std};
  Status status = ml_core::scaler_binding().set_all(config, params);
  if (!status.ok()) array_internal::fail(status.message());
  options_ = {config.with_mean, config.with_std};
  return *this;
}

StandardScaler& StandardScaler::fit(Client& client, const Array& X) {
  if (!X.valid() || X.ndim() != 2) fail("StandardScaler.fit: X must be a 2-d array, got " + X.describe());
  // One graph for both reductions: they share X's chunk tasks, so a file is read once.
  NDArray moments = concatenate({X.mean(0), X.var(0)}).compute(client);
  const std::int64_t d = X.cols();
  mean_ = NDArray::zeros(DType::kFloat64, {d});
  var_ = NDArray::uninitialized(DType::kFloat64, {d});
  scale_ = NDArray::uninitialized(DType::kFloat64, {d});
  for (std::int64_t j = 0; j < d; ++j) {
    double mean = moments.data<double>()[j], var = moments.data<double>()[d + j];
    if (options_.with_mean) mean_.mutable_data<double>()[j] = mean;
    var_.mutable_data<double>()[j] = var;
    // A constant column is left unscaled, as scikit-learn does.
    scale_.mutable_data<double>()[j] = options_.with_std && var > 0 ? std::sqrt(var) : 1.0;
  }
  n_samples_seen_ = X.rows();
  return *this;
}

void StandardScaler::require_fitted(const char* what, const Array& X) const {
  if (!mean_.buffer) fail(std::string("StandardScaler.") + what + ": the scaler is not fitted yet");
  if (!X.valid() || X.ndim() != 2 || X.cols() != mean_.size()) {
    fail(std::string("StandardScaler.") + what + ": X " + X.describe() + " does not have the scaler's " +
         std::to_string(mean_.size()) + " columns");
  }
}

Array StandardScaler::transform(const Array& X) const {
  require_fitted("transform", X);
  return (X - mean_) / scale_;
}

Array StandardScaler::inverse_transform(const Array& X) const {
  require_fitted("inverse_transform", X);
  return X * scale_ + mean_;
}

}  // namespace dtask::ml
