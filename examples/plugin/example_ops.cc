// An op plugin: build it as a shared library and start a worker with
//   dtask-worker tcp://scheduler:8786 --plugin ./libdtask_example_ops.so
// Then clients can submit "example.square", "example.hypot" and "example.scale".
#include <cmath>
#include <stdexcept>

#include "dtask/ops.h"

// The plugin ABI this library was built against: the worker checks it.
DTASK_PLUGIN_ABI

extern "C" void dtask_register_ops(dtask::OpRegistry& registry) {
  // Typed registration: argument conversion and arity checks come for free.
  (void)registry.add_function("example.square", [](std::int64_t x) { return x * x; });
  (void)registry.add_function("example.hypot", [](double a, double b) { return std::hypot(a, b); });
  // Untyped registration: the op sees Values, here a float64 array it scales.
  (void)registry.add("example.scale", [](const std::vector<dtask::Value>& args) -> dtask::Value {
    if (args.size() != 2) throw std::invalid_argument("example.scale takes (array, factor)");
    auto array = dtask::value_as<dtask::NDArray>(args[0]);
    auto factor = dtask::value_as<double>(args[1]);
    if (!array.ok() || !factor.ok() || array->dtype != dtask::DType::kFloat64) {
      throw std::invalid_argument("example.scale takes a float64 array and a number");
    }
    dtask::NDArray out = dtask::NDArray::zeros(dtask::DType::kFloat64, array->shape);
    for (std::int64_t i = 0; i < out.size(); ++i) out.mutable_data<double>()[i] = array->data<double>()[i] * *factor;
    return out;
  });
}
