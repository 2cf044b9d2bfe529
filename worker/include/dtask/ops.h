// The op-registration API: what a plugin (or a program that starts
// in-process workers through LocalCluster) uses to give workers named
// operations. Tasks name an op and carry small arguments; C++ cannot ship
// closures, so every op a graph uses must be registered.
//
// A plugin is a shared library, linked against dtask::ops, exporting
//   DTASK_PLUGIN_ABI
//   extern "C" void dtask_register_ops(dtask::OpRegistry& registry);
// and loaded with `dtask-worker --plugin lib.so`. Its dtask symbols
// (OpRegistry, Value) resolve from the worker that loads it. See
// examples/plugin/ and examples/out_of_tree/.
//
// Declare each op once, as a dtask::OpDef in a header the plugin and its
// clients both include (dtask/op_def.h), and register it with
// `registry.add(kMyOp, fn)`: a function that does not match the definition
// does not compile, and neither does a client call that does not.
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <cstdint>
#include <vector>

#include "dtask/op_def.h"
#include "dtask/status.h"
#include "dtask/value.h"

namespace dtask {

/// An op: takes the task's arguments (dependencies already replaced by their
/// values) and returns its result. It may throw; the worker turns an exception
/// into a task error carrying the op name, key and message.
using OpFunction = std::function<Value(const std::vector<Value>& args)>;

namespace internal {
template <typename F>
struct FunctionTraits : FunctionTraits<decltype(&F::operator())> {};
template <typename C, typename R, typename... A>
struct FunctionTraits<R (C::*)(A...) const> {
  using Return = R;
  using Args = std::tuple<std::decay_t<A>...>;
};
template <typename C, typename R, typename... A>
struct FunctionTraits<R (C::*)(A...)> : FunctionTraits<R (C::*)(A...) const> {};
template <typename R, typename... A>
struct FunctionTraits<R (*)(A...)> {
  using Return = R;
  using Args = std::tuple<std::decay_t<A>...>;
};

/// Fails the compilation of a registration whose function takes a type the
/// worker cannot convert a Value to (it would otherwise fail when the worker
/// loads the plugin, as an undefined value_as<T>). I is the parameter's position.
template <std::size_t I, typename T>
constexpr bool check_function_parameter() {
  static_assert(kIsOpValueType<T>,
                "dtask::OpRegistry: an op function parameter type is not one a worker can convert a Value to; take "
                "Value, bool, std::int64_t, int, double, float, std::string, Bytes, NDArray or ValueList (by value or "
                "const reference)");
  return true;
}
template <typename Tuple, std::size_t... I>
constexpr bool check_function_parameters(std::index_sequence<I...>) {
  return (check_function_parameter<I, std::tuple_element_t<I, Tuple>>() && ...);
}

template <typename T>
T convert_argument(const std::string& op, std::size_t index, const Value& value) {
  auto converted = value_as<T>(value);
  if (!converted.ok()) {
    throw std::invalid_argument("argument " + std::to_string(index) + " of op '" + op +
                                "': " + converted.status().message());
  }
  return std::move(converted).value();
}

template <typename F, typename Tuple, std::size_t... I>
Value call_typed(const std::string& op, F& fn, const std::vector<Value>& args, std::index_sequence<I...>) {
  if (args.size() != sizeof...(I)) {
    throw std::invalid_argument("op '" + op + "' takes " + std::to_string(sizeof...(I)) + " arguments, got " +
                                std::to_string(args.size()));
  }
  return Value(fn(convert_argument<std::tuple_element_t<I, Tuple>>(op, I, args[I])...));
}
}  // namespace internal

/// The version of the plugin interface (OpRegistry, Value, NDArray as a
/// plugin sees them). A worker refuses a plugin built against another one:
/// the layouts would not match, and the first call would crash.
inline constexpr std::uint32_t kPluginAbiVersion = 1;

/// Put once in a plugin's source, next to dtask_register_ops(): exports the
/// ABI version the plugin was built against, which the worker checks.
#define DTASK_PLUGIN_ABI                                                                  \
  extern "C" __attribute__((visibility("default"))) std::uint32_t dtask_plugin_abi_version() { \
    return ::dtask::kPluginAbiVersion;                                                   \
  }

/// Ops by name. Build one per worker (or LocalCluster) and pass it by
/// reference; there is no global registry. Thread-safe for concurrent
/// lookups once populated; registering is not thread-safe.
class OpRegistry {
 public:
  /// Registers an op taking its arguments as Values. Fails on a duplicate
  /// name; the failure is also kept for take_errors(), so that a plugin that
  /// ignores the Status still cannot drop an op silently.
  Status add(const std::string& name, OpFunction fn);
  /// The failed registrations since the last call, and forgets them.
  std::vector<std::string> take_errors();

