// A plugin that claims another ABI version than the worker's: refused.
#include "dtask/ops.h"

extern "C" __attribute__((visibility("default"))) std::uint32_t dtask_plugin_abi_version() {
  return dtask::kPluginAbiVersion + 1;
}

extern "C" void dtask_register_ops(dtask::OpRegistry& registry) {
  (void)registry.add_function("test.other_abi", [](std::int64_t x) { return x; });
}
