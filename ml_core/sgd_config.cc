#include "ml_core/sgd_config.h"

#include <optional>

#include "ml_core/glm_chunk.h"

namespace dtask::ml_core {

namespace {

/// SgdModel as a DenseEstimator; X is read as float64.
class DenseSgd : public DenseEstimator {
 public:
  explicit DenseSgd(SgdModel model) : model_(std::move(model)) {}
  std::string name() const override { return model_.is_classifier() ? "SGDClassifier" : "SGDRegressor"; }
  bool is_classifier() const override { return model_.is_classifier(); }
  bool has_decision_function() const override { return model_.is_classifier(); }
  bool has_predict_proba() const override { return model_.has_predict_proba(); }

  Status fit(const NDArray& X_in, const std::vector<double>& y) override {
    NDArray X = to_float64(X_in);
    DTASK_RETURN_NOT_OK(model_.fit(X.data<double>(), X.rows(), X.cols(), y.data()));
    classes_ = model_.classes();
    return Status::success();
  }
  Result<std::vector<double>> predict(const NDArray& X_in) const override {
    DTASK_RETURN_NOT_OK(check_features(X_in));
    NDArray X = to_float64(X_in);
    return model_.predict(X.data<double>(), X.rows());
  }
  Result<std::vector<double>> decision_function(const NDArray& X_in) const override {
    DTASK_RETURN_NOT_OK(check_features(X_in));
    NDArray X = to_float64(X_in);
    return model_.decision_function(X.data<double>(), X.rows());
  }
  Result<std::vector<double>> predict_proba(const NDArray& X_in) const override {
    DTASK_RETURN_NOT_OK(check_features(X_in));
    NDArray X = to_float64(X_in);
    return model_.predict_proba(X.data<double>(), X.rows());
  }
  Result<std::string> serialize() const override { return model_.serialize(); }

 private:
  Status check_features(const NDArray& X) const {
    if (X.shape.size() != 2 || X.cols() != model_.n_features()) {
      return Status::invalid(name() + ": X " + X.describe() + " does not have the model's " +
                             std::to_string(model_.n_features()) + " features");
    }
    return Status::success();
  }
  SgdModel model_;
};

template <typename Options>
std::vector<std::pair<std::string, typename ParamBinding<Options>::Member>> shared_fields() {
  using SgdConfig = Options;
  return {{"loss", &SgdConfig::loss},
          {"penalty", &SgdConfig::penalty},
          {"alpha", &SgdConfig::alpha},
          {"l1_ratio", &SgdConfig::l1_ratio},
          {"fit_intercept", &SgdConfig::fit_intercept},
          {"max_iter", &SgdConfig::max_iter},
          {"tol", &SgdConfig::tol},
          {"shuffle", &SgdConfig::shuffle},
          {"random_state", &SgdConfig::random_state},
          {"epsilon", &SgdConfig::epsilon},
          {"learning_rate", &SgdConfig::learning_rate},
          {"eta0", &SgdConfig::eta0},
          {"power_t", &SgdConfig::power_t},
          {"early_stopping", &SgdConfig::early_stopping},
          {"validation_fraction", &SgdConfig::validation_fraction},
          {"n_iter_no_change", &SgdConfig::n_iter_no_change},
          {"warm_start", &SgdConfig::warm_start},
          {"average", &SgdConfig::average}};
}

}  // namespace

const ParamBinding<SgdClassifierOptions>& sgd_classifier_binding() {
  static const ParamBinding<SgdClassifierOptions> binding("SGDClassifier", [] {
    auto fields = shared_fields<SgdClassifierOptions>();
    fields.emplace_back("class_weight", &SgdClassifierOptions::class_weight);
    return fields;
  }());
  return binding;
}

const ParamBinding<SgdRegressorOptions>& sgd_regressor_binding() {
  static const ParamBinding<SgdRegressorOptions> binding("SGDRegressor", shared_fields<SgdRegressorOptions>());
  return binding;
}

Result<std::unique_ptr<DenseEstimator>> make_dense_sgd(const Params& params, bool classifier) {
  auto made = [&](auto options, const auto& binding) -> Result<std::unique_ptr<DenseEstimator>> {
    DTASK_RETURN_NOT_OK(binding.set_all(options, params));
    DTASK_ASSIGN_OR_RETURN(SgdModel model, SgdModel::make(options));
    return std::unique_ptr<DenseEstimator>(new DenseSgd(std::move(model)));
  };
  return classifier ? made(SgdClassifierOptions{}, sgd_classifier_binding())
                    : made(SgdRegressorOptions{}, sgd_regressor_binding());
}

}  // namespace dtask::ml_core
