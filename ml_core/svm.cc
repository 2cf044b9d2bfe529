// SVC and LinearSVC over Debian's libsvm 3.24 and liblinear 2.3, shaped as
// scikit-learn 1.2.1 shapes its own patched copies (see svm.h).
//
// How the two libsvm builds are made to agree: scikit-learn encodes y as
// 0..k-1 over the sorted classes and its fork orders classes by label value;
// upstream orders them by first appearance. Moving the first row of each
// class to the front (in sorted class order) and leaving every other row
// where it was gives upstream the same class order *and* the same row order
// inside each class, so both solve the same sub-problems in the same order.
#include "ml_core/svm.h"

#include <libsvm/svm.h>
#include <linear.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/check.h"
#include "ml_core/linear_decision.h"
#include "dtask/ml/core/params.h"

namespace dtask::ml_core {
namespace {

// ---- solver output -----------------------------------------------------------

// The libraries print progress through one process-wide hook each. The hook
// appends to the calling thread's SolverLog, so concurrent fits never mix
// their lines and nothing reaches stdout.
thread_local std::string* t_solver_log = nullptr;

void append_to_solver_log(const char* text) {
  if (t_solver_log != nullptr) *t_solver_log += text;
}

void install_print_hooks() {
  static std::once_flag once;
  std::call_once(once, [] {
    svm_set_print_string_function(&append_to_solver_log);
    set_print_string_function(&append_to_solver_log);
  });
}

/// Collects what libsvm/liblinear print on this thread while it lives.
class SolverLog {
 public:
  SolverLog() : previous_(t_solver_log) {
    install_print_hooks();
    t_solver_log = &text_;
  }
  ~SolverLog() { t_solver_log = previous_; }
  SolverLog(const SolverLog&) = delete;
  SolverLog& operator=(const SolverLog&) = delete;

  /// Each "#iter = N" (libsvm's and liblinear's coordinate descent, one per
  /// sub-problem) and each "iter N act" (liblinear's trust-region Newton, one
  /// per iteration), in order: the libraries report iterations no other way.
  std::vector<std::int64_t> iterations() const {
    std::vector<std::int64_t> out;
    std::size_t pos = 0;
    while (pos < text_.size()) {
      std::size_t end = text_.find('\n', pos);
      if (end == std::string::npos) end = text_.size();
      std::string line = text_.substr(pos, end - pos);
      pos = end + 1;
      long long value = 0;
      std::size_t mark = line.find("#iter = ");
      if (mark != std::string::npos) {
        out.push_back(std::strtoll(line.c_str() + mark + 8, nullptr, 10));
      } else if (std::sscanf(line.c_str(), "iter %lld act", &value) == 1 && line.find(" act ") != std::string::npos) {
        out.push_back(value);
      }
    }
    return out;
  }

