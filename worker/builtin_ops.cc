// Ops every worker has. Small on purpose: real work arrives through the
// array and ML op sets and through plugins.
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "dtask/builtin_ops.h"
#include "worker/array_ops/array_ops.h"
#include "worker/ml_ops/ml_ops.h"
#include "worker/op_registry.h"

namespace dtask {

namespace {

bool is_number(const Value& v) { return v.is<std::int64_t>() || v.is<double>() || v.is<bool>(); }

double as_double(const Value& v) {
  if (v.is<double>()) return v.get<double>();
  if (v.is<std::int64_t>()) return static_cast<double>(v.get<std::int64_t>());
  if (v.is<bool>()) return v.get<bool>() ? 1.0 : 0.0;
  throw std::invalid_argument("expected a number, got " + v.type_name());
}

NDArray as_float64_array(const Value& v) {
  if (!v.is<NDArray>() || v.get<NDArray>().dtype != DType::kFloat64) {
    throw std::invalid_argument("expected a float64 array, got " + v.type_name());
  }
  return v.get<NDArray>();
}

/// Adds numbers (int64 while every term is an integer) or float64 arrays of one shape.
Value add_values(const std::vector<Value>& terms) {
  if (terms.empty()) return Value(std::int64_t{0});
  if (terms.front().is<NDArray>()) {
    NDArray first = as_float64_array(terms.front());
    NDArray out = NDArray::zeros(DType::kFloat64, first.shape);
    double* o = out.mutable_data<double>();
    for (const Value& term : terms) {
      NDArray a = as_float64_array(term);
      if (a.shape != first.shape) throw std::invalid_argument("cannot add " + a.describe() + " to " + first.describe());
      const double* x = a.data<double>();
      for (std::int64_t i = 0; i < a.size(); ++i) o[i] += x[i];
    }
    return out;
  }
  bool integral = true;
  for (const Value& term : terms) {
    if (!is_number(term)) throw std::invalid_argument("cannot add a " + term.type_name());
    integral = integral && !term.is<double>();
  }
  if (integral) {
    std::int64_t total = 0;
    for (const Value& term : terms) total += term.is<bool>() ? term.get<bool>() : term.get<std::int64_t>();
    return total;
  }
  double total = 0;
  for (const Value& term : terms) total += as_double(term);
  return total;
}

}  // namespace

void register_builtin_ops(OpRegistry& registry) {
  // Every registration below has a unique name; a failure is a bug.
  auto must = [](const Status& status) {
    if (!status.ok()) throw std::logic_error(status.to_string());
  };
  must(registry.add(ops::kAdd, [](const std::vector<Value>& args) { return add_values(args); }));
  // sum(list) or sum(a, b, c, ...)
  must(registry.add(ops::kSum, [](const std::vector<Value>& args) {
    if (args.size() == 1 && args[0].is<ValueList>()) return add_values(args[0].get<ValueList>());
    return add_values(args);
  }));
  must(registry.add(ops::kInc, [](const Value& x) { return add_values({x, Value(std::int64_t{1})}); }));
  must(registry.add(ops::kMul, [](double a, double b) { return a * b; }));
  must(registry.add(ops::kIdentity, [](const Value& x) { return x; }));
  must(registry.add(ops::kList, [](const std::vector<Value>& args) { return Value(ValueList(args)); }));
  must(registry.add(ops::kNoop, [](const std::vector<Value>&) { return Value(); }));
  must(registry.add(ops::kFail, [](const std::vector<Value>& args) -> Value {
    std::string message = "fail op called";
    if (!args.empty() && args[0].is<std::string>()) message = args[0].get<std::string>();
    throw std::runtime_error(message);
  }));
  // sleep(seconds[, result]): stands in for a long computation.
  must(registry.add(ops::kSleep, [](const std::vector<Value>& args) {
    if (args.empty()) throw std::invalid_argument("sleep takes a duration in seconds");
    std::this_thread::sleep_for(std::chrono::duration<double>(as_double(args[0])));
    return args.size() > 1 ? args[1] : Value();
  }));
  // arange(n): float64 [0, 1, ..., n-1]; array_sum(a): the sum of its elements.
  must(registry.add(ops::kArange, [](std::int64_t n) {
    if (n < 0) throw std::invalid_argument("arange of a negative length");
    NDArray out = NDArray::zeros(DType::kFloat64, {n});
    double* o = out.mutable_data<double>();
    for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<double>(i);
    return out;
  }));
  must(registry.add(ops::kArraySum, [](const NDArray& a) {
    NDArray f = as_float64_array(Value(a));
    double total = 0;
    for (std::int64_t i = 0; i < f.size(); ++i) total += f.data<double>()[i];
    return total;
  }));
  register_array_ops(registry);
  register_ml_ops(registry);
}

}  // namespace dtask
