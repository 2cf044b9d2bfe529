// numpy's legacy random stream, numpy.random.RandomState(seed) as numpy 1.24
// draws it, bit for bit: MT19937 seeded by init_genrand, and the legacy rules
// for doubles, bounded integers, shuffle and permutation. scikit-learn 1.2.1
// draws every "random_state=int" through this stream, so a splitter or a
// parameter sampler that uses it gives sklearn's indices exactly. Also
// sklearn.utils.random.sample_without_replacement (method "auto").
//
//   dtask::ml_core::RandomState rng(42);
//   std::vector<std::int64_t> p = rng.permutation(10);  // == RandomState(42).permutation(10)
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "dtask/status.h"

namespace dtask::ml_core {

/// numpy.random.RandomState(seed) (the legacy generator). Thread-compatible.
class RandomState {
 public:
  /// Seeded as RandomState(seed): init_genrand(seed), like std::mt19937(seed).
  explicit RandomState(std::uint32_t seed) : engine_(seed) {}

  /// One raw 32-bit MT19937 output. Thread-compatible.
  std::uint32_t next_uint32() { return static_cast<std::uint32_t>(engine_()); }
  /// Two outputs, the first in the high word (numpy's mt19937_next64). Thread-compatible.
  std::uint64_t next_uint64();
  /// RandomState.random_sample(): a 53-bit double in [0, 1) from two outputs. Thread-compatible.
  double random_sample();
  /// RandomState.uniform(low, high): low + (high - low) * random_sample(). Thread-compatible.
  double uniform(double low, double high);
  /// numpy's legacy random_interval: uniform in [0, max] by masked rejection
  /// (32-bit draws when max fits in 32 bits); draws nothing when max == 0.
  /// Thread-compatible.
  std::uint64_t random_interval(std::uint64_t max);
  /// RandomState.randint(low, high) for the default int64 dtype: uniform in
  /// [low, high) by masked rejection; draws nothing when high == low + 1.
  /// Requires low < high (aborts otherwise; validate user input first).
  /// Thread-compatible.
  std::int64_t randint(std::int64_t low, std::int64_t high);
  /// RandomState.randint(high) == randint(0, high). Thread-compatible.
  std::int64_t randint(std::int64_t high) { return randint(0, high); }

  /// RandomState.shuffle on a 1-d array: Fisher-Yates from the end, j =
  /// random_interval(i). Thread-compatible.
  template <typename T>
  void shuffle(std::span<T> x) {
    for (std::size_t i = x.size(); i-- > 1;) {
      std::size_t j = static_cast<std::size_t>(random_interval(i));
      std::swap(x[i], x[j]);
    }
  }
  /// As shuffle(span). Thread-compatible.
  template <typename T>
  void shuffle(std::vector<T>& x) {
    shuffle(std::span<T>(x));
  }
  /// RandomState.permutation(n): arange(n), shuffled. Thread-compatible.
  std::vector<std::int64_t> permutation(std::int64_t n);
  /// RandomState.permutation(array): a shuffled copy of `x`. Thread-compatible.
  template <typename T>
  std::vector<T> permutation(std::vector<T> x) {
    shuffle(x);
    return x;
  }
  /// RandomState.choice(pop, size, replace=False): permutation(pop)[:size],
  /// which is what the legacy generator does. Requires 0 <= size <= pop
  /// (aborts otherwise). Thread-compatible.
  std::vector<std::int64_t> choice_without_replacement(std::int64_t pop, std::int64_t size);

 private:
  std::mt19937 engine_;
};

/// sklearn.utils.random.sample_without_replacement(n_population, n_samples,
/// method="auto", random_state=rng): n_samples distinct integers from
/// [0, n_population), in sklearn's order. Errors (Invalid, sklearn's text):
/// n_population < 0, n_samples < 0, n_samples > n_population.
/// Thread-compatible.
Result<std::vector<std::int64_t>> sample_without_replacement(std::int64_t n_population, std::int64_t n_samples,
                                                             RandomState& rng);

}  // namespace dtask::ml_core
