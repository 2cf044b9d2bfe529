#include "ml_core/dense_estimator.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "ml_core/dense_glm.h"
#include "ml_core/glm_chunk.h"
#include "ml_core/param_binding.h"
#include "ml_core/scaler_config.h"
#include "ml_core/sgd_config.h"
#include "ml_core/svm_config.h"

namespace dtask::ml_core {

namespace {

using Json = nlohmann::json;

Status not_supported(const std::string& estimator, const char* method) {
  return Status::invalid(estimator + " has no " + method);
}

Result<Params> params_from_json(const Json& j) {
  Params out;
  if (j.is_null()) return out;
  if (!j.is_object()) return Status::invalid("estimator params must be a JSON object, got " + j.dump());
  for (const auto& [name, v] : j.items()) {
    if (v.is_boolean()) {
      out[name] = v.get<bool>();
    } else if (v.is_number_integer()) {
      out[name] = v.get<std::int64_t>();
    } else if (v.is_number_float()) {
      out[name] = v.get<double>();
    } else if (v.is_string()) {
      out[name] = v.get<std::string>();
    } else {
      return Status::invalid("parameter '" + name + "' has a value of an unsupported type: " + v.dump());
    }
  }
  return out;
}

std::vector<double> sorted_unique(const std::vector<double>& y) {
  std::vector<double> classes = y;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  return classes;
}

/// A GLM fitted in memory. Logistic regression over two labels is binary
/// (classes()[1] fitted as 1); over k >= 3 it is multinomial (softmax, y
/// fitted as class indices), as scikit-learn's default multi_class="auto".
class DenseGlm : public DenseEstimator {
 public:
  explicit DenseGlm(GlmConfig config) : config_(std::move(config)) {}
  std::string name() const override { return glm_estimator_name(config_.family); }
  bool is_classifier() const override { return config_.family == "logistic"; }
  GlmConfig& config() { return config_; }

  Status fit(const NDArray& X, const std::vector<double>& y) override {
    std::vector<double> target = y;
    multinomial_ = false;
    if (!is_classifier()) {
      DTASK_ASSIGN_OR_RETURN(fit_, fit_glm_dense(config_, X, float64_vector(target)));
      return Status::success();
    }
    classes_ = sorted_unique(y);
    if (classes_.size() < 2) {
      return Status::invalid("LogisticRegression needs at least 2 classes in y, got " +
                             std::to_string(classes_.size()));
    }
    if (classes_.size() == 2) {
      for (double& v : target) v = v == classes_[1] ? 1.0 : 0.0;
      DTASK_ASSIGN_OR_RETURN(fit_, fit_glm_dense(config_, X, float64_vector(target)));
      return Status::success();
    }
    GlmConfig multinomial = config_;
    multinomial.family = "multinomial";
    multinomial.n_classes = static_cast<std::int64_t>(classes_.size());
    for (double& v : target) {
      v = static_cast<double>(std::lower_bound(classes_.begin(), classes_.end(), v) - classes_.begin());
    }
    DTASK_ASSIGN_OR_RETURN(fit_, fit_glm_dense(multinomial, X, float64_vector(target)));
    multinomial_ = true;
    return Status::success();
  }

  Result<std::vector<double>> predict(const NDArray& X) const override {
    if (multinomial_) return apply(X, "predict");
    std::vector<double> eta = glm_decision(X, fit_.coef, fit_.intercept);
    for (double& v : eta) {
      if (config_.family == "logistic") v = v > 0 ? classes_[1] : classes_[0];
      if (config_.family == "poisson") v = std::exp(v);
    }
    return eta;
  }
  bool has_decision_function() const override { return is_classifier(); }
  Result<std::vector<double>> decision_function(const NDArray& X) const override {
    if (!is_classifier()) return not_supported(name(), "decision_function");
    if (multinomial_) return apply(X, "decision_function");
    return glm_decision(X, fit_.coef, fit_.intercept);
  }
  bool has_predict_proba() const override { return is_classifier(); }
  Result<std::vector<double>> predict_proba(const NDArray& X) const override {
    if (!is_classifier()) return not_supported(name(), "predict_proba");
    if (multinomial_) return apply(X, "predict_proba");
    std::vector<double> eta = glm_decision(X, fit_.coef, fit_.intercept), out;
    out.reserve(2 * eta.size());
    for (double e : eta) {
      double p1 = e >= 0 ? 1.0 / (1.0 + std::exp(-e)) : std::exp(e) / (1.0 + std::exp(e));
      out.push_back(1.0 - p1);
      out.push_back(p1);
    }
    return out;
  }