 private:
  std::string* previous_;
  std::string text_;
};

// ---- sklearn's parameter validation wording ------------------------------------

std::string py_repr(const std::string& s) { return ParamValue(s).repr(); }
std::string py_repr(double v) { return python_float_repr(v); }
std::string py_repr(int v) { return std::to_string(v); }
const char* py_bool(bool v) { return v ? "True" : "False"; }

template <typename V>
Status bad_param(const char* estimator, const char* name, const std::string& constraint, V got) {
  return Status::invalid(std::string("The '") + name + "' parameter of " + estimator + " must be " + constraint +
                         ". Got " + py_repr(got) + " instead.");
}

Status check_class_weight(const char* estimator, const std::string& class_weight, const std::string& constraint) {
  if (class_weight.empty() || class_weight == "balanced") return Status::success();
  return bad_param(estimator, "class_weight", constraint, class_weight);
}

// In sklearn's order: get_params() sorts the names.
Status validate_svc(const SvcParams& p) {
  constexpr const char* kSvc = "SVC";
  if (!(p.C > 0)) return bad_param(kSvc, "C", "a float in the range (0.0, inf)", p.C);
  if (!(p.cache_size > 0)) return bad_param(kSvc, "cache_size", "a float in the range (0, inf)", p.cache_size);
  DTASK_RETURN_NOT_OK(check_class_weight(kSvc, p.class_weight, "a str among {'balanced'}, an instance of 'dict' or None"));
  if (std::isnan(p.coef0)) return bad_param(kSvc, "coef0", "a float in the range (-inf, inf)", p.coef0);
  if (p.degree < 0) return bad_param(kSvc, "degree", "an int in the range [0, inf)", p.degree);
  const std::string gamma_constraint = "a str among {'scale', 'auto'} or a float in the range [0.0, inf)";
  if (const auto* g = std::get_if<double>(&p.gamma)) {
    if (!(*g >= 0)) return bad_param(kSvc, "gamma", gamma_constraint, *g);
  } else if (const auto& s = std::get<std::string>(p.gamma); s != "scale" && s != "auto") {
    return bad_param(kSvc, "gamma", gamma_constraint, s);
  }
  if (p.kernel != "linear" && p.kernel != "poly" && p.kernel != "rbf" && p.kernel != "sigmoid" &&
      p.kernel != "precomputed") {
    return bad_param(kSvc, "kernel",
                     "a str among {'linear', 'poly', 'rbf', 'sigmoid', 'precomputed'} or a callable", p.kernel);
  }
  if (p.max_iter < -1) return bad_param(kSvc, "max_iter", "an int in the range [-1, inf)", p.max_iter);
  if (!(p.tol > 0)) return bad_param(kSvc, "tol", "a float in the range (0.0, inf)", p.tol);
  // What sklearn accepts but this build cannot do.
  if (p.kernel == "precomputed") return Status::invalid("SVC: kernel='precomputed' is not supported by dtask");
  if (p.max_iter != -1) {
    return Status::invalid("SVC: max_iter=" + std::to_string(p.max_iter) +
                           " is not supported: Debian's libsvm 3.24 has no iteration limit parameter "
                           "(it stops itself after max(10000000, 100 * n_samples) iterations); use -1");
  }
  return Status::success();
}

Status validate_linear_svc(const LinearSvcParams& p) {
  constexpr const char* kLinearSvc = "LinearSVC";
  if (!(p.C > 0)) return bad_param(kLinearSvc, "C", "a float in the range (0.0, inf)", p.C);
  DTASK_RETURN_NOT_OK(
      check_class_weight(kLinearSvc, p.class_weight, "None, an instance of 'dict' or a str among {'balanced'}"));
  if (!(p.intercept_scaling > 0)) {
    return bad_param(kLinearSvc, "intercept_scaling", "a float in the range (0, inf)", p.intercept_scaling);
  }
  if (p.loss != "hinge" && p.loss != "squared_hinge") {
    return bad_param(kLinearSvc, "loss", "a str among {'hinge', 'squared_hinge'}", p.loss);
  }
  if (p.max_iter < 0) return bad_param(kLinearSvc, "max_iter", "an int in the range [0, inf)", p.max_iter);
  if (p.penalty != "l1" && p.penalty != "l2") {
    return bad_param(kLinearSvc, "penalty", "a str among {'l1', 'l2'}", p.penalty);
  }
  if (!(p.tol > 0)) return bad_param(kLinearSvc, "tol", "a float in the range (0.0, inf)", p.tol);
  return Status::success();
}

// sklearn's check_array and check_classification_targets, for dense float64.
Status check_data(const char* estimator, const double* X, std::int64_t n, std::int64_t d, const double* y) {
  auto shape = "(shape=(" + std::to_string(n) + ", " + std::to_string(d) + "))";
  if (n < 1) {
    return Status::invalid("Found array with " + std::to_string(n) + " sample(s) " + shape +
                           " while a minimum of 1 is required by " + estimator + ".");
  }
  if (d < 1) {
    return Status::invalid("Found array with " + std::to_string(d) + " feature(s) " + shape +
                           " while a minimum of 1 is required by " + estimator + ".");
  }
  // libsvm and liblinear count rows and feature indices in int.
  if (n > std::numeric_limits<int>::max() || d >= std::numeric_limits<int>::max()) {
    return Status::invalid(std::string(estimator) + ": " + shape + " is too large for libsvm/liblinear");
  }
  for (std::int64_t i = 0; i < n * d; ++i) {
    if (std::isnan(X[i])) return Status::invalid(std::string("Input X contains NaN."));
    if (std::isinf(X[i])) {
      return Status::invalid("Input X contains infinity or a value too large for dtype('float64').");
    }
  }
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(y[i])) return Status::invalid("Input y contains NaN or infinity.");
  }
  return Status::success();
}

// ---- labels ------------------------------------------------------------------

/// y as sklearn's LabelEncoder sees it: sorted classes and each row's index.
struct EncodedLabels {
  std::vector<double> classes;
  std::vector<int> index;
};

EncodedLabels encode_labels(const double* y, std::int64_t n) {
  EncodedLabels out;
  out.classes.assign(y, y + n);
  std::sort(out.classes.begin(), out.classes.end());
  out.classes.erase(std::unique(out.classes.begin(), out.classes.end()), out.classes.end());
  out.index.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    auto it = std::lower_bound(out.classes.begin(), out.classes.end(), y[i]);
    out.index[static_cast<std::size_t>(i)] = static_cast<int>(it - out.classes.begin());
  }
  return out;
}

/// sklearn's compute_class_weight: ones, or n / (k * bincount(y)).
std::vector<double> class_weights(const std::string& mode, const EncodedLabels& labels) {
  std::size_t k = labels.classes.size();
  std::vector<double> weights(k, 1.0);
  if (mode != "balanced") return weights;
  std::vector<double> count(k, 0.0);
  for (int c : labels.index) count[static_cast<std::size_t>(c)] += 1;
  for (std::size_t c = 0; c < k; ++c) {
    weights[c] = static_cast<double>(labels.index.size()) / (static_cast<double>(k) * count[c]);
  }
  return weights;
}

