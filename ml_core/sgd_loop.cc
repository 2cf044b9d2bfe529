// scikit-learn 1.2.1's `_plain_sgd` for dense rows, operation for operation.
// Compiled with -ffp-contract=off (CMakeLists.txt) and never with
// -ffast-math: every product and sum below must round on its own, in this
// order, for the weights to agree with scikit-learn's to the last bits.
// Where a comment quotes a name, it is the Cython one.
#include "ml_core/sgd_loop.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "ml_core/finite_scan.h"

namespace dtask::ml_core {

namespace {

constexpr double kMaxDloss = 1e12;  // MAX_DLOSS
constexpr double kResetWscaleThreshold = 1e-9;

/// WeightVector64 for dense x (xnnz == d, x_ind == 0..d-1): w = wscale * data,
/// and Bottou's averaged vector aw = (aw_data + average_a * data) / average_b.
/// sq_norm is left out: only the verbose output reads it.
class WeightVector {
 public:
  WeightVector(double* w, double* aw, std::int64_t d) : w_(w), aw_(aw), d_(d) {}

  double dot(const double* x) const {
    double innerprod = 0.0;
    for (std::int64_t j = 0; j < d_; ++j) innerprod += w_[j] * x[j];
    innerprod *= wscale_;
    return innerprod;
  }

  void add(const double* x, double c) {
    const double step = c / wscale_;
    for (std::int64_t j = 0; j < d_; ++j) w_[j] += x[j] * step;
  }

  void add_average(const double* x, double c, double num_iter) {
    const double mu = 1.0 / num_iter;
    const double step = -c / wscale_;
    for (std::int64_t j = 0; j < d_; ++j) aw_[j] += average_a_ * x[j] * step;
    if (num_iter > 1) average_b_ /= (1.0 - mu);
    average_a_ += mu * average_b_ * wscale_;
  }

  void scale(double c) {
    wscale_ *= c;
    if (wscale_ < kResetWscaleThreshold) reset_wscale();
  }

  /// _axpy, then _scal by 1 / average_b, then _scal by wscale.
  void reset_wscale() {
    if (aw_ != nullptr) {
      for (std::int64_t j = 0; j < d_; ++j) aw_[j] += average_a_ * w_[j];
      const double inv_b = 1.0 / average_b_;
      for (std::int64_t j = 0; j < d_; ++j) aw_[j] *= inv_b;
      average_a_ = 0.0;
      average_b_ = 1.0;
    }
    for (std::int64_t j = 0; j < d_; ++j) w_[j] *= wscale_;
    wscale_ = 1.0;
  }

  double wscale() const { return wscale_; }
  double* data() { return w_; }

