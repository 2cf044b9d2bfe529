// The adaptive-search engine (dask-ml's _incremental._fit, for several
// searches at once) and dask-ml's decision rule (_additional_calls,
// _adapt, _stop_on_plateau).
#include "client/src/ml/adaptive_search_internal.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iostream>
#include <set>

#include "client/src/array_internal.h"
#include "client/src/cluster_workers.h"
#include "client/src/ml/estimator_internal.h"
#include "common/check.h"
#include "dtask/client.h"
#include "ml_core/glm_chunk.h"
#include "ml_core/random_state.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml::internal {

using array_internal::fail;

std::vector<std::int64_t> top_k(const ModelInfo& info, std::int64_t k) {
  std::vector<std::int64_t> ids;
  for (const auto& [id, records] : info) ids.push_back(id);
  std::stable_sort(ids.begin(), ids.end(), [&](std::int64_t a, std::int64_t b) {
    return info.at(a).back().score > info.at(b).back().score;
  });
  if (k < static_cast<std::int64_t>(ids.size())) ids.resize(static_cast<std::size_t>(std::max<std::int64_t>(k, 0)));
  return ids;
}

// ---- the decision rule -------------------------------------------------------------

Instructions IncrementalPolicy::additional_calls(ModelInfo& info) {
  const std::int64_t patience = config_.patience;
  auto capped = [&](Instructions out) {
    if (patience > 0) {
      for (auto& [id, calls] : out) calls = std::min(calls, patience);
    }
    return out;
  };
  std::int64_t most_calls = 0;
  for (const auto& [id, records] : info) most_calls = std::max(most_calls, records.back().partial_fit_calls);
  if (patience > 0 && most_calls > 1) {
    // Finish the calls the last decision gave before deciding again.
    Instructions to_make;
    std::int64_t total = 0;
    for (const auto& [id, records] : info) {
      std::optional<std::int64_t> target;
      for (const ScoreRecord& r : records) {
        if (r.adapt) target = r.partial_fit_calls + *r.adapt;
      }
      DTASK_CHECK(target.has_value()) << "model " << id << " is live but no decision gave it calls";
      to_make[id] = *target - records.back().partial_fit_calls;
      total += to_make[id];
    }
    if (total > 0) return capped(stop_on_plateau(to_make, info));
  }
  Instructions instructions = adapt(info);
  if (patience > 0) {
    for (const auto& [id, calls] : instructions) info.at(id).back().adapt = calls;
  }
  return capped(stop_on_plateau(instructions, info));
}

Instructions IncrementalPolicy::adapt(const ModelInfo& info) {
  const double start = static_cast<double>(config_.n_initial_parameters);
  const double decay = config_.decay_rate;
  auto inverse = [&](std::int64_t time) {
    return static_cast<std::int64_t>(start / std::pow(1.0 + static_cast<double>(time), decay));
  };
  const std::int64_t current = info.begin()->second.back().partial_fit_calls + 1;
  std::int64_t next = current;
  if (inverse(current) == 0) next = 1;
  const bool decaying = decay != 0 && config_.patience == 0;
  while (inverse(current) == inverse(next) && (decaying || next - current < config_.fits_per_score)) {
    // Once the target is 0 it stays 0: dask-ml loops forever here; the one model kept below stops instead.
    if (decaying && inverse(next) == 0) break;
    ++next;
  }
  const std::int64_t target = std::max<std::int64_t>(1, inverse(next));
  std::vector<std::int64_t> best = top_k(info, target);
  if (best.size() == 1) return {{best.front(), 0}};
  Instructions out;
  for (std::int64_t id : best) out[id] = next - current;
  return out;
}