/// Row order that makes upstream's first-appearance class order the sorted
/// one without reordering rows within a class (see the file comment).
std::vector<std::int64_t> sorted_first_appearance_order(const std::vector<int>& index, std::size_t k) {
  std::vector<std::int64_t> first(k, -1);
  for (std::size_t i = 0; i < index.size(); ++i) {
    auto& f = first[static_cast<std::size_t>(index[i])];
    if (f < 0) f = static_cast<std::int64_t>(i);
  }
  std::vector<std::int64_t> order = first;
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (first[static_cast<std::size_t>(index[i])] != static_cast<std::int64_t>(i)) {
      order.push_back(static_cast<std::int64_t>(i));
    }
  }
  return order;
}

/// One dense row as sparse nodes 1..d (+ liblinear's bias node) and the -1
/// terminator. Zeros stay in: the sums then run over the same terms as
/// sklearn's dense build.
template <typename Node>
void fill_nodes(const double* row, std::int64_t d, double bias, Node* out) {
  for (std::int64_t j = 0; j < d; ++j) out[j] = Node{static_cast<int>(j + 1), row[j]};
  std::int64_t end = d;
  if (bias >= 0) out[end++] = Node{static_cast<int>(d + 1), bias};
  out[end] = Node{-1, 0.0};
}

// ---- libsvm ------------------------------------------------------------------

int kernel_type(const std::string& kernel) {
  if (kernel == "linear") return LINEAR;
  if (kernel == "poly") return POLY;
  if (kernel == "sigmoid") return SIGMOID;
  return RBF;
}

/// sklearn's _gamma: "scale" = 1 / (d * X.var()) over all entries (1 when
/// X is constant), "auto" = 1 / d.
double resolve_gamma(const SvcParams& p, const double* X, std::int64_t n, std::int64_t d) {
  if (const auto* g = std::get_if<double>(&p.gamma)) return *g;
  if (std::get<std::string>(p.gamma) == "auto") return 1.0 / static_cast<double>(d);
  double count = static_cast<double>(n) * static_cast<double>(d), mean = 0, var = 0;
  for (std::int64_t i = 0; i < n * d; ++i) mean += X[i];
  mean /= count;
  for (std::int64_t i = 0; i < n * d; ++i) var += (X[i] - mean) * (X[i] - mean);
  var /= count;
  return var != 0 ? 1.0 / (static_cast<double>(d) * var) : 1.0;
}

/// The fields libsvm reads at prediction time (and at training time, with the
/// class weights filled in by the caller).
svm_parameter make_svm_parameter(const SvcParams& p, double gamma) {
  svm_parameter param{};
  param.svm_type = C_SVC;
  param.kernel_type = kernel_type(p.kernel);
  param.degree = p.degree;
  param.gamma = gamma;
  param.coef0 = p.coef0;
  param.cache_size = p.cache_size;
  param.eps = p.tol;
  param.C = p.C;
  param.nu = 0.5;
  param.p = 0.1;
  param.shrinking = p.shrinking ? 1 : 0;
  param.probability = p.probability ? 1 : 0;
  return param;
}

struct SvmModelDeleter {
  void operator()(svm_model* model) const { svm_free_and_destroy_model(&model); }
};

struct LinearModelDeleter {
  void operator()(model* m) const { free_and_destroy_model(&m); }
};

/// Decision values in sklearn's 'ovr' shape from libsvm's one-vs-one values
/// (positive favours the pair's first class): sklearn's _ovr_decision_function
/// called with predictions = dec < 0 and confidences = -dec.
void ovr_from_ovo(const double* dec, std::size_t k, double* out) {
  std::vector<double> votes(k, 0.0), sums(k, 0.0);
  std::size_t p = 0;
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = i + 1; j < k; ++j, ++p) {
      sums[i] += dec[p];
      sums[j] -= dec[p];
      votes[dec[p] < 0 ? j : i] += 1;
    }
  }
  // x / (3 (|x| + 1)) stays inside (-1/3, 1/3): it breaks ties, never a vote.
  for (std::size_t c = 0; c < k; ++c) out[c] = votes[c] + sums[c] / (3 * (std::abs(sums[c]) + 1));
}

}  // namespace

// ---- SvcModel ------------------------------------------------------------------

/// Everything the model holds, in vectors; `model` points into them and is
/// relinked after a copy. libsvm never frees any of it (free_sv stays 0 and
/// svm_free_* is never called on `model`).
struct SvcModel::Impl {
  SvcParams params;
  double gamma = 0;
  std::int64_t d = 0;
  std::vector<double> classes;
  std::vector<std::int64_t> support;   // training rows, original order
  std::vector<int> n_support;          // per class
  std::vector<double> sv;              // [l x d]
  std::vector<double> sv_coef;         // [(k-1) x l], libsvm's sign
  std::vector<double> rho, prob_a, prob_b;
  std::vector<std::int64_t> n_iter;

