// scikit-learn 1.2.1's metrics and scorers; see metrics.h. Each function
// follows the sklearn code path step for step (validation order, sums,
// divisions) so results agree to the last few bits, not just roughly.
#include "ml_core/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "dtask/ml/core/params.h"

namespace dtask::ml_core {
namespace {

// numpy's pairwise summation (DOUBLE_pairwise_sum, PW_BLOCKSIZE 128): what
// np.sum / np.mean / np.trapz use on a contiguous 1-D array. A plain loop
// would differ from sklearn in the last bits for long inputs.
double pairwise_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double res = 0.0;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double np_sum(const std::vector<double>& v) { return 0.0 + pairwise_sum(v.data(), v.size()); }

double np_mean(const std::vector<double>& v) {
  return v.empty() ? std::numeric_limits<double>::quiet_NaN() : np_sum(v) / static_cast<double>(v.size());
}

// "[0.0, 2.0]": a label list as Python prints a list of floats.
std::string python_list(const std::vector<double>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += python_float_repr(values[i]);
  }
  return out + "]";
}

Status check_consistent_length(std::size_t a, std::size_t b) {
  if (a == b) return Status::success();
  return Status::invalid("Found input variables with inconsistent numbers of samples: [" + std::to_string(a) + ", " +
                         std::to_string(b) + "]");
}

// _assert_all_finite's wording; `input_name` is empty where sklearn passes none.
Status check_finite(const std::vector<double>& v, const std::string& input_name) {
  std::string subject = input_name.empty() ? "Input" : "Input " + input_name;
  for (double x : v) {
    if (std::isnan(x)) return Status::invalid(subject + " contains NaN.");
    if (std::isinf(x)) {
      return Status::invalid(subject + " contains infinity or a value too large for dtype('float64').");
    }
  }
  return Status::success();
}

// check_array's ensure_min_samples=1, for a 1-D float array.
Status check_array(const std::vector<double>& v) {
  if (v.empty()) {
    return Status::invalid("Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required.");
  }
  return check_finite(v, "");
}

std::vector<double> unique_sorted(const std::vector<double>& v) {
  std::vector<double> out(v);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<double> union_sorted(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> all(a);
  all.insert(all.end(), b.begin(), b.end());
  return unique_sorted(all);
}

enum class TargetType { kBinary, kMulticlass, kContinuous };

const char* target_type_name(TargetType t) {
  switch (t) {
    case TargetType::kBinary:
      return "binary";
    case TargetType::kMulticlass:
      return "multiclass";
    case TargetType::kContinuous:
      return "continuous";
  }
  return "unknown";
}

// sklearn's type_of_target for a 1-D float array: any value that does not
// survive astype(int) makes it continuous (and must then be finite).
Result<TargetType> type_of_target(const std::vector<double>& y, const std::string& input_name) {
  for (double x : y) {
    // |x| >= 2^63 does not fit astype(int) either: numpy yields INT64_MIN.
    if (!std::isfinite(x) || std::trunc(x) != x || std::fabs(x) >= 9.223372036854775808e18) {
      DTASK_RETURN_NOT_OK(check_finite(y, input_name));
      return TargetType::kContinuous;
    }
  }
  return unique_sorted(y).size() > 2 ? TargetType::kMulticlass : TargetType::kBinary;
}

// _check_targets: the common type of y_true and y_pred for classification metrics.
Result<TargetType> check_targets(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_RETURN_NOT_OK(check_consistent_length(y_true.size(), y_pred.size()));
  DTASK_ASSIGN_OR_RETURN(TargetType type_true, type_of_target(y_true, "y_true"));
  DTASK_ASSIGN_OR_RETURN(TargetType type_pred, type_of_target(y_pred, "y_pred"));
  std::set<TargetType> types = {type_true, type_pred};
  if (types == std::set<TargetType>{TargetType::kBinary, TargetType::kMulticlass}) return TargetType::kMulticlass;
  if (types.size() > 1) {
    return Status::invalid(std::string("Classification metrics can't handle a mix of ") + target_type_name(type_true) +
                           " and " + target_type_name(type_pred) + " targets");
  }
  if (type_true == TargetType::kContinuous) return Status::invalid("continuous is not supported");
  if (type_true == TargetType::kBinary && union_sorted(y_true, y_pred).size() > 2) return TargetType::kMulticlass;
  return type_true;
}

// Counts behind binary precision/recall/F1 for pos_label = 1.
struct BinaryCounts {
  double tp = 0, pred = 0, truth = 0;
};

// _check_set_wise_labels with average='binary', then the confusion counts.
Result<BinaryCounts> binary_counts(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_ASSIGN_OR_RETURN(TargetType type, check_targets(y_true, y_pred));
  if (type != TargetType::kBinary) {
    return Status::invalid(std::string("Target is ") + target_type_name(type) +
                           " but average='binary'. Please choose another average setting, one of "
                           "[None, 'micro', 'macro', 'weighted'].");
  }
  std::vector<double> present = union_sorted(y_true, y_pred);
  bool has_pos = std::find(present.begin(), present.end(), 1.0) != present.end();
  if (!has_pos && present.size() >= 2) {
    return Status::invalid("pos_label=1 is not a valid label. It should be one of " + python_list(present));
  }
  BinaryCounts c;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    bool t = y_true[i] == 1.0, p = y_pred[i] == 1.0;
    c.tp += (t && p) ? 1 : 0;
    c.truth += t ? 1 : 0;
    c.pred += p ? 1 : 0;
  }
  return c;
}

// _prf_divide with zero_division="warn": an undefined ratio is 0.
double prf_divide(double num, double den) { return den == 0.0 ? 0.0 : num / den; }

// The F-score as precision_recall_fscore_support forms it from the rounded
// precision and recall (not 2tp / (2tp + fp + fn)).
double f1_from(double precision, double recall) {
  double denom = precision + recall;
  if (denom == 0.0) denom = 1.0;
  return 2.0 * precision * recall / denom;
}

// _check_reg_targets plus check_array on both sides.
Status check_regression(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_RETURN_NOT_OK(check_consistent_length(y_true.size(), y_pred.size()));
  DTASK_RETURN_NOT_OK(check_array(y_true));
  return check_array(y_pred);
}

// One-hot targets as log_loss builds them with LabelBinarizer: n x k, rows
// of y_true values outside `labels` stay zero (label_binarize's multiclass
// path); two labels and a binary y_true use the one-column form [1 - t, t].
std::vector<double> binarize(const std::vector<double>& y_true, const std::vector<double>& labels, TargetType y_type) {
  std::size_t k = labels.size();
  std::vector<double> out(y_true.size() * k, 0.0);
  bool one_column = k == 2 && y_type == TargetType::kBinary;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    if (one_column) {
      double t = y_true[i] == labels[1] ? 1.0 : 0.0;
      out[i * 2] = 1.0 - t;
      out[i * 2 + 1] = t;
      continue;
    }
    auto it = std::lower_bound(labels.begin(), labels.end(), y_true[i]);
    if (it != labels.end() && *it == y_true[i]) out[i * k + static_cast<std::size_t>(it - labels.begin())] = 1.0;
  }
  return out;
}

