// Random arrays generated on the workers, as dask.array.random. Each row is
// drawn from its own stream keyed by (seed, row), so the same seed gives the
// same array whatever the chunking or the number of workers.
//
//   auto X = dtask::random::normal({10'000'000, 20}, {.seed = 42, .chunk_rows = 500'000});
#pragma once

#include <cstdint>
#include <vector>

#include "dtask/array.h"

namespace dtask::random {

struct RandomOptions {
  std::int64_t seed = 0;
  std::int64_t chunk_rows = 0;  // 0: about 128 MiB per chunk
  DType dtype = DType::kFloat64;  // float32 or float64
};

/// Normal(loc, scale) samples of shape {rows} or {rows, cols}.
Array normal(const std::vector<std::int64_t>& shape, RandomOptions options = {}, double loc = 0.0, double scale = 1.0);
/// Uniform samples in [low, high).
Array uniform(const std::vector<std::int64_t>& shape, RandomOptions options = {}, double low = 0.0, double high = 1.0);

}  // namespace dtask::random
