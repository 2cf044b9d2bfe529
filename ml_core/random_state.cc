#include "ml_core/random_state.h"

#include <numeric>
#include <string>
#include <unordered_set>

#include "common/check.h"

namespace dtask::ml_core {
namespace {

// The smallest all-ones mask covering `max` (numpy's gen_mask).
std::uint64_t gen_mask(std::uint64_t max) {
  std::uint64_t mask = max;
  for (int shift = 1; shift <= 32; shift *= 2) mask |= mask >> shift;
  return mask;
}

// sklearn's _sample_without_replacement_with_tracking_selection: redraw on repeats.
std::vector<std::int64_t> tracking_selection(std::int64_t n_population, std::int64_t n_samples, RandomState& rng) {
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(n_samples));
  std::unordered_set<std::int64_t> selected;
  for (std::int64_t i = 0; i < n_samples; ++i) {
    std::int64_t j = rng.randint(n_population);
    while (selected.count(j) != 0) j = rng.randint(n_population);
    selected.insert(j);
    out.push_back(j);
  }
  return out;
}

// sklearn's _sample_without_replacement_with_reservoir_sampling (Robert Kern's).
std::vector<std::int64_t> reservoir_sampling(std::int64_t n_population, std::int64_t n_samples, RandomState& rng) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(n_samples));
  std::iota(out.begin(), out.end(), std::int64_t{0});
  for (std::int64_t i = n_samples; i < n_population; ++i) {
    std::int64_t j = rng.randint(0, i + 1);
    if (j < n_samples) out[static_cast<std::size_t>(j)] = i;
  }
  return out;
}

}  // namespace

std::uint64_t RandomState::next_uint64() {
  // Sequenced explicitly: the high word is the first draw.
  std::uint64_t hi = next_uint32();
  std::uint64_t lo = next_uint32();
  return (hi << 32) | lo;
}

double RandomState::random_sample() {
  std::uint32_t a = next_uint32() >> 5;
  std::uint32_t b = next_uint32() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double RandomState::uniform(double low, double high) { return low + (high - low) * random_sample(); }

std::uint64_t RandomState::random_interval(std::uint64_t max) {
  if (max == 0) return 0;
  std::uint64_t mask = gen_mask(max);
  std::uint64_t value;
  if (max <= 0xffffffffULL) {
    while ((value = (next_uint32() & mask)) > max) {
    }
  } else {
    while ((value = (next_uint64() & mask)) > max) {
    }
  }
  return value;
}

std::int64_t RandomState::randint(std::int64_t low, std::int64_t high) {
  DTASK_CHECK(low < high) << "randint(" << low << ", " << high << "): low >= high";
  // numpy's random_bounded_uint64_fill with use_masked=true: the inclusive
  // range, drawn with 32-bit outputs when it fits in 32 bits.
  std::uint64_t rng = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low) - 1;
  std::uint64_t off = static_cast<std::uint64_t>(low);
  if (rng == 0) return low;
  std::uint64_t value;
  if (rng <= 0xffffffffULL) {
    if (rng == 0xffffffffULL) return static_cast<std::int64_t>(off + next_uint32());
    std::uint32_t mask = static_cast<std::uint32_t>(gen_mask(rng));
    std::uint32_t v32;
    while ((v32 = (next_uint32() & mask)) > rng) {
    }
    value = v32;
  } else if (rng == 0xffffffffffffffffULL) {
    value = next_uint64();
  } else {
    std::uint64_t mask = gen_mask(rng);
    while ((value = (next_uint64() & mask)) > rng) {
    }
  }
  return static_cast<std::int64_t>(off + value);
}

std::vector<std::int64_t> RandomState::permutation(std::int64_t n) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(n < 0 ? 0 : n));
  std::iota(out.begin(), out.end(), std::int64_t{0});
  shuffle(out);
  return out;
}

std::vector<std::int64_t> RandomState::choice_without_replacement(std::int64_t pop, std::int64_t size) {
  DTASK_CHECK(0 <= size && size <= pop) << "choice(" << pop << ", " << size << ", replace=False)";
  std::vector<std::int64_t> out = permutation(pop);
  out.resize(static_cast<std::size_t>(size));
  return out;
}

Result<std::vector<std::int64_t>> sample_without_replacement(std::int64_t n_population, std::int64_t n_samples,
                                                             RandomState& rng) {
  // sklearn's _sample_without_replacement_check_input.
  if (n_population < 0) {
    return Status::invalid("n_population should be greater than 0, got " + std::to_string(n_population) + ".");
  }
  if (n_samples > n_population) {
    return Status::invalid("n_population should be greater or equal than n_samples, got n_samples > n_population (" +
                           std::to_string(n_samples) + " > " + std::to_string(n_population) + ")");
  }
  if (n_samples < 0) {
    return Status::invalid("negative dimensions are not allowed");  // numpy's, from np.empty
  }
  double ratio = n_population != 0 ? static_cast<double>(n_samples) / static_cast<double>(n_population) : 1.0;
  if (ratio > 0.01 && ratio < 0.99) return rng.choice_without_replacement(n_population, n_samples);
  if (ratio < 0.2) return tracking_selection(n_population, n_samples, rng);
  return reservoir_sampling(n_population, n_samples, rng);
}

}  // namespace dtask::ml_core