// The classes LabelBinarizer.fit finds, with log_loss's one-class errors.
Result<std::vector<double>> log_loss_labels(const std::vector<double>& y_true, const std::vector<double>& classes) {
  const std::vector<double>& source = classes.empty() ? y_true : classes;
  DTASK_ASSIGN_OR_RETURN(TargetType type, type_of_target(source, classes.empty() ? "y_true" : "labels"));
  if (type == TargetType::kContinuous) {
    return Status::invalid("Unknown label type: continuous values " + python_list(source));
  }
  std::vector<double> labels = unique_sorted(source);
  if (labels.size() == 1 && classes.empty()) {
    return Status::invalid("y_true contains only one label (" + python_float_repr(labels[0]) +
                           "). Please provide the true labels explicitly through the labels argument.");
  }
  if (labels.size() <= 1) {
    return Status::invalid("The labels array needs to contain at least two labels for log_loss, got " +
                           python_list(labels) + ".");
  }
  return labels;
}

// y_pred after np.clip and, for one column, the [1 - p, p] expansion.
std::vector<double> clipped_proba(const std::vector<double>& proba, std::size_t k) {
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  std::vector<double> out;
  out.reserve(k == 1 ? proba.size() * 2 : proba.size());
  for (double p : proba) {
    double c = std::min(std::max(p, kEps), 1.0 - kEps);
    if (k == 1) out.push_back(1.0 - c);
    out.push_back(c);
  }
  return out;
}

