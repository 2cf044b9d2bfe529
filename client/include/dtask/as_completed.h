// as_completed: take futures in the order they finish, as Dask's
// `for f in as_completed(futures)`. The client pushes each future into a
// completion queue as its status arrives, so taking the next one costs O(1)
// whatever the number of futures (wait_any scans them all on every call).
//
//   for (const auto& f : dtask::as_completed(client, futures)) use(f.result());
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "dtask/future.h"
#include "dtask/status.h"

namespace dtask {

class Client;

namespace internal {
struct CompletionQueue;
}  // namespace internal

/// The indexes of `futures` in the order they finish (those already done
/// first, in their given order). Each index comes out exactly once. The
/// futures must belong to `client`; an empty future counts as done.
/// Thread-compatible: one thread takes from it at a time.
class CompletionOrder {
 public:
  CompletionOrder(Client& client, const std::vector<FutureBase>& futures);
  ~CompletionOrder();
  CompletionOrder(CompletionOrder&&) noexcept;
  CompletionOrder& operator=(CompletionOrder&&) noexcept;

  /// Indexes not taken yet.
  std::size_t remaining() const;
  /// The next index to finish; Invalid when none remain, TimedOut (naming
  /// how many are pending) when none finishes within `timeout` (default:
  /// ClientOptions::result_timeout).
  Result<std::size_t> next();
  Result<std::size_t> next(std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<internal::CompletionQueue> queue_;
};

/// Yields futures in the order they finish: `for (auto& f : as_completed(client, futures))`.
/// A future is handed out once (moved out of the set); a failed task's future
/// is yielded like any other, its result() throws. next() throws TaskError
/// when none finishes within ClientOptions::result_timeout.
template <typename T>
class AsCompleted {
 public:
  AsCompleted(Client& client, std::vector<Future<T>> futures)
      : futures_(std::move(futures)), order_(client, std::vector<FutureBase>(futures_.begin(), futures_.end())) {}

  /// The next future to finish, or nullopt when none remain.
  std::optional<Future<T>> next() {
    if (order_.remaining() == 0) return std::nullopt;
    Result<std::size_t> index = order_.next();
    if (!index.ok()) throw TaskError(index.status());
    return std::move(futures_[*index]);
  }
  /// Like next(), waiting at most `timeout`; a TimedOut error when none finished.
  Result<std::optional<Future<T>>> next(std::chrono::milliseconds timeout) {
    if (order_.remaining() == 0) return std::optional<Future<T>>();
    DTASK_ASSIGN_OR_RETURN(std::size_t index, order_.next(timeout));
    return std::optional<Future<T>>(std::move(futures_[index]));
  }
  std::size_t remaining() const { return order_.remaining(); }

  class Iterator {
   public:
    Iterator(AsCompleted* owner, std::optional<Future<T>> current) : owner_(owner), current_(std::move(current)) {}
    const Future<T>& operator*() const { return *current_; }
    Iterator& operator++() {
      current_ = owner_->next();
      return *this;
    }
    bool operator!=(const Iterator& other) const { return current_.has_value() != other.current_.has_value(); }

   private:
    AsCompleted* owner_;
    std::optional<Future<T>> current_;
  };
  Iterator begin() { return Iterator(this, next()); }
  Iterator end() { return Iterator(this, std::nullopt); }

 private:
  std::vector<Future<T>> futures_;  // a slot is empty once its future was yielded
  CompletionOrder order_;
};

template <typename T>
AsCompleted<T> as_completed(Client& client, std::vector<Future<T>> futures) {
  return AsCompleted<T>(client, std::move(futures));
}

}  // namespace dtask
