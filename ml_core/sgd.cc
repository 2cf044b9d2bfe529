// SGDClassifier / SGDRegressor around the per-sample loop, as scikit-learn
// 1.2.1's sklearn/linear_model/_stochastic_gradient.py does it.
//
// Seeds. With an integer random_state, a binary classifier's shuffle seed is
// the second draw of RandomState(random_state) (make_dataset takes the first,
// randint(1, 2**31 - 1)); a k-class one draws k seeds randint(2**31 - 1) and
// gives class i the second draw of RandomState(seeds[i]); a regressor's seed
// is the first draw, randint(0, 2**31 - 1). partial_fit builds the same
// RandomState on every call, so it shuffles every chunk with the same seed.
//
// Averaging. scikit-learn keeps coef_/intercept_ as aliases of either the
// plain or the averaged arrays, and two of its partial_fit paths read an
// intercept that later calls no longer update:
//  - binary: once averaging is reported (average <= t_ - 1), the plain
//    intercept is not stored any more, and each call restarts from the last
//    one stored;
//  - k classes: once reported, intercept_ is the averaged array, and the loop
//    that stores each class's plain intercept writes into it.
// For fit() (one call) neither matters; for partial_fit we do the same, so
// that the numbers match scikit-learn's call for call.
#include "ml_core/sgd.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "ml_core/finite_scan.h"
#include "ml_core/linear_decision.h"
#include "ml_core/random_state.h"