// The columns of log_loss's proba, from its size: 1 means P(positive).
Result<std::size_t> proba_columns(const std::vector<double>& y_true, const std::vector<double>& proba) {
  if (proba.empty()) return check_array(proba);
  DTASK_RETURN_NOT_OK(check_finite(proba, ""));
  std::size_t n = y_true.size();
  if (n == 0 || proba.size() % n != 0) {
    return Status::invalid("Found input variables with inconsistent numbers of samples: [" +
                           std::to_string(proba.size()) + ", " + std::to_string(n) + "]");
  }
  return proba.size() / n;
}

// Sorts by descending score and keeps the last index of each distinct
// score: _binary_clf_curve's fps and tps at every threshold.
void binary_clf_curve(const std::vector<double>& positive, const std::vector<double>& y_score, std::vector<double>* fps,
                      std::vector<double>* tps) {
  std::vector<std::size_t> order(y_score.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return y_score[a] > y_score[b]; });
  double tp = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    tp += positive[order[i]];
    bool last_of_value = i + 1 == order.size() || y_score[order[i + 1]] != y_score[order[i]];
    if (!last_of_value) continue;
    tps->push_back(tp);
    fps->push_back(static_cast<double>(i + 1) - tp);
  }
}

// roc_curve's drop_intermediate: keep the ends and every corner.
void drop_collinear(std::vector<double>* fps, std::vector<double>* tps) {
  if (fps->size() <= 2) return;
  std::vector<double> f, t;
  for (std::size_t i = 0; i < fps->size(); ++i) {
    bool keep = i == 0 || i + 1 == fps->size();
    if (!keep) {
      double d2f = ((*fps)[i + 1] - (*fps)[i]) - ((*fps)[i] - (*fps)[i - 1]);
      double d2t = ((*tps)[i + 1] - (*tps)[i]) - ((*tps)[i] - (*tps)[i - 1]);
      keep = d2f != 0.0 || d2t != 0.0;
    }
    if (keep) {
      f.push_back((*fps)[i]);
      t.push_back((*tps)[i]);
    }
  }
  *fps = std::move(f);
  *tps = std::move(t);
}

