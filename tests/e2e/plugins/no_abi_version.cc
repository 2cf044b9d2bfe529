// A plugin built without DTASK_PLUGIN_ABI (as every plugin was before the
// ABI version): the worker must refuse it at start.
#include "dtask/ops.h"

extern "C" void dtask_register_ops(dtask::OpRegistry& registry) {
  (void)registry.add_function("test.no_abi", [](std::int64_t x) { return x; });
}
