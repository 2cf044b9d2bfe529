// scikit-learn 1.2.1's cross-validation splitters, index for index: KFold,
// StratifiedKFold, ShuffleSplit and StratifiedShuffleSplit, with the same
// random stream (numpy 1.24's legacy RandomState, see random_state.h), the
// same errors (as Invalid, with sklearn's wording) and the same warnings.
//
//   KFoldOptions opts{.n_splits = 3, .shuffle = true, .random_state = 0};
//   auto r = kfold_split(opts, 10);  // == list(KFold(3, shuffle=True, random_state=0).split(range(10)))
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dtask/status.h"

namespace dtask::ml_core {

/// One train/test partition: row indices, in the order sklearn yields them.
struct Split {
  std::vector<std::int64_t> train, test;
};

/// The splits, and the UserWarnings sklearn would have issued (their text).
struct SplitResult {
  std::vector<Split> splits;
  std::vector<std::string> warnings;
};

/// A test_size or train_size: None (monostate), a fraction (double) or a
/// count (integer), as sklearn's _validate_shuffle_split reads them.
using SplitSize = std::variant<std::monostate, double, std::int64_t>;

/// KFold(n_splits, shuffle, random_state).
struct KFoldOptions {
  int n_splits = 5;
  bool shuffle = false;
  /// Unset with shuffle: seeded from std::random_device (sklearn's None).
  std::optional<std::uint32_t> random_state;
};

/// StratifiedKFold(n_splits, shuffle, random_state).
struct StratifiedKFoldOptions {
  int n_splits = 5;
  bool shuffle = false;
  /// Unset with shuffle: seeded from std::random_device (sklearn's None).
  std::optional<std::uint32_t> random_state;
};

/// ShuffleSplit(n_splits, test_size, train_size, random_state); both sizes
/// None means test_size=0.1.
struct ShuffleSplitOptions {
  int n_splits = 10;
  SplitSize test_size, train_size;
  /// Unset: seeded from std::random_device (sklearn's None).
  std::optional<std::uint32_t> random_state;
};

/// StratifiedShuffleSplit(n_splits, test_size, train_size, random_state).
struct StratifiedShuffleSplitOptions {
  int n_splits = 10;
  SplitSize test_size, train_size;
  /// Unset: seeded from std::random_device (sklearn's None).
  std::optional<std::uint32_t> random_state;
};

/// list(KFold(...).split(X)) for n_samples rows: consecutive folds of
/// arange(n) (shuffled first when opts.shuffle), train and test sorted.
/// Errors: n_splits < 2, random_state set without shuffle, n_splits > n_samples.
/// Thread-compatible.
Result<SplitResult> kfold_split(const KFoldOptions& opts, std::int64_t n_samples);

/// list(StratifiedKFold(...).split(X, y)): sklearn's _make_test_folds, train
/// and test sorted. Errors: as kfold_split, y not binary/multiclass (NaN,
/// infinite or non-integral values), n_splits greater than every class's
/// count. Warns when the least populated class has fewer than n_splits
/// members. Thread-compatible.
Result<SplitResult> stratified_kfold_split(const StratifiedKFoldOptions& opts, const std::vector<double>& y);

/// list(ShuffleSplit(...).split(X)) for n_samples rows: one permutation per
/// split, test first. Errors: sklearn's _validate_shuffle_split.
/// Thread-compatible.
Result<SplitResult> shuffle_split(const ShuffleSplitOptions& opts, std::int64_t n_samples);

/// list(StratifiedShuffleSplit(...).split(X, y)). Errors: sklearn's
/// _validate_shuffle_split, NaN or infinite y, a class with one member,
/// train or test smaller than the number of classes. Thread-compatible.
Result<SplitResult> stratified_shuffle_split(const StratifiedShuffleSplitOptions& opts, const std::vector<double>& y);

}  // namespace dtask::ml_core