  // What libsvm reads, rebuilt by link().
  std::vector<svm_node> nodes;
  std::vector<svm_node*> sv_rows;
  std::vector<double*> sv_coef_rows;
  std::vector<int> labels, sv_indices;
  svm_model model{};

  std::size_t k() const { return classes.size(); }
  std::size_t l() const { return support.size(); }

  void link() {
    std::size_t width = static_cast<std::size_t>(d) + 1;
    nodes.resize(l() * width);
    sv_rows.resize(l());
    sv_indices.resize(l());
    for (std::size_t i = 0; i < l(); ++i) {
      fill_nodes(sv.data() + i * static_cast<std::size_t>(d), d, -1, nodes.data() + i * width);
      sv_rows[i] = nodes.data() + i * width;
      sv_indices[i] = static_cast<int>(support[i] + 1);
    }
    sv_coef_rows.resize(k() - 1);
    for (std::size_t c = 0; c + 1 < k(); ++c) sv_coef_rows[c] = sv_coef.data() + c * l();
    labels.resize(k());
    for (std::size_t c = 0; c < k(); ++c) labels[c] = static_cast<int>(c);  // libsvm answers class indices

    model = svm_model{};
    model.param = make_svm_parameter(params, gamma);
    model.nr_class = static_cast<int>(k());
    model.l = static_cast<int>(l());
    model.SV = sv_rows.data();
    model.sv_coef = sv_coef_rows.data();
    model.rho = rho.data();
    model.probA = prob_a.empty() ? nullptr : prob_a.data();
    model.probB = prob_b.empty() ? nullptr : prob_b.data();
    model.sv_indices = sv_indices.data();
    model.label = labels.data();
    model.nSV = n_support.data();
    model.free_sv = 0;
  }

  /// Copies what svm_train produced; `order` maps its rows to the caller's.
  void take(const svm_model& trained, const std::vector<std::int64_t>& order, const double* X) {
    DTASK_CHECK(static_cast<std::size_t>(trained.nr_class) == k()) << "libsvm found " << trained.nr_class << " classes";
    for (std::size_t c = 0; c < k(); ++c) {
      DTASK_CHECK(trained.label[c] == static_cast<int>(c)) << "libsvm did not keep the sorted class order";
    }
    std::size_t count = static_cast<std::size_t>(trained.l), pairs = k() * (k() - 1) / 2;
    n_support.assign(trained.nSV, trained.nSV + k());
    support.resize(count);
    sv.resize(count * static_cast<std::size_t>(d));
    for (std::size_t i = 0; i < count; ++i) {
      support[i] = order[static_cast<std::size_t>(trained.sv_indices[i] - 1)];
      std::copy_n(X + support[i] * d, d, sv.data() + i * static_cast<std::size_t>(d));
    }
    sv_coef.resize((k() - 1) * count);
    for (std::size_t c = 0; c + 1 < k(); ++c) std::copy_n(trained.sv_coef[c], count, sv_coef.data() + c * count);
    rho.assign(trained.rho, trained.rho + pairs);
    if (trained.probA != nullptr && trained.probB != nullptr) {
      prob_a.assign(trained.probA, trained.probA + pairs);
      prob_b.assign(trained.probB, trained.probB + pairs);
    }
  }

  /// libsvm's one-vs-one decision values for each row, [n x pairs].
  std::vector<double> raw_decision(const double* X, std::int64_t n) const {
    std::size_t pairs = k() * (k() - 1) / 2;
    std::vector<double> out(static_cast<std::size_t>(n) * pairs);
    std::vector<svm_node> row(static_cast<std::size_t>(d) + 1);
    for (std::int64_t i = 0; i < n; ++i) {
      fill_nodes(X + i * d, d, -1, row.data());
      svm_predict_values(&model, row.data(), out.data() + static_cast<std::size_t>(i) * pairs);
    }
    return out;
  }
};

SvcModel::SvcModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SvcModel::SvcModel(const SvcModel& other) : impl_(std::make_unique<Impl>(*other.impl_)) { impl_->link(); }
SvcModel& SvcModel::operator=(const SvcModel& other) {
  if (this != &other) {
    impl_ = std::make_unique<Impl>(*other.impl_);
    impl_->link();
  }
  return *this;
}
SvcModel::SvcModel(SvcModel&& other) noexcept = default;
SvcModel& SvcModel::operator=(SvcModel&& other) noexcept = default;
SvcModel::~SvcModel() = default;

