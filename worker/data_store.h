// Results held by this worker, with their sizes. The memory-limited,
// spilling version (issue: arrays on larger-than-memory data) grows from here.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/value.h"

namespace dtask::worker {

/// Thread-safe: executor threads write results, the io thread serves peers.
class DataStore {
 public:
  void put(const std::string& key, Value value);
  std::optional<Value> get(const std::string& key) const;
  bool contains(const std::string& key) const;
  /// Returns whether the key was held.
  bool erase(const std::string& key);
  std::size_t size() const;
  std::uint64_t managed_bytes() const;

 private:
  struct Entry {
    Value value;
    std::uint64_t nbytes = 0;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t managed_bytes_ = 0;
};

}  // namespace dtask::worker
