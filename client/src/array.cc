// dtask::Array: what an array is, running it (compute, persist), and the
// graph builders that only move rows and columns around (slices, rechunk,
// concatenate, map_blocks). Arithmetic lives in array_math.cc, file formats
// in array_io.cc.
#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "client/src/array_internal.h"
#include "dtask/client.h"
#include "dtask/builtin_ops.h"

namespace dtask {

using namespace array_internal;

namespace array_internal {

void fail(const std::string& message) { throw ArrayError(message); }

std::string new_name(const std::string& label) { return internal::unique_key(label); }

Delayed chunk_task(const std::string& op, const std::string& name, std::int64_t i, std::vector<TaskArg> args,
                   ResourceList resources) {
  SubmitOptions options{.resources = std::move(resources), .key = name + "-" + std::to_string(i)};
  return DelayedOp(op, std::move(options)).make(std::move(args));
}

Delayed chunk_task(OpName op, const std::string& name, std::int64_t i, std::vector<TaskArg> args,
                   ResourceList resources) {
  DTASK_CHECK(op.takes(args.size())) << op.describe() << ", given " << args.size() << " for " << name;
  return chunk_task(op.str(), name, i, std::move(args), std::move(resources));
}

Array make_array(std::vector<std::int64_t> shape, DType dtype, ChunkGrid grid, std::vector<TaskArg> chunks,
                 std::string name, bool transposed) {
  auto impl = std::make_shared<Array::Impl>();
  impl->shape = std::move(shape);
  impl->dtype = dtype;
  impl->grid = std::move(grid);
  impl->chunks = std::move(chunks);
  impl->name = std::move(name);
  impl->transposed = transposed;
  return Array(std::move(impl));
}

std::vector<std::int64_t> chunk_shape(const Array& array, std::int64_t i) {
  std::vector<std::int64_t> shape = array.shape();
  if (!shape.empty()) shape[0] = array.chunks().size(i);
  return shape;
}

TaskArg list_arg(const std::vector<TaskArg>& items) { return TaskArg(items); }

ValueList int_list(const std::vector<std::int64_t>& values) {
  ValueList out;
  out.reserve(values.size());
  for (std::int64_t v : values) out.emplace_back(v);
  return out;
}

void require_plain(const Array& array, const std::string& what) {
  if (!array.valid()) fail(what + ": the array is empty (default-constructed)");
  if (array.is_transposed()) {
    fail(what + ": " + array.describe() + " is transposed; a transpose is only supported as the left operand of matmul");
  }
}

TaskArg tree_reduce(std::vector<TaskArg> parts, int split_every,
                    const std::function<Delayed(std::vector<TaskArg>, int, std::int64_t)>& combine) {
  if (parts.empty()) fail("cannot reduce an array with no chunks");
  if (split_every < 2) fail("split_every must be at least 2, got " + std::to_string(split_every));
  for (int level = 0; parts.size() > 1; ++level) {
    std::vector<TaskArg> next;
    for (std::size_t start = 0; start < parts.size(); start += static_cast<std::size_t>(split_every)) {
      std::size_t end = std::min(parts.size(), start + static_cast<std::size_t>(split_every));
      std::vector<TaskArg> group(parts.begin() + static_cast<std::ptrdiff_t>(start),
                                 parts.begin() + static_cast<std::ptrdiff_t>(end));
      next.emplace_back(combine(std::move(group), level, static_cast<std::int64_t>(next.size())));
    }
    parts = std::move(next);
  }
  return parts.front();
}

Array blockwise(const Array& input, const std::string& label, std::vector<std::int64_t> out_shape, DType out_dtype,
                const std::function<std::vector<TaskArg>(std::int64_t i)>& args, OpName op) {
  std::string name = new_name(label);
  std::vector<TaskArg> chunks;
  chunks.reserve(static_cast<std::size_t>(input.n_chunks()));
  for (std::int64_t i = 0; i < input.n_chunks(); ++i) chunks.emplace_back(chunk_task(op, name, i, args(i)));
  return make_array(std::move(out_shape), out_dtype, input.chunks(), std::move(chunks), std::move(name));
}

}  // namespace array_internal

namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

/// Stacks gathered chunks along rows into one array, checking each against
/// the shape and dtype the graph promised.
NDArray assemble(const Array& array, const std::vector<Value>& values) {
  std::vector<NDArray> parts;
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string where = "chunk " + std::to_string(i) + " of " + array.name();
    if (!values[i].is<NDArray>()) fail(where + " is a " + values[i].type_name() + ", not an array");
    const NDArray& part = values[i].get<NDArray>();
    auto expected = chunk_shape(array, static_cast<std::int64_t>(i));
    if (part.shape != expected || part.dtype != array.dtype()) {
      fail(where + " is " + part.describe() + ", expected " + std::string(dtype_name(array.dtype())) +
           shape_text(expected));
    }
    parts.push_back(part);
  }
  if (parts.size() == 1) return parts.front();
  NDArray out = NDArray::uninitialized(array.dtype(), array.shape());
  std::byte* o = out.mutable_data<std::byte>();
  for (const NDArray& part : parts) {
    std::memcpy(o, part.data<std::byte>(), part.nbytes());
    o += part.nbytes();
  }
  return out;
}

