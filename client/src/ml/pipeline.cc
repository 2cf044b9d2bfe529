// dtask::ml::Pipeline: steps fitted in order on the client's arrays (each a
// distributed estimator), and a spec the worker fits in memory.
#include "dtask/ml/pipeline.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "client/src/array_internal.h"

namespace dtask::ml {

using array_internal::fail;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string steps_spec(const std::vector<std::pair<std::string, std::unique_ptr<Estimator>>>& steps,
                       std::size_t begin, std::size_t end) {
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = begin; i < end; ++i) {
    list.push_back({{"name", steps[i].first}, {"spec", nlohmann::json::parse(steps[i].second->spec())}});
  }
  return nlohmann::json{{"estimator", "Pipeline"}, {"steps", list}}.dump();
}

}  // namespace

Pipeline::Pipeline(const std::vector<std::pair<std::string, const Estimator*>>& steps) {
  if (steps.empty()) fail("Pipeline: needs at least one step");
  std::set<std::string> names;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Estimator* step = steps[i].second;
    std::string name = steps[i].first.empty() ? lower(step->estimator_name()) : steps[i].first;
    if (!names.insert(name).second) fail("Pipeline: step name '" + name + "' is used twice");
    if (name.find("__") != std::string::npos) fail("Pipeline: step name '" + name + "' must not contain '__'");
    if (i + 1 < steps.size() && !step->is_transformer()) {
      fail("Pipeline: all intermediate steps should be transformers; '" + name + "' (" + step->estimator_name() +
           ") is not");
    }
    steps_.emplace_back(name, step->clone_estimator());
  }
}

Pipeline::Pipeline(const Pipeline& other) {
  for (const auto& [name, step] : other.steps_) steps_.emplace_back(name, step->clone_estimator());
}

Pipeline& Pipeline::operator=(const Pipeline& other) {
  if (this == &other) return *this;
  steps_.clear();
  for (const auto& [name, step] : other.steps_) steps_.emplace_back(name, step->clone_estimator());
  return *this;
}

Params Pipeline::get_params() const {
  Params out;
  for (const auto& [name, step] : steps_) {
    for (const auto& [param, value] : step->get_params()) out[name + "__" + param] = value;
  }
  return out;
}

Pipeline& Pipeline::set_params(const Params& params) {
  for (const auto& [key, value] : params) {
    auto split = key.find("__");
    std::string step_name = split == std::string::npos ? key : key.substr(0, split);
    auto step = std::find_if(steps_.begin(), steps_.end(), [&](const auto& s) { return s.first == step_name; });
    if (split == std::string::npos || step == steps_.end()) {
      std::string valid;
      for (const auto& [name, unused] : get_params()) valid += (valid.empty() ? "'" : ", '") + name + "'";
      fail("Invalid parameter '" + key + "' for estimator Pipeline. Valid parameters are: [" + valid + "].");
    }
    step->second->set_params({{key.substr(split + 2), value}});
  }
  return *this;
}

std::unique_ptr<Estimator> Pipeline::clone_estimator() const { return std::make_unique<Pipeline>(*this); }

std::string Pipeline::spec() const { return steps_spec(steps_, 0, steps_.size()); }

std::string Pipeline::prefix_spec() const {
  return steps_.size() < 2 ? std::string() : steps_spec(steps_, 0, steps_.size() - 1);
}

std::string Pipeline::final_spec() const { return steps_.back().second->spec(); }

Array Pipeline::through_transformers(const Array& X) const {
  Array current = X;
  for (std::size_t i = 0; i + 1 < steps_.size(); ++i) current = steps_[i].second->transform(current);
  return current;
}

Pipeline& Pipeline::fit(Client& client, const Array& X, const Array& y) {
  Array current = X;
  for (std::size_t i = 0; i + 1 < steps_.size(); ++i) {
    steps_[i].second->fit(client, current, y);
    current = steps_[i].second->transform(current);
  }
  steps_.back().second->fit(client, current, y);
  return *this;
}

Array Pipeline::predict(const Array& X) const { return steps_.back().second->predict(through_transformers(X)); }

Array Pipeline::transform(const Array& X) const { return steps_.back().second->transform(through_transformers(X)); }

double Pipeline::score(Client& client, const Array& X, const Array& y) const {
  return steps_.back().second->score(client, through_transformers(X), y);
}

const Estimator* Pipeline::named_step(const std::string& name) const {
  for (const auto& [n, step] : steps_) {
    if (n == name) return step.get();
  }
  return nullptr;
}

}  // namespace dtask::ml
