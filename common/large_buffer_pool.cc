#include "common/large_buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <new>

#include "dtask/value.h"

namespace dtask {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

/// A kept region serves a request between 3/4 of its capacity and all of
/// it, so a 128 MiB region is not spent on a 5 MiB buffer.
bool fits(std::size_t capacity, std::size_t size) { return size <= capacity && size >= capacity - capacity / 4; }

}  // namespace

LargeBufferPool& LargeBufferPool::instance() {
  static auto* pool = new LargeBufferPool;
  return *pool;
}

LargeBufferPool::Region LargeBufferPool::map_region(std::size_t size) {
  Region region;
  region.capacity = (size + kHugePage - 1) / kHugePage * kHugePage;
  region.length = region.capacity + kHugePage;  // room to align
  region.base = ::mmap(nullptr, region.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region.base == MAP_FAILED) throw std::bad_alloc();
  auto address = reinterpret_cast<std::uintptr_t>(region.base);
  region.aligned = reinterpret_cast<std::byte*>((address + kHugePage - 1) / kHugePage * kHugePage);
  // Huge pages: a fresh 32 MiB chunk costs 16 page faults instead of 8192.
  ::madvise(region.aligned, region.capacity, MADV_HUGEPAGE);  // advice only: failure is harmless
  return region;
}

void LargeBufferPool::unmap(const std::vector<Region>& regions) {
  for (const Region& r : regions) ::munmap(r.base, r.length);
}

std::shared_ptr<Buffer> LargeBufferPool::allocate(std::size_t size) {
  Region region;
  bool reused = false;
  {
    std::lock_guard lock(mutex_);
    // Newest first: its pages are the likeliest to be in the cache.
    for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
      if (!fits(it->capacity, size)) continue;
      region = *it;
      cached_bytes_ -= region.capacity;
      free_.erase(std::next(it).base());
      reused = true;
      break;
    }
  }
  if (!reused) region = map_region(size);
  std::shared_ptr<void> owner(region.base, [region](void*) { instance().recycle(region); });
  return std::make_shared<Buffer>(std::move(owner), region.aligned, size);
}

void LargeBufferPool::recycle(Region region) {
  std::vector<Region> evicted;
  {
    std::lock_guard lock(mutex_);
    region.freed = std::chrono::steady_clock::now();
    free_.push_back(region);
    cached_bytes_ += region.capacity;
    evicted = evict_over_limit_locked();
  }
  unmap(evicted);
}

std::vector<LargeBufferPool::Region> LargeBufferPool::evict_over_limit_locked() {
  std::vector<Region> evicted;
  while (!free_.empty() && (cached_bytes_ > limit_ || free_.size() > kMaxRegions)) {
    evicted.push_back(free_.front());
    cached_bytes_ -= free_.front().capacity;
    free_.erase(free_.begin());
  }
  return evicted;
}

void LargeBufferPool::set_limit(std::size_t bytes) {
  std::vector<Region> evicted;
  {
    std::lock_guard lock(mutex_);
    limit_ = bytes;
    evicted = evict_over_limit_locked();
  }
  unmap(evicted);
}

std::size_t LargeBufferPool::cached_bytes() const {
  std::lock_guard lock(mutex_);
  return cached_bytes_;
}

void LargeBufferPool::release_all() {
  std::vector<Region> evicted;
  {
    std::lock_guard lock(mutex_);
    evicted.swap(free_);
    cached_bytes_ = 0;
  }
  unmap(evicted);
}

void LargeBufferPool::release_idle(std::chrono::steady_clock::duration idle) {
  const auto cutoff = std::chrono::steady_clock::now() - idle;
  std::vector<Region> evicted;
  {
    std::lock_guard lock(mutex_);
    auto kept = std::stable_partition(free_.begin(), free_.end(), [&](const Region& r) { return r.freed <= cutoff; });
    for (auto it = free_.begin(); it != kept; ++it) {
      evicted.push_back(*it);
      cached_bytes_ -= it->capacity;
    }
    free_.erase(free_.begin(), kept);
  }
  unmap(evicted);
}

}  // namespace dtask
