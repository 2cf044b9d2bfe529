// HyperbandSearchCV: dask-ml's bracket arithmetic (_get_hyperband_params,
// _hyperband_paper_alg), SuccessiveHalvingSearchCV's decision rule, and
// all brackets run at once by the adaptive-search engine.
#include "dtask/ml/hyperband.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "client/src/array_internal.h"
#include "client/src/ml/adaptive_search_internal.h"
#include "ml_core/random_state.h"

namespace dtask::ml {

using array_internal::fail;

namespace {

/// eta ** -k and eta ** k as Python evaluates them for ints: a float power for negative k.
double power(std::int64_t eta, std::int64_t k) { return std::pow(static_cast<double>(eta), static_cast<double>(k)); }

/// dask-ml's SuccessiveHalvingSearchCV._adapt: keep the best n * eta^-k
/// models, train them to r * eta^k calls.
class SuccessiveHalvingPolicy : public internal::IncrementalPolicy {
 public:
  SuccessiveHalvingPolicy(Config config, std::int64_t n, std::int64_t r, std::int64_t eta)
      : IncrementalPolicy(config), n_(n), r_(r), eta_(eta) {}

 private:
  internal::Instructions adapt(const internal::ModelInfo& info) override { return adapt(info, false); }

  internal::Instructions adapt(const internal::ModelInfo& info, bool first_step_completed) {
    bool all_once = true;
    for (const auto& [id, records] : info) all_once = all_once && records.back().partial_fit_calls == 1;
    if (all_once) steps_ = 0;
    if (first_step_completed) steps_ = 1;
    const auto n_i = static_cast<std::int64_t>(std::floor(static_cast<double>(n_) * power(eta_, -steps_)));
    const auto r_i = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(r_) * power(eta_, steps_)));
    // Every model's first call is made before any decision: that step is done already.
    if (r_i == 1) return adapt(info, true);
    std::vector<std::int64_t> best = internal::top_k(info, n_i);
    ++steps_;
    internal::Instructions out;
    if (best.empty()) {
      for (const auto& [id, records] : info) out[id] = 0;
      return out;
    }
    for (std::int64_t id : best) out[id] = r_i - info.at(id).back().partial_fit_calls;
    return out;
  }

  std::int64_t n_, r_, eta_;
  std::int64_t steps_ = 0;
};

void check_options(const HyperbandOptions& o) {
  if (o.max_iter < 1) {
    fail("HyperbandSearchCV: Received max_iter=" + std::to_string(o.max_iter) + ". max_iter < 1 is not supported");
  }
  if (o.aggressiveness < 2) {
    fail("HyperbandSearchCV: aggressiveness must be an integer >= 2 (each round keeps 1/aggressiveness of the "
         "models), got " + std::to_string(o.aggressiveness));
  }
  if (o.random_state > 0xFFFFFFFFLL) fail("HyperbandSearchCV: random_state must be < 2**32");
}

}  // namespace

std::vector<HyperbandBracket> hyperband_brackets(std::int64_t R, std::int64_t eta) {
  check_options({.max_iter = R, .aggressiveness = eta});
  // math.log(R, eta) is log(R) / log(eta) in doubles; floor it as dask-ml does.
  const auto s_max = static_cast<std::int64_t>(std::floor(std::log(static_cast<double>(R)) / std::log(static_cast<double>(eta))));
  const std::int64_t B = (s_max + 1) * R;
  std::vector<HyperbandBracket> out;
  for (std::int64_t s = s_max; s >= 0; --s) {
    const double n = static_cast<double>(B) / static_cast<double>(R) * power(eta, s) / static_cast<double>(s + 1);
    out.push_back({s, static_cast<std::int64_t>(std::ceil(n)),
                   static_cast<std::int64_t>(static_cast<double>(R) * power(eta, -s))});
  }
  return out;
}

HyperbandSearchCV::HyperbandSearchCV(const Estimator& estimator, const ParamDistributions& parameters,
                                     HyperbandOptions options)
    : BaseIncrementalSearchCV(estimator), parameters_(parameters), options_(std::move(options)) {}

std::int64_t HyperbandSearchCV::resolved_patience() const {
  const HyperbandOptions& o = options_;
  const std::int64_t suggested = std::max<std::int64_t>(o.max_iter / o.aggressiveness, 1);
  std::int64_t patience = 0;
  if (std::holds_alternative<bool>(o.patience)) {
    patience = std::get<bool>(o.patience) ? suggested : 0;
  } else {
    patience = std::get<std::int64_t>(o.patience);
    if (patience < suggested) {
      std::fprintf(stderr,
                   "UserWarning: The goal of `patience` is to stop training estimators that have already converged "
                   "*when few estimators remain*. To clear this warning, set patience=True or patience >= %lld "
                   "instead of patience=%lld\n",
                   static_cast<long long>(suggested), static_cast<long long>(patience));
    }
  }
  if (patience == 1 || patience < 0 || (patience == 0 && !std::holds_alternative<bool>(o.patience))) {
    fail("HyperbandSearchCV: patience=" + std::to_string(patience) +
         "<=1 will always detect a plateau. To resolve this, set patience >= 2 (or patience=false)");
  }
  return patience;
}

SuccessiveHalvingParams HyperbandSearchCV::bracket_params(const HyperbandBracket& b, std::int64_t seed_start,
                                                          std::int64_t patience) const {
  const HyperbandOptions& o = options_;
  SuccessiveHalvingParams p;
  p.n_initial_parameters = b.n_models;
  p.n_initial_iter = b.n_initial_iter;
  p.aggressiveness = o.aggressiveness;
  p.max_iter = o.max_iter;
  p.patience = patience;
  p.tol = o.tol;
  p.test_size = o.test_size;
  p.random_state = b.bracket != 0 ? (seed_start < 0 ? -1 : seed_start + b.bracket) : o.random_state;
  return p;
}

