// Where chunk-sized buffers (4 MiB and more) come from: mmap'd regions,
// 2 MiB aligned and marked for transparent huge pages, recycled.
//
// A fresh region costs the kernel a zeroing pass over every page at first
// touch; streaming 40 MB chunks through an SGD fit, that zeroing was a
// quarter of a worker's CPU time, more than the copy out of the page cache.
// So a freed region is kept for the next buffer of about its size, within a
// byte limit, and handed back to the OS when it has been idle for a while
// or when the process needs the memory (the worker's memory check releases
// the pool before it spills anything). Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace dtask {

class Buffer;

class LargeBufferPool {
 public:
  /// Buffers from this size up come from the pool; smaller ones from malloc.
  static constexpr std::size_t kMinSize = std::size_t{4} << 20;
  /// Bytes kept by default: what issue 17 allows a process to keep after its
  /// data is released. Workers raise it with their memory limit.
  static constexpr std::size_t kDefaultLimit = std::size_t{64} << 20;
  static constexpr std::size_t kMaxRegions = 8;

  /// The process's pool (never destroyed: buffers may outlive static destructors).
  static LargeBufferPool& instance();

  /// `size` uninitialised bytes; throws std::bad_alloc when mmap fails.
  std::shared_ptr<Buffer> allocate(std::size_t size);

  /// At most `bytes` of freed regions are kept (0: none, every free unmaps).
  void set_limit(std::size_t bytes);
  std::size_t cached_bytes() const;
  /// Unmaps every kept region.
  void release_all();
  /// Unmaps the regions nobody has reused for `idle` or longer.
  void release_idle(std::chrono::steady_clock::duration idle);

 private:
  struct Region {
    void* base = nullptr;        // what mmap returned
    std::size_t length = 0;      // what was mapped
    std::byte* aligned = nullptr;
    std::size_t capacity = 0;    // usable bytes from `aligned`
    std::chrono::steady_clock::time_point freed;
  };

  LargeBufferPool() = default;
  static Region map_region(std::size_t size);
  static void unmap(const std::vector<Region>& regions);
  /// The deleter's path: keeps `region` or unmaps it.
  void recycle(Region region);
  /// Removes and returns the regions over the limits; the caller unmaps them.
  std::vector<Region> evict_over_limit_locked();

  mutable std::mutex mutex_;
  std::vector<Region> free_;  // oldest first
  std::size_t cached_bytes_ = 0;
  std::size_t limit_ = kDefaultLimit;
};

}  // namespace dtask
