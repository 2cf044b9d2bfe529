// dtask::ml GLM estimators: option checks, the objective's scaling, solver
// dispatch, predictions as lazy arrays, score, JSON save/load.
#include "dtask/ml/linear_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "client/src/array_internal.h"
#include "client/src/ml/chunk_passes_internal.h"
#include "client/src/ml/estimator_internal.h"
#include "client/src/ml/glm_objective_internal.h"
#include "dtask/client.h"
#include "ml_core/glm_config.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml {

namespace {

using array_internal::fail;

ml_core::GlmConfig config_of(const std::string& family, const GlmOptions& o) {
  return {family, o.penalty, o.C, o.l1_ratio, o.fit_intercept, o.solver, o.max_iter, o.tol, o.random_state};
}

void apply_config(const ml_core::GlmConfig& c, GlmOptions& o) {
  o.penalty = c.penalty;
  o.C = c.C;
  o.l1_ratio = c.l1_ratio;
  o.fit_intercept = c.fit_intercept;
  o.solver = c.solver;
  o.max_iter = c.max_iter;
  o.tol = c.tol;
  o.random_state = c.random_state;
}

NDArray vector_array(const std::vector<double>& v, std::size_t count) {
  NDArray out = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(count)});
  std::copy(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(count), out.mutable_data<double>());
  return out;
}

/// a's values (none for an empty array).
std::vector<double> doubles_of(const NDArray& a) {
  if (!a.buffer) return {};
  return {a.data<double>(), a.data<double>() + a.size()};
}

}  // namespace

GeneralizedLinearModel::GeneralizedLinearModel(std::string family, GlmOptions options)
    : family_(std::move(family)), options_(std::move(options)) {}

std::string GeneralizedLinearModel::name() const { return ml_core::glm_estimator_name(family_); }

Params GeneralizedLinearModel::get_params() const {
  return ml_core::glm_binding(family_).get(config_of(family_, options_));
}

GeneralizedLinearModel& GeneralizedLinearModel::set_params(const Params& params) {
  ml_core::GlmConfig config = config_of(family_, options_);
  Status status = ml_core::glm_binding(family_).set_all(config, params);
  if (!status.ok()) fail(status.message());
  apply_config(config, options_);
  return *this;
}

GeneralizedLinearModel& GeneralizedLinearModel::fit(Client& client, const Array& X, const Array& y_in) {
  const std::string what = name() + ".fit: ";
  const ml_core::GlmConfig config = config_of(family_, options_);
  auto resolved = ml_core::resolve_glm(config);
  if (!resolved.ok()) fail(name() + ": " + resolved.status().message());
  penalty_ = resolved->penalty;
  solver_ = resolved->solver;
  if (!X.valid() || !y_in.valid()) fail(what + "X and y must be non-empty Arrays");
  if (X.ndim() != 2 || !is_floating(X.dtype())) fail(what + "X must be a 2-d float array, got " + X.describe());
  if (y_in.ndim() != 1) fail(what + "y must be 1-d, got " + y_in.describe());
  if (y_in.rows() != X.rows()) {
    fail(what + "y " + y_in.describe() + " has " + std::to_string(y_in.rows()) + " values, X " + X.describe() + " has " +
         std::to_string(X.rows()) + " rows");
  }
  if (X.rows() < 1) fail(what + "X has no rows");
  Array y = y_in.chunks().sizes() == X.chunks().sizes() ? y_in : y_in.rechunk(X.chunks());

  // Logistic: the classes decide binary or multinomial, and labels other
  // than {0, 1} are fitted as their class index (classes_[1] as 1).
  ml_core::GlmConfig fit_config = config;
  std::int64_t outputs = 1;
  if (family_ == "logistic") {
    NDArray classes = internal::find_classes(client, y);
    if (classes.size() < 2) {
      fail(what + "y needs at least 2 classes, got " + std::to_string(classes.size()));
    }
    classes_ = classes;
    if (classes.size() > 2) {
      outputs = classes.size();
      fit_config.family = "multinomial";
      fit_config.n_classes = outputs;
      resolved = ml_core::resolve_glm(fit_config);
      if (!resolved.ok()) fail(name() + ": " + resolved.status().message());
    }
    if (!zero_one_classes()) y = y.map_blocks(ops::kGlmClassIndex, {Value(classes_)}, DType::kFloat64, 0);
  }

  const double n = static_cast<double>(X.rows());
  internal::DistributedGlmObjective objective(client, X, y, fit_config.family, options_.fit_intercept,
                                              ml_core::glm_penalty(fit_config, *resolved, X.rows(), X.cols()),
                                              outputs);

  auto start = std::chrono::steady_clock::now();
  ml_core::SolverSettings settings = ml_core::glm_solver_settings(config, *resolved, X.rows());
  settings.on_iteration = [&](int iteration, double f, double measure) {
    // Report on scikit-learn's scale: Σ loss + R / C is n F.
    GlmIteration progress{iteration, f * n, solver_ == "admm" ? measure : measure * n, internal::seconds_since(start)};
    if (options_.verbose) {
      std::fprintf(stderr, "%s(%s): iteration %d, objective %.10g, %s %.3g (%.2fs)\n", name().c_str(),
                   solver_.c_str(), iteration, progress.objective,
                   solver_ == "admm" ? "primal residual" : "max |gradient|", progress.grad_norm, progress.seconds);
    }
    if (options_.on_iteration) options_.on_iteration(progress);
  };
  ml_core::SolverResult result = ml_core::find_solver(solver_)(objective, settings);

  const auto d = static_cast<std::size_t>(X.cols());
  const auto m = static_cast<std::size_t>(outputs);
  coef_ = vector_array(result.beta, m * d);
  std::vector<double> intercepts(m, 0.0);
  if (options_.fit_intercept) std::copy(result.beta.begin() + static_cast<std::ptrdiff_t>(m * d), result.beta.end(), intercepts.begin());
  if (m > 1) coef_.shape = {outputs, X.cols()};
  intercepts_ = vector_array(intercepts, m);
  intercept_ = m == 1 ? intercepts[0] : 0.0;
  n_iter_ = result.n_iter;
  converged_ = result.converged;
  grad_norm_ = result.grad_norm * n;
  if (options_.verbose) {
    std::fprintf(stderr, "%s(%s): %s after %d iterations, max |gradient| %.3g (%.2fs)\n", name().c_str(),
                 solver_.c_str(), converged_ ? "converged" : "did not converge", n_iter_, grad_norm_,
                 internal::seconds_since(start));
  }
  return *this;
}

