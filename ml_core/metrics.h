// Metrics and named scorers as scikit-learn 1.2.1 computes them
// (sklearn.metrics, sklearn.metrics._scorer), on plain in-memory vectors.
// Grid search on the workers scores each candidate with these, so a score
// must equal what sklearn would report for the same predictions: the sums
// follow numpy's pairwise summation and the errors carry sklearn's wording.
//
//   DTASK_ASSIGN_OR_RETURN(auto info, dtask::ml_core::find_scorer("roc_auc"));
//   dtask::ml_core::ScoringInputs in{&y_true, nullptr, &decision, nullptr, 0, classes};
//   DTASK_ASSIGN_OR_RETURN(double s, dtask::ml_core::score(info, in));
//
// Labels are numbers (0/1, 0/1/2, ...); the sorted unique values are the
// classes. No sample weights. Where sklearn would warn (zero division, an
// R^2 of fewer than two samples) these functions return the same value
// silently. Every function is pure: thread-safe, never throws, never aborts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/status.h"

namespace dtask::ml_core {

/// Fraction of samples with y_pred == y_true (sklearn's accuracy_score;
/// NaN for empty input, as np.average of nothing).
Result<double> accuracy_score(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// Mean per-class recall over the classes present in y_true
/// (sklearn's balanced_accuracy_score, adjusted=False).
Result<double> balanced_accuracy_score(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// Precision of class 1 (average='binary', pos_label=1, zero_division 0).
/// Multiclass targets are an error, as in sklearn.
Result<double> precision_score(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// Recall of class 1 (average='binary', pos_label=1, zero_division 0).
Result<double> recall_score(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// F1 of class 1 (average='binary', pos_label=1, zero_division 0).
Result<double> f1_score(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// Area under the ROC curve of binary y_true (the greater label positive)
/// against one score per sample; ties handled as sklearn's
/// _binary_clf_curve, area by the trapezoid rule.
Result<double> roc_auc_score(const std::vector<double>& y_true, const std::vector<double>& y_score);

/// Mean cross-entropy (sklearn 1.2 log_loss with eps="auto": probabilities
/// clipped to [eps, 1 - eps] for float64, rows renormalised). `proba` is
/// row-major n x k with columns in sorted class order; k == 1 means
/// P(positive class) of a binary problem. `classes` is sklearn's `labels=`
/// argument: empty infers the classes from y_true, as the scorer does.
Result<double> log_loss(const std::vector<double>& y_true, const std::vector<double>& proba,
                        const std::vector<double>& classes);

/// Coefficient of determination (force_finite=True: a constant y_true gives
/// 1.0 for perfect predictions, else 0.0; NaN below two samples).
Result<double> r2_score(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// Mean of squared residuals.
Result<double> mean_squared_error(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// Mean of absolute residuals.
Result<double> mean_absolute_error(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// Which estimator output a scorer reads.
enum class ScorerInput {
  kPredict,    // predict()
  kThreshold,  // decision_function(), or predict_proba()[:, 1] without one
  kProba,      // predict_proba()
};

/// A named scorer as sklearn.metrics.get_scorer(name) knows it.
struct ScorerInfo {
  std::string name;
  ScorerInput input;
  bool classifier_only;  // needs class labels (every scorer but the regression ones)
};

/// The scorer called `name` ("accuracy", "roc_auc", "neg_log_loss", ...);
/// an unknown name is Invalid, listing the valid ones. Thread-safe.
Result<ScorerInfo> find_scorer(const std::string& name);

/// The names find_scorer() accepts, sorted (sklearn's get_scorer_names()
/// restricted to what dtask implements). Thread-safe.
const std::vector<std::string>& scorer_names();

/// What a fitted estimator produced on a test fold. Pointers are borrowed
/// and may be null where the scorer does not read them.
struct ScoringInputs {
  const std::vector<double>* y_true = nullptr;
  const std::vector<double>* y_pred = nullptr;    // predict()
  const std::vector<double>* decision = nullptr;  // decision_function(), one value per sample
  const std::vector<double>* proba = nullptr;     // predict_proba(), row-major n x n_proba_columns
  std::int64_t n_proba_columns = 0;
  std::vector<double> classes;  // the estimator's classes_, sorted
};

/// What sklearn's scorer returns for these outputs: the metric, negated for
/// the neg_ scorers. A missing input the scorer needs is Invalid.
/// Thread-safe.
Result<double> score(const ScorerInfo& scorer, const ScoringInputs& inputs);

}  // namespace dtask::ml_core