NDArray transpose_local(const NDArray& a) {
  if (a.shape.size() < 2) return a;
  NDArray out = NDArray::uninitialized(a.dtype, {a.cols(), a.rows()});
  std::size_t item = dtype_size(a.dtype);
  for (std::int64_t r = 0; r < a.rows(); ++r) {
    for (std::int64_t c = 0; c < a.cols(); ++c) {
      std::memcpy(out.mutable_data<std::byte>() + (c * a.rows() + r) * item, a.data<std::byte>() + (r * a.cols() + c) * item,
                  item);
    }
  }
  return out;
}

/// Futures for every chunk: Delayed chunks are submitted in one graph.
std::vector<FutureBase> materialize(Client& client, const Array& array) {
  std::vector<Delayed> pending;
  for (std::int64_t i = 0; i < array.n_chunks(); ++i) {
    const TaskArg& chunk = array.chunk(i);
    if (!chunk.delayed_deps().empty()) pending.push_back(chunk.delayed_deps().front());
  }
  std::vector<FutureBase> submitted = pending.empty() ? std::vector<FutureBase>{} : client.compute(pending);
  std::vector<FutureBase> out;
  std::size_t next = 0;
  for (std::int64_t i = 0; i < array.n_chunks(); ++i) {
    const TaskArg& chunk = array.chunk(i);
    out.push_back(chunk.delayed_deps().empty() ? chunk.future_deps().front() : submitted[next++]);
  }
  return out;
}

std::int64_t normalize_index(std::int64_t index, std::int64_t size) {
  if (index < 0) index += size;
  return std::clamp<std::int64_t>(index, 0, size);
}

}  // namespace

// ---- what it is ----------------------------------------------------------------

const Array::Impl& Array::checked() const {
  if (!impl_) fail("operation on an empty (default-constructed) Array");
  return *impl_;
}

Array Array::from_chunks(std::vector<std::int64_t> shape, DType dtype, ChunkGrid grid, std::vector<TaskArg> chunks,
                         std::string name) {
  if (shape.size() > 2) fail(name + ": dtask arrays are 1-d or 2-d, got shape " + shape_text(shape));
  std::int64_t rows = shape.empty() ? 1 : shape[0];
  if (grid.rows() != rows || static_cast<std::int64_t>(chunks.size()) != grid.n_chunks()) {
    fail(name + ": " + std::to_string(chunks.size()) + " chunks covering " + std::to_string(grid.rows()) +
         " rows do not match shape " + shape_text(shape));
  }
  return make_array(std::move(shape), dtype, std::move(grid), std::move(chunks), std::move(name));
}

const std::vector<std::int64_t>& Array::shape() const { return checked().shape; }
DType Array::dtype() const { return checked().dtype; }
std::int64_t Array::rows() const { return shape().empty() ? 1 : shape()[0]; }
std::int64_t Array::cols() const { return shape().size() < 2 ? 1 : shape()[1]; }
std::int64_t Array::size() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape()) n *= d;
  return n;
}
std::int64_t Array::nbytes() const { return size() * static_cast<std::int64_t>(dtype_size(dtype())); }
const ChunkGrid& Array::chunks() const { return checked().grid; }
const TaskArg& Array::chunk(std::int64_t i) const { return checked().chunks.at(static_cast<std::size_t>(i)); }
const std::string& Array::name() const { return checked().name; }
bool Array::is_transposed() const { return checked().transposed; }

std::string Array::describe() const {
  if (!impl_) return "Array()";
  std::vector<std::int64_t> shown = shape();
  if (is_transposed()) std::reverse(shown.begin(), shown.end());
  return std::string(dtype_name(dtype())) + shape_text(shown) + " in " + std::to_string(n_chunks()) + " chunk" +
         (n_chunks() == 1 ? "" : "s") + " (" + name() + (is_transposed() ? ", transposed" : "") + ")";
}

// ---- running it ------------------------------------------------------------

NDArray Array::compute(Client& client) const {
  checked();
  auto values = client.gather_values(materialize(client, *this));
  if (!values.ok()) throw TaskError(values.status());
  NDArray out = assemble(*this, *values);
  return is_transposed() ? transpose_local(out) : out;
}

Array Array::persist(Client& client) const {
  checked();
  std::vector<TaskArg> held;
  for (const FutureBase& future : materialize(client, *this)) held.emplace_back(future);
  return make_array(shape(), dtype(), chunks(), std::move(held), name(), is_transposed());
}

