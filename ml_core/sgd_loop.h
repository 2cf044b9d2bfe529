// scikit-learn 1.2.1's per-sample SGD loop (sklearn/linear_model/_sgd_fast.pyx,
// `_plain_sgd`, with `WeightVector64` and `ArrayDataset64.shuffle`), for
// dense float64 rows. Everything that decides the numbers lives in
// sgd_loop.cc, in the order scikit-learn does it: the loss derivatives and
// their clipping, the learning-rate schedules (the `optimal` initial rate
// included), the weight-scale trick for L2, the truncated-gradient L1 step,
// the intercept update, averaging (Bottou's sparse trick), the xorshift
// shuffle and the epoch-end stopping rule. sgd_loop.cc is compiled without
// floating-point contraction or reassociation so that each operation rounds
// as scikit-learn's compiled loop does.
//
// What is not here: one-vs-rest, seeds, class weights and the bookkeeping
// of scikit-learn's estimator attributes (ml_core/sgd.h); early stopping on
// a validation split and the passive-aggressive rates (not yet).
#pragma once

#include <cstdint>
#include <limits>

#include "dtask/status.h"

namespace dtask::ml_core {

/// scikit-learn's loss functions (`loss=`), p the prediction, y the target
/// (+1/-1 for the classification losses).
enum class SgdLossKind {
  kHinge,          ///< "hinge" (threshold 1) and "perceptron" (threshold 0)
  kSquaredHinge,   ///< "squared_hinge"
  kLog,            ///< "log_loss"
  kModifiedHuber,  ///< "modified_huber"
  kSquaredError,   ///< "squared_error"
  kHuber,          ///< "huber" (parameter: epsilon)
  kEpsilonInsensitive,         ///< "epsilon_insensitive" (parameter: epsilon)
  kSquaredEpsilonInsensitive,  ///< "squared_epsilon_insensitive" (parameter: epsilon)
};

struct SgdLoss {
  SgdLossKind kind = SgdLossKind::kHinge;
  /// Hinge threshold, or epsilon for the Huber and epsilon-insensitive losses.
  double parameter = 1.0;

  double loss(double p, double y) const;
  double dloss(double p, double y) const;
};

/// scikit-learn's PENALTY_TYPES values.
enum class SgdPenalty { kNone = 0, kL1 = 1, kL2 = 2, kElasticNet = 3 };
/// scikit-learn's LEARNING_RATE_TYPES values (the passive-aggressive ones are not built).
enum class SgdLearningRate { kConstant = 1, kOptimal = 2, kInvScaling = 3, kAdaptive = 4 };

/// The arguments of `_plain_sgd` that are not data or state.
struct SgdLoopSettings {
  SgdLoss loss;
  SgdPenalty penalty = SgdPenalty::kL2;
  double alpha = 1e-4;
  double l1_ratio = 0.15;
  int n_iter_no_change = 5;
  std::int64_t max_iter = 1000;
  /// -infinity for scikit-learn's tol=None.
  double tol = 1e-3;
  bool fit_intercept = true;
  bool shuffle = true;
  /// The xorshift seed of the per-epoch shuffle (scikit-learn draws it from random_state).
  std::uint32_t seed = 1;
  double weight_pos = 1.0;
  double weight_neg = 1.0;
  SgdLearningRate learning_rate = SgdLearningRate::kOptimal;
  double eta0 = 0.0;
  double power_t = 0.5;
  /// The learning-rate clock at the first sample (the estimator's t_).
  double t = 1.0;
  double intercept_decay = 1.0;
  /// Averaging starts at sample t == average; 0: no averaging.
  std::int64_t average = 0;
};

/// Dense rows: X row-major [n x d], y [n], sample_weight [n] or null (all 1).
struct SgdLoopData {
  const double* X = nullptr;
  std::int64_t n = 0;
  std::int64_t d = 0;
  const double* y = nullptr;
  const double* sample_weight = nullptr;
};

/// The state `_plain_sgd` updates in place: weights [d], the intercept, and
/// (when averaging) the averaged weights [d] and intercept.
struct SgdLoopState {
  double* weights = nullptr;
  double intercept = 0.0;
  double* average_weights = nullptr;
  double average_intercept = 0.0;
};

/// Runs up to max_iter epochs over `data`, updating `state`; returns the
/// epochs run (scikit-learn's n_iter_ of one binary problem). Invalid with
/// scikit-learn's message when the weights or intercept stop being finite.
/// Thread-safe for distinct states.
Result<std::int64_t> plain_sgd(const SgdLoopSettings& settings, const SgdLoopData& data, SgdLoopState& state);

/// The `optimal` schedule's offset: eta = 1 / (alpha * (optimal_init + t - 1)).
double sgd_optimal_init(const SgdLoss& loss, double alpha);

/// sklearn.utils._random.our_rand_r: the 32-bit xorshift both the shuffle
/// and scikit-learn's tree code draw from. Updates `seed`.
std::uint32_t our_rand_r(std::uint32_t& seed);

}  // namespace dtask::ml_core
