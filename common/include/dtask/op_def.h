// Typed op definitions: an op's name and signature, declared once in a
// header that both the code submitting the op (the client) and the code
// registering it (the worker, or a plugin) include:
//
//   inline constexpr dtask::OpDef<dtask::NDArray(dtask::NDArray, double)> kScale{"example.scale"};
//
//   registry.add(kScale, [](const dtask::NDArray& a, double f) { ... });  // worker / plugin
//   dtask::Future<dtask::NDArray> f = client.submit(kScale, array, 2.0);   // client
//
// A function whose parameters differ from the definition (in number, order
// or type) does not compile on the worker's side, and neither does a call
// with the wrong arity or an argument that cannot convert on the client's.
// A parameter or result type the worker cannot convert a Value to fails in
// the OpDef itself, at compile time, rather than as a missing value_as<T>
// symbol when the worker loads the plugin.
//
// Header only, standard library and dtask/value.h: the client's, the
// worker's and plugins' public headers include it. Never throws; every
// function here is constexpr and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "dtask/value.h"

namespace dtask {

/// The types an op may take as a parameter or return: exactly those a
/// worker converts a task's Value to (value_as<T>), taken by value in the
/// OpDef (the worker's function may take them by const reference).
/// Value itself means "anything": the op checks at run time.
template <typename T>
inline constexpr bool kIsOpValueType =
    std::is_same_v<T, Value> || std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, int> || std::is_same_v<T, double> || std::is_same_v<T, float> ||
    std::is_same_v<T, std::string> || std::is_same_v<T, Bytes> || std::is_same_v<T, NDArray> ||
    std::is_same_v<T, ValueList>;

/// The parameter list of an op taking any number of arguments as Values,
/// `OpDef<Value(VarArgs)>`: its function is `Value(const std::vector<Value>&)`
/// and it checks its arguments itself (as the built-in "add" and "sum").
struct VarArgs {};

namespace internal {
/// One static_assert per parameter, so the compiler names the position
/// (I) and the type (T) that is wrong.
template <std::size_t I, typename T>
constexpr bool check_op_parameter() {
  static_assert(std::is_same_v<T, std::remove_cvref_t<T>>,
                "dtask::OpDef: declare op parameters by value (NDArray, not const NDArray&); "
                "the worker's function may still take them by const reference");
  static_assert(kIsOpValueType<std::remove_cvref_t<T>>,
                "dtask::OpDef: this op parameter type is not one a worker can convert a Value to; use Value, bool, "
                "std::int64_t, int, double, float, std::string, Bytes, NDArray or ValueList");
  return true;
}
template <typename... Args, std::size_t... I>
constexpr bool check_op_parameters(std::index_sequence<I...>) {
  return (check_op_parameter<I, Args>() && ...);
}
}  // namespace internal

/// An op's name and signature. Only function types are definitions:
/// `OpDef<R(Args...)>` or `OpDef<R(VarArgs)>`.
template <typename Signature>
struct OpDef;

template <typename R, typename... Args>
struct OpDef<R(Args...)> {
  static_assert(kIsOpValueType<R>,
                "dtask::OpDef: the result type is not one a worker can convert to a Value; use Value, bool, "
                "std::int64_t, int, double, float, std::string, Bytes, NDArray or ValueList");
  static_assert(internal::check_op_parameters<Args...>(std::index_sequence_for<Args...>{}));

  using Result = R;
  using Params = std::tuple<Args...>;
  static constexpr bool kVariadic = false;
  static constexpr std::size_t kArity = sizeof...(Args);

  /// The name tasks carry: unique among the ops a worker registers.
  std::string_view name;

  constexpr explicit OpDef(std::string_view op_name) : name(op_name) {}
};

template <typename R>
struct OpDef<R(VarArgs)> {
  static_assert(kIsOpValueType<R>,
                "dtask::OpDef: the result type is not one a worker can convert to a Value; use Value, bool, "
                "std::int64_t, int, double, float, std::string, Bytes, NDArray or ValueList");

  using Result = R;
  static constexpr bool kVariadic = true;
  static constexpr std::size_t kArity = 0;

  std::string_view name;

  constexpr explicit OpDef(std::string_view op_name) : name(op_name) {}
};

/// Any OpDef with its signature erased: its name and how many arguments it
/// takes. For code that assembles a task's arguments at run time (a
/// blockwise map over chunks) and so can check only their number, when the
/// graph is built. Converts implicitly from every OpDef, never from a string.
class OpName {
 public:
  template <typename Signature>
  constexpr OpName(const OpDef<Signature>& def)  // NOLINT: any OpDef names an op
      : name_(def.name), arity_(def.kArity), variadic_(def.kVariadic) {}

  constexpr std::string_view name() const { return name_; }
  std::string str() const { return std::string(name_); }
  /// Whether a call with `n` arguments matches the definition.
  constexpr bool takes(std::size_t n) const { return variadic_ || n == arity_; }
  /// "op 'x' takes 3 arguments", for the message of a mismatch.
  std::string describe() const {
    return "op '" + str() + "' takes " + (variadic_ ? std::string("any number of") : std::to_string(arity_)) +
           " arguments";
  }

 private:
  std::string_view name_;
  std::size_t arity_;
  bool variadic_;
};

}  // namespace dtask
