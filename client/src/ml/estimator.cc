// Estimator's defaults: the spec from get_params(), and the methods a kind
// of estimator lacks (a transformer's predict, a predictor's transform).
#include "dtask/ml/estimator.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/src/array_internal.h"
#include "client/src/ml/estimator_internal.h"
#include "dtask/client.h"
#include "ml_core/metrics.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml {

namespace internal {

nlohmann::json params_json(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : params) {
    std::visit([&, n = name](const auto& v) { out[n] = v; }, value.variant());
  }
  return out;
}

std::string fit_in_one_task(Client& client, const Estimator& estimator, const Array& X, const Array& y) {
  const std::string what = estimator.estimator_name() + ".fit: ";
  if (!X.valid() || !y.valid()) array_internal::fail(what + "X and y must be non-empty Arrays");
  if (X.ndim() != 2) array_internal::fail(what + "X must be 2-d, got " + X.describe());
  if (y.ndim() != 1 || y.rows() != X.rows()) {
    array_internal::fail(what + "y " + y.describe() + " does not match X " + X.describe());
  }
  if (X.rows() < 1) array_internal::fail(what + "X has no rows");
  Array X1 = X.n_chunks() == 1 ? X : X.rechunk(X.rows());
  Array y1 = y.n_chunks() == 1 ? y : y.rechunk(y.rows());
  Future<Bytes> model = client.submit(ops::kDenseFit, X1.chunk(0), y1.chunk(0), estimator.spec());
  return std::string(model.result().view());
}

NDArray float64_array(const std::vector<double>& v, std::vector<std::int64_t> shape) {
  NDArray out = NDArray::uninitialized(DType::kFloat64, std::move(shape));
  std::copy(v.begin(), v.end(), out.mutable_data<double>());
  return out;
}

NDArray int64_array(const std::vector<std::int64_t>& v) {
  NDArray out = NDArray::uninitialized(DType::kInt64, {static_cast<std::int64_t>(v.size())});
  std::copy(v.begin(), v.end(), out.mutable_data<std::int64_t>());
  return out;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw TaskError(Status::io_error("cannot open " + path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!(out << text)) throw TaskError(Status::io_error("cannot write " + path));
}

}  // namespace internal

std::string Estimator::spec() const {
  return nlohmann::json{{"estimator", estimator_name()}, {"params", internal::params_json(get_params())}}.dump();
}

Array Estimator::predict(const Array&) const { array_internal::fail(estimator_name() + " has no predict"); }

Array Estimator::transform(const Array&) const { array_internal::fail(estimator_name() + " has no transform"); }

double Estimator::score(Client& client, const Array& X, const Array& y) const {
  NDArray predicted = ml_core_cast_float64(predict(X).compute(client));
  NDArray truth = ml_core_cast_float64(y.compute(client));
  std::vector<double> p(predicted.data<double>(), predicted.data<double>() + predicted.size());
  std::vector<double> t(truth.data<double>(), truth.data<double>() + truth.size());
  auto score = is_classifier() ? ml_core::accuracy_score(t, p) : ml_core::r2_score(t, p);
  if (!score.ok()) throw TaskError(Status::invalid(estimator_name() + ".score: " + score.status().message()));
  return *score;
}

}  // namespace dtask::ml
