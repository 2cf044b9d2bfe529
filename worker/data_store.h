// Results held by this worker, governed by a memory limit the way Dask's
// worker memory manager is: above the target the least recently used results
// spill to files in a local directory, above the spill threshold (measured as
// process RSS) more of them do, and above the pause threshold the worker
// stops starting tasks (the worker acts on check_process_memory()).
#pragma once

#include <absl/container/node_hash_map.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/messages.h"
#include "dtask/status.h"
#include "dtask/value.h"

namespace spdlog {
class logger;
}

namespace dtask::worker {

/// Fractions of the memory limit that trigger each step, with Dask's
/// defaults (distributed.worker.memory.target/spill/pause). 0 disables a step.
struct MemoryPolicy {
  /// Spill least recently used results while the bytes of results held in
  /// RAM exceed this fraction of the limit.
  double target = 0.6;
  /// Spill least recently used results while the process RSS exceeds this
  /// fraction, until it falls below `target` (or this one, if target is off).
  double spill = 0.7;
  /// Start no new tasks while the process RSS exceeds this fraction.
  double pause = 0.8;
};

struct DataStoreOptions {
  /// Bytes; 0: unlimited, nothing ever spills or pauses.
  std::uint64_t memory_limit = 0;
  MemoryPolicy policy;
  /// Where this store makes its own spill directory. Empty: the system's
  /// temporary directory.
  std::string local_directory;
  /// Arrays and byte blobs smaller than this stay in RAM: a file per key
  /// costs more than it frees.
  std::size_t min_spill_bytes = 4096;
  /// Measures process memory for check_process_memory(); empty:
  /// process_rss_bytes(). Tests pass a fake.
  std::function<std::uint64_t()> process_memory;
  /// Spill and unspill failures are logged here; may be null.
  std::shared_ptr<spdlog::logger> logger;
  /// Told of every spill file written and read back, with wall-clock start
  /// and stop seconds and the bytes moved (the dashboard's task stream shows
  /// them). Called on whichever thread did the I/O, with no lock held; may be empty.
  std::function<void(bool spill, double start, double stop, std::uint64_t nbytes)> on_disk_io;
};

/// One consistent reading of the store's counters.
struct DataStoreStats {
  std::size_t keys = 0;               // held, in RAM or on disk
  std::uint64_t managed_bytes = 0;    // result bytes in RAM (including those being written out)
  std::uint64_t spilled_bytes = 0;    // result bytes on disk
  std::size_t spilled_keys = 0;
  std::uint64_t spills = 0;           // values written to disk, ever
  std::uint64_t unspills = 0;         // values read back, ever
};

/// What the periodic memory check found.
struct MemoryCheck {
  std::uint64_t process_memory = 0;  // bytes of RSS after any spilling; 0 when not measured
  bool pause = false;                // above the pause threshold: start no new tasks
  /// Above the pause threshold with nothing left to spill: not paused (it
  /// could never resume), but worth a warning.
  bool unmanaged_over_pause = false;
};

/// Where put() writes the spill files it makes room with.
enum class SpillOnPut : std::uint8_t {
  kHere,   // on the calling thread, before put() returns (executor threads)
  kLater,  // not at all: the caller runs spill_to_target() on a thread that may block
};

/// Thread-safe: executor threads write results, the io thread serves peers.
/// Spill and unspill file I/O runs outside the lock: a key being written out
/// or read back is marked so that every other caller sees it consistently.
class DataStore {
 public:
  /// An unlimited store: nothing spills, no directory is made.
  DataStore();
  /// A store under `options.memory_limit`, with its own new spill directory
  /// (made here, removed with everything in it by the destructor).
  static Result<std::unique_ptr<DataStore>> make(DataStoreOptions options);
  ~DataStore();
  DataStore(const DataStore&) = delete;
  DataStore& operator=(const DataStore&) = delete;

