// dtask::Array: a chunked n-d array (1-d or 2-d) whose chunks are tasks on
// the cluster, as dask.array. Chunks split rows only (see chunk_grid.h); each
// chunk is one task key. Building an Array builds a graph and runs nothing;
// compute() gathers the result into a local NDArray, persist() keeps the
// chunks on the workers.
//
//   dtask::Client client;
//   auto X = dtask::Array::from_npy("data.npy", 100'000);      // lazy, read by workers
//   auto means = X.mean(0).compute(client);                    // NDArray [n_features]
//   auto gram = dtask::matmul(X.T(), X).compute(client);       // X^T X, a tree reduction
//
// Shape and dtype errors are thrown as ArrayError when the graph is built,
// naming both operands. Errors while running (a corrupt file) come back from
// compute() as TaskError naming the op and the chunk's key. Arrays are cheap
// to copy (they share their graph) and thread-safe to read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dtask/value.h"
#include "dtask/chunk_grid.h"
#include "dtask/delayed.h"

namespace dtask {

class Client;

/// A shape, dtype or argument error found while building a graph.
class ArrayError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct CsvReadOptions {
  std::int64_t chunk_rows = 0;         // 0: about 128 MiB of float64 per chunk
  bool header = false;                 // first record holds column names
  std::vector<std::int64_t> columns;   // columns to keep, in order; empty: all
  char delimiter = ',';
};

struct ZarrWriteOptions {
  std::string compressor = "zstd";     // "none", "zlib", "zstd", "blosc"
  int level = 3;                       // zlib/zstd level, blosc clevel
  std::string blosc_cname = "lz4";     // blosc only
};

struct ReductionOptions {
  int split_every = 8;  // fan-in of the reduction tree (dask's split_every)
};

class Array {
 public:
  /// An empty placeholder; any operation on it throws ArrayError.
  Array() = default;

  // ---- sources (read by the task that needs each chunk) ----------------------

  /// A C-order, little-endian .npy file (v1, v2 or v3), `chunk_rows` rows per
  /// chunk (0: about 128 MiB). The client reads only the header.
  static Array from_npy(const std::string& path, std::int64_t chunk_rows = 0);
  /// A Zarr v2 directory store (compressor none, zlib, zstd or blosc); one
  /// chunk per row of Zarr chunks.
  static Array from_zarr(const std::string& path);
  /// A numeric CSV file read into float64. The client scans it once for
  /// record boundaries; workers parse the numbers.
  static Array from_csv(const std::string& path, const CsvReadOptions& options = {});
  /// Scatters a local array to the workers in chunks of `chunk_rows` rows.
  static Array from_ndarray(Client& client, const NDArray& array, std::int64_t chunk_rows = 0);
  /// An array over existing chunk tasks (Delayed or Futures), for ops and
  /// estimators built on top. `shape[0]` must equal `grid.rows()`.
  static Array from_chunks(std::vector<std::int64_t> shape, DType dtype, ChunkGrid grid, std::vector<TaskArg> chunks,
                           std::string name);

  // ---- what it is ----------------------------------------------------------------

  bool valid() const { return impl_ != nullptr; }
  const std::vector<std::int64_t>& shape() const;
  int ndim() const { return static_cast<int>(shape().size()); }
  DType dtype() const;
  std::int64_t rows() const;
  /// Columns of a 2-d array; 1 for a 1-d array.
  std::int64_t cols() const;
  std::int64_t size() const;
  std::int64_t nbytes() const;
  const ChunkGrid& chunks() const;
  std::int64_t n_chunks() const { return chunks().n_chunks(); }
  /// The task argument standing for chunk `i` (a Delayed or a Future).
  const TaskArg& chunk(std::int64_t i) const;
  /// A readable name used in task keys and errors: "from_npy-1a2b…".
  const std::string& name() const;
  /// "float64[1000000, 20] in 10 chunks (from_npy-…)"
  std::string describe() const;

  // ---- running it ------------------------------------------------------------

  /// Runs the graph and gathers the result into one local array. Throws
  /// TaskError if a task failed.
  NDArray compute(Client& client) const;
  /// Runs the graph and keeps the chunks on the workers; the returned Array
  /// holds futures to them.
  Array persist(Client& client) const;
  /// Writes a .npy file (numpy can read it), one task per chunk writing its
  /// rows in place. Throws TaskError if a task failed.
  void to_npy(Client& client, const std::string& path) const;
  /// Writes a Zarr v2 store with this array's row chunks (rechunked to
  /// regular if needed) and all columns in one chunk.
  void to_zarr(Client& client, const std::string& path, const ZarrWriteOptions& options = {}) const;

  // ---- building graphs -------------------------------------------------------

  /// Applies a registered op to every chunk: op(chunk, args...). The op must
  /// keep the chunk's rows; `out_cols` is the result's column count (-1: same
  /// as this array; 0: the result is 1-d) and `out_dtype` its dtype.
  Array map_blocks(const std::string& op, std::vector<Value> args = {}, std::optional<DType> out_dtype = {},
                   std::int64_t out_cols = -1) const;
  /// The same for an op declared as an OpDef (dtask/op_def.h): a number of
  /// arguments (the chunk and `args`) it does not take throws ArrayError
  /// when the graph is built; their types are checked when the tasks run.
  Array map_blocks(OpName op, std::vector<Value> args = {}, std::optional<DType> out_dtype = {},
                   std::int64_t out_cols = -1) const;
  Array astype(DType dtype) const;

