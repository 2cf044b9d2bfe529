// Pieces shared by the files that implement dtask::Array (array*.cc).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dtask/array.h"

namespace dtask {

struct Array::Impl {
  std::vector<std::int64_t> shape;
  DType dtype = DType::kFloat64;
  ChunkGrid grid;
  std::vector<TaskArg> chunks;  // one per grid chunk: a Delayed or a Future
  std::string name;
  bool transposed = false;  // only matmul and compute accept a transposed array
};

namespace array_internal {

[[noreturn]] void fail(const std::string& message);
/// "from_npy-1f2e…": a fresh array name; chunk i's key is "<name>-<i>".
std::string new_name(const std::string& label);
/// A task computing chunk `i` of the array `name` (on a worker with `resources`, if any).
Delayed chunk_task(const std::string& op, const std::string& name, std::int64_t i, std::vector<TaskArg> args,
                   ResourceList resources = {});
Array make_array(std::vector<std::int64_t> shape, DType dtype, ChunkGrid grid, std::vector<TaskArg> chunks,
                 std::string name, bool transposed = false);
/// The shape of chunk i: the array's shape with the chunk's rows.
std::vector<std::int64_t> chunk_shape(const Array& array, std::int64_t i);
/// A list argument (the op gets one list of values) from mixed task arguments.
TaskArg list_arg(const std::vector<TaskArg>& items);
ValueList int_list(const std::vector<std::int64_t>& values);
/// Throws unless the array is valid and not transposed; `what` names the operation.
void require_plain(const Array& array, const std::string& what);

/// Combines `parts` with `combine` in groups of at most `split_every` until
/// one remains (a tree of depth ceil(log_split_every(n))). `combine(group,
/// level, index)` builds one task. One part is returned as is.
TaskArg tree_reduce(std::vector<TaskArg> parts, int split_every,
                    const std::function<Delayed(std::vector<TaskArg>, int level, std::int64_t index)>& combine);

/// An array with the same chunks as `input`, chunk i computed by make(i).
Array blockwise(const Array& input, const std::string& label, std::vector<std::int64_t> out_shape, DType out_dtype,
                const std::function<std::vector<TaskArg>(std::int64_t i)>& args, const std::string& op);

}  // namespace array_internal
}  // namespace dtask
