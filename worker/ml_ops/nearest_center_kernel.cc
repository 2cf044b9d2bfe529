// See nearest_center_kernel.h. Built with -O3 (ml_core/CMakeLists.txt) so
// that the fixed-size tile loops are unrolled and vectorised.
#include "worker/ml_ops/nearest_center_kernel.h"

#include "ml_core/kernel_clones.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dtask::ml_ops {

namespace {

using ml_core::kernels::Lanes;
using ml_core::kernels::load;

constexpr std::int64_t kTileCenters = ml_core::kernels::kLanes;  // one AVX2 register of doubles
constexpr int kTileRows = 8;  // rows per tile: 8 accumulators; measured faster than 4

/// acc[r] = (x_r . c_j) for the R rows starting at `x` and the kTileCenters
/// centers whose feature-major columns start at `ct` (row stride padded_k).
template <int R>
inline void dot_tile(const double* x, std::int64_t d, const double* ct, std::int64_t padded_k, Lanes (&acc)[R]) {
  for (auto& a : acc) a = Lanes{};
  for (std::int64_t f = 0; f < d; ++f) {
    const Lanes c = load(ct + f * padded_k);
    for (int r = 0; r < R; ++r) acc[r] += x[r * d + f] * c;
  }
}

/// ||x||^2 summed in kTileCenters interleaved lanes, then across them in a
/// fixed order: the same value for a row wherever it is.
double squared_norm(const double* x, std::int64_t d) {
  Lanes lanes{};
  std::int64_t f = 0;
  for (; f + kTileCenters <= d; f += kTileCenters) {
    const Lanes v = load(x + f);
    lanes += v * v;
  }
  double tail = 0;
  for (; f < d; ++f) tail += x[f] * x[f];
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + tail;
}

/// The smallest of the lanes of `best` (ties: the lowest center index), as
/// a scalar argmin over all centers in order would find it.
inline void reduce_lanes(Lanes best, Lanes index, double* best_d2, std::int64_t* label) {
  double b = best[0], i = index[0];
  for (int j = 1; j < kTileCenters; ++j) {
    const bool better = best[j] < b || (best[j] == b && index[j] < i);
    b = better ? best[j] : b;
    i = better ? index[j] : i;
  }
  *best_d2 = b;
  *label = static_cast<std::int64_t>(i);
}

/// R rows at `x` (row index `first` of the block): nearest centers, and all
/// distances when `distances` is non-null. Returns the first non-finite row or -1.
/// The running minimum is kept per lane (branch-free blends; a scalar argmin
/// mispredicted on most rows) and reduced across lanes at the end.
template <int R>
inline std::int64_t nearest_for_rows(const CenterPanel& panel, const double* x, std::int64_t first,
                                     std::int64_t* labels, double* best_d2, double* distances) {
  const std::int64_t d = panel.d(), k = panel.k(), padded_k = panel.padded_k();
  double x_norm[R];
  Lanes best[R], best_index[R];
  for (int r = 0; r < R; ++r) {
    x_norm[r] = squared_norm(x + r * d, d);
    if (!std::isfinite(x_norm[r])) return first + r;
    best[r] = Lanes{} + std::numeric_limits<double>::infinity();
    best_index[r] = Lanes{};
  }
  Lanes index{0, 1, 2, 3};  // the centers of the tile, as doubles (exact below 2^53)
  for (std::int64_t j0 = 0; j0 < padded_k; j0 += kTileCenters, index += kTileCenters) {
    Lanes acc[R];
    dot_tile<R>(x, d, panel.transposed() + j0, padded_k, acc);
    const Lanes c_norms = load(panel.squared_norms() + j0);  // padding centers: +inf, so they never win
    for (int r = 0; r < R; ++r) {
      Lanes d2 = x_norm[r] - 2.0 * acc[r] + c_norms;
      d2 = d2 > 0.0 ? d2 : Lanes{};  // the expansion can round below 0
      const auto closer = d2 < best[r];
      best[r] = closer ? d2 : best[r];
      best_index[r] = closer ? index : best_index[r];
      if (distances != nullptr) {
        for (std::int64_t j = 0; j < kTileCenters && j0 + j < k; ++j) distances[(first + r) * k + j0 + j] = d2[j];
      }
    }
  }
  for (int r = 0; r < R; ++r) reduce_lanes(best[r], best_index[r], &best_d2[first + r], &labels[first + r]);
  return -1;
}

}  // namespace

CenterPanel::CenterPanel(const double* centers, std::int64_t k, std::int64_t d)
    : k_(k),
      d_(d),
      padded_k_((k + kTileCenters - 1) / kTileCenters * kTileCenters),
      transposed_(static_cast<std::size_t>(d * padded_k_), 0.0),
      norms_(static_cast<std::size_t>(padded_k_), std::numeric_limits<double>::infinity()) {
  for (std::int64_t j = 0; j < k; ++j) {
    for (std::int64_t f = 0; f < d; ++f) transposed_[static_cast<std::size_t>(f * padded_k_ + j)] = centers[j * d + f];
    norms_[static_cast<std::size_t>(j)] = squared_norm(centers + j * d, d);
  }
}

DTASK_KERNEL_CLONES
std::int64_t nearest_centers(const CenterPanel& panel, const double* x, std::int64_t rows, std::int64_t* labels,
                             double* best_d2, double* distances) {
  const std::int64_t d = panel.d();
  std::int64_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows) {
    std::int64_t bad = nearest_for_rows<kTileRows>(panel, x + r * d, r, labels, best_d2, distances);
    if (bad >= 0) return bad;
  }
  for (; r < rows; ++r) {
    std::int64_t bad = nearest_for_rows<1>(panel, x + r * d, r, labels, best_d2, distances);
    if (bad >= 0) return bad;
  }
  return -1;
}

DTASK_KERNEL_CLONES
void add_rows_by_label(const double* x, std::int64_t rows, std::int64_t d, const std::int64_t* labels, double* sums,
                       double* counts) {
  for (std::int64_t r = 0; r < rows; ++r) {
    double* s = sums + labels[r] * d;
    const double* row = x + r * d;
    for (std::int64_t f = 0; f < d; ++f) s[f] += row[f];
    counts[labels[r]] += 1;
  }
}

}  // namespace dtask::ml_ops