Result<SvcModel> SvcModel::fit(const SvcParams& params, const double* X, std::int64_t n, std::int64_t d,
                               const double* y) {
  DTASK_RETURN_NOT_OK(validate_svc(params));
  DTASK_RETURN_NOT_OK(check_data("SVC", X, n, d, y));
  EncodedLabels labels = encode_labels(y, n);
  std::size_t k = labels.classes.size();
  if (k < 2) return Status::invalid("The number of classes has to be greater than one; got 1 class");

  auto impl = std::make_unique<Impl>();
  impl->params = params;
  impl->gamma = resolve_gamma(params, X, n, d);
  impl->d = d;
  impl->classes = labels.classes;

  // The problem, rows in upstream-friendly order.
  std::vector<std::int64_t> order = sorted_first_appearance_order(labels.index, k);
  std::size_t width = static_cast<std::size_t>(d) + 1;
  std::vector<svm_node> x_space(static_cast<std::size_t>(n) * width);
  std::vector<svm_node*> rows(static_cast<std::size_t>(n));
  std::vector<double> targets(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < order.size(); ++i) {
    rows[i] = x_space.data() + i * width;
    fill_nodes(X + order[i] * d, d, -1, rows[i]);
    targets[i] = labels.index[static_cast<std::size_t>(order[i])];
  }
  svm_problem problem{static_cast<int>(n), targets.data(), rows.data()};

  svm_parameter param = make_svm_parameter(params, impl->gamma);
  std::vector<int> weight_label(k);
  for (std::size_t c = 0; c < k; ++c) weight_label[c] = static_cast<int>(c);
  std::vector<double> weights = class_weights(params.class_weight, labels);
  param.nr_weight = static_cast<int>(k);
  param.weight_label = weight_label.data();
  param.weight = weights.data();
  if (const char* error = svm_check_parameter(&problem, &param)) return Status::invalid(std::string("libsvm: ") + error);

  SolverLog log;
  std::unique_ptr<svm_model, SvmModelDeleter> trained(svm_train(&problem, &param));
  if (trained == nullptr) return Status::internal("libsvm's svm_train returned no model");
  impl->take(*trained, order, X);
  if (!params.probability) impl->n_iter = log.iterations();
  impl->link();
  return SvcModel(std::move(impl));
}

std::vector<double> SvcModel::predict(const double* X, std::int64_t n) const {
  std::vector<double> out(static_cast<std::size_t>(n));
  std::vector<svm_node> row(static_cast<std::size_t>(impl_->d) + 1);
  for (std::int64_t i = 0; i < n; ++i) {
    fill_nodes(X + i * impl_->d, impl_->d, -1, row.data());
    auto c = static_cast<std::size_t>(svm_predict(&impl_->model, row.data()));
    out[static_cast<std::size_t>(i)] = impl_->classes[c];
  }
  return out;
}

std::vector<double> SvcModel::decision_function_ovo(const double* X, std::int64_t n) const {
  std::vector<double> dec = impl_->raw_decision(X, n);
  // sklearn flips the binary sign so that positive means classes_[1].
  if (impl_->k() == 2) {
    for (double& v : dec) v = -v;
  }
  return dec;
}

std::vector<double> SvcModel::decision_function(const double* X, std::int64_t n) const {
  std::size_t k = impl_->k();
  if (k == 2) return decision_function_ovo(X, n);
  std::vector<double> dec = impl_->raw_decision(X, n), out(static_cast<std::size_t>(n) * k);
  std::size_t pairs = k * (k - 1) / 2;
  for (std::int64_t i = 0; i < n; ++i) {
    ovr_from_ovo(dec.data() + static_cast<std::size_t>(i) * pairs, k, out.data() + static_cast<std::size_t>(i) * k);
  }
  return out;
}

Result<std::vector<double>> SvcModel::predict_proba(const double* X, std::int64_t n) const {
  if (!impl_->params.probability || svm_check_probability_model(&impl_->model) == 0) {
    return Status::invalid("predict_proba is not available when  probability=False");
  }
  std::size_t k = impl_->k();
  std::vector<double> out(static_cast<std::size_t>(n) * k);
  std::vector<svm_node> row(static_cast<std::size_t>(impl_->d) + 1);
  for (std::int64_t i = 0; i < n; ++i) {
    fill_nodes(X + i * impl_->d, impl_->d, -1, row.data());
    // Columns come in label order, which is the sorted class order here.
    svm_predict_probability(&impl_->model, row.data(), out.data() + static_cast<std::size_t>(i) * k);
  }
  return out;
}

const std::vector<double>& SvcModel::classes() const { return impl_->classes; }
std::int64_t SvcModel::n_features() const { return impl_->d; }
const std::vector<std::int64_t>& SvcModel::support() const { return impl_->support; }
std::vector<std::int64_t> SvcModel::n_support() const {
  return std::vector<std::int64_t>(impl_->n_support.begin(), impl_->n_support.end());
}
std::vector<double> SvcModel::support_vectors() const { return impl_->sv; }
double SvcModel::gamma() const { return impl_->gamma; }
const std::vector<std::int64_t>& SvcModel::n_iter() const { return impl_->n_iter; }
const SvcParams& SvcModel::params() const { return impl_->params; }