void GeneralizedLinearModel::require_fitted(const char* what) const {
  if (!coef_.buffer) fail(name() + "." + what + ": the model is not fitted yet");
}

bool GeneralizedLinearModel::zero_one_classes() const {
  return !classes_.buffer ||
         (classes_.size() == 2 && classes_.data<double>()[0] == 0.0 && classes_.data<double>()[1] == 1.0);
}

NDArray GeneralizedLinearModel::fitted_beta() const {
  std::vector<double> beta(coef_.data<double>(), coef_.data<double>() + coef_.size());
  if (options_.fit_intercept) {
    const std::vector<double> intercepts = doubles_of(intercepts_);
    beta.insert(beta.end(), intercepts.begin(), intercepts.end());
  }
  return vector_array(beta, beta.size());
}

Array GeneralizedLinearModel::decision_function(const Array& X) const {
  require_fitted("decision_function");
  const std::int64_t d = multinomial() ? coef_.cols() : coef_.size();
  if (X.ndim() != 2 || X.cols() != d) {
    fail(name() + ": X " + X.describe() + " does not have the model's " + std::to_string(d) + " features");
  }
  if (multinomial()) {
    return X.map_blocks(ops::kGlmApply, {Value(fitted_beta()), Value(classes_), options_.fit_intercept,
                                      std::string("decision_function")},
                        DType::kFloat64, classes_.size());
  }
  Array eta = matmul(X, coef_);
  return intercept_ != 0.0 ? eta + intercept_ : eta;
}

double GeneralizedLinearModel::score(Client& client, const Array& X, const Array& y_in) const {
  require_fitted("score");
  if (y_in.ndim() != 1 || y_in.rows() != X.rows()) {
    fail(name() + ".score: y " + y_in.describe() + " does not match X " + X.describe());
  }
  decision_function(X);  // the shape checks
  Array y = y_in.chunks().sizes() == X.chunks().sizes() ? y_in : y_in.rechunk(X.chunks());
  if (family_ == "logistic" && !zero_one_classes()) {
    // Any labels: the accuracy of predict (a label outside classes_ is a miss).
    NDArray accuracy = (predict(X) == y).astype(DType::kFloat64).mean().compute(client);
    return accuracy.data<double>()[0];
  }
  std::vector<double> beta(coef_.data<double>(), coef_.data<double>() + coef_.size());
  if (options_.fit_intercept) beta.push_back(intercept_);
  NDArray b = vector_array(beta, beta.size());
  Value total = internal::reduce_over_chunks(client, {X, y}, ops::kGlmScoreParts, [&](std::int64_t chunk) {
    return std::vector<Value>{Value(b), family_, options_.fit_intercept, chunk, X.name(), y.name()};
  });
  // [n, correct, Σ (y - μ)², Σ y, Σ y², Σ (μ - y η), Σ y log y]; see glm_ops.cc.
  const double* s = total.get<NDArray>().data<double>();
  const double count = s[0];
  if (family_ == "logistic") return s[1] / count;
  if (family_ == "linear") return 1.0 - s[2] / (s[4] - s[3] * s[3] / count);
  const double mean = s[3] / count;
  const double deviance = 2.0 * (s[6] + s[5] - s[3]);
  const double null_deviance = 2.0 * (s[6] - (mean > 0 ? s[3] * std::log(mean) : 0.0));
  return 1.0 - deviance / null_deviance;
}

