// How an array is cut into chunks. dtask arrays are chunked along rows only
// (axis 0); every chunk holds whole rows, with all columns. That is the shape
// machine learning on tall data needs (dask-ml asks the same of its inputs),
// and it keeps reductions, matrix products and per-block solvers simple.
#pragma once

#include <cstdint>
#include <vector>

namespace dtask {

/// A slice of one chunk: rows [begin, end) of chunk `chunk`, counted inside it.
struct ChunkPiece {
  std::int64_t chunk = 0;
  std::int64_t begin = 0;
  std::int64_t end = 0;
  bool operator==(const ChunkPiece&) const = default;
};

/// Chunk sizes along rows. Immutable value type; thread-safe to share.
class ChunkGrid {
 public:
  ChunkGrid() = default;
  /// Explicit sizes; each must be > 0 (an empty array has no chunks).
  explicit ChunkGrid(std::vector<std::int64_t> sizes);
  /// `rows` cut into chunks of `chunk_rows` (the last one smaller).
  static ChunkGrid regular(std::int64_t rows, std::int64_t chunk_rows);
  /// Rows per chunk so that a chunk holds about `target_bytes` (Dask's
  /// "auto" chunking uses 128 MiB); at least 1.
  static std::int64_t auto_chunk_rows(std::int64_t rows, std::int64_t row_bytes,
                                      std::int64_t target_bytes = std::int64_t{128} << 20);

  std::int64_t n_chunks() const { return static_cast<std::int64_t>(sizes_.size()); }
  std::int64_t rows() const { return offsets_.empty() ? 0 : offsets_.back(); }
  std::int64_t size(std::int64_t chunk) const { return sizes_.at(static_cast<std::size_t>(chunk)); }
  /// First row of `chunk` in the whole array.
  std::int64_t offset(std::int64_t chunk) const { return offsets_.at(static_cast<std::size_t>(chunk)); }
  const std::vector<std::int64_t>& sizes() const { return sizes_; }
  /// The chunk holding `row` (0 <= row < rows()).
  std::int64_t chunk_of_row(std::int64_t row) const;
  /// The chunk pieces covering rows [begin, end) of the array, in order.
  std::vector<ChunkPiece> pieces(std::int64_t begin, std::int64_t end) const;
  /// True when every chunk but the last has the first chunk's size.
  bool is_regular() const;

  bool operator==(const ChunkGrid& other) const { return sizes_ == other.sizes_; }

 private:
  std::vector<std::int64_t> sizes_;
  std::vector<std::int64_t> offsets_;  // n_chunks + 1 entries: offsets_[i] = first row of chunk i
};

}  // namespace dtask
