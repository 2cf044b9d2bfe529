// Graph builders for arithmetic on dtask::Array: elementwise ops with
// broadcasting, reductions as trees, and matrix products. Shapes and dtypes
// are checked here, when the graph is built, so that a mistake names both
// operands before anything runs.
#include <algorithm>

#include "client/src/array_internal.h"
#include "dtask/builtin_ops.h"

namespace dtask {

using namespace array_internal;

namespace {

bool is_comparison(const std::string& op) {
  return op == "lt" || op == "le" || op == "gt" || op == "ge" || op == "eq" || op == "ne";
}

void check_binary_op(const std::string& op) {
  static const char* const kOps[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                     "lt",  "le",  "gt",  "ge",  "eq",  "ne"};
  for (const char* known : kOps) {
    if (op == known) return;
  }
  fail("elementwise: unknown op '" + op + "' (known: add sub mul div pow maximum minimum lt le gt ge eq ne)");
}

/// The result dtype of `op` on operands of these dtypes (as the worker computes it).
DType binary_dtype(const std::string& op, DType a, DType b) {
  if (is_comparison(op)) return DType::kBool;
  DType common = promote_types(a, b);
  if (op == "div" && !is_floating(common)) return DType::kFloat64;
  return common;
}

/// The dtype a number takes next to an array of dtype `like` (the worker's rule).
DType scalar_dtype(double value, DType like) {
  if (is_floating(like)) return like;
  return value == static_cast<double>(static_cast<std::int64_t>(value)) ? like : DType::kFloat64;
}

bool is_row_vector_of(const Array& vector, const Array& matrix) {
  return vector.ndim() == 1 && matrix.ndim() == 2 && vector.rows() == matrix.cols() && vector.n_chunks() == 1;
}

bool is_single_value(const Array& a) { return a.size() == 1 && a.n_chunks() == 1; }

Array elementwise_small_right(const std::string& op, const Array& big, const TaskArg& small, DType small_dtype) {
  return blockwise(big, op, big.shape(), binary_dtype(op, big.dtype(), small_dtype), [&](std::int64_t i) {
    return std::vector<TaskArg>{op, big.chunk(i), small};
  }, ops::kElemwise);
}

Array elementwise_small_left(const std::string& op, const TaskArg& small, DType small_dtype, const Array& big) {
  return blockwise(big, op, big.shape(), binary_dtype(op, small_dtype, big.dtype()), [&](std::int64_t i) {
    return std::vector<TaskArg>{op, small, big.chunk(i)};
  }, ops::kElemwise);
}

}  // namespace

// ---- elementwise -----------------------------------------------------------------

Array elementwise(const std::string& op, const Array& a, const Array& b) {
  check_binary_op(op);
  require_plain(a, op);
  require_plain(b, op);
  if (a.shape() == b.shape() && a.ndim() > 0) {
    Array aligned = b.rechunk(a.chunks());
    return blockwise(a, op, a.shape(), binary_dtype(op, a.dtype(), b.dtype()), [&](std::int64_t i) {
      return std::vector<TaskArg>{op, a.chunk(i), aligned.chunk(i)};
    }, ops::kElemwise);
  }
  if (is_row_vector_of(b, a) || is_single_value(b)) return elementwise_small_right(op, a, b.chunk(0), b.dtype());
  if (is_row_vector_of(a, b) || is_single_value(a)) return elementwise_small_left(op, a.chunk(0), a.dtype(), b);
  fail("elementwise " + op + ": cannot broadcast " + a.describe() + " with " + b.describe() +
       " (shapes must be equal, or one a scalar or a row vector with one value per column)");
}

Array elementwise(const std::string& op, const Array& a, double b) {
  check_binary_op(op);
  require_plain(a, op);
  return elementwise_small_right(op, a, b, scalar_dtype(b, a.dtype()));
}

Array elementwise(const std::string& op, double a, const Array& b) {
  check_binary_op(op);
  require_plain(b, op);
  return elementwise_small_left(op, a, scalar_dtype(a, b.dtype()), b);
}

Array elementwise(const std::string& op, const Array& a, const NDArray& row) {
  check_binary_op(op);
  require_plain(a, op);
  bool fits = row.size() == 1 || (a.ndim() == 2 && row.shape.size() == 1 && row.shape[0] == a.cols()) ||
              row.shape == a.shape();
  if (!fits || row.shape.size() > 2) {
    fail("elementwise " + op + ": cannot broadcast local " + row.describe() + " with " + a.describe());
  }
  return elementwise_small_right(op, a, Value(row), row.dtype);
}

Array elementwise(const std::string& op, const Array& a) {
  static const char* const kOps[] = {"neg", "abs", "exp", "log", "sqrt", "square", "sigmoid"};
  if (std::find(std::begin(kOps), std::end(kOps), op) == std::end(kOps)) {
    fail("elementwise: unknown function '" + op + "' (known: neg abs exp log sqrt square sigmoid)");
  }
  require_plain(a, op);
  bool to_float = op == "exp" || op == "log" || op == "sqrt" || op == "sigmoid";
  DType out = to_float && !is_floating(a.dtype()) ? DType::kFloat64
              : a.dtype() == DType::kBool         ? DType::kInt64
                                                  : a.dtype();
  return blockwise(a, op, a.shape(), out, [&](std::int64_t i) {
    return std::vector<TaskArg>{op, a.chunk(i)};
  }, ops::kUnary);
}

Array maximum(const Array& a, double b) { return elementwise("maximum", a, b); }
Array minimum(const Array& a, double b) { return elementwise("minimum", a, b); }

// ---- reductions --------------------------------------------------------------

namespace {

DType reduction_dtype(const std::string& kind, DType input) {
  if (kind == "sum") return is_floating(input) ? input : DType::kInt64;
  if (kind == "min" || kind == "max") return input;
  if (kind == "argmin" || kind == "argmax") return DType::kInt64;
  return DType::kFloat64;
}

/// A single-chunk array holding a reduction's result.
Array small_result(std::vector<std::int64_t> shape, DType dtype, const Delayed& task, std::string name) {
  std::int64_t rows = shape.empty() ? 1 : shape[0];
  return make_array(std::move(shape), dtype, ChunkGrid({rows}), {TaskArg(task)}, std::move(name));
}

Array reduce(const Array& a, const std::string& kind, std::optional<int> axis, std::int64_t ddof,
             ReductionOptions options) {
  require_plain(a, kind);
  if (a.ndim() == 0) fail(kind + ": " + a.describe() + " is 0-d");
  if (axis && (*axis < -a.ndim() || *axis >= a.ndim())) {
    fail(kind + ": axis " + std::to_string(*axis) + " is out of bounds for " + a.describe());
  }
  int ax = axis ? (*axis + a.ndim()) % a.ndim() : -1;
  DType out_dtype = reduction_dtype(kind, a.dtype());
  if (ax == 1) {
    return blockwise(a, kind, {a.rows()}, out_dtype, [&](std::int64_t i) {
      return std::vector<TaskArg>{kind, ddof, a.chunk(i)};
    }, ops::kReduceRows);
  }
  bool all = ax == -1 || a.ndim() == 1;
  std::string name = new_name(kind);
  std::vector<TaskArg> parts;
  for (std::int64_t i = 0; i < a.n_chunks(); ++i) {
    // Arg-reductions over everything report flat indices, as numpy does.
    std::int64_t offset = a.chunks().offset(i) * (all ? a.cols() : 1);
    parts.emplace_back(chunk_task_of(ops::kReducePart, name + "-part", i, kind, all, a.chunk(i), offset));
  }
  TaskArg root = tree_reduce(std::move(parts), options.split_every,
                             [&](std::vector<TaskArg> group, int level, std::int64_t index) {
                               return chunk_task_of(ops::kReduceCombine, name + "-combine-" + std::to_string(level),
                                                    index, kind, list_arg(group));
                             });
  Delayed final_task = chunk_task_of(ops::kReduceFinal, name, 0, kind, ddof, root);
  std::vector<std::int64_t> shape;
  if (!all) shape.push_back(a.cols());
  return small_result(std::move(shape), out_dtype, final_task, name);
}

}  // namespace

Array Array::sum(std::optional<int> axis, ReductionOptions options) const { return reduce(*this, "sum", axis, 0, options); }
Array Array::mean(std::optional<int> axis, ReductionOptions options) const {
  return reduce(*this, "mean", axis, 0, options);
}
Array Array::var(std::optional<int> axis, int ddof, ReductionOptions options) const {
  return reduce(*this, "var", axis, ddof, options);
}
Array Array::stddev(std::optional<int> axis, int ddof, ReductionOptions options) const {
  return reduce(*this, "std", axis, ddof, options);
}
Array Array::min(std::optional<int> axis, ReductionOptions options) const { return reduce(*this, "min", axis, 0, options); }
Array Array::max(std::optional<int> axis, ReductionOptions options) const { return reduce(*this, "max", axis, 0, options); }
Array Array::argmin(std::optional<int> axis, ReductionOptions options) const {
  return reduce(*this, "argmin", axis, 0, options);
}
Array Array::argmax(std::optional<int> axis, ReductionOptions options) const {
  return reduce(*this, "argmax", axis, 0, options);
}

// ---- matrix products ---------------------------------------------------------------

namespace {

/// A.T() @ B: one crossprod per row chunk, summed by a tree.
Array crossprod(const Array& a, const Array& b, ReductionOptions options) {
  if (a.rows() != b.rows()) {
    fail("matmul: " + a.describe() + " and " + b.describe() + " do not align (" + std::to_string(a.rows()) +
         " rows vs " + std::to_string(b.rows()) + ")");
  }
  Array aligned = b.rechunk(a.chunks());
  std::string name = new_name("crossprod");
  std::vector<TaskArg> parts;
  for (std::int64_t i = 0; i < a.n_chunks(); ++i) {
    parts.emplace_back(chunk_task_of(ops::kCrossprod, name + "-part", i, a.chunk(i), aligned.chunk(i)));
  }
  TaskArg root = tree_reduce(std::move(parts), options.split_every,
                             [&](std::vector<TaskArg> group, int level, std::int64_t index) {
                               return chunk_task_of(ops::kReduceCombine, name + "-" + std::to_string(level), index,
                                                    std::string("sum"), list_arg(group));
                             });
  std::vector<std::int64_t> shape;
  if (a.ndim() == 2) shape.push_back(a.cols());
  if (b.ndim() == 2) shape.push_back(b.cols());
  // With one chunk the crossprod task itself is the result.
  return make_array(shape, DType::kFloat64, ChunkGrid({shape.empty() ? 1 : shape[0]}), {root}, name);
}

std::vector<std::int64_t> blockwise_product_shape(const Array& a, const std::vector<std::int64_t>& w_shape,
                                                  const std::string& w_text) {
  if (a.ndim() != 2 || w_shape.empty() || w_shape.size() > 2 || w_shape[0] != a.cols()) {
    fail("matmul: " + a.describe() + " and " + w_text + " do not align");
  }
  std::vector<std::int64_t> shape{a.rows()};
  if (w_shape.size() == 2) shape.push_back(w_shape[1]);
  return shape;
}

}  // namespace

Array matmul(const Array& a, const Array& b, ReductionOptions options) {
  if (!a.valid() || !b.valid()) fail("matmul: an operand is an empty (default-constructed) Array");
  if (b.is_transposed()) fail("matmul: a transposed right operand (" + b.describe() + ") is not supported");
  if (a.is_transposed()) return crossprod(a, b, options);
  if (b.n_chunks() != 1) {
    fail("matmul: the right operand " + b.describe() +
         " must fit in one chunk (for A.T() @ B, transpose the left operand)");
  }
  auto shape = blockwise_product_shape(a, b.shape(), b.describe());
  TaskArg w = b.chunk(0);
  return blockwise(a, "matmul", std::move(shape), DType::kFloat64, [&](std::int64_t i) {
    return std::vector<TaskArg>{a.chunk(i), w};
  }, ops::kMatmulBlock);
}

Array matmul(const Array& a, const NDArray& w) {
  require_plain(a, "matmul");
  auto shape = blockwise_product_shape(a, w.shape, "local " + w.describe());
  return blockwise(a, "matmul", std::move(shape), DType::kFloat64, [&](std::int64_t i) {
    return std::vector<TaskArg>{a.chunk(i), Value(w)};
  }, ops::kMatmulBlock);
}

}  // namespace dtask
