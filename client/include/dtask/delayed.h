// Lazy task graphs, as dask.delayed: name an op and its arguments, get a
// Delayed; pass Delayed values as arguments to build a graph; nothing runs
// until Client::compute() or Client::persist() submits the whole graph in one
// message.
//
//   auto parts = std::vector<dtask::Delayed>{};
//   for (int i = 0; i < 1000; ++i) parts.push_back(dtask::delayed("inc")(i));
//   auto total = dtask::delayed("sum")(parts);
//   std::int64_t s = client.compute<std::int64_t>(total).result();
//
// An op declared as a dtask::OpDef (dtask/op_def.h) is named by its
// definition instead, and its arguments are checked when the call compiles:
//   dtask::delayed(dtask::ops::kInc)(i);      // dtask::ops::kInc: OpDef<Value(Value)>
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dtask/op_def.h"
#include "dtask/resources.h"
#include "dtask/value.h"
#include "dtask/future.h"

namespace dtask {

/// How a task runs: user priority (higher first), worker restrictions,
/// required resources, retries after an error, and an explicit key.
struct SubmitOptions {
  int priority = 0;
  std::vector<std::string> workers;  // worker names or addresses; empty: any
  ResourceList resources;            // e.g. {{"GPU", 1}}
  unsigned retries = 0;
  std::string key;  // empty: "<op>-<unique id>"
  /// `workers` becomes a preference (Dask's allow_other_workers): while none
  /// of them is connected, as after one died, any worker may run the task.
  bool allow_other_workers = false;
};

class Delayed;

/// One argument of a task: a plain value, a Delayed, a Future, or a list of
/// Delayed or Futures (which arrives at the op as one list value).
class TaskArg {
 public:
  template <typename T>
  TaskArg(T&& value)  // NOLINT: arguments convert implicitly
    requires std::is_constructible_v<Value, T&&>
      : value_(std::forward<T>(value)) {}
  TaskArg(const Delayed& delayed);                 // NOLINT
  TaskArg(const FutureBase& future);               // NOLINT
  TaskArg(const std::vector<Delayed>& delayeds);   // NOLINT
  /// A list of mixed arguments (Delayed, Futures, values) arriving as one list.
  explicit TaskArg(const std::vector<TaskArg>& items);
  template <typename T>
  TaskArg(const std::vector<Future<T>>& futures) {  // NOLINT
    ValueList refs;
    for (const auto& f : futures) {
      refs.push_back(TaskRef{f.key()});
      future_deps_.push_back(f);
    }
    value_ = Value(std::move(refs));
  }

  const Value& value() const { return value_; }
  const std::vector<Delayed>& delayed_deps() const { return delayed_deps_; }
  const std::vector<FutureBase>& future_deps() const { return future_deps_; }

 private:
  Value value_;  // TaskRefs stand where Delayed and Future arguments were
  std::vector<Delayed> delayed_deps_;
  std::vector<FutureBase> future_deps_;
};

namespace internal {
struct DelayedNode {
  std::string key;
  std::string op;
  std::vector<Value> args;
  std::vector<Delayed> delayed_deps;
  std::vector<FutureBase> future_deps;
  SubmitOptions options;
};
/// "<op>-<salt><counter>": the salt is 128 random bits drawn once per
/// process, so keys from different clients never collide. Thread-safe.
std::string unique_key(const std::string& op);
}  // namespace internal

/// A task not yet submitted. Cheap to copy (shares its node).
class Delayed {
 public:
  const std::string& key() const { return node_->key; }
  const std::string& op() const { return node_->op; }
  const std::shared_ptr<internal::DelayedNode>& node() const { return node_; }

 private:
  explicit Delayed(std::shared_ptr<internal::DelayedNode> node) : node_(std::move(node)) {}
  std::shared_ptr<internal::DelayedNode> node_;
  friend class DelayedOp;
};

/// `delayed("add")(a, 2)` builds a Delayed calling op "add".
class DelayedOp {
 public:
  explicit DelayedOp(std::string op, SubmitOptions options = {}) : op_(std::move(op)), options_(std::move(options)) {}

  template <typename... A>
  Delayed operator()(A&&... args) const {
    return make({TaskArg(std::forward<A>(args))...});
  }
  Delayed make(std::vector<TaskArg> args) const;

