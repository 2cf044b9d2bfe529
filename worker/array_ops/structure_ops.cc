// Ops that cut and join chunks without arithmetic:
//   slice_block(chunk, r0, r1, c0, c1, drop_cols)  rows/columns of one chunk
//   assemble_rows([chunks], [b0, e0, b1, e1, ...]) one output chunk of a rechunk
//   concat_cols([chunks])                          joins row blocks side by side
//   split_block(chunk, seed, index, n_test, test, shuffle)
//                                                  one side of a train/test split of a chunk
#include <cstring>
#include <numeric>

#include "worker/array_ops/array_kernels_internal.h"
#include "worker/array_ops/array_ops.h"
#include "worker/array_ops/row_rng_internal.h"

namespace dtask::array_ops {

namespace {

NDArray slice_block(const NDArray& chunk, std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1,
                    bool drop_cols) {
  NDArray out = copy_block(chunk, r0, r1, c0, chunk.shape.size() == 2 ? c1 : 0);
  if (drop_cols) {
    if (out.shape.size() != 2 || out.cols() != 1) {
      throw std::invalid_argument("slice_block: cannot drop the columns of " + out.describe());
    }
    out.shape = {out.rows()};
  }
  return out;
}

NDArray assemble_rows(const ValueList& chunks, const std::vector<std::int64_t>& ranges) {
  if (ranges.size() != 2 * chunks.size()) {
    throw std::invalid_argument("assemble_rows: " + std::to_string(chunks.size()) + " chunks but " +
                                std::to_string(ranges.size()) + " range bounds");
  }
  std::vector<NDArray> parts;
  parts.reserve(chunks.size());
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const NDArray& chunk = as_array(chunks[i]);
    if (ranges[2 * i] == 0 && ranges[2 * i + 1] == chunk.rows() && chunks.size() == 1) return chunk;
    parts.push_back(copy_block(chunk, ranges[2 * i], ranges[2 * i + 1], 0, chunk.cols()));
  }
  return concat_rows(parts);
}

NDArray concat_cols(const ValueList& chunks) {
  if (chunks.empty()) throw std::invalid_argument("concat_cols: nothing to join");
  const NDArray& first = as_array(chunks.front());
  std::int64_t total = 0;
  for (const Value& v : chunks) {
    const NDArray& a = as_array(v);
    if (a.dtype != first.dtype || a.rows() != first.rows() || a.shape.empty() || a.shape.size() > 2) {
      throw std::invalid_argument("concat_cols: cannot join " + a.describe() + " to " + first.describe());
    }
    total += a.cols();
  }
  NDArray out = NDArray::uninitialized(first.dtype, {first.rows(), total});
  std::size_t item = dtype_size(first.dtype);
  std::int64_t col = 0;
  for (const Value& v : chunks) {
    const NDArray& a = as_array(v);
    for (std::int64_t r = 0; r < a.rows(); ++r) {
      std::memcpy(out.mutable_data<std::byte>() + (r * total + col) * item, a.data<std::byte>() + r * a.cols() * item,
                  a.cols() * item);
    }
    col += a.cols();
  }
  return out;
}

/// The rows `rows` of a 1-d or 2-d array, in that order.
NDArray take_rows(const NDArray& array, const std::vector<std::int64_t>& rows) {
  std::vector<std::int64_t> shape = array.shape;
  shape[0] = static_cast<std::int64_t>(rows.size());
  NDArray out = NDArray::uninitialized(array.dtype, shape);
  const std::size_t row_bytes = dtype_size(array.dtype) * static_cast<std::size_t>(array.cols());
  const std::byte* from = array.data<std::byte>();
  std::byte* to = out.mutable_data<std::byte>();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(to + i * row_bytes, from + static_cast<std::size_t>(rows[i]) * row_bytes, row_bytes);
  }
  return out;
}

constexpr std::uint64_t kSplitStream = 0x5b1;

/// The test rows (`test`) or the train rows of a chunk split in two. With
/// `shuffle`, the chunk's rows are permuted by a (seed, chunk index) stream
/// and the first n_test taken as the test set, so X and y split alike; without
/// it the last n_test rows are the test set (scikit-learn's shuffle=False).
NDArray split_block(const NDArray& chunk, std::int64_t seed, std::int64_t index, std::int64_t n_test, bool test,
                    bool shuffle) {
  if (chunk.shape.empty()) throw std::invalid_argument("split_block: cannot split a 0-d array");
  const std::int64_t n = chunk.rows();
  if (n_test < 0 || n_test > n) {
    throw std::invalid_argument("split_block: " + std::to_string(n_test) + " test rows of " + std::to_string(n));
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (shuffle) {
    RowRng rng(seed, kSplitStream, index);
    for (std::int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
      auto j = static_cast<std::int64_t>(rng.uniform() * static_cast<double>(i + 1));
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
  } else {
    std::rotate(order.begin(), order.end() - n_test, order.end());  // the last n_test first
  }
  auto middle = order.begin() + n_test;
  return take_rows(chunk, test ? std::vector<std::int64_t>(order.begin(), middle)
                               : std::vector<std::int64_t>(middle, order.end()));
}

}  // namespace

void register_structure_ops(OpRegistry& registry) {
  must_register(registry.add(ops::kSliceBlock, slice_block));
  must_register(registry.add(ops::kAssembleRows, [](const ValueList& chunks, const ValueList& ranges) {
    return assemble_rows(chunks, int_list(Value(ranges), "argument 1 of op 'assemble_rows'"));
  }));
  must_register(registry.add(ops::kConcatCols, concat_cols));
  // take_block_rows(chunk, rows): the chunk's rows at the int64 indices `rows`
  // (a cross-validation fold's part of this chunk), in that order.
  must_register(registry.add(ops::kTakeBlockRows, [](const NDArray& chunk, const NDArray& rows) {
    if (chunk.shape.empty()) throw std::invalid_argument("take_block_rows: cannot take rows of a 0-d array");
    if (rows.dtype != DType::kInt64 || rows.shape.size() != 1) {
      throw std::invalid_argument("take_block_rows: rows must be int64 [m], got " + rows.describe());
    }
    std::vector<std::int64_t> picked(rows.data<std::int64_t>(), rows.data<std::int64_t>() + rows.size());
    for (std::int64_t r : picked) {
      if (r < 0 || r >= chunk.rows()) {
        throw std::invalid_argument("take_block_rows: row " + std::to_string(r) + " outside the chunk's " +
                                    std::to_string(chunk.rows()));
      }
    }
    return take_rows(chunk, picked);
  }));
  must_register(registry.add(ops::kSplitBlock, split_block));
}

}  // namespace dtask::array_ops
