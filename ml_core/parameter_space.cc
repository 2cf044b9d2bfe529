#include "dtask/ml/core/parameter_space.h"

#include <cmath>

#include "common/check.h"
#include "ml_core/random_state.h"

namespace dtask::ml_core {
namespace {

// The product of one grid's list lengths (1 for an empty grid).
std::int64_t grid_size(const ParamGrid& grid) {
  std::int64_t total = 1;
  for (const auto& [key, values] : grid) total *= static_cast<std::int64_t>(values.size());
  return total;
}

// rv_generic.rvs' domain check, with scipy's message.
Status domain_error(const char* name) {
  return Status::invalid(
      std::string("Domain error in arguments. The `scale` parameter must be positive for all distributions, and many "
                  "distributions have restrictions on shape parameters. Please see the `scipy.stats.") +
      name + "` documentation for details.");
}

// v.rvs(random_state=rng) for each scipy distribution: the draws scipy 1.10 makes.
struct Draw {
  RandomState& rng;

  Result<ParamValue> operator()(const std::vector<ParamValue>& values) const {
    if (values.empty()) return Status::invalid("high <= 0");  // numpy's randint(0)
    return values[static_cast<std::size_t>(rng.randint(static_cast<std::int64_t>(values.size())))];
  }
  Result<ParamValue> operator()(const Uniform& u) const {
    if (!(u.scale >= 0)) return domain_error("uniform");
    if (u.scale == 0) return ParamValue(u.loc);  // rvs returns loc without drawing
    // uniform_gen._rvs is random_state.uniform(0.0, 1.0); rvs then scales.
    return ParamValue(rng.uniform(0.0, 1.0) * u.scale + u.loc);
  }
  Result<ParamValue> operator()(const LogUniform& d) const {
    if (!(d.a > 0 && d.b > d.a)) return domain_error("loguniform");
    // The default _rvs: inverse cdf of uniform(), reciprocal_gen._ppf = a * (b/a)**q.
    // rvs' "* scale + loc" is "* 1 + 0", exact, so left out.
    double q = rng.uniform(0.0, 1.0);
    return ParamValue(d.a * std::pow(d.b / d.a, q));
  }
  Result<ParamValue> operator()(const RandInt& d) const {
    if (!(d.high > d.low)) return domain_error("randint");
    return ParamValue(rng.randint(d.low, d.high));  // rng_integers -> RandomState.randint
  }
};

bool all_lists(const std::vector<ParamDistributions>& dists) {
  for (const auto& dist : dists) {
    for (const auto& [key, source] : dist) {
      if (!std::holds_alternative<std::vector<ParamValue>>(source)) return false;
    }
  }
  return true;
}

// ParameterSampler's exhaustive branch: distinct grid points.
Result<std::vector<Params>> sample_grid(const std::vector<ParamDistributions>& dists, std::int64_t n_iter,
                                        RandomState& rng, std::vector<std::string>* warnings) {
  std::vector<ParamGrid> grids;
  for (const auto& dist : dists) {
    ParamGrid& grid = grids.emplace_back();
    for (const auto& [key, source] : dist) grid[key] = std::get<std::vector<ParamValue>>(source);
  }
  DTASK_ASSIGN_OR_RETURN(ParameterGrid grid, ParameterGrid::make(std::move(grids)));
  std::int64_t size = grid.size();
  if (size < n_iter) {
    if (warnings != nullptr) {
      warnings->push_back("The total space of parameters " + std::to_string(size) + " is smaller than n_iter=" +
                          std::to_string(n_iter) + ". Running " + std::to_string(size) +
                          " iterations. For exhaustive searches, use GridSearchCV.");
    }
    n_iter = size;
  }
  DTASK_ASSIGN_OR_RETURN(std::vector<std::int64_t> picks, sample_without_replacement(size, n_iter, rng));
  std::vector<Params> out;
  out.reserve(picks.size());
  for (std::int64_t i : picks) out.push_back(grid[i]);
  return out;
}

// ParameterSampler's random branch: n_iter independent candidates.
Result<std::vector<Params>> sample_random(const std::vector<ParamDistributions>& dists, std::int64_t n_iter,
                                          RandomState& rng) {
  std::vector<Params> out;
  for (std::int64_t it = 0; it < n_iter; ++it) {
    // rng.choice(list of dicts): randint(0, len), which draws nothing for one dict.
    const auto& dist = dists[static_cast<std::size_t>(rng.randint(static_cast<std::int64_t>(dists.size())))];
    Params params;
    for (const auto& [key, source] : dist) {  // std::map: sorted keys, as sklearn sorts
      DTASK_ASSIGN_OR_RETURN(params[key], std::visit(Draw{rng}, source));
    }
    out.push_back(std::move(params));
  }
  return out;
}

}  // namespace

Result<ParameterGrid> ParameterGrid::make(std::vector<ParamGrid> grids) {
  for (const auto& grid : grids) {
    for (const auto& [key, values] : grid) {
      if (values.empty()) {
        return Status::invalid("Parameter grid for parameter '" + key + "' need to be a non-empty sequence, got: []");
      }
    }
  }
  return ParameterGrid(std::move(grids));
}

std::int64_t ParameterGrid::size() const {
  std::int64_t total = 0;
  for (const auto& grid : grids_) total += grid_size(grid);
  return total;
}

Result<Params> ParameterGrid::at(std::int64_t i) const {
  if (i < 0) return Status::invalid("ParameterGrid index out of range");
  for (const auto& grid : grids_) {
    std::int64_t total = grid_size(grid);
    if (i >= total) {
      i -= total;  // try the next grid
      continue;
    }
    // Reversed key order: the last sorted key is the fastest-cycling digit.
    Params out;
    for (auto it = grid.rbegin(); it != grid.rend(); ++it) {
      auto n = static_cast<std::int64_t>(it->second.size());
      out[it->first] = it->second[static_cast<std::size_t>(i % n)];
      i /= n;
    }
    return out;
  }
  return Status::invalid("ParameterGrid index out of range");
}

Params ParameterGrid::operator[](std::int64_t i) const {
  Result<Params> r = at(i);
  DTASK_CHECK(r.ok()) << "ParameterGrid[" << i << "] with size " << size();
  return std::move(r).value();
}

std::vector<Params> ParameterGrid::all() const {
  // __iter__'s itertools.product order is the index order of __getitem__.
  std::vector<Params> out;
  std::int64_t n = size();
  out.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) out.push_back((*this)[i]);
  return out;
}

Result<std::vector<Params>> sample_parameters(const std::vector<ParamDistributions>& dists, std::int64_t n_iter,
                                              std::uint32_t random_state, std::vector<std::string>* warnings) {
  RandomState rng(random_state);
  if (all_lists(dists)) return sample_grid(dists, n_iter, rng, warnings);
  return sample_random(dists, n_iter, rng);
}

}  // namespace dtask::ml_core