// ---- building graphs -------------------------------------------------------

Array Array::map_blocks(const std::string& op, std::vector<Value> args, std::optional<DType> out_dtype,
                        std::int64_t out_cols) const {
  return dtask::map_blocks(op, {*this}, std::move(args), out_dtype.value_or(dtype()), out_cols);
}

Array Array::map_blocks(OpName op, std::vector<Value> args, std::optional<DType> out_dtype,
                        std::int64_t out_cols) const {
  return dtask::map_blocks(op, {*this}, std::move(args), out_dtype.value_or(dtype()), out_cols);
}

Array Array::astype(DType to) const {
  require_plain(*this, "astype");
  if (to == dtype()) return *this;
  return blockwise(*this, "astype", shape(), to, [&](std::int64_t i) {
    return std::vector<TaskArg>{chunk(i), std::string(dtype_name(to))};
  }, ops::kAsType);
}

Array Array::slice_rows(std::int64_t begin, std::int64_t end) const {
  require_plain(*this, "slice_rows");
  if (ndim() == 0) fail("slice_rows: cannot slice the 0-d array " + describe());
  begin = normalize_index(begin, rows());
  end = std::max(begin, normalize_index(end, rows()));
  if (begin == end) fail("slice_rows: rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") of " +
                         describe() + " are empty; dtask arrays have at least one row");
  std::string sliced = new_name("slice");
  std::vector<TaskArg> out;
  std::vector<std::int64_t> sizes;
  for (const ChunkPiece& piece : chunks().pieces(begin, end)) {
    sizes.push_back(piece.end - piece.begin);
    if (piece.begin == 0 && piece.end == chunks().size(piece.chunk)) {
      out.push_back(chunk(piece.chunk));  // a whole chunk: no task needed
    } else {
      out.emplace_back(chunk_task_of(ops::kSliceBlock, sliced, static_cast<std::int64_t>(out.size()),
                                     chunk(piece.chunk), piece.begin, piece.end, std::int64_t{0}, cols(), false));
    }
  }
  std::vector<std::int64_t> out_shape = shape();
  out_shape[0] = end - begin;
  return make_array(std::move(out_shape), dtype(), ChunkGrid(std::move(sizes)), std::move(out), sliced);
}

Array Array::slice_cols(std::int64_t begin, std::int64_t end) const {
  require_plain(*this, "slice_cols");
  if (ndim() != 2) fail("slice_cols: " + describe() + " is not 2-d");
  begin = normalize_index(begin, cols());
  end = std::max(begin, normalize_index(end, cols()));
  if (begin == 0 && end == cols()) return *this;
  return blockwise(*this, "slice", {rows(), end - begin}, dtype(), [&](std::int64_t i) {
    return std::vector<TaskArg>{chunk(i), std::int64_t{0}, chunks().size(i), begin, end, false};
  }, ops::kSliceBlock);
}

Array Array::column(std::int64_t j) const {
  require_plain(*this, "column");
  if (ndim() != 2) fail("column: " + describe() + " is not 2-d");
  if (j < -cols() || j >= cols()) fail("column " + std::to_string(j) + " is out of range for " + describe());
  if (j < 0) j += cols();
  return blockwise(*this, "column", {rows()}, dtype(), [&](std::int64_t i) {
    return std::vector<TaskArg>{chunk(i), std::int64_t{0}, chunks().size(i), j, j + 1, true};
  }, ops::kSliceBlock);
}

Array Array::rechunk(std::int64_t chunk_rows) const {
  require_plain(*this, "rechunk");
  return rechunk(ChunkGrid::regular(rows(), chunk_rows));
}

Array Array::rechunk(const ChunkGrid& grid) const {
  require_plain(*this, "rechunk");
  if (grid == chunks()) return *this;
  if (grid.rows() != rows()) {
    fail("rechunk: the new chunks cover " + std::to_string(grid.rows()) + " rows but " + describe() + " has " +
         std::to_string(rows()));
  }
  std::string rechunked = new_name("rechunk");
  std::vector<TaskArg> out;
  for (std::int64_t o = 0; o < grid.n_chunks(); ++o) {
    auto pieces = chunks().pieces(grid.offset(o), grid.offset(o) + grid.size(o));
    if (pieces.size() == 1 && pieces[0].begin == 0 && pieces[0].end == chunks().size(pieces[0].chunk)) {
      out.push_back(chunk(pieces[0].chunk));
      continue;
    }
    std::vector<TaskArg> inputs;
    std::vector<std::int64_t> ranges;
    for (const ChunkPiece& piece : pieces) {
      inputs.push_back(chunk(piece.chunk));
      ranges.insert(ranges.end(), {piece.begin, piece.end});
    }
    out.emplace_back(chunk_task_of(ops::kAssembleRows, rechunked, o, list_arg(inputs), int_list(ranges)));
  }
  return make_array(shape(), dtype(), grid, std::move(out), rechunked);
}

