// The search engine (search_internal.h). In memory: the data copied to
// every worker once, the folds scattered once, then every (candidate,
// split) as one task on a worker that holds a copy, at most
// tasks_per_thread x threads in flight per worker, the next submitted as
// each finishes, so a slow candidate never holds the others up and work
// stays where the data is. Distributed (data larger than a worker): each
// fold a lazy chunked Array, and n_jobs client threads each running one
// candidate's distributed fit and score at a time.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>
#include <optional>

#include "client/src/array_internal.h"
#include "client/src/cluster_workers.h"
#include "client/src/ml/estimator_internal.h"
#include "client/src/ml/fold_arrays_internal.h"
#include "client/src/ml/search_checkpoint_internal.h"
#include "client/src/ml/search_internal.h"
#include "dtask/client.h"
#include "dtask/ml/pipeline.h"
#include "dtask/progress.h"
#include "ml_core/metrics.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml::internal {

namespace {

using array_internal::fail;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct WorkerSlot {
  std::string address;
  std::int64_t nthreads = 1;
  std::uint64_t memory_limit = 0;
  std::int64_t capacity = 1;
  std::int64_t in_flight = 0;
  FutureBase X, y;  // this worker's copies of the data
};

/// What one candidate sends to the workers.
struct CandidateSpec {
  std::string spec;         // the whole estimator
  std::string prefix_spec;  // a pipeline's transformers ("" when none)
  std::string final_spec;   // a pipeline's last step
};

struct Job {
  std::int64_t candidate = 0, split = 0;
};

struct InFlight {
  FutureBase future;
  Job job;
  std::size_t worker = 0;
};

std::vector<CandidateSpec> candidate_specs(const Estimator& estimator, const std::vector<Params>& candidates) {
  std::vector<CandidateSpec> out;
  for (const Params& params : candidates) {
    std::unique_ptr<Estimator> e = estimator.clone_estimator();
    e->set_params(params);  // an unknown name or a wrong type throws here, before anything runs
    CandidateSpec c{e->spec(), "", ""};
    if (const auto* pipeline = dynamic_cast<const Pipeline*>(e.get())) {
      c.prefix_spec = pipeline->prefix_spec();
      c.final_spec = pipeline->final_spec();
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<WorkerSlot> workers_of(Client& client, int tasks_per_thread) {
  std::vector<WorkerSlot> out;
  for (const ::dtask::internal::ClusterWorker& w : ::dtask::internal::cluster_workers(client)) {
    WorkerSlot slot;
    slot.address = w.address;
    slot.nthreads = w.nthreads;
    slot.memory_limit = w.memory_limit;
    slot.capacity = tasks_per_thread * slot.nthreads;
    out.push_back(std::move(slot));
  }
  if (out.empty()) fail("the search needs at least one worker, and the cluster has none");
  return out;
}

NDArray index_array(const std::vector<std::int64_t>& rows) {
  NDArray out = NDArray::uninitialized(DType::kInt64, {static_cast<std::int64_t>(rows.size())});
  std::copy(rows.begin(), rows.end(), out.mutable_data<std::int64_t>());
  return out;
}

std::vector<double> as_doubles(const NDArray& a) {
  NDArray v = ml_core_cast_float64(a);
  return {v.data<double>(), v.data<double>() + v.size()};
}

/// "float64[2000, 10]": the array's dtype and shape, without its chunks.
std::string dtype_and_shape(const Array& X) {
  const std::string d = X.describe();
  return d.substr(0, d.find(" in "));
}

/// The numbers the fingerprint of a search's data and folds is made of.
std::string data_identity(Client& client, const Array& X, const std::vector<double>& y,
                          const std::vector<Split>& splits) {
  std::string text = dtype_and_shape(X) + ";";
  double checksum = X.astype(DType::kFloat64).sum().compute(client).data<double>()[0];
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g;", checksum);
  text += buf;
  for (double v : y) {
    std::snprintf(buf, sizeof buf, "%.17g,", v);
    text += buf;
  }
  for (const Split& s : splits) {
    text += fingerprint_of(Json(s.train).dump()) + fingerprint_of(Json(s.test).dump());
  }
  return text;
}

/// scikit-learn 1.2's line for a finished fit: verbose 1 as its verbose=2,
/// "[CV] END .....C=0.1, penalty=l1; total time=   0.2s"; verbose 2 as its
/// verbose=3, "[CV 2/5] END ...C=0.1;, score=0.950 total time=   0.2s"
/// (with train scores "score=(train=0.990, test=0.950)"; several scorers
/// "accuracy: (test=0.950) f1: (test=0.900)").
std::string verbose_line(const FitReport& r, const std::vector<double>& train, const std::vector<std::string>& scorers,
                         std::int64_t n_splits, int verbose, bool return_train_score) {
  std::string end = "[CV";
  if (verbose >= 2) end += " " + std::to_string(r.split + 1) + "/" + std::to_string(n_splits);
  end += "] END ";
  std::string result;
  for (const auto& [name, value] : *r.params) result += (result.empty() ? "" : ", ") + name + "=" + python_str(value);
  if (!result.empty()) result += ";";
  auto three = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return std::string(buf);
  };
  if (verbose >= 2 && r.error.empty()) {
    if (scorers.size() == 1) {
      result += return_train_score ? ", score=(train=" + three(train[0]) + ", test=" + three(r.test_scores[0]) + ")"
                                   : ", score=" + three(r.test_scores[0]);
    } else {
      std::vector<std::size_t> order(scorers.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scorers[a] < scorers[b]; });
      for (std::size_t i : order) {
        result += " " + scorers[i] + ": (" + (return_train_score ? "train=" + three(train[i]) + ", " : "") +
                  "test=" + three(r.test_scores[i]) + ")";
      }
    }
  }
  double total = r.fit_seconds + r.score_seconds;
  char time[32];
  if (total > 60) {
    std::snprintf(time, sizeof time, "%4.1fmin", total / 60);
  } else {
    std::snprintf(time, sizeof time, " %5.1fs", total);
  }
  result += std::string(" total time=") + time;
  if (!r.error.empty()) result += " (failed)";
  auto dots = end.size() + result.size() < 80 ? 80 - end.size() - result.size() : 0;
  return end + std::string(dots, '.') + result;
}

/// Reads a cv_fit_score result: [s test, s train, fit seconds, score seconds].
FitResult fit_result(const Value& value, std::size_t n_scorers) {
  const NDArray& a = value.get<NDArray>();
  const double* v = a.data<double>();
  if (a.size() != static_cast<std::int64_t>(2 * n_scorers + 2)) {
    throw TaskError(Status::internal("cv_fit_score returned " + a.describe()));
  }
  FitResult r;
  r.test.assign(v, v + n_scorers);
  r.train.assign(v + n_scorers, v + 2 * n_scorers);
  r.fit_time = v[2 * n_scorers];
  r.score_time = v[2 * n_scorers + 1];
  return r;
}

/// The whole search as it runs: the copies, the queue, the results.
class SearchDriver {
 public:
  SearchDriver(Client& client, const Estimator& estimator, const SearchOptions& options,
               std::vector<CandidateSpec> specs, const std::vector<Params>& candidates,
               std::vector<std::string> scorers)
      : client_(client),
        estimator_(estimator),
        options_(options),
        specs_(std::move(specs)),
        candidates_(candidates),
        scorers_(std::move(scorers)) {
    for (const auto& s : scorers_) scorer_values_.emplace_back(s);
    if (std::holds_alternative<double>(options.error_score)) {
      error_score_ = std::get<double>(options.error_score);
    } else if (std::get<std::string>(options.error_score) != "raise") {
      fail("error_score must be a number or \"raise\", got \"" + std::get<std::string>(options.error_score) + "\"");
    }
  }

  SearchRun run(const Array& X, const Array& y, const std::vector<double>& y_values,
                const std::vector<Split>& splits, SearchCheckpoint* checkpoint) {
    SearchRun out;
    out.scorers = scorers_;
    out.n_splits = static_cast<std::int64_t>(splits.size());
    n_splits_ = out.n_splits;
    out.results.assign(candidates_.size(), std::vector<FitResult>(splits.size()));
    total_ = candidates_.size() * splits.size();
    std::vector<Job> jobs;
    for (std::size_t c = 0; c < candidates_.size(); ++c) {
      for (std::size_t s = 0; s < splits.size(); ++s) {
        const auto key = std::make_pair(static_cast<std::int64_t>(c), static_cast<std::int64_t>(s));
        if (checkpoint && checkpoint->done().count(key)) {
          out.results[c][s] = checkpoint->done().at(key);
          finish({key.first, key.second}, out.results[c][s], true, nullptr);
        } else {
          jobs.push_back({key.first, key.second});
        }
      }
    }
    if (options_.verbose > 0) {
      std::fprintf(stderr, "Fitting %zu folds for each of %zu candidates, totalling %zu fits\n", splits.size(),
                   candidates_.size(), total_);
    }
    out.execution = choose_execution(X);
    if (!jobs.empty() && out.execution == SearchExecution::kInMemory) {
      place_data(X, y, splits);
      dispatch(jobs, out, checkpoint);
    } else if (!jobs.empty()) {
      dispatch_distributed(jobs, out, checkpoint, X, y, y_values, splits);
    }
    if (options_.verbose == 0) draw_progress(true);
    return out;
  }

 private:
  /// kAuto: in memory when X, a copy per worker and the folds of the fits in flight fit in 60% of a worker.
  SearchExecution choose_execution(const Array& X) {
    workers_ = workers_of(client_, options_.tasks_per_thread);
    if (options_.execution != SearchExecution::kAuto) return options_.execution;
    const auto x_bytes = static_cast<double>(X.rows() * X.cols()) * 8.0;  // float64 in memory
    for (const WorkerSlot& w : workers_) {
      const double need = x_bytes * static_cast<double>(2 + 2 * w.capacity);
      if (w.memory_limit > 0 && need > 0.6 * static_cast<double>(w.memory_limit)) return SearchExecution::kDistributed;
    }
    return SearchExecution::kInMemory;
  }

  void place_data(const Array& X, const Array& y, const std::vector<Split>& splits) {
    Array X1 = (X.n_chunks() == 1 ? X : X.rechunk(X.rows())).persist(client_);
    Array y1 = (y.n_chunks() == 1 ? y : y.rechunk(y.rows())).persist(client_);
    std::vector<FutureBase> copies;
    for (WorkerSlot& w : workers_) {
      SubmitOptions on{.workers = {w.address}};
      w.X = client_.submit(on, ops::kIdentity, X1.chunk(0));
      w.y = client_.submit(on, ops::kIdentity, y1.chunk(0));
      copies.push_back(w.X);
      copies.push_back(w.y);
    }
    Status placed = client_.wait(copies);
    if (!placed.ok()) throw TaskError(placed);
    std::vector<Value> indices;
    for (const Split& s : splits) {
      indices.emplace_back(index_array(s.train));
      indices.emplace_back(index_array(s.test));
    }
    auto scattered = client_.scatter(indices);
    if (!scattered.ok()) throw TaskError(scattered.status());
    for (std::size_t i = 0; i < splits.size(); ++i) {
      folds_.push_back({(*scattered)[2 * i], (*scattered)[2 * i + 1]});
    }
  }

  FutureBase submit(const Job& job, WorkerSlot& w) {
    const CandidateSpec& c = specs_[static_cast<std::size_t>(job.candidate)];
    const auto& fold = folds_[static_cast<std::size_t>(job.split)];
    SubmitOptions on{.workers = {w.address}};
    if (c.prefix_spec.empty()) {
      return client_.submit(on, ops::kCvFitScore, w.X, w.y, fold.first, fold.second, c.spec, ValueList(scorer_values_),
                            options_.return_train_score);
    }
    auto key = std::make_pair(c.prefix_spec, job.split);
    auto prefix = prefixes_.find(key);
    if (prefix == prefixes_.end()) {
      FutureBase fitted = client_.submit(on, ops::kCvFitTransform, w.X, w.y, fold.first, fold.second, c.prefix_spec);
      prefix = prefixes_.emplace(key, fitted).first;
    }
    return client_.submit(on, ops::kCvFitScorePrepared, prefix->second, c.final_spec, ValueList(scorer_values_),
                          options_.return_train_score);
  }

  void dispatch(const std::vector<Job>& jobs, SearchRun& out, SearchCheckpoint* checkpoint) {
    std::size_t next = 0;
    std::vector<InFlight> in_flight;
    auto fill = [&] {
      bool submitted = true;
      while (next < jobs.size() && submitted) {
        submitted = false;
        for (std::size_t w = 0; w < workers_.size() && next < jobs.size(); ++w) {
          if (workers_[w].in_flight >= workers_[w].capacity) continue;
          in_flight.push_back({submit(jobs[next], workers_[w]), jobs[next], w});
          ++workers_[w].in_flight;
          ++next;
          submitted = true;
        }
      }
    };
    fill();
    while (!in_flight.empty()) {
      std::vector<FutureBase> futures;
      for (const InFlight& f : in_flight) futures.push_back(f.future);
      auto index = client_.wait_any(futures, std::chrono::milliseconds(500));
      if (!index.ok()) {
        if (index.status().code() == StatusCode::kTimedOut) {
          if (options_.verbose == 0) draw_progress(false);
          continue;
        }
        throw TaskError(index.status());
      }
      InFlight done = in_flight[*index];
      in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(*index));
      --workers_[done.worker].in_flight;
      FitResult r = collect(done.future);
      ++out.fits_run;
      if (!r.error.empty() && !error_score_) {
        client_.cancel(futures);
        throw TaskError(Status::task_error(failure_message(done.job, r)));
      }
      out.results[static_cast<std::size_t>(done.job.candidate)][static_cast<std::size_t>(done.job.split)] = r;
      finish(done.job, r, false, checkpoint);
      fill();
    }
  }

  /// A fold as chunked arrays (train and test parts of X and y), and y's test values.
  struct DistributedFold {
    Array X_train, y_train, X_test, y_test;
    std::vector<double> y_train_values, y_test_values;
  };

  void dispatch_distributed(const std::vector<Job>& jobs, SearchRun& out, SearchCheckpoint* checkpoint,
                            const Array& X, const Array& y_in, const std::vector<double>& y_values,
                            const std::vector<Split>& splits) {
    Array y = y_in.chunks().sizes() == X.chunks().sizes() ? y_in : y_in.rechunk(X.chunks());
    std::vector<DistributedFold> folds;
    for (const Split& s : splits) {
      FoldRows train = fold_rows(client_, X.chunks(), s.train), test = fold_rows(client_, X.chunks(), s.test);
      DistributedFold f{take_fold(X, train), take_fold(y, train), take_fold(X, test), take_fold(y, test), {}, {}};
      for (std::int64_t r : sorted(s.train)) f.y_train_values.push_back(y_values[static_cast<std::size_t>(r)]);
      for (std::int64_t r : sorted(s.test)) f.y_test_values.push_back(y_values[static_cast<std::size_t>(r)]);
      folds.push_back(std::move(f));
    }
    const std::size_t n_jobs = options_.n_jobs > 0 ? static_cast<std::size_t>(options_.n_jobs) : 2 * workers_.size();
    std::mutex queue_mutex;
    std::size_t next = 0;
    std::string raised;  // the first failure when error_score is "raise"
    auto worker_thread = [&] {
      for (;;) {
        Job job;
        {
          std::lock_guard<std::mutex> lock(queue_mutex);
          if (next >= jobs.size() || !raised.empty()) return;
          job = jobs[next++];
        }
        FitResult r = fit_distributed(job, folds[static_cast<std::size_t>(job.split)]);
        {
          std::lock_guard<std::mutex> lock(queue_mutex);
          ++out.fits_run;
          if (!r.error.empty() && !error_score_) {
            if (raised.empty()) raised = failure_message(job, r);
            return;
          }
          out.results[static_cast<std::size_t>(job.candidate)][static_cast<std::size_t>(job.split)] = r;
        }
        finish(job, r, false, checkpoint);
      }
    };
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < std::min(n_jobs, jobs.size()); ++i) threads.emplace_back(worker_thread);
    for (auto& t : threads) t.join();
    if (!raised.empty()) throw TaskError(Status::task_error(raised));
  }