Instructions IncrementalPolicy::stop_on_plateau(const Instructions& instructions, const ModelInfo& info) const {
  Instructions out;
  for (const auto& [id, steps] : instructions) {
    const std::vector<ScoreRecord>& records = info.at(id);
    const std::int64_t calls = records.back().partial_fit_calls;
    if (config_.max_iter > 0 && calls >= config_.max_iter) {
      out[id] = 0;
    } else if (config_.patience > 0 && calls >= config_.patience) {
      std::vector<double> plateau;
      for (const ScoreRecord& r : records) {
        if (calls - r.partial_fit_calls <= config_.patience) plateau.push_back(r.score);
      }
      // With calls capped at `patience` per round the window holds two scores or more.
      bool flat = plateau.size() >= 2;
      for (std::size_t i = 1; i < plateau.size(); ++i) flat = flat && plateau[i] - plateau[0] <= config_.tol;
      out[id] = flat ? 0 : steps;
    } else {
      out[id] = steps;
    }
  }
  return out;
}

// ---- the engine ----------------------------------------------------------------------

namespace {

/// Partial_fit tasks one model may have submitted beyond its last finished one.
constexpr std::int64_t kAheadPerModel = 2;

Array one_chunk(const Array& a) { return a.n_chunks() == 1 ? a : a.rechunk(a.rows()); }

std::int64_t worker_threads(Client& client) {
  std::int64_t threads = 0;
  for (const ::dtask::internal::ClusterWorker& w : ::dtask::internal::cluster_workers(client)) threads += w.nthreads;
  if (threads == 0) fail("the search needs at least one worker, and the cluster has none");
  return threads;
}

struct ModelState {
  std::size_t run = 0;
  std::int64_t id = 0;
  TaskArg latest = Value();  // the model after `submitted` calls: its bytes, then a future
  FutureBase latest_future;
  std::int64_t submitted = 0, finished = 0, target = 0;
  bool alive = true, queued = false;
};

struct RunState {
  Array X_train, y_train, X_test, y_test;
  std::int64_t n_test = 0;
  double r2_denominator = 0;
  ml_core::RandomState rng{0};
  std::vector<std::int64_t> order;  // chunk of call j, extended one shuffle at a time
  std::vector<std::size_t> models;  // by id
  ModelInfo info;                   // the live models' scores
  std::int64_t pending_scores = 0;
  std::vector<double> round_scores;  // (for verbose lines)
  std::vector<std::int64_t> round_calls;
  bool done = false;

  std::int64_t chunk_for(std::int64_t call) {
    while (call >= static_cast<std::int64_t>(order.size())) {
      std::vector<std::int64_t> shuffled = rng.permutation(X_train.n_chunks());
      order.insert(order.end(), shuffled.begin(), shuffled.end());
    }
    return order[static_cast<std::size_t>(call)];
  }
};

enum class Kind { kFit, kScore };

struct Pending {
  Kind kind;
  std::size_t model;
  FutureBase future;
  /// A fit's (or score's) model, held until it finishes. Dropping the last
  /// future of a model right after submitting the task that depends on it
  /// failed that task with "unknown dependency key": the scheduler got the
  /// release first. A release flush posted earlier runs on the io thread,
  /// where StreamConnection::send_encoded's asio::dispatch queues the frame
  /// at once, ahead of frames the client thread has posted but the io
  /// thread not yet queued.
  FutureBase dependency;
};

class Engine {
 public:
  Engine(Client& client, const SGDEstimator& estimator, const std::vector<double>& classes,
         std::vector<AdaptiveRun>& runs, const AdaptiveOptions& options)
      : client_(client), estimator_(estimator), runs_(runs), options_(options),
        classes_(float64_array(classes, {static_cast<std::int64_t>(classes.size())})),
        no_classes_(float64_array({}, {0})), start_(std::chrono::steady_clock::now()) {}