namespace dtask::ml_core {

namespace {

using Json = nlohmann::json;

constexpr std::int64_t kMaxInt = 2147483647;  // np.iinfo(np.int32).max

const char* estimator_name(bool classifier) { return classifier ? "SGDClassifier" : "SGDRegressor"; }

Status bad_param(bool classifier, const std::string& name, const std::string& want, const std::string& got) {
  return Status::invalid("The '" + name + "' parameter of " + estimator_name(classifier) + " must be " + want +
                         ". Got " + got + " instead.");
}

Status one_of(bool classifier, const std::string& name, const std::string& value,
              std::initializer_list<const char*> options) {
  std::string list;
  for (const char* o : options) {
    if (value == o) return Status::success();
    list += (list.empty() ? "" : ", ") + std::string("'") + o + "'";
  }
  return bad_param(classifier, name, "a str among {" + list + "}", "'" + value + "'");
}

Result<SgdPenalty> penalty_of(const std::string& name) {
  if (name == "l2") return SgdPenalty::kL2;
  if (name == "l1") return SgdPenalty::kL1;
  if (name == "elasticnet") return SgdPenalty::kElasticNet;
  if (name == "none") return SgdPenalty::kNone;
  return Status::invalid("penalty '" + name + "'");
}

SgdLearningRate learning_rate_of(const std::string& name) {
  if (name == "constant") return SgdLearningRate::kConstant;
  if (name == "invscaling") return SgdLearningRate::kInvScaling;
  if (name == "adaptive") return SgdLearningRate::kAdaptive;
  return SgdLearningRate::kOptimal;
}

Result<std::int64_t> average_of(const ParamValue& v, bool classifier) {
  if (v.is<bool>()) return v.get<bool>() ? 1 : 0;
  if (v.is<std::int64_t>() && v.get<std::int64_t>() >= 0) return v.get<std::int64_t>();
  return bad_param(classifier, "average", "an int in the range [0, inf) or an instance of 'bool'", v.repr());
}

Status validate(const SgdConfig& c, bool classifier) {
  DTASK_RETURN_NOT_OK(sgd_loss(c.loss, c.epsilon, classifier).status());
  DTASK_RETURN_NOT_OK(one_of(classifier, "penalty", c.penalty, {"l2", "l1", "elasticnet", "none"}));
  DTASK_RETURN_NOT_OK(
      one_of(classifier, "learning_rate", c.learning_rate, {"constant", "optimal", "invscaling", "adaptive"}));
  if (!(c.alpha >= 0)) return bad_param(classifier, "alpha", "a float in the range [0.0, inf)", python_float_repr(c.alpha));
  if (!(c.l1_ratio >= 0 && c.l1_ratio <= 1)) {
    return bad_param(classifier, "l1_ratio", "a float in the range [0.0, 1.0]", python_float_repr(c.l1_ratio));
  }
  if (c.max_iter < 1) return bad_param(classifier, "max_iter", "an int in the range [1, inf)", std::to_string(c.max_iter));
  if (c.n_iter_no_change < 1) {
    return bad_param(classifier, "n_iter_no_change", "an int in the range [1, inf)", std::to_string(c.n_iter_no_change));
  }
  if (!(c.eta0 >= 0)) return bad_param(classifier, "eta0", "a float in the range [0.0, inf)", python_float_repr(c.eta0));
  if (!(c.epsilon >= 0)) {
    return bad_param(classifier, "epsilon", "a float in the range [0.0, inf)", python_float_repr(c.epsilon));
  }
  if (!std::isfinite(c.power_t)) return bad_param(classifier, "power_t", "a float", python_float_repr(c.power_t));
  if (c.random_state > 0xFFFFFFFFLL) {
    return bad_param(classifier, "random_state", "an int in the range [0, 4294967295] or None",
                     std::to_string(c.random_state));
  }
  if (!c.class_weight.empty()) {
    if (!classifier) return Status::invalid("SGDRegressor has no parameter class_weight");
    if (c.class_weight != "balanced") {
      return bad_param(classifier, "class_weight", "a str among {'balanced'}, an instance of 'dict' or None",
                       "'" + c.class_weight + "'");
    }
  }
  DTASK_RETURN_NOT_OK(average_of(c.average, classifier).status());
  // _more_validate_params
  if ((c.learning_rate == "constant" || c.learning_rate == "invscaling" || c.learning_rate == "adaptive") &&
      c.eta0 <= 0.0) {
    return Status::invalid("eta0 must be > 0");
  }
  if (c.learning_rate == "optimal" && c.alpha == 0) {
    return Status::invalid(
        "alpha must be > 0 since learning_rate is 'optimal'. alpha is used to compute the optimal learning rate.");
  }
  if (c.early_stopping) {
    return Status::invalid(std::string(estimator_name(classifier)) +
                           ": early_stopping=True is not supported yet (dtask stops on the training loss only)");
  }
  return Status::success();
}

/// A fresh seed for random_state=None.
std::uint32_t entropy_seed() {
  std::random_device device;
  return device();
}

/// check_random_state(random_state).
RandomState random_state_of(std::int64_t random_state) {
  return RandomState(random_state >= 0 ? static_cast<std::uint32_t>(random_state) : entropy_seed());
}

/// fit_binary's shuffle seed: make_dataset's draw, then randint(MAX_INT).
std::uint32_t binary_seed(RandomState rng) {
  rng.randint(1, kMaxInt);
  return static_cast<std::uint32_t>(rng.randint(kMaxInt));
}

Status check_finite(const double* v, std::int64_t count, const char* what) {
  if (all_finite(v, count)) return Status::success();
  for (std::int64_t i = 0; i < count; ++i) {
    if (std::isnan(v[i])) return Status::invalid(std::string("Input ") + what + " contains NaN.");
    if (!std::isfinite(v[i])) {
      return Status::invalid(std::string("Input ") + what +
                             " contains infinity or a value too large for dtype('float64').");
    }
  }
  return Status::success();
}

std::string label_repr(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  return python_float_repr(v);
}

std::string labels_repr(const std::vector<double>& labels) {
  std::string out = "[";
  for (std::size_t i = 0; i < labels.size(); ++i) out += (i ? " " : "") + label_repr(labels[i]);
  return out + "]";
}

std::vector<double> sorted_unique(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

double expit(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

Result<SgdLoss> sgd_loss(const std::string& name, double epsilon, bool classifier) {
  if (name == "squared_error") return SgdLoss{SgdLossKind::kSquaredError, 0.0};
  if (name == "huber") return SgdLoss{SgdLossKind::kHuber, epsilon};
  if (name == "epsilon_insensitive") return SgdLoss{SgdLossKind::kEpsilonInsensitive, epsilon};
  if (name == "squared_epsilon_insensitive") return SgdLoss{SgdLossKind::kSquaredEpsilonInsensitive, epsilon};
  if (classifier) {
    if (name == "hinge") return SgdLoss{SgdLossKind::kHinge, 1.0};
    if (name == "perceptron") return SgdLoss{SgdLossKind::kHinge, 0.0};
    if (name == "squared_hinge") return SgdLoss{SgdLossKind::kSquaredHinge, 1.0};
    if (name == "log_loss") return SgdLoss{SgdLossKind::kLog, 0.0};
    if (name == "modified_huber") return SgdLoss{SgdLossKind::kModifiedHuber, 0.0};
    return one_of(true, "loss", name,
                  {"epsilon_insensitive", "hinge", "huber", "log_loss", "modified_huber", "perceptron",
                   "squared_epsilon_insensitive", "squared_error", "squared_hinge"});
  }
  return one_of(false, "loss", name,
                {"epsilon_insensitive", "huber", "squared_epsilon_insensitive", "squared_error"});
}

Result<SgdModel> SgdModel::make(const SgdConfig& config, bool classifier) {
  DTASK_RETURN_NOT_OK(validate(config, classifier));
  DTASK_ASSIGN_OR_RETURN(std::int64_t average, average_of(config.average, classifier));
  return SgdModel(config, classifier, average);
}

const std::vector<double>& SgdModel::intercept() const {
  if (!classifier_ || rows_ == 1) return averaged_ ? average_intercept_ : standard_intercept_;
  return intercept_is_average_ ? average_intercept_ : standard_intercept_;
}

Status SgdModel::check_rows(const double* X, std::int64_t n, std::int64_t d, const double* y) const {
  if (n < 1) return Status::invalid("Found array with 0 sample(s) (shape=(0, " + std::to_string(d) + ")) while a minimum of 1 is required.");
  if (d < 1) return Status::invalid("Found array with 0 feature(s) (shape=(" + std::to_string(n) + ", 0)) while a minimum of 1 is required.");
  if (fitted() && d != d_) {
    return Status::invalid("Number of features " + std::to_string(d) + " does not match previous data " +
                           std::to_string(d_) + ".");
  }
  DTASK_RETURN_NOT_OK(check_finite(X, n * d, "X"));
  return check_finite(y, n, "y");
}

Status SgdModel::start_classes(const double* y, std::int64_t n, const std::vector<double>* classes) {
  if (classes_.empty()) {
    if (classes == nullptr) return Status::invalid("classes must be passed on the first call to partial_fit.");
    classes_ = sorted_unique(*classes);
  } else if (classes != nullptr && sorted_unique(*classes) != classes_) {
    return Status::invalid("`classes=" + labels_repr(sorted_unique(*classes)) +
                           "` is not the same as on last call to partial_fit, was: " + labels_repr(classes_));
  }
  if (classes_.size() < 2) {
    return Status::invalid("The number of classes has to be greater than one; got " + std::to_string(classes_.size()) +
                           " class");
  }
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::binary_search(classes_.begin(), classes_.end(), y[i])) {
      return Status::invalid("y contains the label " + label_repr(y[i]) + ", which is not in classes " +
                             labels_repr(classes_));
    }
  }
  return Status::success();
}

/// compute_class_weight(class_weight, classes=classes_, y=y).
Result<std::vector<double>> SgdModel::class_weights(const double* y, std::int64_t n, bool for_partial_fit) const {
  const std::size_t k = classes_.size();
  std::vector<double> weight(k, 1.0);
  if (config_.class_weight == "balanced") {
    if (for_partial_fit) {
      return Status::invalid(
          "class_weight 'balanced' is not supported for partial_fit. In order to use 'balanced' weights, use "
          "compute_class_weight('balanced', classes=classes, y=y). In place of y you can use a large enough "
          "sample of the full training set target to properly estimate the class frequency distributions. Pass "
          "the resulting weights as the class_weight parameter.");
    }
    std::vector<double> count(k, 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
      count[std::lower_bound(classes_.begin(), classes_.end(), y[i]) - classes_.begin()] += 1;
    }
    for (std::size_t c = 0; c < k; ++c) {
      if (count[c] == 0) return Status::invalid("classes should have valid labels that are in y");
      weight[c] = static_cast<double>(n) / (static_cast<double>(k) * count[c]);
    }
    return weight;
  }
  std::vector<double> unweighted;
  for (std::size_t c = 0; c < k; ++c) {
    auto it = std::find_if(config_.class_weight_map.begin(), config_.class_weight_map.end(),
                           [&](const auto& e) { return e.first == classes_[c]; });
    if (it != config_.class_weight_map.end()) {
      weight[c] = it->second;
    } else {
      unweighted.push_back(classes_[c]);
    }
  }
  if (!unweighted.empty() && k - unweighted.size() != config_.class_weight_map.size()) {
    return Status::invalid("The classes, " + labels_repr(unweighted) + ", are not in class_weight");
  }
  return weight;
}

void SgdModel::allocate(std::int64_t rows, std::int64_t d) {
  rows_ = rows;
  d_ = d;
  coef_.assign(static_cast<std::size_t>(rows * d), 0.0);
  standard_intercept_.assign(static_cast<std::size_t>(rows), 0.0);
  average_coef_.assign(average_ > 0 ? coef_.size() : 0, 0.0);
  average_intercept_.assign(static_cast<std::size_t>(rows), 0.0);
  intercept_is_average_ = false;
  averaged_ = false;
}

SgdLoopSettings SgdModel::loop_settings(std::int64_t max_iter) const {
  SgdLoopSettings s;
  s.loss = *sgd_loss(config_.loss, config_.epsilon, classifier_);
  s.penalty = *penalty_of(config_.penalty);
  s.alpha = config_.alpha;
  s.l1_ratio = config_.l1_ratio;
  s.n_iter_no_change = static_cast<int>(config_.n_iter_no_change);
  s.max_iter = max_iter;
  s.tol = config_.tol >= 0 ? config_.tol : -std::numeric_limits<double>::infinity();
  s.fit_intercept = config_.fit_intercept;
  s.shuffle = config_.shuffle;
  s.learning_rate = learning_rate_of(config_.learning_rate);
  s.eta0 = config_.eta0;
  s.power_t = config_.power_t;
  s.t = t_;
  s.average = average_;
  return s;
}

Status SgdModel::run_classifier(const double* X, std::int64_t n, const double* y, std::int64_t max_iter,
                                const std::vector<double>& weights) {
  const std::int64_t k = static_cast<std::int64_t>(classes_.size());
  RandomState rng = random_state_of(config_.random_state);
  std::vector<std::uint32_t> seeds;
  if (k == 2) {
    seeds.push_back(binary_seed(rng));
  } else {
    std::vector<std::int64_t> drawn;
    for (std::int64_t i = 0; i < k; ++i) drawn.push_back(rng.randint(kMaxInt));
    for (std::int64_t seed : drawn) seeds.push_back(binary_seed(RandomState(static_cast<std::uint32_t>(seed))));
  }
  std::vector<double> y_i(static_cast<std::size_t>(n));
  std::int64_t n_iter = 0;
  std::vector<double> plain_intercepts(static_cast<std::size_t>(rows_));
  for (std::int64_t row = 0; row < rows_; ++row) {
    const double positive = classes_[static_cast<std::size_t>(k == 2 ? 1 : row)];
    for (std::int64_t i = 0; i < n; ++i) y_i[i] = y[i] == positive ? 1.0 : -1.0;
    SgdLoopSettings s = loop_settings(max_iter);
    s.seed = seeds[static_cast<std::size_t>(row)];
    s.weight_pos = weights[static_cast<std::size_t>(k == 2 ? 1 : row)];
    s.weight_neg = k == 2 ? weights[0] : 1.0;
    SgdLoopState state;
    state.weights = coef_.data() + row * d_;
    state.intercept = standard_intercept_[row];
    state.average_weights = average_ > 0 ? average_coef_.data() + row * d_ : nullptr;
    state.average_intercept = average_intercept_[row];
    DTASK_ASSIGN_OR_RETURN(std::int64_t epochs, plain_sgd(s, SgdLoopData{X, n, d_, y_i.data(), nullptr}, state));
    n_iter = std::max(n_iter, epochs);
    plain_intercepts[row] = state.intercept;
    if (average_ > 0) average_intercept_[row] = state.average_intercept;
  }
  t_ += static_cast<double>(n_iter * n);
  n_iter_ = n_iter;
  const bool averaging = average_ > 0 && static_cast<double>(average_) <= t_ - 1;
  if (k == 2) {
    if (!averaging) standard_intercept_ = plain_intercepts;
  } else {
    std::vector<double>& target = intercept_is_average_ ? average_intercept_ : standard_intercept_;
    target = plain_intercepts;
    if (averaging) intercept_is_average_ = true;
  }
  averaged_ = averaging;
  return Status::success();
}

Status SgdModel::run_regressor(const double* X, std::int64_t n, const double* y, std::int64_t max_iter) {
  RandomState rng = random_state_of(config_.random_state);
  SgdLoopSettings s = loop_settings(max_iter);
  s.seed = static_cast<std::uint32_t>(rng.randint(0, kMaxInt));
  SgdLoopState state;
  state.weights = coef_.data();
  state.intercept = standard_intercept_[0];
  state.average_weights = average_ > 0 ? average_coef_.data() : nullptr;
  state.average_intercept = average_intercept_[0];
  DTASK_ASSIGN_OR_RETURN(n_iter_, plain_sgd(s, SgdLoopData{X, n, d_, y, nullptr}, state));
  t_ += static_cast<double>(n_iter_ * n);
  standard_intercept_[0] = state.intercept;
  if (average_ > 0) average_intercept_[0] = state.average_intercept;
  averaged_ = average_ > 0 && static_cast<double>(average_) <= t_ - 1.0;
  return Status::success();
}

Status SgdModel::run(const double* X, std::int64_t n, std::int64_t d, const double* y, std::int64_t max_iter,
                     bool for_partial_fit, const std::vector<double>* classes) {
  DTASK_RETURN_NOT_OK(check_rows(X, n, d, y));
  if (!classifier_) {
    if (!fitted()) allocate(1, d);
    return run_regressor(X, n, y, max_iter);
  }
  DTASK_RETURN_NOT_OK(start_classes(y, n, classes));
  DTASK_ASSIGN_OR_RETURN(std::vector<double> weights, class_weights(y, n, for_partial_fit));
  if (!fitted()) allocate(classes_.size() == 2 ? 1 : static_cast<std::int64_t>(classes_.size()), d);
  return run_classifier(X, n, y, max_iter, weights);
}

Status SgdModel::partial_fit(const double* X, std::int64_t n, std::int64_t d, const double* y,
                             const std::vector<double>* classes) {
  return run(X, n, d, y, 1, true, classes);
}

Status SgdModel::fit(const double* X, std::int64_t n, std::int64_t d, const double* y) {
  // warm_start: _allocate_parameter_mem with coef_init = coef_, intercept_init = intercept_.
  const bool warm = config_.warm_start && fitted();
  std::vector<double> coef_init;
  std::vector<double> intercept_init;
  const std::int64_t warm_rows = rows_;
  const std::int64_t warm_d = d_;
  if (warm) {
    coef_init = coef();
    intercept_init = intercept();
  }
  classes_.clear();
  coef_.clear();
  t_ = 1.0;
  std::vector<double> classes;
  if (classifier_) classes = sorted_unique(std::vector<double>(y, y + std::max<std::int64_t>(n, 0)));
  if (warm) {
    const auto rows = !classifier_ || classes.size() <= 2 ? 1 : static_cast<std::int64_t>(classes.size());
    if (rows != warm_rows || d != warm_d) return Status::invalid("Provided ``coef_`` does not match dataset. ");
    allocate(rows, d);
    coef_ = std::move(coef_init);
    standard_intercept_ = std::move(intercept_init);
  }
  return run(X, n, d, y, config_.max_iter, false, classifier_ ? &classes : nullptr);
}

std::vector<double> SgdModel::decision_function(const double* X, std::int64_t n) const {
  return linear_decision(X, n, d_, coef(), intercept());
}

std::vector<double> SgdModel::predict(const double* X, std::int64_t n) const {
  std::vector<double> scores = decision_function(X, n);
  if (!classifier_) return scores;
  std::vector<double> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    if (rows_ == 1) {
      labels[i] = classes_[scores[i] > 0 ? 1 : 0];
    } else {
      const double* row = scores.data() + i * rows_;
      labels[i] = classes_[std::max_element(row, row + rows_) - row];
    }
  }
  return labels;
}

bool SgdModel::has_predict_proba() const {
  return classifier_ && (config_.loss == "log_loss" || config_.loss == "modified_huber");
}

Result<std::vector<double>> SgdModel::predict_proba(const double* X, std::int64_t n) const {
  if (!has_predict_proba()) {
    return Status::invalid("probability estimates are not available for loss='" + config_.loss + "'");
  }
  const bool log_loss = config_.loss == "log_loss";
  std::vector<double> scores = decision_function(X, n);
  const auto k = static_cast<std::int64_t>(classes_.size());
  std::vector<double> prob(static_cast<std::size_t>(n * k));
  for (std::int64_t i = 0; i < n; ++i) {
    if (rows_ == 1) {
      const double p = log_loss ? expit(scores[i]) : (std::clamp(scores[i], -1.0, 1.0) + 1.0) / 2.0;
      prob[i * 2] = 1 - p;
      prob[i * 2 + 1] = p;
      continue;
    }
    double sum = 0.0;
    for (std::int64_t c = 0; c < k; ++c) {
      const double s = scores[i * k + c];
      prob[i * k + c] = log_loss ? expit(s) : (std::clamp(s, -1.0, 1.0) + 1.0) / 2.0;
      sum += prob[i * k + c];
    }
    if (!log_loss && sum == 0) {  // all classes at -1: uniform
      for (std::int64_t c = 0; c < k; ++c) prob[i * k + c] = 1;
      sum = static_cast<double>(k);
    }
    for (std::int64_t c = 0; c < k; ++c) prob[i * k + c] /= sum;
  }
  return prob;
}

Result<SgdModel> SgdModel::average(const std::vector<SgdModel>& models, const std::vector<double>& weights) {
  if (models.empty() || models.size() != weights.size()) {
    return Status::invalid("SgdModel::average needs one weight per model, and at least one model");
  }
  SgdModel out = models.front();
  double total = 0;
  for (double w : weights) {
    if (!(w > 0)) return Status::invalid("SgdModel::average: weights must be > 0");
    total += w;
  }
  auto scale_into = [](std::vector<double>& to, const std::vector<double>& from, double w, bool first) {
    for (std::size_t i = 0; i < to.size(); ++i) to[i] = (first ? 0.0 : to[i]) + w * from[i];
  };
  out.t_ = 0;
  for (std::size_t m = 0; m < models.size(); ++m) {
    const SgdModel& x = models[m];
    if (x.classifier_ != out.classifier_ || x.classes_ != out.classes_ || x.d_ != out.d_ || x.rows_ != out.rows_ ||
        x.coef_.size() != out.coef_.size() || x.average_coef_.size() != out.average_coef_.size()) {
      return Status::invalid("SgdModel::average: the models differ in kind, classes or features");
    }
    const double w = weights[m] / total;
    const bool first = m == 0;
    scale_into(out.coef_, x.coef_, w, first);
    scale_into(out.average_coef_, x.average_coef_, w, first);
    scale_into(out.standard_intercept_, x.standard_intercept_, w, first);
    scale_into(out.average_intercept_, x.average_intercept_, w, first);
    out.t_ += w * x.t_;
    out.n_iter_ = std::max(out.n_iter_, x.n_iter_);
    out.intercept_is_average_ = out.intercept_is_average_ || x.intercept_is_average_;
  }
  out.averaged_ = out.average_ > 0 && static_cast<double>(out.average_) <= out.t_ - 1;
  return out;
}

// ---- serialisation -------------------------------------------------------------

namespace {

Json config_json(const SgdConfig& c) {
  Json weights = Json::array();
  for (const auto& [label, weight] : c.class_weight_map) weights.push_back({label, weight});
  Json average = c.average.is<bool>() ? Json(c.average.get<bool>()) : Json(c.average.get<std::int64_t>());
  return {{"loss", c.loss},
          {"penalty", c.penalty},
          {"alpha", c.alpha},
          {"l1_ratio", c.l1_ratio},
          {"fit_intercept", c.fit_intercept},
          {"max_iter", c.max_iter},
          {"tol", c.tol},
          {"shuffle", c.shuffle},
          {"random_state", c.random_state},
          {"epsilon", c.epsilon},
          {"learning_rate", c.learning_rate},
          {"eta0", c.eta0},
          {"power_t", c.power_t},
          {"n_iter_no_change", c.n_iter_no_change},
          {"class_weight", c.class_weight},
          {"class_weight_map", weights},
          {"warm_start", c.warm_start},
          {"average", average}};
}

SgdConfig config_from_json(const Json& j) {
  SgdConfig c;
  c.loss = j.at("loss").get<std::string>();
  c.penalty = j.at("penalty").get<std::string>();
  c.alpha = j.at("alpha").get<double>();
  c.l1_ratio = j.at("l1_ratio").get<double>();
  c.fit_intercept = j.at("fit_intercept").get<bool>();
  c.max_iter = j.at("max_iter").get<std::int64_t>();
  c.tol = j.at("tol").get<double>();
  c.shuffle = j.at("shuffle").get<bool>();
  c.random_state = j.at("random_state").get<std::int64_t>();
  c.epsilon = j.at("epsilon").get<double>();
  c.learning_rate = j.at("learning_rate").get<std::string>();
  c.eta0 = j.at("eta0").get<double>();
  c.power_t = j.at("power_t").get<double>();
  c.n_iter_no_change = j.at("n_iter_no_change").get<std::int64_t>();
  c.class_weight = j.at("class_weight").get<std::string>();
  for (const auto& e : j.at("class_weight_map")) c.class_weight_map.emplace_back(e.at(0).get<double>(), e.at(1).get<double>());
  c.warm_start = j.at("warm_start").get<bool>();
  const Json& average = j.at("average");
  c.average = average.is_boolean() ? ParamValue(average.get<bool>()) : ParamValue(average.get<std::int64_t>());
  return c;
}

}  // namespace

std::string SgdModel::serialize() const {
  Json doc = {{"format", "dtask.ml_core.SgdModel"},
              {"classifier", classifier_},
              {"config", config_json(config_)},
              {"classes", classes_},
              {"n_features", d_},
              {"rows", rows_},
              {"coef", coef_},
              {"average_coef", average_coef_},
              {"standard_intercept", standard_intercept_},
              {"average_intercept", average_intercept_},
              {"intercept_is_average", intercept_is_average_},
              {"averaged", averaged_},
              {"t", t_},
              {"n_iter", n_iter_}};
  return doc.dump();
}

Result<SgdModel> SgdModel::deserialize(std::string_view text) {
  try {
    const Json doc = Json::parse(text);
    if (doc.value("format", std::string()) != "dtask.ml_core.SgdModel") {
      return Status::invalid("not a serialised SgdModel");
    }
    DTASK_ASSIGN_OR_RETURN(SgdModel m, make(config_from_json(doc.at("config")), doc.at("classifier").get<bool>()));
    m.classes_ = doc.at("classes").get<std::vector<double>>();
    m.d_ = doc.at("n_features").get<std::int64_t>();
    m.rows_ = doc.at("rows").get<std::int64_t>();
    m.coef_ = doc.at("coef").get<std::vector<double>>();
    m.average_coef_ = doc.at("average_coef").get<std::vector<double>>();
    m.standard_intercept_ = doc.at("standard_intercept").get<std::vector<double>>();
    m.average_intercept_ = doc.at("average_intercept").get<std::vector<double>>();
    m.intercept_is_average_ = doc.at("intercept_is_average").get<bool>();
    m.averaged_ = doc.at("averaged").get<bool>();
    m.t_ = doc.at("t").get<double>();
    m.n_iter_ = doc.at("n_iter").get<std::int64_t>();
    const auto cells = static_cast<std::size_t>(m.rows_ * m.d_);
    if (m.rows_ < 0 || m.d_ < 0 || m.coef_.size() != cells ||
        (!m.average_coef_.empty() && m.average_coef_.size() != cells) ||
        m.standard_intercept_.size() != static_cast<std::size_t>(m.rows_) ||
        m.average_intercept_.size() != static_cast<std::size_t>(m.rows_) ||
        (m.averaged_ && m.average_coef_.size() != cells)) {
      return Status::invalid("serialised SgdModel: inconsistent shapes");
    }
    return m;
  } catch (const std::exception& e) {
    return Status::invalid(std::string("serialised SgdModel: ") + e.what());
  }
}

}  // namespace dtask::ml_core
