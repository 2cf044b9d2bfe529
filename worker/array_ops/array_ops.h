// The ops behind dtask::Array: chunk reads and writes (npy, Zarr, CSV),
// generators, elementwise maps, reductions, matrix products and row
// restructuring. Every worker registers them (see register_builtin_ops);
// the client's Array code builds graphs that name them.
#pragma once

#include "dtask/builtin_ops.h"
#include "worker/op_registry.h"

namespace dtask {

/// Registers every array op below.
void register_array_ops(OpRegistry& registry);

namespace array_ops {
void register_io_ops(OpRegistry& registry);
void register_generator_ops(OpRegistry& registry);
void register_elementwise_ops(OpRegistry& registry);
void register_reduction_ops(OpRegistry& registry);
void register_linalg_ops(OpRegistry& registry);
void register_structure_ops(OpRegistry& registry);

/// Registration of a unique built-in name cannot fail; a failure is a bug.
void must_register(const Status& status);

/// For op bodies: a failed Status (or Result) becomes the exception the
/// executor turns into the task's error, with the status message.
void throw_if_error(const Status& status);
template <typename T>
T value_or_throw(Result<T> result) {
  throw_if_error(result.status());
  return std::move(result).value();
}
}  // namespace array_ops

}  // namespace dtask