  std::vector<AdaptiveRunResult> run(const Array& X, const Array& y, std::int64_t* n_calls,
                                     std::vector<std::pair<std::size_t, std::int64_t>>* arrivals) {
    n_calls_ = n_calls;
    arrivals_ = arrivals;
    max_in_flight_ = options_.max_in_flight > 0 ? options_.max_in_flight : 2 * worker_threads(client_);
    create_models();  // parameters are checked here, before any task is submitted
    for (std::size_t r = 0; r < runs_.size(); ++r) split(r, X, y);
    for (ModelState& m : models_) start_step(m, 1);
    try {
      loop();
    } catch (...) {
      std::vector<FutureBase> outstanding;
      for (const Pending& p : pending_) outstanding.push_back(p.future);
      if (!outstanding.empty()) client_.cancel(outstanding);
      throw;
    }
    return results();
  }

 private:
  void create_models() {
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      state_.emplace_back();
      for (std::size_t i = 0; i < runs_[r].candidates.size(); ++i) {
        std::unique_ptr<Estimator> e = estimator_.clone_estimator();
        e->set_params(runs_[r].candidates[i]);
        ModelState m;
        m.run = r;
        m.id = static_cast<std::int64_t>(i);
        m.latest = Value(Bytes::from_string(static_cast<const SGDEstimator&>(*e).model_state()));
        state_[r].models.push_back(models_.size());
        models_.push_back(std::move(m));
      }
      if (options_.verbose) {
        std::fprintf(stderr, "[CV%s] creating %zu models\n", runs_[r].prefix.c_str(), runs_[r].candidates.size());
      }
    }
  }

  /// dask-ml's train_test_split of every chunk; the training chunks stay
  /// where they are, the validation rows go into one chunk on one worker.
  void split(std::size_t r, const Array& X, const Array& y) {
    RunState& s = state_[r];
    TrainTestSplit parts = train_test_split(
        X, y, {.test_size = runs_[r].test_size, .random_state = static_cast<std::int64_t>(runs_[r].seed)});
    s.X_train = parts.X_train.persist(client_);
    s.y_train = parts.y_train.persist(client_);
    s.X_test = one_chunk(parts.X_test).persist(client_);
    s.y_test = one_chunk(parts.y_test).persist(client_);
    s.n_test = s.y_test.rows();
    s.rng = ml_core::RandomState(runs_[r].seed);
    if (scoring() == "r2") {
      // Only the validation labels come to the client: R²'s denominator, once.
      NDArray truth = ml_core::to_float64(s.y_test.compute(client_));
      const double* t = truth.data<double>();
      double mean = 0;
      for (std::int64_t i = 0; i < truth.size(); ++i) mean += t[i];
      mean /= static_cast<double>(truth.size());
      for (std::int64_t i = 0; i < truth.size(); ++i) s.r2_denominator += (t[i] - mean) * (t[i] - mean);
    }
  }

  std::string scoring() const {
    if (!options_.scoring.empty()) return options_.scoring;
    return estimator_.is_classifier() ? "accuracy" : "r2";
  }

  void start_step(ModelState& m, std::int64_t calls) {
    m.target = m.submitted + calls;
    ++state_[m.run].pending_scores;
    enqueue(m);
  }

  bool wants_more(const ModelState& m) const {
    return m.alive && m.submitted < m.target && m.submitted - m.finished < kAheadPerModel;
  }

  void enqueue(ModelState& m) {
    if (m.queued || !wants_more(m)) return;
    m.queued = true;
    ready_.push_back(static_cast<std::size_t>(&m - models_.data()));
  }

  /// Submits partial_fit tasks round robin over the models that want them, up to max_in_flight.
  void pump() {
    while (fits_in_flight_ < max_in_flight_ && !ready_.empty()) {
      const std::size_t index = ready_.front();
      ready_.pop_front();
      ModelState& m = models_[index];
      m.queued = false;
      if (!wants_more(m)) continue;
      submit_fit(m, index);
      if (m.submitted == m.target) submit_score(m, index);
      enqueue(m);
    }
  }