HyperbandMetadata HyperbandSearchCV::metadata() const {
  const HyperbandOptions& o = options_;
  check_options(o);
  const std::int64_t eta = o.aggressiveness;
  const std::int64_t seed_start =
      o.random_state >= 0 ? ml_core::RandomState(static_cast<std::uint32_t>(o.random_state)).randint(std::int64_t{1} << 31)
                          : -1;
  const std::int64_t patience = resolved_patience();
  HyperbandMetadata out;
  std::vector<HyperbandBracket> brackets = hyperband_brackets(o.max_iter, eta);
  for (auto it = brackets.rbegin(); it != brackets.rend(); ++it) {
    // The paper's algorithm 1: n_i = n eta^-i models trained to r_i = r eta^i calls, for i = 0..s.
    const HyperbandBracket& b = *it;
    std::vector<std::int64_t> calls(static_cast<std::size_t>(b.n_models), 0);
    std::set<std::int64_t> decisions;
    std::int64_t kept = b.n_models;
    for (std::int64_t i = 0; i <= b.bracket; ++i) {
      const auto n_i = static_cast<std::int64_t>(std::floor(static_cast<double>(b.n_models) * power(eta, -i)));
      const auto r_i = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(b.n_initial_iter) * power(eta, i)));
      for (std::int64_t m = 0; m < kept; ++m) calls[static_cast<std::size_t>(m)] = r_i;
      decisions.insert(r_i);
      kept = std::min(kept, static_cast<std::int64_t>(std::floor(static_cast<double>(n_i) / static_cast<double>(eta))));
    }
    BracketMetadata m;
    m.bracket = b.bracket;
    m.n_models = b.n_models;
    for (std::int64_t c : calls) m.partial_fit_calls += c;
    m.decisions.assign(decisions.begin(), decisions.end());
    m.params = bracket_params(b, seed_start, patience);
    out.n_models += m.n_models;
    out.partial_fit_calls += m.partial_fit_calls;
    out.brackets.push_back(std::move(m));
  }
  return out;
}

void HyperbandSearchCV::run(Client& client, const SGDEstimator& estimator, const Array& X, const Array& y,
                            const std::vector<double>& classes) {
  const HyperbandOptions& o = options_;
  check_options(o);
  const std::int64_t patience = resolved_patience();
  const double test_size = internal::resolve_test_size(o.test_size, X.n_chunks(), "HyperbandSearchCV");
  std::random_device entropy;
  // dask-ml: seed_start = check_random_state(random_state).randint(2**31); bracket b uses seed_start + b,
  // bracket 0 random_state itself.
  const std::uint32_t base = o.random_state >= 0 ? static_cast<std::uint32_t>(o.random_state) : entropy();
  const std::int64_t seed_start = ml_core::RandomState(base).randint(std::int64_t{1} << 31);

  const std::vector<HyperbandBracket> brackets = hyperband_brackets(o.max_iter, o.aggressiveness);
  std::vector<internal::AdaptiveRun> runs;
  std::vector<std::int64_t> ids;
  for (const HyperbandBracket& b : brackets) {
    internal::AdaptiveRun run;
    run.seed = b.bracket != 0 ? static_cast<std::uint32_t>(seed_start + b.bracket)
                              : (o.random_state >= 0 ? static_cast<std::uint32_t>(o.random_state) : entropy());
    run.candidates = parameter_sampler({parameters_}, b.n_models, run.seed);
    run.test_size = test_size;
    internal::IncrementalPolicy::Config config{
        .n_initial_parameters = b.n_models, .patience = patience, .tol = o.tol, .max_iter = o.max_iter};
    run.policy = std::make_unique<SuccessiveHalvingPolicy>(config, b.n_models, b.n_initial_iter, o.aggressiveness);
    run.prefix = ", bracket=" + std::to_string(b.bracket);
    runs.push_back(std::move(run));
    ids.push_back(b.bracket);
  }
  std::vector<std::pair<std::size_t, std::int64_t>> arrivals;
  auto results = internal::run_adaptive(client, estimator, X, y, classes, runs,
                                        {.scoring = o.scoring, .verbose = o.verbose, .max_in_flight = o.max_in_flight},
                                        &n_partial_fit_calls_, &arrivals);
  internal::store_results(*this, estimator, runs, results, arrivals, ids);

  // dask-ml's _get_meta: what each bracket's models did.
  metadata_ = HyperbandMetadata{};
  const std::int64_t top = brackets.front().bracket;
  for (std::size_t r = brackets.size(); r-- > 0;) {
    BracketMetadata m;
    m.bracket = brackets[r].bracket;
    std::set<std::int64_t> decisions;
    for (const auto& records : results[r].records) {
      ++m.n_models;
      m.partial_fit_calls += records.back().partial_fit_calls;
      for (const auto& record : records) decisions.insert(record.partial_fit_calls);
    }
    if (m.bracket != top) decisions.erase(1);
    m.decisions.assign(decisions.begin(), decisions.end());
    m.params = bracket_params(brackets[r], seed_start, patience);
    m.params.random_state = static_cast<std::int64_t>(runs[r].seed);
    metadata_.n_models += m.n_models;
    metadata_.partial_fit_calls += m.partial_fit_calls;
    metadata_.brackets.push_back(std::move(m));
  }
}

}  // namespace dtask::ml
