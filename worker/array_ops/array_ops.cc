#include "worker/array_ops/array_ops.h"

#include <stdexcept>

namespace dtask {

namespace array_ops {
void throw_if_error(const Status& status) {
  if (!status.ok()) throw std::runtime_error(status.message());
}

void must_register(const Status& status) {
  if (!status.ok()) throw std::logic_error(status.to_string());
}
}  // namespace array_ops

void register_array_ops(OpRegistry& registry) {
  array_ops::register_io_ops(registry);
  array_ops::register_generator_ops(registry);
  array_ops::register_elementwise_ops(registry);
  array_ops::register_reduction_ops(registry);
  array_ops::register_linalg_ops(registry);
  array_ops::register_structure_ops(registry);
}

}  // namespace dtask