  void submit_fit(ModelState& m, std::size_t index) {
    RunState& s = state_[m.run];
    const std::int64_t chunk = s.chunk_for(m.submitted);
    FutureBase previous = m.latest_future;
    Future<Bytes> next = client_.submit(ops::kSgdPartialFit, m.latest, s.X_train.chunk(chunk),
                                               s.y_train.chunk(chunk), m.submitted == 0 ? classes_ : no_classes_);
    m.latest = next;
    m.latest_future = next;
    ++m.submitted;
    ++*n_calls_;
    ++fits_in_flight_;
    pending_.push_back({Kind::kFit, index, next, previous});
  }

  /// predict on the validation chunk, compare, reduce: only the number comes back.
  void submit_score(ModelState& m, std::size_t index) {
    RunState& s = state_[m.run];
    Delayed predicted = delayed(ops::kSgdApply)(s.X_test.chunk(0), m.latest_future, std::string("predict"));
    Array p = Array::from_chunks({s.n_test}, DType::kFloat64, s.y_test.chunks(), {TaskArg(predicted)},
                                 "adaptive-search-predict");
    Array score = scoring() == "accuracy" ? (p == s.y_test).mean() : elementwise("square", s.y_test - p).sum();
    pending_.push_back({Kind::kScore, index, score.persist(client_).chunk(0).future_deps().front(), m.latest_future});
  }

  double read_score(const FutureBase& future, const RunState& s) const {
    auto value = future.value();
    if (!value.ok()) throw TaskError(value.status());
    auto array = value_as<NDArray>(*value);
    if (!array.ok() || array->size() != 1) throw TaskError(Status::internal("a score task returned no number"));
    const double v = ml_core::to_float64(*array).data<double>()[0];
    const std::string how = scoring();
    if (how == "accuracy") return v;
    if (how == "neg_mean_squared_error") return -v / static_cast<double>(s.n_test);
    // scikit-learn's r2_score: a constant validation target scores 1 when predicted exactly, else 0.
    if (s.r2_denominator == 0) return v == 0 ? 1.0 : 0.0;
    return 1.0 - v / s.r2_denominator;
  }

  void loop() {
    while (true) {
      pump();
      if (pending_.empty()) break;
      std::vector<FutureBase> futures;
      futures.reserve(pending_.size());
      for (const Pending& p : pending_) futures.push_back(p.future);
      auto done = client_.wait_any(futures);
      if (!done.ok()) throw TaskError(done.status());
      Pending p = std::move(pending_[*done]);
      pending_[*done] = std::move(pending_.back());
      pending_.pop_back();
      ModelState& m = models_[p.model];
      if (p.kind == Kind::kFit) {
        Status status = p.future.wait();
        if (!status.ok()) throw TaskError(status);
        --fits_in_flight_;
        ++m.finished;
        enqueue(m);
        continue;
      }
      RunState& s = state_[m.run];
      ScoreRecord record;
      record.partial_fit_calls = m.target;
      record.score = read_score(p.future, s);
      record.elapsed_wall_time = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      s.info[m.id].push_back(record);
      all_records_[{m.run, m.id}].push_back(record);
      arrivals_->emplace_back(m.run, m.id);
      s.round_scores.push_back(record.score);
      s.round_calls.push_back(record.partial_fit_calls);
      if (--s.pending_scores == 0) decide(m.run);
    }
    for (const RunState& s : state_) DTASK_CHECK(s.done) << "a search stopped with a round unfinished";
  }