  static std::vector<std::int64_t> sorted(std::vector<std::int64_t> v) {
    std::sort(v.begin(), v.end());
    return v;
  }

  /// One candidate's distributed fit on a fold, then its scores (test, and train when asked).
  FitResult fit_distributed(const Job& job, const DistributedFold& fold) {
    FitResult r;
    try {
      std::unique_ptr<Estimator> e = estimator_.clone_estimator();
      e->set_params(candidates_[static_cast<std::size_t>(job.candidate)]);
      auto start = Clock::now();
      e->fit(client_, fold.X_train, fold.y_train);
      r.fit_time = std::chrono::duration<double>(Clock::now() - start).count();
      start = Clock::now();
      for (const std::string& scorer : scorers_) {
        r.test.push_back(score_distributed(*e, scorer, fold.X_test, fold.y_test, fold.y_test_values));
        r.train.push_back(options_.return_train_score
                              ? score_distributed(*e, scorer, fold.X_train, fold.y_train, fold.y_train_values)
                              : std::nan(""));
      }
      r.score_time = std::chrono::duration<double>(Clock::now() - start).count();
    } catch (const std::exception& e) {
      r = failed_fit(e.what());
    }
    return r;
  }

  /// The estimator's own score, or a scorer on its predictions (gathered: one value per test row).
  double score_distributed(const Estimator& e, const std::string& scorer, const Array& X, const Array& y,
                           const std::vector<double>& y_values) {
    if (scorer == "score") return e.score(client_, X, y);
    auto info = ml_core::find_scorer(scorer);
    if (!info.ok()) throw std::invalid_argument(info.status().message());
    if (info->input != ml_core::ScorerInput::kPredict) {
      throw std::invalid_argument("scoring '" + scorer +
                                  "' needs decision values or probabilities, which distributed searches do not "
                                  "compute yet; use a scorer on predictions (accuracy, f1, r2, ...)");
    }
    std::vector<double> predicted = as_doubles(e.predict(X).compute(client_));
    ml_core::ScoringInputs inputs;
    inputs.y_true = &y_values;
    inputs.y_pred = &predicted;
    auto value = ml_core::score(*info, inputs);
    if (!value.ok()) throw std::invalid_argument(value.status().message());
    return *value;
  }

