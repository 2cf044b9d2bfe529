// OpRegistry::add(OpDef, fn): what a definition registers and how its ops
// convert and check their arguments at run time; the compile-time checks
// (a function or a call that does not match its OpDef) are in
// tests/compile_fail/ and, for the traits themselves, the static_asserts here.
#include "worker/op_registry.h"

#include <gtest/gtest.h>

#include <dtask/builtin_ops.h>
#include <dtask/delayed.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace dtask {
namespace {

inline constexpr OpDef<double(double, std::int64_t)> kRegistryScale{"test.scale"};
inline constexpr OpDef<Value(VarArgs)> kRegistryCount{"test.count"};
inline constexpr OpDef<std::string(std::string, ValueList)> kRegistryJoin{"test.join"};

// What an argument of each C++ type converts to, as the worker's value_as does.
static_assert(internal::accepts<double>(internal::arg_kind<int>()));
static_assert(internal::accepts<double>(internal::arg_kind<const float&>()));
static_assert(!internal::accepts<double>(internal::arg_kind<std::string>()));
static_assert(internal::accepts<std::int64_t>(internal::arg_kind<bool>()));
static_assert(!internal::accepts<std::int64_t>(internal::arg_kind<double>()));
static_assert(internal::accepts<std::string>(internal::arg_kind<const char (&)[4]>()));
static_assert(internal::accepts<std::string>(internal::arg_kind<Bytes>()));
static_assert(!internal::accepts<NDArray>(internal::arg_kind<ValueList>()));
static_assert(internal::accepts<ValueList>(internal::arg_kind<std::vector<Delayed>>()));
static_assert(internal::accepts<ValueList>(internal::arg_kind<std::vector<Future<double>>>()));
static_assert(internal::accepts<NDArray>(internal::arg_kind<Future<NDArray>>()));
static_assert(!internal::accepts<NDArray>(internal::arg_kind<Future<double>>()));
static_assert(internal::accepts<NDArray>(internal::arg_kind<Future<Value>>()));
static_assert(internal::accepts<NDArray>(internal::arg_kind<Delayed>()));
static_assert(internal::arg_kind<std::vector<double>>() == internal::ArgKind::kNone);
static_assert(internal::check_op_call<double(double, std::int64_t), int, long>());
static_assert(internal::check_op_call<Value(VarArgs)>());
static_assert(kIsOpValueType<NDArray> && !kIsOpValueType<std::vector<double>> && !kIsOpValueType<const NDArray&>);
static_assert(OpName(kRegistryScale).takes(2) && !OpName(kRegistryScale).takes(3) && OpName(kRegistryCount).takes(7));

Value call_registered(const OpRegistry& registry, std::string_view name, const std::vector<Value>& args) {
  const OpFunction* fn = registry.find(name);
  if (fn == nullptr) throw std::logic_error("no op " + std::string(name));
  return (*fn)(args);
}

// An OpDef registers under its name; the function's parameters may be by value or const reference.
TEST(OpRegistryOpDef, RegistersUnderTheDefinitionsName) {
  OpRegistry registry;
  ASSERT_TRUE(registry.add(kRegistryScale, [](double x, std::int64_t n) { return x * static_cast<double>(n); }).ok());
  ASSERT_TRUE(registry
                  .add(kRegistryJoin,
                       [](const std::string& sep, const ValueList& items) {
                         std::string out;
                         for (const Value& v : items) out += (out.empty() ? "" : sep) + v.get<std::string>();
                         return out;
                       })
                  .ok());
  EXPECT_DOUBLE_EQ(call_registered(registry, "test.scale", {Value(1.5), Value(4)}).get<double>(), 6.0);
  EXPECT_EQ(call_registered(registry, "test.join", {Value("+"), Value(ValueList{Value("a"), Value("b")})}).get<std::string>(),
            "a+b");
}

// A registered OpDef still checks arity and types at run time, for callers that name it by string.
TEST(OpRegistryOpDef, ChecksArgumentsAtRunTime) {
  OpRegistry registry;
  ASSERT_TRUE(registry.add(kRegistryScale, [](double x, std::int64_t n) { return x * static_cast<double>(n); }).ok());
  try {
    call_registered(registry, "test.scale", {Value(1.5)});
    FAIL() << "one argument for two parameters did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("op 'test.scale' takes 2 arguments, got 1"), std::string::npos) << e.what();
  }
  try {
    call_registered(registry, "test.scale", {Value(1.5), Value("four")});
    FAIL() << "a string for an int64 parameter did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("argument 1 of op 'test.scale'"), std::string::npos) << e.what();
  }
}

// A VarArgs definition registers a function of all the arguments as Values.
TEST(OpRegistryOpDef, VariadicDefinitionTakesEveryArgument) {
  OpRegistry registry;
  ASSERT_TRUE(registry.add(kRegistryCount, [](const std::vector<Value>& args) {
    return static_cast<std::int64_t>(args.size());
  }).ok());
  EXPECT_EQ(call_registered(registry, "test.count", {}).get<std::int64_t>(), 0);
  EXPECT_EQ(call_registered(registry, "test.count", {Value(1), Value("x"), Value(2.0)}).get<std::int64_t>(), 3);
}

// A definition whose name is taken fails like add(name, fn), and the failure is kept for take_errors().
TEST(OpRegistryOpDef, DuplicateNameFails) {
  OpRegistry registry;
  register_builtin_ops(registry);
  Status again = registry.add(ops::kMul, [](double a, double b) { return a + b; });
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("op 'mul' is already registered"), std::string::npos) << again.to_string();
  EXPECT_EQ(registry.take_errors().size(), 1u);
}

// Every built-in op is registered under its OpDef's name, the GPU twins included.
TEST(OpRegistryOpDef, BuiltinsRegisterTheirDefinitions) {
  OpRegistry registry;
  register_builtin_ops(registry);
  for (OpName op : {OpName(ops::kAdd), OpName(ops::kInc), OpName(ops::kReadCsv), OpName(ops::kReduceFinal),
                    OpName(ops::kKMeansPartial), OpName(ops::kKMeansPartialGpu), OpName(ops::kKMeansSampleGpu),
                    OpName(ops::kGlmLossGrad), OpName(ops::kCvFitScorePrepared), OpName(ops::kSvmApply)}) {
    EXPECT_NE(registry.find(op.name()), nullptr) << op.str();
  }
  EXPECT_EQ(call_registered(registry, ops::kInc.name, {Value(41)}).get<std::int64_t>(), 42);
  NDArray a = NDArray::from_vector(std::vector<double>{1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(call_registered(registry, ops::kArraySum.name, {Value(a)}).get<double>(), 10.0);
}

}  // namespace
}  // namespace dtask
