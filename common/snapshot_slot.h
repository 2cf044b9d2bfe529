// One immutable value published by one thread and read by others: the
// scheduler strand publishes dashboard snapshots, HTTP threads read them.
// Readers get a shared_ptr to a const value they may keep as long as they
// like; the lock is held only to copy the pointer, never while the value is
// built or read, so a reader can never stall the publisher.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace dtask {

/// Thread-safe.
template <typename T>
class SnapshotSlot {
 public:
  void publish(std::shared_ptr<const T> value) {
    std::lock_guard lock(mutex_);
    value_.swap(value);
    // The old value (now in `value`) is freed after the unlock, by whoever drops it last.
  }
  /// The latest value, or null before the first publish.
  std::shared_ptr<const T> get() const {
    std::lock_guard lock(mutex_);
    return value_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
};

}  // namespace dtask
