#include "dtask/ml/core/splitters.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "dtask/ml/core/params.h"
#include "ml_core/random_state.h"

namespace dtask::ml_core {
namespace {

// sklearn's check_random_state: an int seeds RandomState; None draws fresh
// entropy (numpy's global stream would not be reproducible here either).
RandomState make_rng(const std::optional<std::uint32_t>& seed) {
  if (seed) return RandomState(*seed);
  std::random_device device;
  return RandomState(device());
}

// _BaseKFold.__init__'s checks (sklearn runs them at construction, first).
Status check_kfold_options(int n_splits, bool shuffle, bool has_random_state) {
  if (n_splits <= 1) {
    return Status::invalid(
        "k-fold cross-validation requires at least one train/test split by setting n_splits=2 or more, got n_splits=" +
        std::to_string(n_splits) + ".");
  }
  if (!shuffle && has_random_state) {
    return Status::invalid(
        "Setting a random_state has no effect since shuffle is False. You should leave random_state to its default "
        "(None), or set shuffle=True.");
  }
  return Status::success();
}

// _BaseKFold.split's check.
Status check_kfold_samples(int n_splits, std::int64_t n_samples) {
  if (n_splits > n_samples) {
    return Status::invalid("Cannot have number of splits n_splits=" + std::to_string(n_splits) +
                           " greater than the number of samples: n_samples=" + std::to_string(n_samples) + ".");
  }
  return Status::success();
}

// check_array's finiteness check on y (it runs before anything else looks at y).
Status check_finite(const std::vector<double>& y) {
  for (double v : y) {
    if (std::isnan(v)) return Status::invalid("Input y contains NaN.");
    if (std::isinf(v)) return Status::invalid("Input y contains infinity or a value too large for dtype('float64').");
  }
  return Status::success();
}

// BaseCrossValidator.split from a fold id per sample: test = fold == i, train
// = the rest, both in index order.
std::vector<Split> splits_from_folds(const std::vector<int>& fold_of, int n_splits) {
  std::vector<Split> out(static_cast<std::size_t>(n_splits));
  for (std::size_t i = 0; i < fold_of.size(); ++i) {
    for (int f = 0; f < n_splits; ++f) {
      auto& split = out[static_cast<std::size_t>(f)];
      (fold_of[i] == f ? split.test : split.train).push_back(static_cast<std::int64_t>(i));
    }
  }
  return out;
}

// Python's str() of a test_size/train_size argument, for error messages.
std::string size_repr(const SplitSize& size) {
  if (std::holds_alternative<double>(size)) return python_float_repr(std::get<double>(size));
  if (std::holds_alternative<std::int64_t>(size)) return std::to_string(std::get<std::int64_t>(size));
  return "None";
}

// One of _validate_shuffle_split's range checks.
bool size_out_of_range(const SplitSize& size, std::int64_t n_samples) {
  if (const auto* i = std::get_if<std::int64_t>(&size)) return *i >= n_samples || *i <= 0;
  if (const auto* f = std::get_if<double>(&size)) return *f <= 0 || *f >= 1;
  return false;
}

struct TrainTest {
  std::int64_t n_train = 0, n_test = 0;
};

// sklearn's _validate_shuffle_split: the sizes as counts, or its errors.
Result<TrainTest> validate_shuffle_split(std::int64_t n_samples, SplitSize test_size, const SplitSize& train_size) {
  auto none = [](const SplitSize& s) { return std::holds_alternative<std::monostate>(s); };
  if (none(test_size) && none(train_size)) test_size = 0.1;
  using Named = std::pair<const char*, const SplitSize*>;
  for (const auto& [name, size] : {Named{"test_size", &test_size}, Named{"train_size", &train_size}}) {
    if (size_out_of_range(*size, n_samples)) {
      return Status::invalid(std::string(name) + "=" + size_repr(*size) +
                             " should be either positive and smaller than the number of samples " +
                             std::to_string(n_samples) + " or a float in the (0, 1) range");
    }
  }
  const auto* test_f = std::get_if<double>(&test_size);
  const auto* train_f = std::get_if<double>(&train_size);
  if (test_f && train_f && *train_f + *test_f > 1) {
    return Status::invalid("The sum of test_size and train_size = " + python_float_repr(*train_f + *test_f) +
                           ", should be in the (0, 1) range. Reduce test_size and/or train_size.");
  }
  // sklearn computes in floats: ceil for a test fraction, floor for a train fraction.
  double n_test = 0, n_train = 0;
  if (test_f) n_test = std::ceil(*test_f * static_cast<double>(n_samples));
  if (const auto* i = std::get_if<std::int64_t>(&test_size)) n_test = static_cast<double>(*i);
  if (train_f) n_train = std::floor(*train_f * static_cast<double>(n_samples));
  if (const auto* i = std::get_if<std::int64_t>(&train_size)) n_train = static_cast<double>(*i);
  if (none(train_size)) {
    n_train = static_cast<double>(n_samples) - n_test;
  } else if (none(test_size)) {
    n_test = static_cast<double>(n_samples) - n_train;
  }
  if (n_train + n_test > static_cast<double>(n_samples)) {
    return Status::invalid("The sum of train_size and test_size = " +
                           std::to_string(static_cast<std::int64_t>(n_train + n_test)) +
                           ", should be smaller than the number of samples " + std::to_string(n_samples) +
                           ". Reduce test_size and/or train_size.");
  }
  TrainTest out{static_cast<std::int64_t>(n_train), static_cast<std::int64_t>(n_test)};
  if (out.n_train == 0) {
    return Status::invalid("With n_samples=" + std::to_string(n_samples) + ", test_size=" + size_repr(test_size) +
                           " and train_size=" + size_repr(train_size) +
                           ", the resulting train set will be empty. Adjust any of the aforementioned parameters.");
  }
  return out;
}

// Class codes by order of first appearance in y (StratifiedKFold's encoding)
// or by sorted value (np.unique's, for StratifiedShuffleSplit).
std::vector<int> encode_classes(const std::vector<double>& y, bool by_first_appearance, int* n_classes) {
  std::map<double, int> code;
  for (double v : y) code.emplace(v, static_cast<int>(code.size()));
  if (!by_first_appearance) {
    int next = 0;
    for (auto& [value, c] : code) c = next++;
  }
  std::vector<int> out;
  out.reserve(y.size());
  for (double v : y) out.push_back(code.at(v));
  *n_classes = static_cast<int>(code.size());
  return out;
}

std::vector<std::int64_t> bincount(const std::vector<int>& codes, int n_classes) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n_classes), 0);
  for (int c : codes) ++counts[static_cast<std::size_t>(c)];
  return counts;
}

