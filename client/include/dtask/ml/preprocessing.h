// Preprocessing users chain before a GLM, shaped like scikit-learn's and
// dask-ml's StandardScaler: the column means and variances come from one
// pass over the data (a tree reduction), the transform is blockwise.
//
//   dtask::ml::StandardScaler scaler;
//   dtask::Array Xs = scaler.fit(client, X).transform(X);   // lazy
#pragma once

#include <cstdint>
#include <memory>

#include "dtask/value.h"
#include "dtask/array.h"
#include "dtask/ml/estimator.h"

namespace dtask {
class Client;
}

namespace dtask::ml {

struct StandardScalerOptions {
  bool with_mean = true;  // subtract the column means
  bool with_std = true;   // divide by the column standard deviations
};

/// Thread-compatible: one thread fits; const methods may run concurrently.
class StandardScaler : public Estimator {
 public:
  explicit StandardScaler(StandardScalerOptions options = {});

  /// Column means and variances of a 2-d float array (one pass). Throws
  /// ArrayError on a non-2-d array and TaskError when a task fails.
  StandardScaler& fit(Client& client, const Array& X);
  /// The same; y is ignored (scikit-learn's fit(X, y=None)).
  StandardScaler& fit(Client& client, const Array& X, const Array& y) override;
  /// (X - mean_) / scale_, float64 (lazy).
  Array transform(const Array& X) const override;
  /// X * scale_ + mean_ (lazy).
  Array inverse_transform(const Array& X) const;
  Array fit_transform(Client& client, const Array& X) { return fit(client, X).transform(X); }

  std::string estimator_name() const override { return "StandardScaler"; }
  bool is_classifier() const override { return false; }
  bool is_transformer() const override { return true; }
  /// with_mean, with_std.
  Params get_params() const override;
  StandardScaler& set_params(const Params& params) override;
  StandardScaler clone() const { return StandardScaler(options_); }
  std::unique_ptr<Estimator> clone_estimator() const override { return std::make_unique<StandardScaler>(options_); }

  // Fitted attributes, named as scikit-learn's.
  NDArray mean_;   // float64 [d] (zeros without with_mean)
  NDArray var_;    // float64 [d], ddof = 0
  NDArray scale_;  // float64 [d]: sqrt(var_), 1 where a column is constant (ones without with_std)
  std::int64_t n_samples_seen_ = 0;

 private:
  void require_fitted(const char* what, const Array& X) const;
  StandardScalerOptions options_;
};

}  // namespace dtask::ml
