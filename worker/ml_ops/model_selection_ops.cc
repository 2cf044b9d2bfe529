// Cross-validation on a worker: each task fits one candidate on one fold, in
// this process, from data already here (ml_core/dense_estimator.h), and
// scores it. The client builds these tasks (client/src/ml/search.cc).
//
//   cv_fit_score(X, y, train, test, spec, scorers, return_train_score)
//       -> float64 [2 s + 2]: s test scores, s train scores (NaN unless
//          asked), fit seconds, score seconds. X [n, d], y [n], train and
//          test int64 row indices, spec the estimator's JSON, scorers a list
//          of names (scikit-learn's, "score" for the estimator's default, or
//          "op:NAME" for a registered op NAME(y_true, y_pred) -> float).
//   cv_fit_transform(X, y, train, test, prefix_spec)
//       -> [Xt_train, y_train, Xt_test, y_test, fit seconds]: a pipeline's
//          transformers fitted on the fold's train rows, applied to both
//          parts; shared by every candidate with the same prefix and fold.
//   cv_fit_score_prepared(prepared, spec, scorers, return_train_score)
//       -> as cv_fit_score, on what cv_fit_transform returned (its fit time added).
//
// A fit that fails throws: the task errs with the estimator's message, and
// the client records the candidate's error_score.
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "ml_core/dense_estimator.h"
#include "ml_core/glm_chunk.h"
#include "ml_core/metrics.h"
#include "worker/array_ops/array_ops.h"
#include "worker/ml_ops/ml_ops.h"

namespace dtask::ml_ops {

namespace {

using ml_core::DenseEstimator;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

using array_ops::throw_if_error;
using array_ops::value_or_throw;

std::vector<std::int64_t> indices_of(const NDArray& a, std::int64_t n, const char* what) {
  if (a.dtype != DType::kInt64 || a.shape.size() != 1) {
    throw std::invalid_argument(std::string(what) + " indices must be int64 [m], got " + a.describe());
  }
  std::vector<std::int64_t> out(a.data<std::int64_t>(), a.data<std::int64_t>() + a.size());
  for (std::int64_t i : out) {
    if (i < 0 || i >= n) {
      throw std::invalid_argument(std::string(what) + " index " + std::to_string(i) + " outside the " +
                                  std::to_string(n) + " rows");
    }
  }
  return out;
}

std::vector<double> values_of(const NDArray& a) {
  NDArray v = ml_core::to_float64(a);
  return {v.data<double>(), v.data<double>() + v.size()};
}

/// Poisson's default score, D²: the share of the Poisson deviance explained.
double poisson_d2(const std::vector<double>& y, const std::vector<double>& mu) {
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  auto deviance = [&](auto prediction) {
    double total = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      double m = prediction(i);
      total += 2.0 * ((y[i] > 0 ? y[i] * std::log(y[i] / m) : 0.0) - y[i] + m);
    }
    return total;
  };
  return 1.0 - deviance([&](std::size_t i) { return mu[i]; }) / deviance([&](std::size_t) { return mean; });
}

/// One scorer on one part (train or test) of a fold.
double score_part(const OpRegistry& registry, const DenseEstimator& estimator, const std::string& scorer,
                  const NDArray& X, const std::vector<double>& y) {
  if (scorer.rfind("op:", 0) == 0) {
    const OpFunction* op = registry.find(scorer.substr(3));
    if (!op) throw std::invalid_argument("scoring op '" + scorer.substr(3) + "' is not registered on this worker");
    std::vector<double> predicted = value_or_throw(estimator.predict(X));
    Value v = (*op)({Value(ml_core::float64_vector(y)), Value(ml_core::float64_vector(predicted))});
    return value_or_throw(value_as<double>(v));
  }
  std::string name = scorer;
  if (name == "score") {
    if (estimator.is_classifier()) {
      name = "accuracy";
    } else if (estimator.name() == "PoissonRegression") {
      return poisson_d2(y, value_or_throw(estimator.predict(X)));
    } else {
      name = "r2";
    }
  }
  ml_core::ScorerInfo info = value_or_throw(ml_core::find_scorer(name));
  if (info.classifier_only && !estimator.is_classifier()) {
    throw std::invalid_argument("scoring '" + name + "' needs a classifier; " + estimator.name() + " is not one");
  }
  ml_core::ScoringInputs inputs;
  inputs.y_true = &y;
  inputs.classes = estimator.classes();
  std::vector<double> predicted, decision, proba;
  if (info.input == ml_core::ScorerInput::kPredict) {
    predicted = value_or_throw(estimator.predict(X));
    inputs.y_pred = &predicted;
  } else if (info.input == ml_core::ScorerInput::kThreshold && estimator.has_decision_function()) {
    decision = value_or_throw(estimator.decision_function(X));
    inputs.decision = &decision;
  } else {
    proba = value_or_throw(estimator.predict_proba(X));
    inputs.proba = &proba;
    inputs.n_proba_columns = static_cast<std::int64_t>(estimator.classes().size());
  }
  return value_or_throw(ml_core::score(info, inputs));
}

struct FoldData {
  NDArray X_train, X_test;
  std::vector<double> y_train, y_test;
  double prefix_seconds = 0;
};

/// Fits `spec` on the train part and scores it: [s test, s train, fit s, score s].
NDArray fit_and_score(const OpRegistry& registry, const FoldData& fold, const std::string& spec,
                      const std::vector<std::string>& scorers, bool return_train_score) {
  std::unique_ptr<DenseEstimator> estimator = value_or_throw(ml_core::make_dense_estimator(spec));
  auto fit_start = std::chrono::steady_clock::now();
  throw_if_error(estimator->fit(fold.X_train, fold.y_train));
  const double fit_seconds = seconds_since(fit_start) + fold.prefix_seconds;
  auto score_start = std::chrono::steady_clock::now();
  const auto s = static_cast<std::int64_t>(scorers.size());
  NDArray out = NDArray::uninitialized(DType::kFloat64, {2 * s + 2});
  double* o = out.mutable_data<double>();
  for (std::int64_t i = 0; i < s; ++i) {
    o[i] = score_part(registry, *estimator, scorers[i], fold.X_test, fold.y_test);
    o[s + i] = return_train_score ? score_part(registry, *estimator, scorers[i], fold.X_train, fold.y_train)
                                  : std::nan("");
  }
  o[2 * s] = fit_seconds;
  o[2 * s + 1] = seconds_since(score_start);
  return out;
}

FoldData split_fold(const NDArray& X, const NDArray& y, const NDArray& train, const NDArray& test) {
  if (X.shape.size() != 2 || y.shape.size() != 1 || y.rows() != X.rows()) {
    throw std::invalid_argument("cross-validation needs X [n, d] and y [n], got " + X.describe() + " and " +
                                y.describe());
  }
  auto train_rows = indices_of(train, X.rows(), "train"), test_rows = indices_of(test, X.rows(), "test");
  return {ml_core::take_rows(X, train_rows), ml_core::take_rows(X, test_rows), ml_core::take_values(y, train_rows),
          ml_core::take_values(y, test_rows)};
}

std::vector<std::string> names_of(const ValueList& list) {
  std::vector<std::string> out;
  for (const Value& v : list) out.push_back(value_or_throw(value_as<std::string>(v)));
  if (out.empty()) throw std::invalid_argument("no scorers given");
  return out;
}

}  // namespace

