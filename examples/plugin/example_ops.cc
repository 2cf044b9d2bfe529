// An op plugin: build it as a shared library and start a worker with
//   dtask-worker tcp://scheduler:8786 --plugin ./libdtask_example_ops.so
// Then clients can submit example::kSquare, kHypot and kScale (example_ops.h),
// or name them by string: "example.square", "example.hypot", "example.scale",
// and "example.describe", registered by name only.
#include "example_ops.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "dtask/ops.h"

// The plugin ABI this library was built against: the worker checks it.
DTASK_PLUGIN_ABI

extern "C" void dtask_register_ops(dtask::OpRegistry& registry) {
  // Registration by definition: a function whose parameters or result do not
  // match the OpDef in example_ops.h does not compile; argument conversion
  // and the arity check at run time come for free.
  (void)registry.add(example::kSquare, [](std::int64_t x) { return x * x; });
  (void)registry.add(example::kHypot, [](double a, double b) { return std::hypot(a, b); });
  (void)registry.add(example::kScale, [](const dtask::NDArray& array, double factor) {
    if (array.dtype != dtask::DType::kFloat64) throw std::invalid_argument("example.scale takes a float64 array");
    dtask::NDArray out = dtask::NDArray::zeros(dtask::DType::kFloat64, array.shape);
    for (std::int64_t i = 0; i < out.size(); ++i) out.mutable_data<double>()[i] = array.data<double>()[i] * factor;
    return out;
  });
  // Registration by name still works (clients then name the op by string):
  // the op sees its arguments as Values and checks them itself.
  (void)registry.add("example.describe", [](const std::vector<dtask::Value>& args) -> dtask::Value {
    std::string out;
    for (const dtask::Value& v : args) out += (out.empty() ? "" : ", ") + v.type_name();
    return out;
  });
}
