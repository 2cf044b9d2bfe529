// Futures: handles to task results that live on workers. Copies share one
// state; when the last copy of every Future for a key is gone, the client
// tells the scheduler, which releases the result (as dask's futures do).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dtask/status.h"
#include "dtask/value.h"

namespace dtask {

namespace internal {
class ClientCore;
struct FutureState;
}  // namespace internal

/// Thrown by Future::result() when the task (or one it depends on) failed,
/// was cancelled, or its data was lost. what() names the op, key and error.
class TaskError : public std::runtime_error {
 public:
  explicit TaskError(Status status) : std::runtime_error(status.message()), status_(std::move(status)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

/// An untyped future. Thread-safe.
class FutureBase {
 public:
  FutureBase() = default;
  const std::string& key() const;
  /// True once the result is in memory, or the task failed or was cancelled.
  bool done() const;
  /// Blocks until done or `timeout` (default: its client's
  /// ClientOptions::result_timeout); OK when the result is in memory, the
  /// task's error (op, key, message) when it failed, and TimedOut naming
  /// the key when the time ran out first.
  Status wait() const;
  Status wait(std::chrono::milliseconds timeout) const;
  /// Waits, then fetches the value from a worker holding it, all within
  /// `timeout` (default: ClientOptions::result_timeout to wait, then
  /// ClientOptions::request_timeout to fetch).
  Result<Value> value() const;
  Result<Value> value(std::chrono::milliseconds timeout) const;
  bool valid() const { return state_ != nullptr; }

 protected:
  explicit FutureBase(std::shared_ptr<internal::FutureState> state) : state_(std::move(state)) {}
  std::shared_ptr<internal::FutureState> state_;
  friend class internal::ClientCore;
  friend class Client;
  friend class CompletionOrder;
};

/// A future whose result converts to T (Value: no conversion).
template <typename T = Value>
class Future : public FutureBase {
 public:
  Future() = default;
  explicit Future(const FutureBase& base) : FutureBase(base) {}

  /// The result or its error (TimedOut, naming the key, past `timeout`;
  /// see value()).
  Result<T> try_result() const { return converted(value()); }
  Result<T> try_result(std::chrono::milliseconds timeout) const { return converted(value(timeout)); }
  /// The result; throws TaskError when the task failed or `timeout` passed
  /// (as Dask's `future.result(timeout=...)`).
  T result() const { return or_throw(try_result()); }
  T result(std::chrono::milliseconds timeout) const { return or_throw(try_result(timeout)); }

 private:
  static Result<T> converted(Result<Value> v) {
    if (!v.ok()) return v.status();
    return value_as<T>(*v);
  }
  static T or_throw(Result<T> r) {
    if (!r.ok()) throw TaskError(r.status());
    return std::move(r).value();
  }
};

}  // namespace dtask