void register_model_selection_ops(OpRegistry& registry) {
  using array_ops::must_register;
  const OpRegistry* all_ops = &registry;  // outlives the ops it holds
  must_register(registry.add(
      ops::kCvFitScore, [all_ops](const NDArray& X, const NDArray& y, const NDArray& train, const NDArray& test,
                            const std::string& spec, const ValueList& scorers, bool return_train_score) {
        return fit_and_score(*all_ops, split_fold(X, y, train, test), spec, names_of(scorers), return_train_score);
      }));
  must_register(registry.add(
      ops::kCvFitTransform,
      [](const NDArray& X, const NDArray& y, const NDArray& train, const NDArray& test, const std::string& spec) {
        FoldData fold = split_fold(X, y, train, test);
        std::unique_ptr<DenseEstimator> prefix = value_or_throw(ml_core::make_dense_estimator(spec));
        auto start = std::chrono::steady_clock::now();
        throw_if_error(prefix->fit(fold.X_train, fold.y_train));
        NDArray X_train = value_or_throw(prefix->transform(fold.X_train));
        NDArray X_test = value_or_throw(prefix->transform(fold.X_test));
        return ValueList{Value(X_train), Value(ml_core::float64_vector(fold.y_train)), Value(X_test),
                         Value(ml_core::float64_vector(fold.y_test)), Value(seconds_since(start))};
      }));
  must_register(registry.add(
      ops::kCvFitScorePrepared, [all_ops](const ValueList& prepared, const std::string& spec, const ValueList& scorers,
                                     bool return_train_score) {
        if (prepared.size() != 5) throw std::invalid_argument("cv_fit_score_prepared: not a cv_fit_transform result");
        FoldData fold{value_or_throw(value_as<NDArray>(prepared[0])), value_or_throw(value_as<NDArray>(prepared[2])),
                      values_of(value_or_throw(value_as<NDArray>(prepared[1]))),
                      values_of(value_or_throw(value_as<NDArray>(prepared[3]))),
                      value_or_throw(value_as<double>(prepared[4]))};
        return fit_and_score(*all_ops, fold, spec, names_of(scorers), return_train_score);
      }));
}

}  // namespace dtask::ml_ops
