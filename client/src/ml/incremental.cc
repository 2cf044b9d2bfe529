// Incremental: one chain of sgd_partial_fit tasks, submitted at most
// max_in_flight ahead of the last finished one.
#include "dtask/ml/incremental.h"

#include <deque>
#include <iostream>
#include <random>

#include "client/src/array_internal.h"
#include "client/src/ml/chunk_passes_internal.h"
#include "client/src/ml/estimator_internal.h"
#include "dtask/client.h"
#include "ml_core/random_state.h"

namespace dtask::ml {

using array_internal::fail;

namespace {

constexpr const char* kPrefix = "estimator__";

std::unique_ptr<SGDEstimator> unfitted_clone(const SGDEstimator& e) {
  std::unique_ptr<Estimator> clone = e.clone_estimator();
  return std::unique_ptr<SGDEstimator>(static_cast<SGDEstimator*>(clone.release()));
}

void check_options(const IncrementalOptions& o) {
  if (o.epochs < 1) fail("Incremental: epochs must be >= 1, got " + std::to_string(o.epochs));
  if (o.max_in_flight < 1) fail("Incremental: max_in_flight must be >= 1, got " + std::to_string(o.max_in_flight));
  if (o.random_state > 0xFFFFFFFFLL) fail("Incremental: random_state must be < 2**32");
}

}  // namespace

Incremental::Incremental(const SGDEstimator& estimator, IncrementalOptions options)
    : estimator_(unfitted_clone(estimator)), options_(options) {}

Params Incremental::get_params() const {
  Params out = {{"epochs", static_cast<long long>(options_.epochs)},
                {"shuffle_blocks", options_.shuffle_blocks},
                {"random_state", static_cast<long long>(options_.random_state)},
                {"max_in_flight", static_cast<long long>(options_.max_in_flight)}};
  for (const auto& [name, value] : estimator_->get_params()) out[kPrefix + name] = value;
  return out;
}

Incremental& Incremental::set_params(const Params& params) {
  Params inner;
  for (const auto& [name, value] : params) {
    auto integer = [&] {
      if (!value.is<std::int64_t>()) fail("Incremental: parameter '" + name + "' must be int, got " + value.repr());
      return value.get<std::int64_t>();
    };
    if (name.rfind(kPrefix, 0) == 0) {
      inner[name.substr(std::string(kPrefix).size())] = value;
    } else if (name == "epochs") {
      options_.epochs = integer();
    } else if (name == "random_state") {
      options_.random_state = integer();
    } else if (name == "max_in_flight") {
      options_.max_in_flight = integer();
    } else if (name == "shuffle_blocks" && value.is<bool>()) {
      options_.shuffle_blocks = value.get<bool>();
    } else {
      fail("Invalid parameter '" + name +
           "' for estimator Incremental. Valid parameters are: ['epochs', 'estimator__<name>', 'max_in_flight', "
           "'random_state', 'shuffle_blocks'].");
    }
  }
  if (!inner.empty()) estimator_->set_params(inner);
  return *this;
}

std::unique_ptr<Estimator> Incremental::clone_estimator() const {
  return std::make_unique<Incremental>(*estimator_, options_);
}

Incremental& Incremental::fit(Client& client, const Array& X, const Array& y) {
  std::vector<double> classes;
  if (estimator_->is_classifier() && y.valid()) {
    NDArray found = internal::find_classes(client, y);
    classes.assign(found.data<double>(), found.data<double>() + found.size());
  }
  return fit(client, X, y, classes);
}

Incremental& Incremental::fit(Client& client, const Array& X, const Array& y, const std::vector<double>& classes) {
  estimator_ = unfitted_clone(*estimator_);
  if (estimator_->is_classifier() && classes.size() < 2) {
    fail("Incremental.fit: a classifier needs two or more classes, got " + std::to_string(classes.size()));
  }
  run_epochs(client, X, y, classes);
  return *this;
}

Incremental& Incremental::partial_fit(Client& client, const Array& X, const Array& y) {
  if (!estimator_->fitted()) fail("Incremental.partial_fit: call fit first (it finds the classes)");
  run_epochs(client, X, y, {});
  return *this;
}

void Incremental::run_epochs(Client& client, const Array& X, const Array& y, const std::vector<double>& classes) {
  const std::string what = "Incremental.fit: ";
  check_options(options_);
  if (!X.valid() || !y.valid()) fail(what + "X and y must be non-empty Arrays");
  if (X.ndim() != 2) fail(what + "X must be 2-d, got " + X.describe());
  if (y.ndim() != 1 || y.rows() != X.rows()) fail(what + "y " + y.describe() + " does not match X " + X.describe());
  const Array y_chunks = y.chunks() == X.chunks() ? y : y.rechunk(X.chunks());
  const std::int64_t n_chunks = X.n_chunks();

  std::random_device entropy;
  ml_core::RandomState rng(options_.random_state >= 0 ? static_cast<std::uint32_t>(options_.random_state) : entropy());
  const NDArray no_classes = internal::float64_array({}, {0});
  TaskArg model = Value(Bytes::from_string(estimator_->model_state()));
  bool first = !estimator_->fitted();
  std::deque<Future<Bytes>> in_flight;
  n_partial_fit_calls_ = 0;
  for (std::int64_t epoch = 0; epoch < options_.epochs; ++epoch) {
    std::vector<std::int64_t> order;
    if (options_.shuffle_blocks) {
      order = rng.permutation(n_chunks);
    } else {
      for (std::int64_t i = 0; i < n_chunks; ++i) order.push_back(i);
    }
    for (std::int64_t chunk : order) {
      const NDArray labels = first ? internal::float64_array(classes, {static_cast<std::int64_t>(classes.size())})
                                   : no_classes;
      Future<Bytes> next = client.submit<Bytes>("sgd_partial_fit", model, X.chunk(chunk), y_chunks.chunk(chunk), labels);
      first = false;
      model = next;
      in_flight.push_back(next);
      ++n_partial_fit_calls_;
      // The bound: wait for the oldest before reading more chunks ahead.
      while (static_cast<std::int64_t>(in_flight.size()) > options_.max_in_flight) {
        in_flight.front().result();
        in_flight.pop_front();
      }
    }
    if (options_.verbose) {
      std::cerr << "[Incremental] epoch " << epoch + 1 << "/" << options_.epochs << ": " << n_chunks
                << " chunks submitted (" << n_partial_fit_calls_ << " partial_fit calls)\n";
    }
  }
  estimator_->set_model_state(std::string(in_flight.back().result().view()));
}

Array Incremental::predict(const Array& X) const { return estimator_->predict(X); }

}  // namespace dtask::ml
