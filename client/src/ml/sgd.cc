// dtask::ml SGDClassifier and SGDRegressor: fit is one dense_fit task,
// partial_fit one sgd_partial_fit task carrying the model, predictions
// blockwise sgd_apply tasks; the fitted attributes are read from the model
// JSON (ml_core/sgd.h) in the client.
#include "dtask/ml/sgd.h"

#include "client/src/array_internal.h"
#include "client/src/ml/estimator_internal.h"
#include "dtask/client.h"
#include "ml_core/sgd_config.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml {

using array_internal::fail;

namespace {

/// The rows of a 1-d or 2-d array gathered into one chunk.
Array one_chunk(const Array& a) { return a.n_chunks() == 1 ? a : a.rechunk(a.rows()); }

ml_core::SgdModel model_or_fail(Result<ml_core::SgdModel> model, const std::string& what) {
  if (!model.ok()) fail(what + ": " + model.status().message());
  return std::move(model).value();
}

}  // namespace

SGDEstimator& SGDEstimator::fit(Client& client, const Array& X, const Array& y) {
  // warm_start continues from the present model: fit it from there in the task.
  if (fitted() && get_params().at("warm_start").get<bool>()) {
    fail(estimator_name() + ".fit: warm_start=True is not supported yet on the cluster; use partial_fit");
  }
  unfitted_model();  // bad parameters fail here, before any task runs
  set_model_state(internal::fit_in_one_task(client, *this, X, y));
  return *this;
}

SGDEstimator& SGDEstimator::partial_fit(Client& client, const Array& X, const Array& y,
                                        const std::vector<double>& classes) {
  const std::string what = estimator_name() + ".partial_fit: ";
  if (!X.valid() || !y.valid()) fail(what + "X and y must be non-empty Arrays");
  if (X.ndim() != 2) fail(what + "X must be 2-d, got " + X.describe());
  if (y.ndim() != 1 || y.rows() != X.rows()) fail(what + "y " + y.describe() + " does not match X " + X.describe());
  NDArray labels = internal::float64_array(classes, {static_cast<std::int64_t>(classes.size())});
  Future<Bytes> model = client.submit(ops::kSgdPartialFit, Bytes::from_string(model_state()),
                                             one_chunk(X).chunk(0), one_chunk(y).chunk(0), labels);
  set_model_state(std::string(model.result().view()));
  return *this;
}

std::unique_ptr<SGDEstimator> SGDEstimator::clone_sgd() const {
  std::unique_ptr<Estimator> clone = clone_estimator();
  return std::unique_ptr<SGDEstimator>(static_cast<SGDEstimator*>(clone.release()));
}

std::string SGDEstimator::model_state() const { return fitted() ? model_ : unfitted_model().serialize(); }

void SGDEstimator::set_model_state(const std::string& model) {
  auto m = ml_core::SgdModel::deserialize(model);
  if (!m.ok()) throw TaskError(Status::invalid(estimator_name() + ": " + m.status().message()));
  model_ = model;
  read_attributes(*m);
}

void SGDEstimator::read_attributes(const ml_core::SgdModel& m) {
  coef_ = internal::float64_array(m.coef(), {m.rows(), m.n_features()});
  intercept_ = internal::float64_array(m.intercept(), {m.rows()});
  n_iter_ = m.n_iter();
  t_ = m.t();
  n_features_in_ = m.n_features();
}

void SGDEstimator::require_fitted(const char* what) const {
  if (!fitted()) fail(estimator_name() + "." + what + ": the model is not fitted yet");
}

Array SGDEstimator::apply(const Array& X, const std::string& method, std::int64_t out_cols) const {
  require_fitted(method.c_str());
  if (X.ndim() != 2 || X.cols() != n_features_in_) {
    fail(estimator_name() + "." + method + ": X " + X.describe() + " does not have the model's " +
         std::to_string(n_features_in_) + " features");
  }
  return X.map_blocks(ops::kSgdApply, {Value(Bytes::from_string(model_)), Value(method)}, DType::kFloat64, out_cols);
}

Array SGDEstimator::predict(const Array& X) const { return apply(X, "predict", 0); }

void SGDEstimator::save(const std::string& path) const {
  require_fitted("save");
  internal::write_text_file(path, model_);
}

// ---- SGDClassifier ---------------------------------------------------------------

SGDClassifier::SGDClassifier(SGDClassifierOptions options) : options_(std::move(options)) {}

Params SGDClassifier::get_params() const { return ml_core::sgd_classifier_binding().get(options_); }

SGDClassifier& SGDClassifier::set_params(const Params& params) {
  Status status = ml_core::sgd_classifier_binding().set_all(options_, params);
  if (!status.ok()) fail(status.message());
  return *this;
}

ml_core::SgdModel SGDClassifier::unfitted_model() const {
  return model_or_fail(ml_core::SgdModel::make(options_), "SGDClassifier");
}

void SGDClassifier::read_attributes(const ml_core::SgdModel& m) {
  SGDEstimator::read_attributes(m);
  classes_ = internal::float64_array(m.classes(), {static_cast<std::int64_t>(m.classes().size())});
}

Array SGDClassifier::decision_function(const Array& X) const {
  require_fitted("decision_function");
  const std::int64_t k = classes_.size();
  return apply(X, "decision_function", k == 2 ? 0 : k);
}

Array SGDClassifier::predict_proba(const Array& X) const {
  if (options_.loss != "log_loss" && options_.loss != "modified_huber") {
    fail("probability estimates are not available for loss='" + options_.loss + "'");
  }
  require_fitted("predict_proba");
  return apply(X, "predict_proba", classes_.size());
}

SGDClassifier SGDClassifier::load(const std::string& path) {
  std::string model = internal::read_text_file(path);
  auto m = ml_core::SgdModel::deserialize(model);
  if (!m.ok() || !m->is_classifier()) {
    throw TaskError(Status::invalid(path + " holds no SGDClassifier" + (m.ok() ? "" : ": " + m.status().message())));
  }
  SGDClassifier sgd(m->config());
  sgd.set_model_state(model);
  return sgd;
}

// ---- SGDRegressor ----------------------------------------------------------------

SGDRegressor::SGDRegressor(SGDRegressorOptions options) : options_(std::move(options)) {}

Params SGDRegressor::get_params() const { return ml_core::sgd_regressor_binding().get(options_); }

SGDRegressor& SGDRegressor::set_params(const Params& params) {
  Status status = ml_core::sgd_regressor_binding().set_all(options_, params);
  if (!status.ok()) fail(status.message());
  return *this;
}

ml_core::SgdModel SGDRegressor::unfitted_model() const {
  return model_or_fail(ml_core::SgdModel::make(options_), "SGDRegressor");
}

void SGDRegressor::read_attributes(const ml_core::SgdModel& m) {
  SGDEstimator::read_attributes(m);
  coef_ = internal::float64_array(m.coef(), {m.n_features()});  // scikit-learn's regressor coef_ is 1-d
}

SGDRegressor SGDRegressor::load(const std::string& path) {
  std::string model = internal::read_text_file(path);
  auto m = ml_core::SgdModel::deserialize(model);
  if (!m.ok() || m->is_classifier()) {
    throw TaskError(Status::invalid(path + " holds no SGDRegressor" + (m.ok() ? "" : ": " + m.status().message())));
  }
  SGDRegressor sgd(ml_core::convert_sgd_options<false>(m->config()));
  sgd.set_model_state(model);
  return sgd;
}

}  // namespace dtask::ml