 private:
  double* w_;
  double* aw_;
  std::int64_t d_;
  double wscale_ = 1.0;
  double average_a_ = 0.0;
  double average_b_ = 1.0;
};

/// l1penalty: the truncated-gradient step (Tsuruoka et al. 2009) on every
/// feature, u the total L1 penalty so far, q what each weight has received.
void l1_penalty(WeightVector& w, double* q, std::int64_t d, double u) {
  const double wscale = w.wscale();
  double* data = w.data();
  for (std::int64_t j = 0; j < d; ++j) {
    const double z = data[j];
    if (wscale * z > 0.0) {
      data[j] = std::max(0.0, data[j] - ((u + q[j]) / wscale));
    } else if (wscale * z < 0.0) {
      data[j] = std::min(0.0, data[j] + ((u - q[j]) / wscale));
    }
    q[j] += wscale * (data[j] - z);
  }
}

/// ArrayDataset64.shuffle: Fisher-Yates with our_rand_r, the seed taken by
/// value, so every epoch applies the same swaps to the previous order.
void shuffle_index(std::vector<int>& index, std::uint32_t seed) {
  const auto n = static_cast<unsigned>(index.size());
  for (unsigned i = 0; i + 1 < n; ++i) {
    const unsigned j = i + our_rand_r(seed) % (n - i);
    std::swap(index[i], index[j]);
  }
}

}  // namespace

double SgdLoss::loss(double p, double y) const {
  switch (kind) {
    case SgdLossKind::kHinge: {
      const double z = p * y;
      return z <= parameter ? parameter - z : 0.0;
    }
    case SgdLossKind::kSquaredHinge: {
      const double z = parameter - p * y;
      return z > 0 ? z * z : 0.0;
    }
    case SgdLossKind::kLog: {
      const double z = p * y;
      if (z > 18) return std::exp(-z);
      if (z < -18) return -z;
      return std::log(1.0 + std::exp(-z));
    }
    case SgdLossKind::kModifiedHuber: {
      const double z = p * y;
      if (z >= 1.0) return 0.0;
      if (z >= -1.0) return (1.0 - z) * (1.0 - z);
      return -4.0 * z;
    }
    case SgdLossKind::kSquaredError:
      return 0.5 * (p - y) * (p - y);
    case SgdLossKind::kHuber: {
      const double r = p - y;
      const double abs_r = std::fabs(r);
      if (abs_r <= parameter) return 0.5 * r * r;
      return parameter * abs_r - (0.5 * parameter * parameter);
    }
    case SgdLossKind::kEpsilonInsensitive: {
      const double ret = std::fabs(y - p) - parameter;
      return ret > 0 ? ret : 0;
    }
    case SgdLossKind::kSquaredEpsilonInsensitive: {
      const double ret = std::fabs(y - p) - parameter;
      return ret > 0 ? ret * ret : 0;
    }
  }
  return 0.0;
}

double SgdLoss::dloss(double p, double y) const {
  switch (kind) {
    case SgdLossKind::kHinge:
      return p * y <= parameter ? -y : 0.0;
    case SgdLossKind::kSquaredHinge: {
      const double z = parameter - p * y;
      return z > 0 ? -2 * y * z : 0.0;
    }
    case SgdLossKind::kLog: {
      const double z = p * y;
      if (z > 18.0) return std::exp(-z) * -y;
      if (z < -18.0) return -y;
      return -y / (std::exp(z) + 1.0);
    }
    case SgdLossKind::kModifiedHuber: {
      const double z = p * y;
      if (z >= 1.0) return 0.0;
      if (z >= -1.0) return 2.0 * (1.0 - z) * -y;
      return -4.0 * y;
    }
    case SgdLossKind::kSquaredError:
      return p - y;
    case SgdLossKind::kHuber: {
      const double r = p - y;
      if (std::fabs(r) <= parameter) return r;
      return r > 0.0 ? parameter : -parameter;
    }
    case SgdLossKind::kEpsilonInsensitive:
      if (y - p > parameter) return -1;
      if (p - y > parameter) return 1;
      return 0;
    case SgdLossKind::kSquaredEpsilonInsensitive: {
      const double z = y - p;
      if (z > parameter) return -2 * (z - parameter);
      if (z < -parameter) return 2 * (-z - parameter);
      return 0;
    }
  }
  return 0.0;
}

std::uint32_t our_rand_r(std::uint32_t& seed) {
  if (seed == 0) seed = 1;  // DEFAULT_SEED
  seed ^= static_cast<std::uint32_t>(seed << 13);
  seed ^= static_cast<std::uint32_t>(seed >> 17);
  seed ^= static_cast<std::uint32_t>(seed << 5);
  return seed % (static_cast<std::uint32_t>(0x7FFFFFFF) + 1);
}

double sgd_optimal_init(const SgdLoss& loss, double alpha) {
  const double typw = std::sqrt(1.0 / std::sqrt(alpha));
  const double initial_eta0 = typw / std::max(1.0, loss.dloss(-typw, 1.0));
  return 1.0 / (initial_eta0 * alpha);
}

Result<std::int64_t> plain_sgd(const SgdLoopSettings& s, const SgdLoopData& data, SgdLoopState& state) {
  const std::int64_t n = data.n;
  const std::int64_t d = data.d;
  WeightVector w(state.weights, state.average_weights, d);

  std::vector<int> index(static_cast<std::size_t>(n));
  std::iota(index.begin(), index.end(), 0);
  std::vector<double> q;
  if (s.penalty == SgdPenalty::kL1 || s.penalty == SgdPenalty::kElasticNet) q.assign(static_cast<std::size_t>(d), 0.0);
  double u = 0.0;
  double l1_ratio = s.l1_ratio;
  if (s.penalty == SgdPenalty::kL2) l1_ratio = 0.0;
  if (s.penalty == SgdPenalty::kL1) l1_ratio = 1.0;

  double eta = s.eta0;
  const double optimal_init = s.learning_rate == SgdLearningRate::kOptimal ? sgd_optimal_init(s.loss, s.alpha) : 0.0;
  double t = s.t;
  double intercept = state.intercept;
  double average_intercept = state.average_intercept;
  double best_loss = std::numeric_limits<double>::infinity();
  int no_improvement_count = 0;
  std::int64_t epoch = 0;

  for (epoch = 0; epoch < s.max_iter; ++epoch) {
    double sumloss = 0;
    if (s.shuffle) shuffle_index(index, s.seed);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t row = index[static_cast<std::size_t>(i)];
      const double* x = data.X + row * d;
      const double y = data.y[row];
      const double sample_weight = data.sample_weight != nullptr ? data.sample_weight[row] : 1.0;

      const double p = w.dot(x) + intercept;
      if (s.learning_rate == SgdLearningRate::kOptimal) {
        eta = 1.0 / (s.alpha * (optimal_init + t - 1));
      } else if (s.learning_rate == SgdLearningRate::kInvScaling) {
        eta = s.eta0 / std::pow(t, s.power_t);
      }
      sumloss += s.loss.loss(p, y);
      const double class_weight = y > 0.0 ? s.weight_pos : s.weight_neg;

      const double dloss = std::clamp(s.loss.dloss(p, y), -kMaxDloss, kMaxDloss);
      double update = -eta * dloss;
      update *= class_weight * sample_weight;

      if (s.penalty >= SgdPenalty::kL2) {
        // Never scale to negative values when eta or alpha are too big: zero the weights instead.
        w.scale(std::max(0.0, 1.0 - ((1.0 - l1_ratio) * eta * s.alpha)));
      }
      if (update != 0.0) {
        w.add(x, update);
        if (s.fit_intercept) intercept += update * s.intercept_decay;
      }
      if (0 < s.average && static_cast<double>(s.average) <= t) {
        // The average moves whether or not the update was 0.
        const double num_iter = t - static_cast<double>(s.average) + 1;
        w.add_average(x, update, num_iter);
        average_intercept += ((intercept - average_intercept) / num_iter);
      }
      if (!q.empty()) {
        u += (l1_ratio * eta * s.alpha);
        l1_penalty(w, q.data(), d, u);
      }
      t += 1;
    }

    if (!std::isfinite(intercept) || !all_finite(state.weights, d)) {
      return Status::invalid("Floating-point under-/overflow occurred at epoch #" + std::to_string(epoch + 1) +
                             ". Scaling input data with StandardScaler or MinMaxScaler might help.");
    }
    if (s.tol > -std::numeric_limits<double>::infinity() && sumloss > best_loss - s.tol * static_cast<double>(n)) {
      no_improvement_count += 1;
    } else {
      no_improvement_count = 0;
    }
    if (sumloss < best_loss) best_loss = sumloss;
    if (no_improvement_count >= s.n_iter_no_change) {
      if (s.learning_rate == SgdLearningRate::kAdaptive && eta > 1e-6) {
        eta = eta / 5;
        no_improvement_count = 0;
      } else {
        break;
      }
    }
  }
  w.reset_wscale();
  state.intercept = intercept;
  state.average_intercept = average_intercept;
  // A completed range(max_iter) leaves epoch at max_iter - 1 in Cython.
  return std::min(epoch, s.max_iter - 1) + 1;
}

}  // namespace dtask::ml_core
