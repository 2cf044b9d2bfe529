// Chained estimators, as scikit-learn's Pipeline and make_pipeline: every
// step but the last is a transformer (StandardScaler), fitted on the data
// and applied before the next. Parameters of a step are addressed as
// "<step>__<param>", the step named after its class in lower case.
//
//   auto model = dtask::ml::make_pipeline(dtask::ml::StandardScaler(), dtask::ml::LogisticRegression());
//   model.set_params({{"logisticregression__C", 0.1}});
//   model.fit(client, X, y);
//
// In GridSearchCV, candidates whose transformer steps have the same
// parameters share one fit of those steps per fold.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dtask/ml/estimator.h"

namespace dtask::ml {

/// Thread-compatible.
class Pipeline : public Estimator {
 public:
  /// Steps as (name, estimator), each copied (unfitted) from the one given.
  /// Throws ArrayError when a step but the last is not a transformer, or on
  /// empty or repeated names.
  explicit Pipeline(const std::vector<std::pair<std::string, const Estimator*>>& steps);
  Pipeline(const Pipeline& other);
  Pipeline& operator=(const Pipeline& other);

  std::string estimator_name() const override { return "Pipeline"; }
  bool is_classifier() const override { return steps_.back().second->is_classifier(); }
  bool is_transformer() const override { return steps_.back().second->is_transformer(); }
  /// Every step's parameters as "<step>__<param>".
  Params get_params() const override;
  Pipeline& set_params(const Params& params) override;
  std::unique_ptr<Estimator> clone_estimator() const override;
  std::string spec() const override;
  /// The spec of the transformer steps alone ("" for a one-step pipeline),
  /// and of the last step: what GridSearchCV shares across candidates.
  std::string prefix_spec() const;
  std::string final_spec() const;

  Pipeline& fit(Client& client, const Array& X, const Array& y) override;
  Array predict(const Array& X) const override;
  Array transform(const Array& X) const override;
  double score(Client& client, const Array& X, const Array& y) const override;

  const std::vector<std::pair<std::string, std::unique_ptr<Estimator>>>& steps() const { return steps_; }
  /// The fitted step called `name`, or nullptr.
  const Estimator* named_step(const std::string& name) const;

 private:
  Array through_transformers(const Array& X) const;
  std::vector<std::pair<std::string, std::unique_ptr<Estimator>>> steps_;
};

/// A Pipeline whose steps are named after their classes in lower case
/// ("standardscaler", "logisticregression"), as scikit-learn's make_pipeline.
template <typename... Steps>
Pipeline make_pipeline(const Steps&... steps) {
  std::vector<std::pair<std::string, const Estimator*>> named;
  (named.emplace_back("", &steps), ...);
  return Pipeline(named);
}

}  // namespace dtask::ml
