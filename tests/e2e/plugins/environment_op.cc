// A plugin with one op, test.getenv(name): the value of the environment
// variable `name` in the worker process that runs it, or "<unset>".
// gpu_worker_test reads CUDA_VISIBLE_DEVICES with it, to see that a task
// ran in a worker bound to a GPU (dtask-worker --device).
#include <cstdlib>
#include <string>

#include "dtask/ops.h"

DTASK_PLUGIN_ABI

extern "C" void dtask_register_ops(dtask::OpRegistry& registry) {
  (void)registry.add_function("test.getenv", [](std::string name) -> std::string {
    const char* value = std::getenv(name.c_str());
    return value ? value : "<unset>";
  });
}