  /// The end of a round: the run's policy says which models go on, and for how long.
  void decide(std::size_t r) {
    RunState& s = state_[r];
    if (options_.verbose && !s.round_scores.empty()) {
      const auto best = std::max_element(s.round_scores.begin(), s.round_scores.end()) - s.round_scores.begin();
      std::fprintf(stderr, "[CV%s] validation score of %0.4f received after %lld partial_fit calls\n",
                   runs_[r].prefix.c_str(), s.round_scores[best], static_cast<long long>(s.round_calls[best]));
    }
    s.round_scores.clear();
    s.round_calls.clear();
    // The records the policy sees carry its `adapt` marks; keep them in the run's own info.
    Instructions instructions = runs_[r].policy->additional_calls(s.info);
    for (auto it = s.info.begin(); it != s.info.end();) {
      if (instructions.count(it->first) == 0) {
        ModelState& m = models_[s.models[static_cast<std::size_t>(it->first)]];
        m.alive = false;
        m.latest = TaskArg(Value());  // releases the model's last future
        m.latest_future = FutureBase();
        it = s.info.erase(it);
      } else {
        ++it;
      }
    }
    bool more = false;
    for (const auto& [id, calls] : instructions) {
      if (calls > 0) more = true;
    }
    if (!more) {
      s.done = true;
      return;
    }
    for (const auto& [id, calls] : instructions) {
      if (calls > 0) start_step(models_[s.models[static_cast<std::size_t>(id)]], calls);
    }
  }

  std::vector<AdaptiveRunResult> results() {
    std::vector<AdaptiveRunResult> out(runs_.size());
    std::vector<Future<Bytes>> best_models;
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      RunState& s = state_[r];
      AdaptiveRunResult& result = out[r];
      for (std::size_t id = 0; id < s.models.size(); ++id) {
        result.records.push_back(all_records_[{r, static_cast<std::int64_t>(id)}]);
      }
      // dask-ml's max() over the live models' last scores: the first (lowest id) of ties.
      for (const auto& [id, records] : s.info) {
        if (result.best_id < 0 || records.back().score > result.best_score) {
          result.best_id = id;
          result.best_score = records.back().score;
        }
      }
      DTASK_CHECK(result.best_id >= 0) << "a search ended with no live model";
      best_models.emplace_back(models_[s.models[static_cast<std::size_t>(result.best_id)]].latest_future);
    }
    std::vector<Bytes> bytes = client_.gather(best_models);
    for (std::size_t r = 0; r < runs_.size(); ++r) out[r].best_model = std::string(bytes[r].view());
    return out;
  }

  Client& client_;
  const SGDEstimator& estimator_;
  std::vector<AdaptiveRun>& runs_;
  const AdaptiveOptions& options_;
  NDArray classes_, no_classes_;
  std::chrono::steady_clock::time_point start_;
  std::int64_t max_in_flight_ = 1;
  std::int64_t fits_in_flight_ = 0;
  std::int64_t* n_calls_ = nullptr;
  std::vector<std::pair<std::size_t, std::int64_t>>* arrivals_ = nullptr;
  std::vector<ModelState> models_;
  std::vector<RunState> state_;
  std::deque<std::size_t> ready_;
  std::vector<Pending> pending_;
  std::map<std::pair<std::size_t, std::int64_t>, std::vector<ScoreRecord>> all_records_;
};

/// scipy's rankdata(-scores, method="min"); NaN ranks after every number.
std::vector<double> min_ranks(const std::vector<double>& scores) {
  std::vector<double> out;
  for (double s : scores) {
    double better = 0;
    for (double other : scores) {
      if (std::isnan(s) ? !std::isnan(other) : other > s) ++better;
    }
    out.push_back(better + 1);
  }
  return out;
}

}  // namespace

std::vector<AdaptiveRunResult> run_adaptive(Client& client, const SGDEstimator& estimator, const Array& X,
                                            const Array& y, const std::vector<double>& classes,
                                            std::vector<AdaptiveRun>& runs, const AdaptiveOptions& options,
                                            std::int64_t* n_partial_fit_calls,
                                            std::vector<std::pair<std::size_t, std::int64_t>>* arrivals) {
  const std::string& scoring = options.scoring;
  if (!scoring.empty() && scoring != "accuracy" && scoring != "r2" && scoring != "neg_mean_squared_error") {
    fail("scoring '" + scoring + "' is not supported by the adaptive searches yet; use '', 'accuracy', 'r2' or "
         "'neg_mean_squared_error'");
  }
  Engine engine(client, estimator, classes, runs, options);
  return engine.run(X, y, n_partial_fit_calls, arrivals);
}