  /// Registers a function with typed parameters, e.g.
  ///   registry.add_function("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  /// Arity and argument types are checked at run time with clear errors; a
  /// parameter type no Value converts to fails to compile. Prefer add(OpDef, fn).
  template <typename F>
  Status add_function(const std::string& name, F fn) {
    using Traits = internal::FunctionTraits<std::decay_t<F>>;
    using Args = typename Traits::Args;
    static_assert(internal::check_function_parameters<Args>(std::make_index_sequence<std::tuple_size_v<Args>>{}));
    static_assert(std::is_constructible_v<Value, typename Traits::Return>,
                  "dtask::OpRegistry: an op function must return a type a Value can hold");
    return add(name, [name, fn = std::move(fn)](const std::vector<Value>& args) mutable {
      return internal::call_typed<F, Args>(name, fn, args, std::make_index_sequence<std::tuple_size_v<Args>>{});
    });
  }

  /// Registers `fn` as the op `def` defines, e.g.
  ///   inline constexpr OpDef<double(double, double)> kHypot{"example.hypot"};  // in a shared header
  ///   registry.add(kHypot, [](double a, double b) { return std::hypot(a, b); });
  /// fn's parameters must be the definition's, in order (each by value or
  /// const reference), and its result must convert to the definition's, or
  /// this does not compile. Fails at run time only as add(name, fn) does.
  template <typename R, typename... P, typename F>
  Status add(const OpDef<R(P...)>& def, F fn) {
    using Traits = internal::FunctionTraits<std::decay_t<F>>;
    static_assert(std::is_same_v<typename Traits::Args, std::tuple<P...>>,
                  "dtask::OpRegistry::add: the function's parameters differ from its OpDef's (in number, order or "
                  "type); take each OpDef parameter by value or const reference");
    static_assert(std::is_convertible_v<typename Traits::Return, R>,
                  "dtask::OpRegistry::add: the function's result does not convert to its OpDef's result type");
    return add_function(std::string(def.name), std::move(fn));
  }
  /// Registers an op defined as `OpDef<R(VarArgs)>`: fn takes every argument
  /// as `const std::vector<Value>&` and checks them itself.
  template <typename R, typename F>
  Status add(const OpDef<R(VarArgs)>& def, F fn) {
    static_assert(std::is_invocable_v<F&, const std::vector<Value>&>,
                  "dtask::OpRegistry::add: an op defined with VarArgs takes (const std::vector<Value>& args)");
    using Returned = std::invoke_result_t<F&, const std::vector<Value>&>;
    static_assert(std::is_convertible_v<Returned, R> && std::is_constructible_v<Value, Returned>,
                  "dtask::OpRegistry::add: the function's result does not convert to its OpDef's result type");
    return add(std::string(def.name), OpFunction([fn = std::move(fn)](const std::vector<Value>& args) mutable {
                 return Value(fn(args));
               }));
  }

  /// The op, or nullptr.
  const OpFunction* find(std::string_view name) const;
  std::vector<std::string> names() const;
  std::size_t size() const { return ops_.size(); }

 private:
  std::map<std::string, OpFunction, std::less<>> ops_;
  std::vector<std::string> errors_;
};

}  // namespace dtask