// sklearn.utils._approximate_mode: per-class draws summing to n_draws, ties
// in the leftover fractions broken by rng.choice(inds, add_now, replace=False).
std::vector<std::int64_t> approximate_mode(const std::vector<std::int64_t>& class_counts, std::int64_t n_draws,
                                           RandomState& rng) {
  std::size_t n = class_counts.size();
  double total = static_cast<double>(std::accumulate(class_counts.begin(), class_counts.end(), std::int64_t{0}));
  std::vector<double> continuous(n), floored(n), remainder(n);
  double floored_sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    continuous[i] = static_cast<double>(class_counts[i]) / total * static_cast<double>(n_draws);
    floored[i] = std::floor(continuous[i]);
    remainder[i] = continuous[i] - floored[i];
    floored_sum += floored[i];  // exact: small integers
  }
  auto need_to_add = static_cast<std::int64_t>(static_cast<double>(n_draws) - floored_sum);
  if (need_to_add > 0) {
    std::vector<double> values = remainder;
    std::sort(values.begin(), values.end(), std::greater<>());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    for (double value : values) {
      std::vector<std::size_t> inds;
      for (std::size_t i = 0; i < n; ++i) {
        if (remainder[i] == value) inds.push_back(i);
      }
      auto add_now = std::min(static_cast<std::int64_t>(inds.size()), need_to_add);
      for (std::int64_t k : rng.choice_without_replacement(static_cast<std::int64_t>(inds.size()), add_now)) {
        floored[inds[static_cast<std::size_t>(k)]] += 1;
      }
      need_to_add -= add_now;
      if (need_to_add == 0) break;
    }
  }
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int64_t>(floored[i]);
  return out;
}

