#include "dtask/chunk_grid.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dtask {

ChunkGrid::ChunkGrid(std::vector<std::int64_t> sizes) : sizes_(std::move(sizes)) {
  offsets_.reserve(sizes_.size() + 1);
  offsets_.push_back(0);
  for (std::int64_t size : sizes_) {
    if (size <= 0) throw std::invalid_argument("chunk sizes must be positive, got " + std::to_string(size));
    offsets_.push_back(offsets_.back() + size);
  }
}

ChunkGrid ChunkGrid::regular(std::int64_t rows, std::int64_t chunk_rows) {
  if (rows < 0) throw std::invalid_argument("rows must be >= 0, got " + std::to_string(rows));
  if (chunk_rows <= 0) throw std::invalid_argument("chunk rows must be positive, got " + std::to_string(chunk_rows));
  std::vector<std::int64_t> sizes;
  sizes.reserve(static_cast<std::size_t>((rows + chunk_rows - 1) / chunk_rows));
  for (std::int64_t start = 0; start < rows; start += chunk_rows) sizes.push_back(std::min(chunk_rows, rows - start));
  return ChunkGrid(std::move(sizes));
}

std::int64_t ChunkGrid::auto_chunk_rows(std::int64_t rows, std::int64_t row_bytes, std::int64_t target_bytes) {
  std::int64_t by_bytes = std::max<std::int64_t>(1, target_bytes / std::max<std::int64_t>(1, row_bytes));
  return std::max<std::int64_t>(1, std::min(by_bytes, rows));
}

std::int64_t ChunkGrid::chunk_of_row(std::int64_t row) const {
  if (row < 0 || row >= rows()) {
    throw std::out_of_range("row " + std::to_string(row) + " outside [0, " + std::to_string(rows()) + ")");
  }
  auto it = std::upper_bound(offsets_.begin(), offsets_.end(), row);
  return static_cast<std::int64_t>(it - offsets_.begin()) - 1;
}

std::vector<ChunkPiece> ChunkGrid::pieces(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end > rows() || begin > end) {
    throw std::out_of_range("rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside [0, " +
                            std::to_string(rows()) + ")");
  }
  std::vector<ChunkPiece> out;
  if (begin == end) return out;
  for (std::int64_t chunk = chunk_of_row(begin); chunk < n_chunks() && offset(chunk) < end; ++chunk) {
    std::int64_t first = offset(chunk);
    out.push_back({chunk, std::max(begin, first) - first, std::min(end, first + size(chunk)) - first});
  }
  return out;
}

bool ChunkGrid::is_regular() const {
  for (std::size_t i = 0; i + 1 < sizes_.size(); ++i) {
    if (sizes_[i] != sizes_.front()) return false;
  }
  return sizes_.size() < 2 || sizes_.back() <= sizes_.front();
}

}  // namespace dtask
