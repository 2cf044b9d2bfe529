// dtask::ml SVC and LinearSVC: one fit task on the whole X (worker op
// dense_fit), blockwise svm_apply tasks for predictions, and the fitted
// attributes read from the model JSON (ml_core/svm.h) in the client.
#include "dtask/ml/svm.h"

#include "client/src/array_internal.h"
#include "client/src/ml/estimator_internal.h"
#include "dtask/client.h"
#include "ml_core/svm_config.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml {

using array_internal::fail;

namespace {

template <typename T>
T or_task_error(Result<T> result, const std::string& what) {
  if (!result.ok()) throw TaskError(Status::invalid(what + ": " + result.status().message()));
  return std::move(result).value();
}

}  // namespace

SupportVectorMachine& SupportVectorMachine::fit(Client& client, const Array& X, const Array& y) {
  load_model(internal::fit_in_one_task(client, *this, X, y));
  return *this;
}

void SupportVectorMachine::require_fitted(const char* what) const {
  if (model_.empty()) fail(estimator_name() + "." + what + ": the model is not fitted yet");
}

Array SupportVectorMachine::apply(const Array& X, const std::string& method, std::int64_t out_cols) const {
  require_fitted(method.c_str());
  if (X.ndim() != 2 || X.cols() != (coef_.buffer ? coef_.cols() : X.cols())) {
    fail(estimator_name() + "." + method + ": X " + X.describe() + " does not have the model's features");
  }
  return X.map_blocks(ops::kSvmApply, {Value(estimator_name()), Value(Bytes::from_string(model_)), Value(method)},
                      DType::kFloat64, out_cols);
}

Array SupportVectorMachine::predict(const Array& X) const { return apply(X, "predict", 0); }

Array SupportVectorMachine::decision_function(const Array& X) const {
  const std::int64_t k = classes_.size();
  return apply(X, "decision_function", k == 2 ? 0 : k);
}

void SupportVectorMachine::save(const std::string& path) const {
  require_fitted("save");
  internal::write_text_file(path, model_);
}

SVC::SVC(SVCOptions options) : options_(std::move(options)) {}

Params SVC::get_params() const { return ml_core::svc_binding().get(options_); }

SVC& SVC::set_params(const Params& params) {
  Status status = ml_core::svc_binding().set_all(options_, params);
  if (!status.ok()) fail(status.message());
  return *this;
}

Array SVC::predict_proba(const Array& X) const {
  if (!options_.probability) fail("SVC.predict_proba: predict_proba is not available when probability=False");
  return apply(X, "predict_proba", classes_.size());
}

void SVC::load_model(const std::string& model) {
  auto m = or_task_error(ml_core::SvcModel::deserialize(model), "SVC");
  model_ = model;
  const auto n_sv = static_cast<std::int64_t>(m.support().size());
  const auto k = static_cast<std::int64_t>(m.classes().size());
  classes_ = internal::float64_array(m.classes(), {k});
  support_ = internal::int64_array(m.support());
  support_vectors_ = internal::float64_array(m.support_vectors(), {n_sv, m.n_features()});
  n_support_ = internal::int64_array(m.n_support());
  dual_coef_ = internal::float64_array(m.dual_coef(), {k - 1, n_sv});
  intercept_ = internal::float64_array(m.intercept(), {static_cast<std::int64_t>(m.intercept().size())});
  auto coef = m.coef();
  coef_ = coef.ok() ? internal::float64_array(*coef, {static_cast<std::int64_t>(coef->size()) / m.n_features(), m.n_features()})
                    : NDArray{};
}

SVC SVC::load(const std::string& path) {
  SVC svc;
  std::string model = internal::read_text_file(path);
  svc.load_model(model);
  return svc;
}

LinearSVC::LinearSVC(LinearSVCOptions options) : options_(std::move(options)) {}

Params LinearSVC::get_params() const { return ml_core::linear_svc_binding().get(options_); }

LinearSVC& LinearSVC::set_params(const Params& params) {
  Status status = ml_core::linear_svc_binding().set_all(options_, params);
  if (!status.ok()) fail(status.message());
  return *this;
}

void LinearSVC::load_model(const std::string& model) {
  auto m = or_task_error(ml_core::LinearSvcModel::deserialize(model), "LinearSVC");
  model_ = model;
  const auto k = static_cast<std::int64_t>(m.classes().size());
  const auto rows = static_cast<std::int64_t>(m.intercept().size());
  classes_ = internal::float64_array(m.classes(), {k});
  coef_ = internal::float64_array(m.coef(), {rows, m.n_features()});
  intercept_ = internal::float64_array(m.intercept(), {rows});
  n_iter_ = static_cast<int>(m.n_iter());
}

LinearSVC LinearSVC::load(const std::string& path) {
  LinearSVC svc;
  svc.load_model(internal::read_text_file(path));
  return svc;
}

}  // namespace dtask::ml