  std::string failure_message(const Job& job, const FitResult& r) const {
    return "fit of candidate " + std::to_string(job.candidate) + " (" +
           describe(candidates_[static_cast<std::size_t>(job.candidate)]) + ") on split " +
           std::to_string(job.split) + " failed (error_score=\"raise\"): " + r.error;
  }

  FitResult collect(const FutureBase& future) {
    Result<Value> value = future.value();
    if (value.ok()) return fit_result(*value, scorers_.size());
    return failed_fit(value.status().message());
  }

  /// What a failed fit records: error_score for every scorer (train too when asked), and the error.
  FitResult failed_fit(std::string error) const {
    const double score = error_score_.value_or(std::nan(""));  // unset: "raise", which stops the search anyway
    FitResult failed;
    failed.test.assign(scorers_.size(), score);
    failed.train.assign(scorers_.size(), options_.return_train_score ? score : std::nan(""));
    failed.error = std::move(error);
    return failed;
  }

  void finish(const Job& job, const FitResult& r, bool from_checkpoint, SearchCheckpoint* checkpoint) {
    std::lock_guard<std::mutex> lock(finish_mutex_);
    ++done_;
    if (!r.error.empty()) ++failed_;
    if (checkpoint && !from_checkpoint) checkpoint->append(job.candidate, job.split, r);
    FitReport report{static_cast<std::size_t>(job.candidate), static_cast<std::size_t>(job.split),
                     &candidates_[static_cast<std::size_t>(job.candidate)], r.test, r.fit_time, r.score_time,
                     r.error, from_checkpoint, done_, total_};
    if (options_.verbose > 0 && !from_checkpoint) {
      std::fprintf(stderr, "%s\n",
                   verbose_line(report, r.train, scorers_, n_splits_, options_.verbose, options_.return_train_score)
                       .c_str());
    }
    if (options_.on_fit) options_.on_fit(report);
    if (options_.verbose == 0) draw_progress(false);
  }

