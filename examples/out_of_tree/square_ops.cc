// A worker plugin built outside dtask's tree against the installed
// dtask::ops: one op, oot::kSquare ("oot.square", square_ops.h).
#include "square_ops.h"

#include <dtask/ops.h>

#include <cstdint>

DTASK_PLUGIN_ABI

extern "C" void dtask_register_ops(dtask::OpRegistry& registry) {
  (void)registry.add(oot::kSquare, [](std::int64_t x) { return x * x; });
}