// np.trapz(y, x): sum over the pairwise-summed (dx * (y1 + y0)) / 2.
double trapz(const std::vector<double>& y, const std::vector<double>& x) {
  std::vector<double> parts;
  for (std::size_t i = 1; i < x.size(); ++i) parts.push_back((x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0);
  return np_sum(parts);
}

Status need(const std::vector<double>* v, const ScorerInfo& scorer, const char* what) {
  if (v != nullptr) return Status::success();
  return Status::invalid("scorer '" + scorer.name + "' needs " + what + " but none was given");
}

// _select_proba_binary: the column of classes_[1] of a two-column proba.
Result<std::vector<double>> positive_column(const ScoringInputs& in, const char* metric) {
  std::size_t n = in.y_true->size();
  if (in.n_proba_columns != 2) {
    return Status::invalid("Got predict_proba of shape (" + std::to_string(n) + ", " +
                           std::to_string(in.n_proba_columns) + "), but need classifier with two classes for " +
                           metric + " scoring");
  }
  std::vector<double> column(n);
  for (std::size_t i = 0; i < n; ++i) column[i] = (*in.proba)[i * 2 + 1];
  return column;
}

Status check_proba_shape(const ScoringInputs& in) {
  if (in.n_proba_columns < 1 || in.proba->size() != in.y_true->size() * static_cast<std::size_t>(in.n_proba_columns)) {
    return Status::invalid("predict_proba output has " + std::to_string(in.proba->size()) + " values, not " +
                           std::to_string(in.y_true->size()) + " rows of " + std::to_string(in.n_proba_columns) +
                           " columns");
  }
  return Status::success();
}

// _ThresholdScorer: binary targets only; decision_function first, else P(classes_[1]).
Result<double> threshold_score(const ScorerInfo& scorer, const ScoringInputs& in) {
  DTASK_ASSIGN_OR_RETURN(TargetType type, type_of_target(*in.y_true, "y_true"));
  if (type != TargetType::kBinary) {
    return Status::invalid(std::string(target_type_name(type)) + " format is not supported");
  }
  if (in.decision != nullptr) return roc_auc_score(*in.y_true, *in.decision);
  DTASK_RETURN_NOT_OK(need(in.proba, scorer, "decision_function or predict_proba output"));
  DTASK_RETURN_NOT_OK(check_proba_shape(in));
  DTASK_ASSIGN_OR_RETURN(auto column, positive_column(in, "roc_auc_score"));
  return roc_auc_score(*in.y_true, column);
}

// _ProbaScorer: a binary y_true with at most two columns scores P(classes_[1]);
// log_loss then infers the classes from y_true (the scorer passes no labels).
Result<double> proba_score(const ScorerInfo& scorer, const ScoringInputs& in) {
  DTASK_RETURN_NOT_OK(need(in.proba, scorer, "predict_proba output"));
  DTASK_RETURN_NOT_OK(check_proba_shape(in));
  DTASK_ASSIGN_OR_RETURN(TargetType type, type_of_target(*in.y_true, "y_true"));
  if (type == TargetType::kBinary && in.n_proba_columns <= 2) {
    DTASK_ASSIGN_OR_RETURN(auto column, positive_column(in, "log_loss"));
    DTASK_ASSIGN_OR_RETURN(double loss, log_loss(*in.y_true, column, {}));
    return -loss;
  }
  DTASK_ASSIGN_OR_RETURN(double loss, log_loss(*in.y_true, *in.proba, {}));
  return -loss;
}

using PredictMetric = Result<double> (*)(const std::vector<double>&, const std::vector<double>&);

struct ScorerEntry {
  ScorerInfo info;
  PredictMetric metric;  // for kPredict scorers
  double sign;           // -1 for the neg_ scorers (greater_is_better=False)
};

const std::vector<ScorerEntry>& scorer_table() {
  static const std::vector<ScorerEntry> table = {
      {{"accuracy", ScorerInput::kPredict, true}, accuracy_score, 1.0},
      {{"balanced_accuracy", ScorerInput::kPredict, true}, balanced_accuracy_score, 1.0},
      {{"f1", ScorerInput::kPredict, true}, f1_score, 1.0},
      {{"neg_log_loss", ScorerInput::kProba, true}, nullptr, -1.0},
      {{"neg_mean_absolute_error", ScorerInput::kPredict, false}, mean_absolute_error, -1.0},
      {{"neg_mean_squared_error", ScorerInput::kPredict, false}, mean_squared_error, -1.0},
      {{"precision", ScorerInput::kPredict, true}, precision_score, 1.0},
      {{"r2", ScorerInput::kPredict, false}, r2_score, 1.0},
      {{"recall", ScorerInput::kPredict, true}, recall_score, 1.0},
      {{"roc_auc", ScorerInput::kThreshold, true}, nullptr, 1.0},
  };
  return table;
}

const ScorerEntry* find_entry(const std::string& name) {
  for (const auto& e : scorer_table()) {
    if (e.info.name == name) return &e;
  }
  return nullptr;
}

}  // namespace