  void draw_progress(bool last) {
    const bool tty = ::isatty(::fileno(stderr)) != 0;
    auto now = Clock::now();
    auto interval = tty ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
    if (!last && drawn_ && now - last_draw_ < interval) return;
    if (last && last_drawn_done_ == done_ && drawn_) return;
    ProgressCounts counts{done_, failed_, total_, std::chrono::duration<double>(now - start_).count()};
    std::string line = "search: " + format_progress(counts, tty);
    std::fprintf(stderr, tty ? "\r%s%s" : "%s%s", line.c_str(), tty ? (last ? "\n" : "") : "\n");
    std::fflush(stderr);
    drawn_ = true;
    last_draw_ = now;
    last_drawn_done_ = done_;
  }

  Client& client_;
  const Estimator& estimator_;
  const SearchOptions& options_;
  std::vector<CandidateSpec> specs_;
  const std::vector<Params>& candidates_;
  std::vector<std::string> scorers_;
  ValueList scorer_values_;
  std::optional<double> error_score_;
  std::vector<WorkerSlot> workers_;
  std::vector<std::pair<FutureBase, FutureBase>> folds_;
  std::map<std::pair<std::string, std::int64_t>, FutureBase> prefixes_;
  std::size_t done_ = 0, failed_ = 0, total_ = 0, last_drawn_done_ = 0;
  std::int64_t n_splits_ = 0;
  bool drawn_ = false;
  std::mutex finish_mutex_;  // distributed searches finish fits from several threads
  Clock::time_point start_ = Clock::now(), last_draw_;
};

}  // namespace