 private:
  /// The multinomial model's `method` on X (glm_chunk.h), row-major.
  Result<std::vector<double>> apply(const NDArray& X, const char* method) const {
    if (X.shape.size() != 2 || X.cols() * static_cast<std::int64_t>(classes_.size()) !=
                                   static_cast<std::int64_t>(fit_.coef.size())) {
      return Status::invalid(name() + "." + method + ": X " + X.describe() + " does not have the model's features");
    }
    std::vector<double> beta = fit_.coef;
    if (config_.fit_intercept) beta.insert(beta.end(), fit_.intercepts.begin(), fit_.intercepts.end());
    try {
      NDArray out = glm_apply(X, float64_vector(beta), float64_vector(classes_), config_.fit_intercept, method);
      return std::vector<double>(out.data<double>(), out.data<double>() + out.size());
    } catch (const std::exception& e) {
      return Status::invalid(name() + "." + method + ": " + e.what());
    }
  }

  GlmConfig config_;
  GlmFit fit_;
  bool multinomial_ = false;
};

/// (X - mean) / scale with population variance, scale 1 for a constant column.
class DenseStandardScaler : public DenseEstimator {
 public:
  std::string name() const override { return "StandardScaler"; }
  bool is_transformer() const override { return true; }
  ScalerConfig& config() { return config_; }

  Status fit(const NDArray& X_in, const std::vector<double>&) override {
    if (X_in.shape.size() != 2 || X_in.rows() < 1) {
      return Status::invalid("StandardScaler.fit: X must be 2-d with rows, got " + X_in.describe());
    }
    NDArray X = to_float64(X_in);
    const std::int64_t n = X.rows(), d = X.cols();
    const double* x = X.data<double>();
    mean_.assign(static_cast<std::size_t>(d), 0.0);
    scale_.assign(static_cast<std::size_t>(d), 1.0);
    std::vector<double> m(static_cast<std::size_t>(d), 0.0), var(static_cast<std::size_t>(d), 0.0);
    for (std::int64_t r = 0; r < n; ++r) {
      for (std::int64_t j = 0; j < d; ++j) m[j] += x[r * d + j];
    }
    for (double& v : m) v /= static_cast<double>(n);
    for (std::int64_t r = 0; r < n; ++r) {
      for (std::int64_t j = 0; j < d; ++j) var[j] += (x[r * d + j] - m[j]) * (x[r * d + j] - m[j]);
    }
    for (std::int64_t j = 0; j < d; ++j) {
      var[j] /= static_cast<double>(n);
      if (config_.with_mean) mean_[j] = m[j];
      if (config_.with_std && var[j] > 0) scale_[j] = std::sqrt(var[j]);
    }
    return Status::success();
  }

  Result<NDArray> transform(const NDArray& X_in) const override {
    NDArray X = to_float64(X_in);
    const std::int64_t n = X.rows(), d = X.cols();
    if (X.shape.size() != 2 || d != static_cast<std::int64_t>(mean_.size())) {
      return Status::invalid("StandardScaler.transform: X " + X.describe() + " does not have the " +
                             std::to_string(mean_.size()) + " features it was fitted on");
    }
    NDArray out = NDArray::uninitialized(DType::kFloat64, {n, d});
    const double* x = X.data<double>();
    double* o = out.mutable_data<double>();
    for (std::int64_t r = 0; r < n; ++r) {
      for (std::int64_t j = 0; j < d; ++j) o[r * d + j] = (x[r * d + j] - mean_[j]) / scale_[j];
    }
    return out;
  }