std::vector<double> SvcModel::dual_coef() const {
  std::vector<double> out = impl_->sv_coef;
  if (impl_->k() == 2) {
    for (double& v : out) v = -v;
  }
  return out;
}

std::vector<double> SvcModel::intercept() const {
  std::vector<double> out = impl_->rho;
  // sklearn's intercept_ is -rho, and the binary sign flip makes it rho again.
  if (impl_->k() != 2) {
    for (double& v : out) v = -v;
  }
  return out;
}

Result<std::vector<double>> SvcModel::coef() const {
  if (impl_->params.kernel != "linear") return Status::invalid("coef_ is only available when using a linear kernel");
  const Impl& m = *impl_;
  std::size_t k = m.k(), l = m.l(), d = static_cast<std::size_t>(m.d);
  if (k == 2) {
    std::vector<double> out(d, 0.0), alpha = dual_coef();
    for (std::size_t s = 0; s < l; ++s) {
      for (std::size_t j = 0; j < d; ++j) out[j] += alpha[s] * m.sv[s * d + j];
    }
    return out;
  }
  // sklearn's _one_vs_one_coef: pair (a, b) combines a's vectors weighted by
  // dual_coef row b-1 and b's vectors weighted by row a.
  std::vector<std::size_t> start(k + 1, 0);
  for (std::size_t c = 0; c < k; ++c) start[c + 1] = start[c] + static_cast<std::size_t>(m.n_support[c]);
  std::vector<double> out;
  for (std::size_t a = 0; a < k; ++a) {
    for (std::size_t b = a + 1; b < k; ++b) {
      std::vector<double> w(d, 0.0);
      auto add = [&](std::size_t cls, std::size_t row) {
        for (std::size_t s = start[cls]; s < start[cls + 1]; ++s) {
          for (std::size_t j = 0; j < d; ++j) w[j] += m.sv_coef[row * l + s] * m.sv[s * d + j];
        }
      };
      add(a, b - 1);
      add(b, a);
      out.insert(out.end(), w.begin(), w.end());
    }
  }
  return out;
}

std::string SvcModel::serialize() const {
  const Impl& m = *impl_;
  nlohmann::json params = {{"C", m.params.C},
                           {"kernel", m.params.kernel},
                           {"degree", m.params.degree},
                           {"coef0", m.params.coef0},
                           {"shrinking", m.params.shrinking},
                           {"probability", m.params.probability},
                           {"tol", m.params.tol},
                           {"cache_size", m.params.cache_size},
                           {"class_weight", m.params.class_weight},
                           {"max_iter", m.params.max_iter}};
  if (const auto* g = std::get_if<double>(&m.params.gamma)) {
    params["gamma"] = *g;
  } else {
    params["gamma"] = std::get<std::string>(m.params.gamma);
  }
  nlohmann::json doc = {{"format", "dtask.ml_core.SvcModel"},
                        {"version", 1},
                        {"params", params},
                        {"gamma", m.gamma},
                        {"n_features", m.d},
                        {"classes", m.classes},
                        {"n_support", m.n_support},
                        {"support", m.support},
                        {"support_vectors", m.sv},
                        {"sv_coef", m.sv_coef},
                        {"rho", m.rho},
                        {"probA", m.prob_a},
                        {"probB", m.prob_b},
                        {"n_iter", m.n_iter}};
  return doc.dump();
}

namespace {

SvcParams svc_params_from_json(const nlohmann::json& j) {
  SvcParams p;
  p.C = j.at("C").get<double>();
  p.kernel = j.at("kernel").get<std::string>();
  if (j.at("gamma").is_string()) {
    p.gamma = j.at("gamma").get<std::string>();
  } else {
    p.gamma = j.at("gamma").get<double>();
  }
  p.degree = j.at("degree").get<int>();
  p.coef0 = j.at("coef0").get<double>();
  p.shrinking = j.at("shrinking").get<bool>();
  p.probability = j.at("probability").get<bool>();
  p.tol = j.at("tol").get<double>();
  p.cache_size = j.at("cache_size").get<double>();
  p.class_weight = j.at("class_weight").get<std::string>();
  p.max_iter = j.at("max_iter").get<int>();
  return p;
}

/// Every size libsvm's predict relies on, so a bad document cannot make it
/// read out of bounds.
Status check_svc_shapes(const std::vector<double>& classes, std::int64_t d, const std::vector<int>& n_support,
                        std::size_t l, std::size_t n_sv_values, std::size_t n_coef, std::size_t n_rho,
                        std::size_t n_prob_a, std::size_t n_prob_b) {
  std::size_t k = classes.size();
  if (k < 2 || !std::is_sorted(classes.begin(), classes.end()) ||
      std::adjacent_find(classes.begin(), classes.end()) != classes.end()) {
    return Status::invalid("SvcModel: classes must be two or more sorted distinct values");
  }
  if (d < 1 || d >= std::numeric_limits<int>::max() || l >= static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Status::invalid("SvcModel: bad n_features or support size");
  }
  std::int64_t total = 0;
  for (int c : n_support) {
    if (c < 0) return Status::invalid("SvcModel: negative n_support");
    total += c;
  }
  std::size_t pairs = k * (k - 1) / 2;
  if (n_support.size() != k || static_cast<std::size_t>(total) != l || n_sv_values != l * static_cast<std::size_t>(d) ||
      n_coef != (k - 1) * l || n_rho != pairs || n_prob_a != n_prob_b || (n_prob_a != 0 && n_prob_a != pairs)) {
    return Status::invalid("SvcModel: inconsistent array sizes");
  }
  return Status::success();
}

}  // namespace