std::string python_str(const ParamValue& value) {
  return value.is<std::string>() ? value.get<std::string>() : value.repr();
}

SearchRun run_search(Client& client, const Estimator& estimator, const std::vector<Params>& candidates,
                     const Array& X, const Array& y, const SearchOptions& options) {
  const std::string what = "search over " + estimator.estimator_name() + ": ";
  if (candidates.empty()) fail(what + "no candidates (an empty list of parameter grids)");
  if (!X.valid() || !y.valid()) fail(what + "X and y must be non-empty Arrays");
  if (X.ndim() != 2) fail(what + "X must be 2-d, got " + X.describe());
  if (y.ndim() != 1 || y.rows() != X.rows()) fail(what + "y " + y.describe() + " does not match X " + X.describe());
  if (options.tasks_per_thread < 1) fail(what + "tasks_per_thread must be >= 1");
  std::vector<CandidateSpec> specs = candidate_specs(estimator, candidates);
  std::vector<std::string> scorers = options.scoring.empty() ? std::vector<std::string>{"score"} : options.scoring;
  for (const std::string& s : scorers) {
    if (s == "score" || s.rfind("op:", 0) == 0) continue;
    auto info = ml_core::find_scorer(s);
    if (!info.ok()) fail(what + info.status().message());
    if (info->classifier_only && !estimator.is_classifier()) {
      fail(what + "scoring '" + s + "' needs a classifier, and " + estimator.estimator_name() + " is not one");
    }
  }

  std::vector<double> y_values = as_doubles(y.compute(client));
  std::vector<Split> splits = split(options.cv, X.rows(), y_values, estimator.is_classifier());

  std::optional<SearchCheckpoint> checkpoint;
  if (!options.checkpoint.empty()) {
    std::string identity = estimator.spec() + ";";
    for (const CandidateSpec& c : specs) identity += c.spec + ";";
    for (const std::string& s : scorers) identity += s + ",";
    identity += options.return_train_score ? "train;" : "test;";
    identity += data_identity(client, X, y_values, splits);
    std::string description = estimator.estimator_name() + ", " + std::to_string(candidates.size()) +
                              " candidates x " + std::to_string(splits.size()) + " splits on " +
                              dtype_and_shape(X);
    checkpoint.emplace(options.checkpoint, fingerprint_of(identity), description);
  }

  SearchDriver driver(client, estimator, options, std::move(specs), candidates, scorers);
  SearchRun run = driver.run(X, y, y_values, splits, checkpoint ? &*checkpoint : nullptr);

  std::size_t failed = 0, total = 0;
  const std::string* first_error = nullptr;
  for (const auto& per_candidate : run.results) {
    for (const FitResult& r : per_candidate) {
      ++total;
      if (r.error.empty()) continue;
      ++failed;
      if (!first_error) first_error = &r.error;
    }
  }
  if (failed == total) {
    throw TaskError(Status::task_error("All the " + std::to_string(total) + " fits failed. The first failure: " +
                                       *first_error));
  }
  if (failed > 0) {
    std::fprintf(stderr,
                 "%zu fits failed out of a total of %zu.\nThe score on these train-test partitions for these "
                 "parameters will be set to the error_score.\nThe first failure: %s\n",
                 failed, total, first_error->c_str());
  }
  return run;
}

}  // namespace dtask::ml::internal
