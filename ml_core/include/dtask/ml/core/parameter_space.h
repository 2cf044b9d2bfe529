// Hyperparameter spaces as scikit-learn 1.2.1 walks them: ParameterGrid
// (exhaustive, sorted keys, last key fastest) and ParameterSampler (random
// candidates from lists and scipy 1.10 distributions: uniform, loguniform,
// randint), drawing from numpy 1.24's legacy RandomState exactly as sklearn
// and scipy do, so a seed gives sklearn's candidates.
//
//   auto grid = ParameterGrid::make({{{"C", {0.1, 1.0}}, {"penalty", {"l1", "l2"}}}});
//   auto candidates = sample_parameters({{{"C", LogUniform{1e-3, 1e3}}}}, 10, 0, nullptr);
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "dtask/status.h"
#include "dtask/ml/core/params.h"

namespace dtask::ml_core {

/// One grid: parameter name -> the values to try.
using ParamGrid = std::map<std::string, std::vector<ParamValue>>;

/// sklearn.model_selection.ParameterGrid over a list of grids: the
/// concatenation of each grid's cartesian product, keys sorted, the last key
/// cycling fastest. An empty grid contributes one empty candidate.
/// Immutable after make(); thread-safe to read.
class ParameterGrid {
 public:
  /// Validates like sklearn's constructor. Errors (Invalid): a parameter
  /// with no values ("Parameter grid for parameter 'C' need to be a
  /// non-empty sequence, got: []"). Thread-compatible.
  static Result<ParameterGrid> make(std::vector<ParamGrid> grids);

  /// len(ParameterGrid): the number of candidates. Thread-safe.
  std::int64_t size() const;
  /// ParameterGrid[i], computed without enumerating (sklearn's __getitem__).
  /// Requires 0 <= i < size() (aborts otherwise; see at()). Thread-safe.
  Params operator[](std::int64_t i) const;
  /// As operator[], but an out-of-range index is an error (Invalid,
  /// "ParameterGrid index out of range"). Thread-safe.
  Result<Params> at(std::int64_t i) const;
  /// list(ParameterGrid): every candidate in sklearn's order. Thread-safe.
  std::vector<Params> all() const;
  /// The grids as given. Thread-safe.
  const std::vector<ParamGrid>& grids() const { return grids_; }

 private:
  explicit ParameterGrid(std::vector<ParamGrid> grids) : grids_(std::move(grids)) {}
  std::vector<ParamGrid> grids_;
};

/// scipy.stats.uniform(loc, scale): uniform on [loc, loc + scale].
struct Uniform {
  double loc = 0, scale = 1;
};
/// scipy.stats.loguniform(a, b): log-uniform on [a, b], 0 < a < b.
struct LogUniform {
  double a, b;
};
/// scipy.stats.randint(low, high): integers in [low, high).
struct RandInt {
  std::int64_t low, high;
};

/// A parameter's source: a list to pick from, or a distribution to draw.
using Distribution = std::variant<std::vector<ParamValue>, Uniform, LogUniform, RandInt>;
/// One ParameterSampler dict: parameter name -> source.
using ParamDistributions = std::map<std::string, Distribution>;

/// list(ParameterSampler(dists, n_iter, random_state=seed)). When every
/// source is a list: distinct grid candidates by sample_without_replacement
/// (at most the grid's size; then a warning is appended to `warnings` when
/// non-null). Otherwise n_iter draws: a dict by rng.choice, then per sorted
/// key a list element by randint or one scipy rvs draw. Errors (Invalid): an
/// empty value list (sklearn's or numpy's text), a distribution outside its
/// domain (scipy's text), negative n_iter with only lists. Thread-compatible.
Result<std::vector<Params>> sample_parameters(const std::vector<ParamDistributions>& dists, std::int64_t n_iter,
                                              std::uint32_t random_state, std::vector<std::string>* warnings);

}  // namespace dtask::ml_core
