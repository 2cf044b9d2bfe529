// The CPU inner loop of KMeans: squared distances from a block of rows to k
// centers, the nearest center per row, and per-center sums of rows.
//
// Why not Eigen's GEMM: with k and d in the tens, Eigen spends as long
// packing each 2048-row block as multiplying it, and our portable build only
// lets it use SSE2. This kernel keeps an 8-row x 4-center tile of dot products
// in registers, reads the rows in place, and is compiled twice (AVX2+FMA and
// baseline x86-64, picked at load time by the CPU), so one binary is fast on
// new machines and still runs on old ones.
//
// Each row's distances are computed in the same order whatever block it is
// in, so labels do not depend on the chunking.
#pragma once

#include <cstdint>
#include <vector>

namespace dtask::ml_ops {

/// k centers of d features, laid out for the kernel: transposed (feature-major)
/// and padded to whole tiles; padding centers are infinitely far away.
class CenterPanel {
 public:
  /// `centers` is row-major [k, d], k >= 1.
  CenterPanel(const double* centers, std::int64_t k, std::int64_t d);

  std::int64_t k() const { return k_; }
  std::int64_t d() const { return d_; }
  std::int64_t padded_k() const { return padded_k_; }
  const double* transposed() const { return transposed_.data(); }  // [d, padded_k]
  const double* squared_norms() const { return norms_.data(); }    // [padded_k]

 private:
  std::int64_t k_, d_, padded_k_;
  std::vector<double> transposed_;
  std::vector<double> norms_;
};

/// For `rows` rows of `x` (row-major, panel.d() columns): the nearest center
/// in `labels[r]` and its squared distance in `best_d2[r]`; with `distances`
/// non-null also every squared distance there ([rows, k], row-major).
/// Distances are clamped at 0 (the expansion ||x||^2 - 2 x.c + ||c||^2 can
/// round below). Returns the first row whose squared norm is not finite (NaN
/// or infinite input), or -1; rows after it are not computed.
std::int64_t nearest_centers(const CenterPanel& panel, const double* x, std::int64_t rows, std::int64_t* labels,
                             double* best_d2, double* distances);

/// sums[labels[r]] += x[r] and counts[labels[r]] += 1 for `rows` rows of `x`
/// (row-major, d columns); sums is [k, d], counts [k].
void add_rows_by_label(const double* x, std::int64_t rows, std::int64_t d, const std::int64_t* labels, double* sums,
                       double* counts);

}  // namespace dtask::ml_ops