  /// Rows [begin, end) (negative counts from the end, as in Python).
  Array slice_rows(std::int64_t begin, std::int64_t end) const;
  /// Columns [begin, end) of a 2-d array.
  Array slice_cols(std::int64_t begin, std::int64_t end) const;
  /// Column `j` of a 2-d array, as a 1-d array.
  Array column(std::int64_t j) const;
  /// The same data in chunks of `chunk_rows` rows.
  Array rechunk(std::int64_t chunk_rows) const;
  Array rechunk(const ChunkGrid& grid) const;

  // Reductions. `axis`: 0 (over rows: a tree reduction), 1 (within each row:
  // blockwise), or none (everything: a tree reduction to a 0-d array).
  Array sum(std::optional<int> axis = {}, ReductionOptions options = {}) const;
  Array mean(std::optional<int> axis = {}, ReductionOptions options = {}) const;
  Array var(std::optional<int> axis = {}, int ddof = 0, ReductionOptions options = {}) const;
  /// Standard deviation (numpy's std; named so to leave the std namespace visible).
  Array stddev(std::optional<int> axis = {}, int ddof = 0, ReductionOptions options = {}) const;
  Array min(std::optional<int> axis = {}, ReductionOptions options = {}) const;
  Array max(std::optional<int> axis = {}, ReductionOptions options = {}) const;
  Array argmin(std::optional<int> axis = {}, ReductionOptions options = {}) const;
  Array argmax(std::optional<int> axis = {}, ReductionOptions options = {}) const;

  /// The transpose, usable as the left operand of matmul (X.T() @ Y) or, for
  /// a single-chunk array, anywhere.
  Array T() const;
  bool is_transposed() const;

  struct Impl;
  explicit Array(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const std::shared_ptr<const Impl>& impl() const { return impl_; }

 private:
  const Impl& checked() const;
  std::shared_ptr<const Impl> impl_;
};

/// Elementwise arithmetic and comparisons with broadcasting of scalars and of
/// row vectors (a 1-d array or NDArray with one entry per column). Arrays of
/// equal shape but different chunks are rechunked to the left operand's.
/// Comparisons give bool arrays; int with float gives float64.
Array elementwise(const std::string& op, const Array& a, const Array& b);
Array elementwise(const std::string& op, const Array& a, double b);
Array elementwise(const std::string& op, double a, const Array& b);
Array elementwise(const std::string& op, const Array& a, const NDArray& row);
/// One-argument functions: "neg", "abs", "exp", "log", "sqrt", "square", "sigmoid".
Array elementwise(const std::string& op, const Array& a);

#define DTASK_ARRAY_BINARY_OPERATOR(symbol, name)                                                   \
  inline Array operator symbol(const Array& a, const Array& b) { return elementwise(name, a, b); }   \
  inline Array operator symbol(const Array& a, double b) { return elementwise(name, a, b); }         \
  inline Array operator symbol(double a, const Array& b) { return elementwise(name, a, b); }         \
  inline Array operator symbol(const Array& a, const NDArray& b) { return elementwise(name, a, b); }
DTASK_ARRAY_BINARY_OPERATOR(+, "add")
DTASK_ARRAY_BINARY_OPERATOR(-, "sub")
DTASK_ARRAY_BINARY_OPERATOR(*, "mul")
DTASK_ARRAY_BINARY_OPERATOR(/, "div")
DTASK_ARRAY_BINARY_OPERATOR(<, "lt")
DTASK_ARRAY_BINARY_OPERATOR(<=, "le")
DTASK_ARRAY_BINARY_OPERATOR(>, "gt")
DTASK_ARRAY_BINARY_OPERATOR(>=, "ge")
DTASK_ARRAY_BINARY_OPERATOR(==, "eq")
DTASK_ARRAY_BINARY_OPERATOR(!=, "ne")
#undef DTASK_ARRAY_BINARY_OPERATOR
inline Array operator-(const Array& a) { return elementwise("neg", a); }
inline Array exp(const Array& a) { return elementwise("exp", a); }
inline Array log(const Array& a) { return elementwise("log", a); }
inline Array sqrt(const Array& a) { return elementwise("sqrt", a); }
inline Array abs(const Array& a) { return elementwise("abs", a); }
Array maximum(const Array& a, double b);
Array minimum(const Array& a, double b);

/// Matrix products for tall-and-skinny data, always in float64:
///  - A.T() @ B with A, B chunked alike along rows: sum over chunks of
///    A_i^T B_i, a tree reduction giving a small (cols(A), cols(B)) array
///    (or (cols(A),) when B is 1-d);
///  - A @ w with w small (one chunk, or a local NDArray): blockwise, keeping
///    A's row chunks;
///  - two single-chunk arrays: one task.
Array matmul(const Array& a, const Array& b, ReductionOptions options = {});
Array matmul(const Array& a, const NDArray& w);
inline Array dot(const Array& a, const Array& b) { return matmul(a, b); }

/// Joins arrays along rows (axis 0: chunks are kept, no tasks) or columns
/// (axis 1: 2-d arrays with equal rows, rechunked to the first's chunks).
Array concatenate(const std::vector<Array>& arrays, int axis = 0);

/// Runs `op` on matching chunks of several arrays with the same rows:
/// op(chunk_a, chunk_b, ..., args...). Inputs are rechunked to the first's
/// chunks. `out_cols`: -1 same columns as the first input, 0 one-dimensional.
Array map_blocks(const std::string& op, const std::vector<Array>& inputs, std::vector<Value> args,
                 DType out_dtype, std::int64_t out_cols = -1);
/// The same for an op declared as an OpDef; ArrayError when it does not take
/// inputs.size() + args.size() arguments.
Array map_blocks(OpName op, const std::vector<Array>& inputs, std::vector<Value> args, DType out_dtype,
                 std::int64_t out_cols = -1);

}  // namespace dtask