Result<SvcModel> SvcModel::deserialize(std::string_view text) {
  auto impl = std::make_unique<Impl>();
  try {
    nlohmann::json doc = nlohmann::json::parse(text);
    if (doc.at("format") != "dtask.ml_core.SvcModel" || doc.at("version") != 1) {
      return Status::invalid("SvcModel: not a version 1 SvcModel document");
    }
    impl->params = svc_params_from_json(doc.at("params"));
    impl->gamma = doc.at("gamma").get<double>();
    impl->d = doc.at("n_features").get<std::int64_t>();
    impl->classes = doc.at("classes").get<std::vector<double>>();
    impl->n_support = doc.at("n_support").get<std::vector<int>>();
    impl->support = doc.at("support").get<std::vector<std::int64_t>>();
    impl->sv = doc.at("support_vectors").get<std::vector<double>>();
    impl->sv_coef = doc.at("sv_coef").get<std::vector<double>>();
    impl->rho = doc.at("rho").get<std::vector<double>>();
    impl->prob_a = doc.at("probA").get<std::vector<double>>();
    impl->prob_b = doc.at("probB").get<std::vector<double>>();
    impl->n_iter = doc.at("n_iter").get<std::vector<std::int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid(std::string("SvcModel: malformed document: ") + e.what());
  }
  DTASK_RETURN_NOT_OK(validate_svc(impl->params));
  DTASK_RETURN_NOT_OK(check_svc_shapes(impl->classes, impl->d, impl->n_support, impl->support.size(), impl->sv.size(),
                                       impl->sv_coef.size(), impl->rho.size(), impl->prob_a.size(),
                                       impl->prob_b.size()));
  impl->link();
  return SvcModel(std::move(impl));
}

// ---- LinearSvcModel --------------------------------------------------------------

Result<int> liblinear_solver_type(const LinearSvcParams& p) {
  auto combination = "The combination of penalty=" + py_repr(p.penalty) + " and loss=" + py_repr(p.loss);
  std::string error;
  if (p.loss == "hinge" || p.loss == "squared_hinge") {
    bool hinge = p.loss == "hinge";
    if (p.penalty == "l2") {
      if (p.dual) return hinge ? L2R_L1LOSS_SVC_DUAL : L2R_L2LOSS_SVC_DUAL;
      if (!hinge) return L2R_L2LOSS_SVC;
      error = combination + " are not supported when dual=" + py_bool(p.dual);
    } else if (p.penalty == "l1" && !hinge) {
      if (!p.dual) return L1R_L2LOSS_SVC;
      error = combination + " are not supported when dual=" + py_bool(p.dual);
    } else {
      error = combination + " is not supported";
    }
  } else {
    error = "loss='" + p.loss + "' is not supported";
  }
  return Status::invalid("Unsupported set of arguments: " + error + ", Parameters: penalty=" + py_repr(p.penalty) +
                         ", loss=" + py_repr(p.loss) + ", dual=" + py_bool(p.dual));
}