void GeneralizedLinearModel::save(const std::string& path) const {
  require_fitted("save");
  nlohmann::json model = {{"model", "dtask.ml." + name()},
                          {"family", family_},
                          {"coef", std::vector<double>(coef_.data<double>(), coef_.data<double>() + coef_.size())},
                          {"coef_shape", coef_.shape},
                          {"intercept", intercept_},
                          {"intercepts", doubles_of(intercepts_)},
                          {"classes", doubles_of(classes_)},
                          {"n_iter", n_iter_},
                          {"converged", converged_},
                          {"grad_norm", grad_norm_},
                          {"penalty", penalty_},
                          {"solver", solver_},
                          {"C", options_.C},
                          {"l1_ratio", options_.l1_ratio},
                          {"fit_intercept", options_.fit_intercept},
                          {"max_iter", options_.max_iter},
                          {"tol", options_.tol}};
  std::ofstream out(path);
  if (!(out << model.dump(2) << "\n")) throw TaskError(Status::io_error("cannot write " + path));
}

void GeneralizedLinearModel::load_into(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw TaskError(Status::io_error("cannot open " + path));
  try {
    nlohmann::json model = nlohmann::json::parse(in);
    if (model.at("family").get<std::string>() != family_) {
      throw std::invalid_argument("it holds a " + model.value("model", std::string("?")) + ", not a " + name());
    }
    penalty_ = model.at("penalty").get<std::string>();
    solver_ = model.at("solver").get<std::string>();
    options_.penalty = penalty_;
    options_.solver = solver_;
    options_.C = model.value("C", 1.0);
    options_.l1_ratio = model.value("l1_ratio", 0.5);
    options_.fit_intercept = model.value("fit_intercept", true);
    options_.max_iter = model.value("max_iter", 100);
    options_.tol = model.value("tol", 1e-4);
    coef_ = vector_array(model.at("coef").get<std::vector<double>>(), model.at("coef").size());
    if (model.contains("coef_shape")) coef_.shape = model.at("coef_shape").get<std::vector<std::int64_t>>();
    intercept_ = model.value("intercept", 0.0);
    auto intercepts = model.value("intercepts", std::vector<double>{intercept_});
    intercepts_ = vector_array(intercepts, intercepts.size());
    auto classes = model.value("classes", std::vector<double>{});
    classes_ = classes.empty() ? NDArray{} : vector_array(classes, classes.size());
    std::int64_t product = 1;
    for (std::int64_t extent : coef_.shape) product *= extent;
    if (product != static_cast<std::int64_t>(model.at("coef").size()) ||
        (multinomial() && (coef_.rows() != classes_.size() || intercepts_.size() != classes_.size()))) {
      throw std::invalid_argument("coef, coef_shape, intercepts and classes do not agree");
    }
    n_iter_ = model.value("n_iter", 0);
    converged_ = model.value("converged", false);
    grad_norm_ = model.value("grad_norm", 0.0);
  } catch (const std::exception& e) {
    throw TaskError(Status::invalid(path + ": not a dtask " + name() + " model: " + e.what()));
  }
}

LogisticRegression::LogisticRegression(GlmOptions options) : GeneralizedLinearModel("logistic", std::move(options)) {}

Array LogisticRegression::predict(const Array& X) const {
  if (multinomial() || !zero_one_classes()) {
    decision_function(X);  // the shape checks
    return X.map_blocks(ops::kGlmApply, {Value(fitted_beta()), Value(classes_), options().fit_intercept,
                                      std::string("predict")},
                        DType::kFloat64, 0);
  }
  return (decision_function(X) > 0.0).astype(DType::kInt64);
}

Array LogisticRegression::predict_proba(const Array& X) const {
  if (multinomial()) {
    decision_function(X);  // the shape checks
    return X.map_blocks(ops::kGlmApply, {Value(fitted_beta()), Value(classes_), options().fit_intercept,
                                      std::string("predict_proba")},
                        DType::kFloat64, classes_.size());
  }
  return elementwise("sigmoid", decision_function(X));
}

LogisticRegression LogisticRegression::load(const std::string& path) {
  LogisticRegression model;
  model.load_into(path);
  return model;
}

LinearRegression::LinearRegression(GlmOptions options) : GeneralizedLinearModel("linear", std::move(options)) {}

Array LinearRegression::predict(const Array& X) const { return decision_function(X); }

LinearRegression LinearRegression::load(const std::string& path) {
  LinearRegression model;
  model.load_into(path);
  return model;
}

PoissonRegression::PoissonRegression(GlmOptions options) : GeneralizedLinearModel("poisson", std::move(options)) {}

Array PoissonRegression::predict(const Array& X) const { return exp(decision_function(X)); }

PoissonRegression PoissonRegression::load(const std::string& path) {
  PoissonRegression model;
  model.load_into(path);
  return model;
}

}  // namespace dtask::ml