 private:
  ScalerConfig config_;
  std::vector<double> mean_, scale_;
};

/// Transformers then one final estimator, fitted in order on the same rows.
class DensePipeline : public DenseEstimator {
 public:
  explicit DensePipeline(std::vector<std::unique_ptr<DenseEstimator>> steps) : steps_(std::move(steps)) {}
  std::string name() const override { return "Pipeline"; }
  bool is_classifier() const override { return steps_.back()->is_classifier(); }
  bool is_transformer() const override { return steps_.back()->is_transformer(); }
  bool has_decision_function() const override { return steps_.back()->has_decision_function(); }
  bool has_predict_proba() const override { return steps_.back()->has_predict_proba(); }
  const std::vector<double>& classes() const override { return steps_.back()->classes(); }

  Status fit(const NDArray& X, const std::vector<double>& y) override {
    NDArray current = X;
    for (std::size_t i = 0; i + 1 < steps_.size(); ++i) {
      DTASK_RETURN_NOT_OK(steps_[i]->fit(current, y));
      DTASK_ASSIGN_OR_RETURN(current, steps_[i]->transform(current));
    }
    return steps_.back()->fit(current, y);
  }
  Result<NDArray> transform(const NDArray& X) const override {
    DTASK_ASSIGN_OR_RETURN(NDArray current, through_prefix(X));
    return steps_.back()->transform(current);
  }
  Result<std::vector<double>> predict(const NDArray& X) const override {
    DTASK_ASSIGN_OR_RETURN(NDArray current, through_prefix(X));
    return steps_.back()->predict(current);
  }
  Result<std::vector<double>> decision_function(const NDArray& X) const override {
    DTASK_ASSIGN_OR_RETURN(NDArray current, through_prefix(X));
    return steps_.back()->decision_function(current);
  }
  Result<std::vector<double>> predict_proba(const NDArray& X) const override {
    DTASK_ASSIGN_OR_RETURN(NDArray current, through_prefix(X));
    return steps_.back()->predict_proba(current);
  }