Result<LinearSvcModel> LinearSvcModel::fit(const LinearSvcParams& params, const double* X, std::int64_t n,
                                           std::int64_t d, const double* y) {
  DTASK_RETURN_NOT_OK(validate_linear_svc(params));
  DTASK_RETURN_NOT_OK(check_data("LinearSVC", X, n, d, y));
  EncodedLabels labels = encode_labels(y, n);
  std::size_t k = labels.classes.size();
  if (k < 2) {
    return Status::invalid(
        "This solver needs samples of at least 2 classes in the data, but the data contains only one class: " +
        py_repr(labels.classes[0]));
  }
  DTASK_ASSIGN_OR_RETURN(int solver, liblinear_solver_type(params));
  if (params.max_iter != 1000) {
    return Status::invalid("LinearSVC: max_iter=" + std::to_string(params.max_iter) +
                           " is not supported: Debian's liblinear 2.3 fixes its solvers' limit at 1000");
  }

  // The intercept is one more feature of value intercept_scaling, which
  // liblinear regularises like the others (as sklearn's copy does).
  double bias = params.fit_intercept ? params.intercept_scaling : -1.0;
  std::size_t width = static_cast<std::size_t>(d) + (bias >= 0 ? 2 : 1);
  std::vector<feature_node> x_space(static_cast<std::size_t>(n) * width);
  std::vector<feature_node*> rows(static_cast<std::size_t>(n));
  std::vector<double> targets(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i] = x_space.data() + i * width;
    fill_nodes(X + static_cast<std::int64_t>(i) * d, d, bias, rows[i]);
    targets[i] = labels.index[i];
  }
  problem prob{};
  prob.l = static_cast<int>(n);
  prob.n = static_cast<int>(d) + (bias >= 0 ? 1 : 0);
  prob.y = targets.data();
  prob.x = rows.data();
  prob.bias = bias;

  std::vector<int> weight_label(k);
  for (std::size_t c = 0; c < k; ++c) weight_label[c] = static_cast<int>(c);
  std::vector<double> weights = class_weights(params.class_weight, labels);
  parameter param{};
  param.solver_type = solver;
  param.eps = params.tol;
  param.C = params.C;
  param.nr_weight = static_cast<int>(k);
  param.weight_label = weight_label.data();
  param.weight = weights.data();
  param.p = 0.1;
  param.init_sol = nullptr;
  if (const char* error = check_parameter(&prob, &param)) return Status::invalid(std::string("liblinear: ") + error);

  SolverLog log;
  std::unique_ptr<model, LinearModelDeleter> trained(train(&prob, &param));
  if (trained == nullptr) return Status::internal("liblinear's train returned no model");

  LinearSvcModel out;
  out.d_ = d;
  out.classes_ = labels.classes;
  std::vector<std::int64_t> iterations = log.iterations();
  out.n_iter_ = iterations.empty() ? 0 : *std::max_element(iterations.begin(), iterations.end());
  std::size_t rows_out = k == 2 ? 1 : k, ud = static_cast<std::size_t>(d);
  out.coef_.assign(rows_out * ud, 0.0);
  out.intercept_.assign(rows_out, 0.0);
  // liblinear orders classes by first appearance; its binary w is positive
  // for label[0], sklearn's for classes_[1]. Multiclass w is [feature x class].
  const double* w = trained->w;
  for (std::size_t r = 0; r < rows_out; ++r) {
    auto c = static_cast<std::size_t>(trained->label[r]);
    std::size_t target = k == 2 ? 0 : c, stride = k == 2 ? 1 : k;
    double sign = (k == 2 && c == 0) ? -1.0 : 1.0;
    for (std::size_t j = 0; j < ud; ++j) out.coef_[target * ud + j] = sign * w[j * stride + r];
    if (bias >= 0) out.intercept_[target] = params.intercept_scaling * sign * w[ud * stride + r];
  }
  return out;
}

std::vector<double> LinearSvcModel::decision_function(const double* X, std::int64_t n) const {
  return linear_decision(X, n, d_, coef_, intercept_);
}

std::vector<double> LinearSvcModel::predict(const double* X, std::int64_t n) const {
  std::vector<double> dec = decision_function(X, n), out(static_cast<std::size_t>(n));
  auto r_count = static_cast<std::size_t>(rows());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double* row = dec.data() + i * r_count;
    // sklearn: scores > 0 for two classes, else the first largest score.
    std::size_t c = r_count == 1 ? (row[0] > 0 ? 1 : 0)
                                 : static_cast<std::size_t>(std::max_element(row, row + r_count) - row);
    out[i] = classes_[c];
  }
  return out;
}

std::string LinearSvcModel::serialize() const {
  nlohmann::json doc = {{"format", "dtask.ml_core.LinearSvcModel"},
                        {"version", 1},
                        {"n_features", d_},
                        {"classes", classes_},
                        {"coef", coef_},
                        {"intercept", intercept_},
                        {"n_iter", n_iter_}};
  return doc.dump();
}

Result<LinearSvcModel> LinearSvcModel::deserialize(std::string_view text) {
  LinearSvcModel out;
  try {
    nlohmann::json doc = nlohmann::json::parse(text);
    if (doc.at("format") != "dtask.ml_core.LinearSvcModel" || doc.at("version") != 1) {
      return Status::invalid("LinearSvcModel: not a version 1 LinearSvcModel document");
    }
    out.d_ = doc.at("n_features").get<std::int64_t>();
    out.classes_ = doc.at("classes").get<std::vector<double>>();
    out.coef_ = doc.at("coef").get<std::vector<double>>();
    out.intercept_ = doc.at("intercept").get<std::vector<double>>();
    out.n_iter_ = doc.at("n_iter").get<std::int64_t>();
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid(std::string("LinearSvcModel: malformed document: ") + e.what());
  }
  std::size_t k = out.classes_.size(), rows = k == 2 ? 1 : k;
  if (k < 2 || out.d_ < 1 || out.intercept_.size() != rows ||
      out.coef_.size() != rows * static_cast<std::size_t>(out.d_)) {
    return Status::invalid("LinearSvcModel: inconsistent array sizes");
  }
  return out;
}

}  // namespace dtask::ml_core
