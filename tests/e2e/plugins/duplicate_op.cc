// A plugin that registers a built-in op's name again and ignores the
// Status: the worker must still refuse it rather than drop the op silently.
#include "dtask/ops.h"

DTASK_PLUGIN_ABI

extern "C" void dtask_register_ops(dtask::OpRegistry& registry) {
  (void)registry.add_function("test.fine", [](std::int64_t x) { return x; });
  (void)registry.add_function("add", [](std::int64_t a, std::int64_t b) { return a - b; });
}