  /// Stores (or replaces) `key`, then, with SpillOnPut::kHere, spills least
  /// recently used values on this thread while the bytes in RAM exceed the
  /// target. The worker's io thread passes kLater: a spill file of a GiB
  /// written there would hold up heartbeats and every peer.
  void put(const std::string& key, Value value, SpillOnPut spill = SpillOnPut::kHere);
  /// Spills least recently used values while the bytes in RAM exceed the
  /// target. Blocks on file I/O: never call it on a network thread.
  void spill_to_target();
  /// Whether spill_to_target() would spill now. Never blocks on I/O.
  bool over_target() const;
  /// The value of `key`, read back from disk if it was spilled (it is then in
  /// RAM again, as the most recently used, and others may spill to make room).
  /// nullopt when the key is not held or its file cannot be read (logged).
  /// Blocks on file I/O for a spilled key.
  std::optional<Value> get(const std::string& key);
  /// The value of `key` if it is in RAM; never touches a file. nullopt when
  /// it is not held, or (then `*spilled` is set) when only get() can read it back.
  std::optional<Value> get_in_memory(const std::string& key, bool* spilled);
  bool contains(const std::string& key) const;
  /// Whether `key` is held on disk (or being read back) rather than in RAM.
  bool is_spilled(const std::string& key) const;
  /// Drops the key (deleting its spill file). Returns whether it was held.
  bool erase(const std::string& key);
  /// Drops every key of `keys` that is held, as erase() does, taking the lock
  /// once per few thousand keys: a task over a million inputs drops them all
  /// at once. Returns how many were held.
  std::size_t erase_all(const std::vector<std::string>& keys);

  /// The periodic check: measures process memory; above the spill threshold
  /// spills least recently used values until it falls below the target or
  /// nothing is left to spill; says whether it is above the pause threshold.
  /// Call from one thread (the worker's memory monitor).
  MemoryCheck check_process_memory();

  std::size_t size() const;
  /// Frees the table's slots once it holds nothing (see WorkerState::shrink_empty_tables).
  void shrink_if_empty();
  /// Every key held, with its bytes and type name (in RAM or on disk).
  std::vector<msg::KeyInfo> list() const;
  /// Bytes of results in RAM.
  std::uint64_t managed_bytes() const;
  /// Bytes of results on disk.
  std::uint64_t spilled_bytes() const;
  std::size_t spilled_count() const;
  std::uint64_t spill_count() const;
  std::uint64_t unspill_count() const;
  DataStoreStats stats() const;

  std::uint64_t memory_limit() const { return options_.memory_limit; }
  const MemoryPolicy& policy() const { return options_.policy; }
  /// This store's spill directory; empty for an unlimited store.
  const std::string& directory() const { return directory_; }

 private:
  enum class Where : std::uint8_t { kMemory, kSpilling, kDisk, kUnspilling };
  struct Entry {
    Value value;  // on disk: the NDArray or Bytes without its buffer (dtype and shape stay)
    std::uint64_t nbytes = 0;
    std::uint64_t id = 0;    // unique per put: tells a replaced entry from the one an I/O started on
    std::uint64_t file = 0;  // spill file number, fresh for every spill
    Where where = Where::kMemory;
    bool spillable = false;
    bool touched = false;                   // read while being written out: keep it in RAM
    std::list<std::string>::iterator lru;  // valid while in RAM and spillable
  };
  /// A value chosen for spilling, with what the write needs.
  struct Claim {
    std::string key;
    std::uint64_t id = 0;
    std::uint64_t file = 0;
    std::shared_ptr<const Buffer> buffer;
  };

  DataStore(DataStoreOptions options, std::string directory);

  bool spill_enabled() const;
  /// No result in RAM could spill (all are spilled, small, or in flight).
  bool nothing_left_to_spill() const;
  /// Spills the least recently used value. False when none is left or the write failed.
  bool spill_oldest();
  /// Marks the coldest value as being spilled. Call with the lock held.
  bool claim_oldest_locked(Claim& claim);
  /// Writes a claimed value out (no lock held) and records the outcome.
  bool spill_claimed(Claim claim);
  /// Removes `entry` from the accounting; returns the spill file it owned
  /// (to delete once the lock is dropped), or an empty string.
  std::string drop_locked(Entry& entry);
  std::string file_path(std::uint64_t file) const;
  void warn(const std::string& message) const;

  const DataStoreOptions options_;
  const std::string directory_;
  const std::uint64_t target_bytes_;

  mutable std::mutex mutex_;
  std::condition_variable unspilled_;  // an unspill finished (or failed)
  // Abseil's node table: entries stay put (the I/O paths hold them across
  // calls), and a lookup probes an array instead of chasing bucket lists.
  absl::node_hash_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // spillable keys in RAM, least recently used first
  std::uint64_t managed_bytes_ = 0;
  std::uint64_t spilling_bytes_ = 0;  // in RAM, being written out
  std::uint64_t spilled_bytes_ = 0;
  std::size_t spilled_keys_ = 0;
  std::uint64_t spills_ = 0;
  std::uint64_t unspills_ = 0;
  std::uint64_t next_id_ = 1;
  std::uint64_t next_file_ = 1;
};

}  // namespace dtask::worker
