// One pass over a block of doubles that says whether all are finite: the
// check every estimator runs on its input before it fits, fast enough to
// run on each 40 MB chunk an out-of-core fit streams (a branch per element
// took as long as the SGD update itself).
#pragma once

#include <cstdint>

namespace dtask::ml_core {

/// True when none of v[0..n) is NaN or +-infinity.
bool all_finite(const double* v, std::int64_t n);

}  // namespace dtask::ml_core