// One StratifiedShuffleSplit split, drawing from rng exactly as
// StratifiedShuffleSplit._iter_indices' loop body does.
Split stratified_shuffle_once(const std::vector<std::vector<std::int64_t>>& class_indices,
                              const std::vector<std::int64_t>& class_counts, TrainTest sizes, RandomState& rng) {
  std::vector<std::int64_t> n_i = approximate_mode(class_counts, sizes.n_train, rng);
  std::vector<std::int64_t> remaining(class_counts.size());
  for (std::size_t i = 0; i < class_counts.size(); ++i) remaining[i] = class_counts[i] - n_i[i];
  std::vector<std::int64_t> t_i = approximate_mode(remaining, sizes.n_test, rng);
  Split split;
  for (std::size_t i = 0; i < class_counts.size(); ++i) {
    std::vector<std::int64_t> perm = rng.permutation(class_counts[i]);
    for (std::int64_t k = 0; k < n_i[i] + t_i[i]; ++k) {
      std::int64_t index = class_indices[i][static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])];
      (k < n_i[i] ? split.train : split.test).push_back(index);
    }
  }
  rng.shuffle(split.train);  // rng.permutation(train), then rng.permutation(test)
  rng.shuffle(split.test);
  return split;
}

}  // namespace

Result<SplitResult> kfold_split(const KFoldOptions& opts, std::int64_t n_samples) {
  DTASK_RETURN_NOT_OK(check_kfold_options(opts.n_splits, opts.shuffle, opts.random_state.has_value()));
  DTASK_RETURN_NOT_OK(check_kfold_samples(opts.n_splits, n_samples));
  std::vector<std::int64_t> indices(static_cast<std::size_t>(n_samples));
  std::iota(indices.begin(), indices.end(), std::int64_t{0});
  if (opts.shuffle) make_rng(opts.random_state).shuffle(indices);
  // The first n % k folds get one extra sample; masks make train and test sorted.
  std::vector<int> fold_of(indices.size());
  std::int64_t current = 0;
  for (int f = 0; f < opts.n_splits; ++f) {
    std::int64_t fold_size = n_samples / opts.n_splits + (f < n_samples % opts.n_splits ? 1 : 0);
    for (std::int64_t k = current; k < current + fold_size; ++k) {
      fold_of[static_cast<std::size_t>(indices[static_cast<std::size_t>(k)])] = f;
    }
    current += fold_size;
  }
  return SplitResult{splits_from_folds(fold_of, opts.n_splits), {}};
}

Result<SplitResult> stratified_kfold_split(const StratifiedKFoldOptions& opts, const std::vector<double>& y) {
  DTASK_RETURN_NOT_OK(check_kfold_options(opts.n_splits, opts.shuffle, opts.random_state.has_value()));
  DTASK_RETURN_NOT_OK(check_finite(y));
  DTASK_RETURN_NOT_OK(check_kfold_samples(opts.n_splits, static_cast<std::int64_t>(y.size())));
  // type_of_target: non-integral floats are "continuous".
  for (double v : y) {
    if (v != std::trunc(v)) {
      return Status::invalid("Supported target types are: ('binary', 'multiclass'). Got 'continuous' instead.");
    }
  }
  int n_classes = 0;
  std::vector<int> y_encoded = encode_classes(y, /*by_first_appearance=*/true, &n_classes);
  std::vector<std::int64_t> y_counts = bincount(y_encoded, n_classes);
  std::int64_t min_groups = *std::min_element(y_counts.begin(), y_counts.end());
  std::int64_t max_groups = *std::max_element(y_counts.begin(), y_counts.end());
  if (opts.n_splits > max_groups) {
    return Status::invalid("n_splits=" + std::to_string(opts.n_splits) +
                           " cannot be greater than the number of members in each class.");
  }
  SplitResult result;
  if (opts.n_splits > min_groups) {
    result.warnings.push_back("The least populated class in y has only " + std::to_string(min_groups) +
                              " members, which is less than n_splits=" + std::to_string(opts.n_splits) + ".");
  }
  // allocation[f][k]: class k's samples in fold f, round robin over sorted y.
  std::vector<int> y_order = y_encoded;
  std::sort(y_order.begin(), y_order.end());
  std::vector<std::vector<std::int64_t>> allocation(static_cast<std::size_t>(opts.n_splits),
                                                    std::vector<std::int64_t>(static_cast<std::size_t>(n_classes), 0));
  for (std::size_t p = 0; p < y_order.size(); ++p) {
    ++allocation[p % static_cast<std::size_t>(opts.n_splits)][static_cast<std::size_t>(y_order[p])];
  }
  // sklearn makes its rng either way but draws from it only with shuffle.
  std::optional<RandomState> rng;
  if (opts.shuffle) rng.emplace(make_rng(opts.random_state));
  std::vector<int> test_folds(y.size());
  for (int k = 0; k < n_classes; ++k) {
    std::vector<int> folds_for_class;  // arange(n_splits).repeat(allocation[:, k])
    for (int f = 0; f < opts.n_splits; ++f) {
      folds_for_class.insert(folds_for_class.end(),
                             static_cast<std::size_t>(allocation[static_cast<std::size_t>(f)][static_cast<std::size_t>(k)]), f);
    }
    if (rng) rng->shuffle(folds_for_class);
    std::size_t next = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (y_encoded[i] == k) test_folds[i] = folds_for_class[next++];
    }
  }
  result.splits = splits_from_folds(test_folds, opts.n_splits);
  return result;
}