Result<double> accuracy_score(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_RETURN_NOT_OK(check_targets(y_true, y_pred).status());
  std::vector<double> hits(y_true.size());
  for (std::size_t i = 0; i < y_true.size(); ++i) hits[i] = y_true[i] == y_pred[i] ? 1.0 : 0.0;
  return np_mean(hits);
}

Result<double> balanced_accuracy_score(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_RETURN_NOT_OK(check_targets(y_true, y_pred).status());
  std::vector<double> labels = union_sorted(y_true, y_pred);
  std::vector<double> diag(labels.size(), 0.0), row(labels.size(), 0.0);
  auto index = [&](double v) {
    return static_cast<std::size_t>(std::lower_bound(labels.begin(), labels.end(), v) - labels.begin());
  };
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    std::size_t t = index(y_true[i]);
    row[t] += 1;
    if (y_true[i] == y_pred[i]) diag[t] += 1;
  }
  // Classes seen only in y_pred give 0/0 = NaN, which sklearn drops.
  std::vector<double> per_class;
  for (std::size_t c = 0; c < labels.size(); ++c) {
    if (row[c] > 0) per_class.push_back(diag[c] / row[c]);
  }
  return np_mean(per_class);
}

Result<double> precision_score(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_ASSIGN_OR_RETURN(BinaryCounts c, binary_counts(y_true, y_pred));
  return prf_divide(c.tp, c.pred);
}

Result<double> recall_score(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_ASSIGN_OR_RETURN(BinaryCounts c, binary_counts(y_true, y_pred));
  return prf_divide(c.tp, c.truth);
}

Result<double> f1_score(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_ASSIGN_OR_RETURN(BinaryCounts c, binary_counts(y_true, y_pred));
  return f1_from(prf_divide(c.tp, c.pred), prf_divide(c.tp, c.truth));
}

Result<double> roc_auc_score(const std::vector<double>& y_true, const std::vector<double>& y_score) {
  DTASK_ASSIGN_OR_RETURN(TargetType type, type_of_target(y_true, "y_true"));
  DTASK_RETURN_NOT_OK(check_array(y_true));
  DTASK_RETURN_NOT_OK(check_array(y_score));
  if (type == TargetType::kMulticlass) return Status::invalid("multi_class must be in ('ovo', 'ovr')");
  if (type == TargetType::kContinuous) return Status::invalid("continuous format is not supported");
  std::vector<double> labels = unique_sorted(y_true);
  if (labels.size() != 2) {
    return Status::invalid("Only one class present in y_true. ROC AUC score is not defined in that case.");
  }
  DTASK_RETURN_NOT_OK(check_consistent_length(y_true.size(), y_score.size()));
  std::vector<double> positive(y_true.size());
  for (std::size_t i = 0; i < y_true.size(); ++i) positive[i] = y_true[i] == labels[1] ? 1.0 : 0.0;
  std::vector<double> fps, tps;
  binary_clf_curve(positive, y_score, &fps, &tps);
  drop_collinear(&fps, &tps);
  fps.insert(fps.begin(), 0.0);
  tps.insert(tps.begin(), 0.0);
  double fp_total = fps.back(), tp_total = tps.back();
  for (auto& f : fps) f /= fp_total;
  for (auto& t : tps) t /= tp_total;
  return trapz(tps, fps);
}

