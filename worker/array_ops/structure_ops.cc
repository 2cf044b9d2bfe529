// Ops that cut and join chunks without arithmetic:
//   slice_block(chunk, r0, r1, c0, c1, drop_cols)  rows/columns of one chunk
//   assemble_rows([chunks], [b0, e0, b1, e1, ...]) one output chunk of a rechunk
//   concat_cols([chunks])                          joins row blocks side by side
#include <cstring>

#include "worker/array_ops/array_kernels_internal.h"
#include "worker/array_ops/array_ops.h"

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

}  // namespace

void register_structure_ops(OpRegistry& registry) {
  must_register(registry.add("slice_block", [](const std::vector<Value>& args) {
    expect_arity(args, 6, "slice_block");
    return Value(slice_block(arg<NDArray>(args, 0, "slice_block"), arg<std::int64_t>(args, 1, "slice_block"),
                             arg<std::int64_t>(args, 2, "slice_block"), arg<std::int64_t>(args, 3, "slice_block"),
                             arg<std::int64_t>(args, 4, "slice_block"), arg<bool>(args, 5, "slice_block")));
  }));
  must_register(registry.add("assemble_rows", [](const std::vector<Value>& args) {
    expect_arity(args, 2, "assemble_rows");
    return Value(assemble_rows(arg<ValueList>(args, 0, "assemble_rows"), arg_ints(args, 1, "assemble_rows")));
  }));
  must_register(registry.add("concat_cols", [](const std::vector<Value>& args) {
    expect_arity(args, 1, "concat_cols");
    return Value(concat_cols(arg<ValueList>(args, 0, "concat_cols")));
  }));
}

}  // namespace dtask::array_ops
