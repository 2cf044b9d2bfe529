// A worker plugin built outside dtask's tree against the installed
// dtask::ops: one op, "oot.square".
#include <dtask/ops.h>

#include <cstdint>

DTASK_PLUGIN_ABI

extern "C" void dtask_register_ops(dtask::OpRegistry& registry) {
  (void)registry.add_function("oot.square", [](std::int64_t x) { return x * x; });
}
