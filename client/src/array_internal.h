// Pieces shared by the files that implement dtask::Array (array*.cc).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dtask/array.h"
#include "dtask/builtin_ops.h"
#include "dtask/op_def.h"

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
/// A task computing chunk `i` of the array `name` (on a worker with
/// `resources`, if any): a user's op, named by a string.
Delayed chunk_task(const std::string& op, const std::string& name, std::int64_t i, std::vector<TaskArg> args,
                   ResourceList resources = {});
/// The same for an op defined by an OpDef whose arguments are assembled at
/// run time: a number of arguments it does not take is a bug (DTASK_CHECK).
Delayed chunk_task(OpName op, const std::string& name, std::int64_t i, std::vector<TaskArg> args,
                   ResourceList resources = {});
/// The same with the arguments checked against the OpDef when this compiles:
/// chunk_task_of(ops::kReadNpy, name, i, path, begin, end).
template <typename Signature, typename... A>
Delayed chunk_task_of(const OpDef<Signature>& op, const std::string& name, std::int64_t i, A&&... args) {
  static_assert(internal::check_op_call<Signature, A...>());
  return chunk_task(std::string(op.name), name, i, {TaskArg(std::forward<A>(args))...});
}
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

/// An array with the same chunks as `input`, chunk i computed by op(args(i)...).
Array blockwise(const Array& input, const std::string& label, std::vector<std::int64_t> out_shape, DType out_dtype,
                const std::function<std::vector<TaskArg>(std::int64_t i)>& args, OpName op);

}  // namespace array_internal
}  // namespace dtask
