// Misuses of dtask::OpDef that must not compile. run.sh compiles this file
// once with no case (it must compile: the flags and headers are right) and
// once per "// case NAME: MESSAGE" line below with -DCASE_NAME, which must
// fail with MESSAGE in the compiler's output.
//
// case WRONG_ARITY: wrong number of arguments for this op
// case WRONG_TYPE: does not convert to the OpDef's parameter type
// case WRONG_TYPE_DELAYED: does not convert to the OpDef's parameter type
// case WRONG_FUTURE_TYPE: does not convert to the OpDef's parameter type
// case WRONG_MAP_ELEMENT: does not convert to the OpDef's parameter type
// case NOT_AN_ARGUMENT: is not a task argument
// case REGISTER_WRONG_ORDER: the function's parameters differ from its OpDef's
// case REGISTER_WRONG_ARITY: the function's parameters differ from its OpDef's
// case REGISTER_WRONG_RESULT: the function's result does not convert to its OpDef's result type
// case REGISTER_VARARGS_SIGNATURE: an op defined with VarArgs takes
// case UNCONVERTIBLE_PARAMETER: this op parameter type is not one a worker can convert a Value to
// case REFERENCE_PARAMETER: declare op parameters by value
// case UNCONVERTIBLE_RESULT: the result type is not one a worker can convert to a Value
// case ADD_FUNCTION_UNCONVERTIBLE: an op function parameter type is not one a worker can convert a Value to
// case ALLREDUCE_WRONG_SIGNATURE: tree_allreduce
#include <dtask/builtin_ops.h>
#include <dtask/client.h>
#include <dtask/collective.h>
#include <dtask/ops.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

inline constexpr dtask::OpDef<double(double, std::int64_t)> kMisuseScale{"misuse.scale"};

[[maybe_unused]] void uses(dtask::OpRegistry& registry, dtask::Client& client) {
  // What does compile: the control for every case below.
  (void)registry.add(kMisuseScale, [](double x, std::int64_t n) { return x * static_cast<double>(n); });
  (void)registry.add(kMisuseScale, [](const double& x, const std::int64_t& n) { return x + static_cast<double>(n); });
  dtask::Future<double> scaled = client.submit(kMisuseScale, 2, std::int64_t{3});
  (void)client.submit(dtask::SubmitOptions{}, kMisuseScale, scaled, true);
  (void)dtask::delayed(kMisuseScale)(dtask::delayed(dtask::ops::kInc)(1), 3);
  (void)client.map(kMisuseScale, std::vector<double>{1, 2}, std::vector<std::int64_t>{3, 4});
  (void)client.submit(dtask::ops::kSum, std::vector<dtask::Delayed>{}, 1, 2.0, "three");
  (void)dtask::tree_allreduce(client, {scaled}, dtask::ops::kSgdAverage);
  (void)client.submit<double>("misuse.scale", "anything goes by name", 1, 2, 3);

#if defined(CASE_WRONG_ARITY)
  (void)client.submit(kMisuseScale, 2.0);
#elif defined(CASE_WRONG_TYPE)
  (void)client.submit(kMisuseScale, std::string("two"), 3);
#elif defined(CASE_WRONG_TYPE_DELAYED)
  (void)dtask::delayed(dtask::ops::kArraySum)(1.5);
#elif defined(CASE_WRONG_FUTURE_TYPE)
  dtask::Future<dtask::NDArray> array = client.submit(dtask::ops::kArange, 3);
  (void)client.submit(kMisuseScale, array, 3);
#elif defined(CASE_WRONG_MAP_ELEMENT)
  (void)client.map(kMisuseScale, std::vector<std::string>{"a"}, std::vector<std::int64_t>{3});
#elif defined(CASE_NOT_AN_ARGUMENT)
  (void)client.submit(dtask::ops::kSum, std::vector<double>{1, 2});
#elif defined(CASE_REGISTER_WRONG_ORDER)
  (void)registry.add(kMisuseScale, [](std::int64_t n, double x) { return x * static_cast<double>(n); });
#elif defined(CASE_REGISTER_WRONG_ARITY)
  (void)registry.add(kMisuseScale, [](double x) { return x; });
#elif defined(CASE_REGISTER_WRONG_RESULT)
  (void)registry.add(kMisuseScale, [](double x, std::int64_t) { return std::string("x") + std::to_string(x); });
#elif defined(CASE_REGISTER_VARARGS_SIGNATURE)
  (void)registry.add(dtask::ops::kSum, [](std::int64_t a) { return a; });
#elif defined(CASE_UNCONVERTIBLE_PARAMETER)
  static constexpr dtask::OpDef<double(std::vector<double>)> kBad{"misuse.bad"};
  (void)kBad;
#elif defined(CASE_REFERENCE_PARAMETER)
  static constexpr dtask::OpDef<double(const dtask::NDArray&)> kBad{"misuse.bad"};
  (void)kBad;
#elif defined(CASE_UNCONVERTIBLE_RESULT)
  static constexpr dtask::OpDef<std::vector<double>(double)> kBad{"misuse.bad"};
  (void)kBad;
#elif defined(CASE_ADD_FUNCTION_UNCONVERTIBLE)
  (void)registry.add_function("misuse.bad", [](const std::vector<double>& v) { return v.size(); });
#elif defined(CASE_ALLREDUCE_WRONG_SIGNATURE)
  (void)dtask::tree_allreduce(client, {scaled}, kMisuseScale);
#endif
}

}  // namespace