Array Array::T() const {
  const Impl& self = checked();
  // Only a flag: matmul reads A.T() @ B as a reduction over row chunks.
  return make_array(self.shape, self.dtype, self.grid, self.chunks, self.name, !self.transposed);
}

Array concatenate(const std::vector<Array>& arrays, int axis) {
  if (arrays.empty()) fail("concatenate: no arrays given");
  const Array& first = arrays.front();
  for (const Array& a : arrays) {
    require_plain(a, "concatenate");
    if (a.dtype() != first.dtype() || a.ndim() != first.ndim() || a.ndim() == 0) {
      fail("concatenate: " + a.describe() + " does not match " + first.describe());
    }
  }
  if (axis == 0) {
    std::vector<std::int64_t> sizes;
    std::vector<TaskArg> chunks;
    std::vector<std::int64_t> shape = first.shape();
    shape[0] = 0;
    for (const Array& a : arrays) {
      if (a.ndim() == 2 && a.cols() != first.cols()) fail("concatenate: " + a.describe() + " does not match " + first.describe());
      shape[0] += a.rows();
      for (std::int64_t i = 0; i < a.n_chunks(); ++i) {
        sizes.push_back(a.chunks().size(i));
        chunks.push_back(a.chunk(i));
      }
    }
    return make_array(std::move(shape), first.dtype(), ChunkGrid(std::move(sizes)), std::move(chunks), new_name("concatenate"));
  }
  if (axis != 1) fail("concatenate: axis must be 0 or 1, got " + std::to_string(axis));
  std::int64_t total_cols = 0;
  for (const Array& a : arrays) {
    if (a.ndim() != 2 || a.rows() != first.rows()) {
      fail("concatenate along columns: " + a.describe() + " does not match " + first.describe());
    }
    total_cols += a.cols();
  }
  std::vector<Array> aligned;
  for (const Array& a : arrays) aligned.push_back(a.rechunk(first.chunks()));
  return blockwise(first, "concatenate", {first.rows(), total_cols}, first.dtype(), [&](std::int64_t i) {
    std::vector<TaskArg> parts;
    for (const Array& a : aligned) parts.push_back(a.chunk(i));
    return std::vector<TaskArg>{list_arg(parts)};
  }, ops::kConcatCols);
}

namespace {

/// map_blocks for an op named by a string (`def` empty) or by an OpDef.
Array map_blocks_named(const std::string& op, const OpName* def, const std::vector<Array>& inputs,
                       std::vector<Value> args, DType out_dtype, std::int64_t out_cols) {
  if (def != nullptr && !def->takes(inputs.size() + args.size())) {
    fail("map_blocks(" + op + "): " + def->describe() + ", given " + std::to_string(inputs.size()) +
         " input arrays and " + std::to_string(args.size()) + " other arguments");
  }
  if (inputs.empty()) fail("map_blocks(" + op + "): no input arrays");
  const Array& first = inputs.front();
  std::vector<Array> aligned;
  for (const Array& a : inputs) {
    require_plain(a, "map_blocks(" + op + ")");
    if (a.ndim() == 0 || a.rows() != first.rows()) {
      fail("map_blocks(" + op + "): " + a.describe() + " does not have the rows of " + first.describe());
    }
    aligned.push_back(a.rechunk(first.chunks()));
  }
  std::vector<std::int64_t> shape{first.rows()};
  if (out_cols < 0 && first.ndim() == 2) shape.push_back(first.cols());
  if (out_cols > 0) shape.push_back(out_cols);
  std::string name = new_name(op);
  std::vector<TaskArg> chunks;
  chunks.reserve(static_cast<std::size_t>(first.n_chunks()));
  for (std::int64_t i = 0; i < first.n_chunks(); ++i) {
    std::vector<TaskArg> task_args;
    for (const Array& a : aligned) task_args.push_back(a.chunk(i));
    for (const Value& v : args) task_args.emplace_back(v);
    chunks.emplace_back(chunk_task(op, name, i, std::move(task_args)));
  }
  return make_array(std::move(shape), out_dtype, first.chunks(), std::move(chunks), std::move(name));
}

}  // namespace

Array map_blocks(const std::string& op, const std::vector<Array>& inputs, std::vector<Value> args, DType out_dtype,
                 std::int64_t out_cols) {
  return map_blocks_named(op, nullptr, inputs, std::move(args), out_dtype, out_cols);
}

Array map_blocks(OpName op, const std::vector<Array>& inputs, std::vector<Value> args, DType out_dtype,
                 std::int64_t out_cols) {
  return map_blocks_named(op.str(), &op, inputs, std::move(args), out_dtype, out_cols);
}

}  // namespace dtask