void store_results(BaseIncrementalSearchCV& search, const SGDEstimator& estimator,
                   const std::vector<AdaptiveRun>& runs, const std::vector<AdaptiveRunResult>& results,
                   const std::vector<std::pair<std::size_t, std::int64_t>>& arrivals,
                   const std::vector<std::int64_t>& brackets) {
  auto model_id = [&](std::size_t run, std::int64_t id) {
    return brackets.empty() ? std::to_string(id)
                            : "bracket=" + std::to_string(brackets[run]) + "-" + std::to_string(id);
  };
  IncrementalCvResults cv;
  std::vector<double> scores, calls, bracket;
  std::map<std::pair<std::size_t, std::int64_t>, std::int64_t> row_of;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    for (std::size_t id = 0; id < results[r].records.size(); ++id) {
      const ScoreRecord& last = results[r].records[id].back();
      row_of[{r, static_cast<std::int64_t>(id)}] = static_cast<std::int64_t>(cv.model_id.size());
      cv.model_id.push_back(model_id(r, static_cast<std::int64_t>(id)));
      cv.params.push_back(runs[r].candidates[id]);
      scores.push_back(last.score);
      calls.push_back(static_cast<double>(last.partial_fit_calls));
      if (!brackets.empty()) bracket.push_back(static_cast<double>(brackets[r]));
    }
  }
  std::set<std::string> names;
  for (const Params& p : cv.params) {
    for (const auto& [name, value] : p) names.insert(name);
  }
  cv.param_names.assign(names.begin(), names.end());
  cv.values["test_score"] = scores;
  cv.values["rank_test_score"] = min_ranks(scores);
  cv.values["partial_fit_calls"] = calls;
  if (!brackets.empty()) cv.values["bracket"] = bracket;

  search.history_.clear();
  search.model_history_.clear();
  std::map<std::pair<std::size_t, std::int64_t>, std::size_t> seen;
  for (const auto& [r, id] : arrivals) {
    const ScoreRecord& record = results[r].records[static_cast<std::size_t>(id)][seen[{r, id}]++];
    HistoryEntry entry{model_id(r, id), runs[r].candidates[static_cast<std::size_t>(id)], record.partial_fit_calls,
                       record.score, brackets.empty() ? -1 : brackets[r], record.elapsed_wall_time};
    search.history_.push_back(entry);
    search.model_history_[entry.model_id].push_back(entry);
  }

  std::size_t best_run = 0;
  for (std::size_t r = 1; r < results.size(); ++r) {
    if (results[r].best_score > results[best_run].best_score) best_run = r;
  }
  const AdaptiveRunResult& best = results[best_run];
  search.best_index_ = row_of.at({best_run, best.best_id});
  search.best_score_ = best.best_score;
  search.best_params_ = runs[best_run].candidates[static_cast<std::size_t>(best.best_id)];
  std::unique_ptr<Estimator> e = estimator.clone_estimator();
  e->set_params(search.best_params_);
  search.best_estimator_.reset(static_cast<SGDEstimator*>(e.release()));
  search.best_estimator_->set_model_state(best.best_model);
  search.cv_results_ = std::move(cv);
}

const SGDEstimator& partial_fit_estimator(const Estimator& estimator, const std::string& search) {
  const auto* sgd = dynamic_cast<const SGDEstimator*>(&estimator);
  if (sgd == nullptr) {
    fail(search + ": the estimator " + estimator.estimator_name() +
         " has no partial_fit; use an estimator that has (SGDClassifier, SGDRegressor)");
  }
  return *sgd;
}

double resolve_test_size(double test_size, std::int64_t n_chunks, const std::string& search) {
  if (test_size == 0) return std::min(0.2, 1.0 / static_cast<double>(n_chunks));
  if (!(test_size > 0 && test_size < 1)) {
    fail(search + ": test_size must be in (0, 1) (or 0 for dask-ml's default), got " + std::to_string(test_size));
  }
  return test_size;
}

}  // namespace dtask::ml::internal