Result<double> log_loss(const std::vector<double>& y_true, const std::vector<double>& proba,
                        const std::vector<double>& classes) {
  DTASK_ASSIGN_OR_RETURN(std::size_t k, proba_columns(y_true, proba));
  DTASK_ASSIGN_OR_RETURN(std::vector<double> labels, log_loss_labels(y_true, classes));
  DTASK_ASSIGN_OR_RETURN(TargetType y_type, type_of_target(y_true, "y_true"));
  if (y_type == TargetType::kContinuous) {
    return Status::invalid("continuous target data is not supported with label binarization");
  }
  std::vector<double> pred = clipped_proba(proba, k);
  std::size_t width = k == 1 ? 2 : k;
  if (labels.size() != width) {
    if (classes.empty()) {
      return Status::invalid("y_true and y_pred contain different number of classes " + std::to_string(labels.size()) +
                             ", " + std::to_string(width) +
                             ". Please provide the true labels explicitly through the labels argument. "
                             "Classes found in y_true: " +
                             python_list(labels));
    }
    return Status::invalid(
        "The number of classes in labels is different from that in y_pred. "
        "Classes found in labels: " +
        python_list(labels));
  }
  std::vector<double> truth = binarize(y_true, labels, y_type);
  std::vector<double> loss(y_true.size());
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    const double* row = &pred[i * width];
    double row_sum = pairwise_sum(row, width);
    double total = 0.0;
    // xlogy(t, p) is 0 where t is 0, whatever p.
    for (std::size_t j = 0; j < width; ++j) {
      if (truth[i * width + j] != 0.0) total += truth[i * width + j] * std::log(row[j] / row_sum);
    }
    loss[i] = -total;
  }
  return np_mean(loss);
}

Result<double> r2_score(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_RETURN_NOT_OK(check_regression(y_true, y_pred));
  if (y_pred.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  double mean = np_mean(y_true);
  std::vector<double> residual(y_true.size()), spread(y_true.size());
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    double r = y_true[i] - y_pred[i], s = y_true[i] - mean;
    residual[i] = r * r;
    spread[i] = s * s;
  }
  double numerator = np_sum(residual), denominator = np_sum(spread);
  if (numerator == 0.0) return 1.0;
  if (denominator == 0.0) return 0.0;
  return 1.0 - numerator / denominator;
}

Result<double> mean_squared_error(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_RETURN_NOT_OK(check_regression(y_true, y_pred));
  std::vector<double> sq(y_true.size());
  for (std::size_t i = 0; i < y_true.size(); ++i) sq[i] = (y_true[i] - y_pred[i]) * (y_true[i] - y_pred[i]);
  return np_mean(sq);
}

Result<double> mean_absolute_error(const std::vector<double>& y_true, const std::vector<double>& y_pred) {
  DTASK_RETURN_NOT_OK(check_regression(y_true, y_pred));
  std::vector<double> errors(y_true.size());
  for (std::size_t i = 0; i < y_true.size(); ++i) errors[i] = std::fabs(y_pred[i] - y_true[i]);
  return np_mean(errors);
}

const std::vector<std::string>& scorer_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& e : scorer_table()) out.push_back(e.info.name);
    return out;
  }();
  return names;
}

Result<ScorerInfo> find_scorer(const std::string& name) {
  if (const ScorerEntry* e = find_entry(name)) return e->info;
  std::string valid;
  for (const auto& n : scorer_names()) valid += (valid.empty() ? "" : ", ") + n;
  return Status::invalid("'" + name + "' is not a valid scoring value. Valid options are: " + valid + ".");
}

Result<double> score(const ScorerInfo& scorer, const ScoringInputs& inputs) {
  const ScorerEntry* entry = find_entry(scorer.name);
  if (entry == nullptr) return find_scorer(scorer.name).status();
  DTASK_RETURN_NOT_OK(need(inputs.y_true, scorer, "y_true"));
  switch (entry->info.input) {
    case ScorerInput::kPredict: {
      DTASK_RETURN_NOT_OK(need(inputs.y_pred, scorer, "predict() output"));
      DTASK_ASSIGN_OR_RETURN(double value, entry->metric(*inputs.y_true, *inputs.y_pred));
      return entry->sign * value;
    }
    case ScorerInput::kThreshold:
      return threshold_score(scorer, inputs);
    case ScorerInput::kProba:
      return proba_score(scorer, inputs);
  }
  return Status::internal("unhandled scorer input");
}

}  // namespace dtask::ml_core
