// Lazy task graphs, as dask.delayed: name an op and its arguments, get a
// Delayed; pass Delayed values as arguments to build a graph; nothing runs
// until Client::compute() or Client::persist() submits the whole graph in one
// message.
//
//   auto parts = std::vector<dtask::Delayed>{};
//   for (int i = 0; i < 1000; ++i) parts.push_back(dtask::delayed("inc")(i));
//   auto total = dtask::delayed("sum")(parts);
//   std::int64_t s = client.compute<std::int64_t>(total).result();
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace dtask