Result<SplitResult> shuffle_split(const ShuffleSplitOptions& opts, std::int64_t n_samples) {
  DTASK_ASSIGN_OR_RETURN(TrainTest sizes, validate_shuffle_split(n_samples, opts.test_size, opts.train_size));
  RandomState rng = make_rng(opts.random_state);
  SplitResult result;
  for (int s = 0; s < opts.n_splits; ++s) {
    std::vector<std::int64_t> perm = rng.permutation(n_samples);
    auto test_end = perm.begin() + sizes.n_test;
    result.splits.push_back(Split{{test_end, test_end + sizes.n_train}, {perm.begin(), test_end}});
  }
  return result;
}

Result<SplitResult> stratified_shuffle_split(const StratifiedShuffleSplitOptions& opts, const std::vector<double>& y) {
  DTASK_RETURN_NOT_OK(check_finite(y));
  auto n_samples = static_cast<std::int64_t>(y.size());
  DTASK_ASSIGN_OR_RETURN(TrainTest sizes, validate_shuffle_split(n_samples, opts.test_size, opts.train_size));
  int n_classes = 0;
  std::vector<int> y_indices = encode_classes(y, /*by_first_appearance=*/false, &n_classes);
  std::vector<std::int64_t> class_counts = bincount(y_indices, n_classes);
  if (*std::min_element(class_counts.begin(), class_counts.end()) < 2) {
    return Status::invalid(
        "The least populated class in y has only 1 member, which is too few. The minimum number of groups for any "
        "class cannot be less than 2.");
  }
  if (sizes.n_train < n_classes) {
    return Status::invalid("The train_size = " + std::to_string(sizes.n_train) +
                           " should be greater or equal to the number of classes = " + std::to_string(n_classes));
  }
  if (sizes.n_test < n_classes) {
    return Status::invalid("The test_size = " + std::to_string(sizes.n_test) +
                           " should be greater or equal to the number of classes = " + std::to_string(n_classes));
  }
  // A stable argsort of y_indices, split by class: each class's rows in order.
  std::vector<std::vector<std::int64_t>> class_indices(static_cast<std::size_t>(n_classes));
  for (std::size_t i = 0; i < y_indices.size(); ++i) {
    class_indices[static_cast<std::size_t>(y_indices[i])].push_back(static_cast<std::int64_t>(i));
  }
  RandomState rng = make_rng(opts.random_state);
  SplitResult result;
  for (int s = 0; s < opts.n_splits; ++s) {
    result.splits.push_back(stratified_shuffle_once(class_indices, class_counts, sizes, rng));
  }
  return result;
}

}  // namespace dtask::ml_core