 private:
  std::string op_;
  SubmitOptions options_;
};

inline DelayedOp delayed(std::string op, SubmitOptions options = {}) {
  return DelayedOp(std::move(op), std::move(options));
}

namespace internal {

/// What a task argument becomes on the wire, as far as the compiler can
/// tell: the Value alternative a plain value converts to, kList for lists of
/// Delayed or Futures, kAny for what only the worker can check (a Delayed, a
/// Future<Value>, a Value, a TaskArg), kNone for a type that is no argument.
enum class ArgKind { kNone, kAny, kBool, kInt, kDouble, kString, kBytes, kArray, kList };

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {
  using Element = T;
};
template <typename T>
struct IsFuture : std::false_type {};
template <typename T>
struct IsFuture<Future<T>> : std::true_type {
  using Type = T;
};

/// The kind of a value of type T (decayed) once it is a Value.
template <typename T>
constexpr ArgKind value_kind() {
  if constexpr (std::is_same_v<T, Value> || std::is_same_v<T, TaskRef>) {
    return ArgKind::kAny;
  } else if constexpr (std::is_same_v<T, bool>) {
    return ArgKind::kBool;
  } else if constexpr (std::is_integral_v<T> && std::is_constructible_v<Value, T>) {
    return ArgKind::kInt;
  } else if constexpr (std::is_floating_point_v<T> && std::is_constructible_v<Value, T>) {
    return ArgKind::kDouble;
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, const char*> ||
                       std::is_same_v<T, char*>) {
    return ArgKind::kString;
  } else if constexpr (std::is_same_v<T, Bytes>) {
    return ArgKind::kBytes;
  } else if constexpr (std::is_same_v<T, NDArray>) {
    return ArgKind::kArray;
  } else if constexpr (std::is_same_v<T, ValueList>) {
    return ArgKind::kList;
  } else {
    return ArgKind::kNone;
  }
}

/// The kind of an argument of type A as submit/delayed/map take it.
template <typename A>
constexpr ArgKind arg_kind() {
  using D = std::decay_t<A>;  // char arrays become const char*
  if constexpr (std::is_same_v<D, Delayed> || std::is_same_v<D, TaskArg> || std::is_same_v<D, FutureBase>) {
    return ArgKind::kAny;
  } else if constexpr (IsFuture<D>::value) {
    return value_kind<typename IsFuture<D>::Type>();
  } else if constexpr (IsVector<D>::value && !std::is_same_v<D, ValueList>) {
    using E = typename IsVector<D>::Element;
    return std::is_same_v<E, Delayed> || std::is_same_v<E, TaskArg> || IsFuture<E>::value ? ArgKind::kList
                                                                                            : ArgKind::kNone;
  } else {
    return value_kind<D>();
  }
}

/// Whether the worker converts a value of `kind` to the parameter type P
/// (what value_as<P> accepts: integers widen to double, bytes read as strings).
template <typename P>
constexpr bool accepts(ArgKind kind) {
  if (kind == ArgKind::kNone) return false;
  if (kind == ArgKind::kAny || std::is_same_v<P, Value>) return true;
  if constexpr (std::is_same_v<P, bool>) return kind == ArgKind::kBool;
  if constexpr (std::is_same_v<P, std::int64_t> || std::is_same_v<P, int>) {
    return kind == ArgKind::kInt || kind == ArgKind::kBool;
  }
  if constexpr (std::is_same_v<P, double> || std::is_same_v<P, float>) {
    return kind == ArgKind::kDouble || kind == ArgKind::kInt;
  }
  if constexpr (std::is_same_v<P, std::string>) return kind == ArgKind::kString || kind == ArgKind::kBytes;
  if constexpr (std::is_same_v<P, Bytes>) return kind == ArgKind::kBytes;
  if constexpr (std::is_same_v<P, NDArray>) return kind == ArgKind::kArray;
  if constexpr (std::is_same_v<P, ValueList>) return kind == ArgKind::kList;
  return false;
}

/// One static_assert per argument, so the compiler names the position (I),
/// the parameter type (P) and the argument type (A) that do not match.
template <std::size_t I, typename P, typename A>
constexpr bool check_op_argument() {
  static_assert(arg_kind<A>() != ArgKind::kNone,
                "dtask: this argument type is not a task argument (a value a dtask::Value holds, a Future, a "
                "Delayed, or a std::vector of Futures or Delayed)");
  static_assert(arg_kind<A>() == ArgKind::kNone || accepts<P>(arg_kind<A>()),
                "dtask: an argument does not convert to the OpDef's parameter type at its position");
  return true;
}

template <typename Params, typename... A, std::size_t... I>
constexpr bool check_op_arguments(std::index_sequence<I...>) {
  return (check_op_argument<I, std::tuple_element_t<I, Params>, A>() && ...);
}

/// Checks a call of `op` with arguments of types A... when it compiles:
/// their number, and that each converts to its parameter.
template <typename Signature, typename... A>
constexpr bool check_op_call() {
  using Def = OpDef<Signature>;
  if constexpr (Def::kVariadic) {
    return (check_op_argument<0, Value, A>() && ... && true);
  } else {
    static_assert(sizeof...(A) == Def::kArity,
                  "dtask: wrong number of arguments for this op: see its OpDef for the parameters");
    if constexpr (sizeof...(A) == Def::kArity) {
      return check_op_arguments<typename Def::Params, A...>(std::index_sequence_for<A...>{});
    } else {
      return true;  // the static_assert above has said what is wrong
    }
  }
}

}  // namespace internal

/// `delayed(kOp)(a, b)` for an op declared as an OpDef: the arguments are
/// checked against its parameters when the call compiles.
template <typename Signature>
class TypedDelayedOp {
 public:
  explicit TypedDelayedOp(const OpDef<Signature>& def, SubmitOptions options = {})
      : op_(std::string(def.name), std::move(options)) {}

  template <typename... A>
  Delayed operator()(A&&... args) const {
    static_assert(internal::check_op_call<Signature, A...>());
    return op_.make({TaskArg(std::forward<A>(args))...});
  }

 private:
  DelayedOp op_;
};

template <typename Signature>
TypedDelayedOp<Signature> delayed(const OpDef<Signature>& def, SubmitOptions options = {}) {
  return TypedDelayedOp<Signature>(def, std::move(options));
}

}  // namespace dtask
