#include "ml_core/svm_config.h"

#include <optional>

#include "ml_core/glm_chunk.h"

namespace dtask::ml_core {

namespace {

/// An SVM in memory (Model: SvcModel or LinearSvcModel, Params: what its fit takes); X is read as float64.
template <typename Model, typename Params>
class DenseSvm : public DenseEstimator {
 public:
  DenseSvm(std::string name, Params params, bool probability)
      : name_(std::move(name)), params_(std::move(params)), probability_(probability) {}
  std::string name() const override { return name_; }
  bool is_classifier() const override { return true; }
  bool has_decision_function() const override { return true; }
  bool has_predict_proba() const override { return probability_; }

  Status fit(const NDArray& X_in, const std::vector<double>& y) override {
    NDArray X = to_float64(X_in);
    DTASK_ASSIGN_OR_RETURN(Model model, Model::fit(params_, X.data<double>(), X.rows(), X.cols(), y.data()));
    model_.emplace(std::move(model));
    classes_ = model_->classes();
    return Status::success();
  }
  Result<std::vector<double>> predict(const NDArray& X_in) const override {
    NDArray X = to_float64(X_in);
    return model_->predict(X.data<double>(), X.rows());
  }
  Result<std::vector<double>> decision_function(const NDArray& X_in) const override {
    NDArray X = to_float64(X_in);
    return model_->decision_function(X.data<double>(), X.rows());
  }
  Result<std::vector<double>> predict_proba(const NDArray& X_in) const override {
    if constexpr (requires(const Model& m) { m.predict_proba(nullptr, 0); }) {
      NDArray X = to_float64(X_in);
      return model_->predict_proba(X.data<double>(), X.rows());
    }
    return DenseEstimator::predict_proba(X_in);
  }
  Result<std::string> serialize() const override { return model_->serialize(); }

 private:
  std::string name_;
  Params params_;
  bool probability_;
  std::optional<Model> model_;
};

}  // namespace

Result<SvcParams> svc_params(const SvcConfig& c) {
  SvcParams p;
  p.C = c.C;
  p.kernel = c.kernel;
  if (c.gamma.is<std::string>()) {
    p.gamma = c.gamma.get<std::string>();
  } else if (c.gamma.is_number()) {
    p.gamma = c.gamma.number();
  } else {
    return Status::invalid("SVC: gamma must be 'scale', 'auto' or a float, got " + c.gamma.repr());
  }
  p.degree = c.degree;
  p.coef0 = c.coef0;
  p.shrinking = c.shrinking;
  p.probability = c.probability;
  p.tol = c.tol;
  p.cache_size = c.cache_size;
  p.class_weight = c.class_weight;
  p.max_iter = c.max_iter;
  return p;
}

const ParamBinding<SvcConfig>& svc_binding() {
  static const ParamBinding<SvcConfig> binding("SVC", {{"C", &SvcConfig::C},
                                                       {"kernel", &SvcConfig::kernel},
                                                       {"gamma", &SvcConfig::gamma},
                                                       {"degree", &SvcConfig::degree},
                                                       {"coef0", &SvcConfig::coef0},
                                                       {"shrinking", &SvcConfig::shrinking},
                                                       {"probability", &SvcConfig::probability},
                                                       {"tol", &SvcConfig::tol},
                                                       {"cache_size", &SvcConfig::cache_size},
                                                       {"class_weight", &SvcConfig::class_weight},
                                                       {"max_iter", &SvcConfig::max_iter}});
  return binding;
}

const ParamBinding<LinearSvcParams>& linear_svc_binding() {
  static const ParamBinding<LinearSvcParams> binding(
      "LinearSVC", {{"C", &LinearSvcParams::C},
                    {"loss", &LinearSvcParams::loss},
                    {"penalty", &LinearSvcParams::penalty},
                    {"dual", &LinearSvcParams::dual},
                    {"tol", &LinearSvcParams::tol},
                    {"max_iter", &LinearSvcParams::max_iter},
                    {"fit_intercept", &LinearSvcParams::fit_intercept},
                    {"intercept_scaling", &LinearSvcParams::intercept_scaling},
                    {"class_weight", &LinearSvcParams::class_weight}});
  return binding;
}

Result<std::unique_ptr<DenseEstimator>> make_dense_svc(const SvcConfig& config) {
  DTASK_ASSIGN_OR_RETURN(SvcParams params, svc_params(config));
  return std::unique_ptr<DenseEstimator>(new DenseSvm<SvcModel, SvcParams>("SVC", params, config.probability));
}

std::unique_ptr<DenseEstimator> make_dense_linear_svc(const LinearSvcParams& params) {
  return std::make_unique<DenseSvm<LinearSvcModel, LinearSvcParams>>("LinearSVC", params, false);
}

}  // namespace dtask::ml_core