 private:
  Result<NDArray> through_prefix(const NDArray& X) const {
    NDArray current = X;
    for (std::size_t i = 0; i + 1 < steps_.size(); ++i) {
      DTASK_ASSIGN_OR_RETURN(current, steps_[i]->transform(current));
    }
    return current;
  }
  std::vector<std::unique_ptr<DenseEstimator>> steps_;
};

Result<std::unique_ptr<DenseEstimator>> make_from_json(const Json& spec);

Result<std::unique_ptr<DenseEstimator>> make_pipeline_from_json(const Json& spec) {
  if (!spec.contains("steps") || !spec["steps"].is_array() || spec["steps"].empty()) {
    return Status::invalid("a Pipeline spec needs a non-empty \"steps\" list");
  }
  std::vector<std::unique_ptr<DenseEstimator>> steps;
  for (const Json& step : spec["steps"]) {
    DTASK_ASSIGN_OR_RETURN(auto estimator, make_from_json(step.value("spec", Json::object())));
    steps.push_back(std::move(estimator));
  }
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
    if (!steps[i]->is_transformer()) {
      return Status::invalid("Pipeline: every step but the last must be a transformer; step " + std::to_string(i) +
                             " is " + steps[i]->name());
    }
  }
  return std::unique_ptr<DenseEstimator>(new DensePipeline(std::move(steps)));
}

Result<std::unique_ptr<DenseEstimator>> make_from_json(const Json& spec) {
  const std::string name = spec.value("estimator", std::string());
  if (name == "Pipeline") return make_pipeline_from_json(spec);
  DTASK_ASSIGN_OR_RETURN(Params params, params_from_json(spec.value("params", Json())));
  if (name == "LogisticRegression" || name == "LinearRegression" || name == "PoissonRegression") {
    std::string family = name == "LogisticRegression" ? "logistic" : name == "LinearRegression" ? "linear" : "poisson";
    GlmConfig config;
    config.family = family;
    DTASK_RETURN_NOT_OK(glm_binding(family).set_all(config, params));
    auto resolved = resolve_glm(config);
    if (!resolved.ok()) return Status::invalid(name + ": " + resolved.status().message());
    return std::unique_ptr<DenseEstimator>(new DenseGlm(config));
  }
  if (name == "StandardScaler") {
    auto scaler = std::make_unique<DenseStandardScaler>();
    DTASK_RETURN_NOT_OK(scaler_binding().set_all(scaler->config(), params));
    return std::unique_ptr<DenseEstimator>(std::move(scaler));
  }
  if (name == "SVC") {
    SvcConfig config;
    DTASK_RETURN_NOT_OK(svc_binding().set_all(config, params));
    return make_dense_svc(config);
  }
  if (name == "LinearSVC") {
    LinearSvcParams config;
    DTASK_RETURN_NOT_OK(linear_svc_binding().set_all(config, params));
    DTASK_RETURN_NOT_OK(liblinear_solver_type(config).status());
    return make_dense_linear_svc(config);
  }
  if (name == "SGDClassifier" || name == "SGDRegressor") {
    return make_dense_sgd(params, name == "SGDClassifier");
  }
  return Status::invalid("unknown estimator \"" + name +
                         "\" (in-memory fits know LogisticRegression, LinearRegression, PoissonRegression, "
                         "StandardScaler, SVC, LinearSVC, SGDClassifier, SGDRegressor and Pipeline)");
}

}  // namespace

const ParamBinding<ScalerConfig>& scaler_binding() {
  static const ParamBinding<ScalerConfig> binding(
      "StandardScaler", {{"with_mean", &ScalerConfig::with_mean}, {"with_std", &ScalerConfig::with_std}});
  return binding;
}

Result<NDArray> DenseEstimator::transform(const NDArray&) const { return not_supported(name(), "transform"); }
Result<std::vector<double>> DenseEstimator::predict(const NDArray&) const { return not_supported(name(), "predict"); }
Result<std::vector<double>> DenseEstimator::decision_function(const NDArray&) const {
  return not_supported(name(), "decision_function");
}
Result<std::vector<double>> DenseEstimator::predict_proba(const NDArray&) const {
  return not_supported(name(), "predict_proba");
}

Result<std::string> DenseEstimator::serialize() const { return not_supported(name(), "serialize"); }

Result<std::unique_ptr<DenseEstimator>> make_dense_estimator(const std::string& spec_json) {
  Json spec;
  try {
    spec = Json::parse(spec_json);
  } catch (const std::exception& e) {
    return Status::invalid(std::string("estimator spec is not JSON: ") + e.what());
  }
  return make_from_json(spec);
}

std::string estimator_spec(const std::string& name, const std::string& params_json) {
  return Json{{"estimator", name}, {"params", Json::parse(params_json)}}.dump();
}

NDArray take_rows(const NDArray& X_in, const std::vector<std::int64_t>& rows) {
  NDArray X = to_float64(X_in);
  const std::int64_t d = X.cols();
  NDArray out = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(rows.size()), d});
  const double* x = X.data<double>();
  double* o = out.mutable_data<double>();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::copy(x + rows[i] * d, x + (rows[i] + 1) * d, o + static_cast<std::int64_t>(i) * d);
  }
  return out;
}

std::vector<double> take_values(const NDArray& y_in, const std::vector<std::int64_t>& rows) {
  NDArray y = to_float64(y_in);
  std::vector<double> out;
  out.reserve(rows.size());
  for (std::int64_t r : rows) out.push_back(y.data<double>()[r]);
  return out;
}

}  // namespace dtask::ml_core
