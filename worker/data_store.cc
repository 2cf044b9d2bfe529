#include "worker/data_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <new>
#include <system_error>
#include <vector>

#include "common/check.h"
#include "common/hash_tables.h"
#include "common/large_buffer_pool.h"
#include "common/logging.h"
#include "common/process_memory.h"

namespace dtask::worker {

namespace {

/// The bytes of a value that may go to disk (arrays and blobs); null otherwise.
std::shared_ptr<const Buffer>* buffer_slot(Value& value) {
  if (auto* array = std::get_if<NDArray>(&value.variant())) return &array->buffer;
  if (auto* bytes = std::get_if<Bytes>(&value.variant())) return &bytes->buffer;
  return nullptr;
}

std::string errno_text() { return std::system_category().message(errno); }

/// One file per spilled value, written with one write(2) (the loop only
/// continues a partial write, which Linux does above 2 GiB or on a signal).
Status write_file(const std::string& path, const Buffer& buffer) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot create spill file " + path + ": " + errno_text());
  const std::byte* data = buffer.data();
  std::size_t left = buffer.size();
  while (left > 0) {
    ssize_t wrote = ::write(fd, data, left);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      Status failed = Status::io_error("cannot write spill file " + path + ": " + errno_text());
      ::close(fd);
      return failed;
    }
    data += wrote;
    left -= static_cast<std::size_t>(wrote);
  }
  if (::close(fd) != 0) return Status::io_error("cannot write spill file " + path + ": " + errno_text());
  return Status::success();
}

/// Reads a spill file back with one read(2) into a fresh 64-byte aligned buffer.
Result<std::shared_ptr<const Buffer>> read_file(const std::string& path, std::uint64_t nbytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_error("cannot open spill file " + path + ": " + errno_text());
  std::shared_ptr<Buffer> buffer;
  try {
    buffer = Buffer::allocate(nbytes);
  } catch (const std::bad_alloc&) {
    ::close(fd);
    return Status::out_of_memory("no memory to read back spill file " + path);
  }
  std::byte* data = buffer->mutable_data();
  std::size_t left = nbytes;
  while (left > 0) {
    ssize_t got = ::read(fd, data, left);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      Status failed = Status::io_error("cannot read spill file " + path + ": " +
                                       (got < 0 ? errno_text() : std::string("file is truncated")));
      ::close(fd);
      return failed;
    }
    data += got;
    left -= static_cast<std::size_t>(got);
  }
  ::close(fd);
  return std::shared_ptr<const Buffer>(std::move(buffer));
}

void remove_file(const std::string& path) {
  if (!path.empty()) ::unlink(path.c_str());
}

}  // namespace

DataStore::DataStore() : DataStore(DataStoreOptions{}, "") {}

DataStore::DataStore(DataStoreOptions options, std::string directory)
    : options_(std::move(options)),
      directory_(std::move(directory)),
      target_bytes_(static_cast<std::uint64_t>(options_.policy.target * static_cast<double>(options_.memory_limit))) {}

Result<std::unique_ptr<DataStore>> DataStore::make(DataStoreOptions options) {
  const MemoryPolicy& policy = options.policy;
  for (double fraction : {policy.target, policy.spill, policy.pause}) {
    if (!(fraction >= 0 && fraction <= 1)) {
      return Status::invalid("memory fractions must lie in [0, 1] (0 disables), got " + std::to_string(fraction));
    }
  }
  if (options.memory_limit == 0) return std::unique_ptr<DataStore>(new DataStore(std::move(options), ""));
  std::error_code ec;
  std::filesystem::path parent = options.local_directory.empty() ? std::filesystem::temp_directory_path(ec)
                                                                  : std::filesystem::path(options.local_directory);
  if (ec) return Status::io_error("no temporary directory for spilled data: " + ec.message());
  std::filesystem::create_directories(parent, ec);
  if (ec) return Status::io_error("cannot create local directory " + parent.string() + ": " + ec.message());
  // Our own directory, so that workers sharing a local directory never meet.
  std::string pattern = (parent / ("dtask-worker-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  if (::mkdtemp(name.data()) == nullptr) {
    return Status::io_error("cannot create a spill directory in " + parent.string() + ": " + errno_text());
  }
  return std::unique_ptr<DataStore>(new DataStore(std::move(options), std::string(name.data())));
}

DataStore::~DataStore() {
  if (directory_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

bool DataStore::spill_enabled() const {
  return options_.memory_limit > 0 && (options_.policy.target > 0 || options_.policy.spill > 0);
}

std::string DataStore::file_path(std::uint64_t file) const { return directory_ + "/" + std::to_string(file); }

void DataStore::warn(const std::string& message) const {
  if (options_.logger) options_.logger->warn("{}", message);
}

void DataStore::put(const std::string& key, Value value, SpillOnPut spill) {
  const std::uint64_t nbytes = value.nbytes();
  std::shared_ptr<const Buffer>* slot = buffer_slot(value);
  const bool spillable = spill_enabled() && slot != nullptr && *slot != nullptr && nbytes >= options_.min_spill_bytes;
  std::string stale_file;
  Value replaced;  // freed once the lock is dropped
  {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = entries_.try_emplace(key);
    Entry& entry = it->second;
    if (!inserted) {
      stale_file = drop_locked(entry);
      replaced = std::move(entry.value);
    }
    entry = Entry{};
    entry.value = std::move(value);
    entry.nbytes = nbytes;
    entry.id = next_id_++;
    entry.spillable = spillable;
    if (spillable) entry.lru = lru_.insert(lru_.end(), key);
    managed_bytes_ += nbytes;
  }
  remove_file(stale_file);
  if (spill == SpillOnPut::kHere) spill_to_target();
}

std::optional<Value> DataStore::get(const std::string& key) {
  std::unique_lock lock(mutex_);
  while (true) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    Entry& entry = it->second;
    if (entry.where == Where::kMemory) {
      if (entry.spillable) lru_.splice(lru_.end(), lru_, entry.lru);
      return entry.value;
    }
    if (entry.where == Where::kSpilling) {
      entry.touched = true;  // still in RAM; the spill will be undone
      return entry.value;
    }
    const std::uint64_t id = entry.id;
    if (entry.where == Where::kUnspilling) {
      // Another caller is reading it back: wait for that, then look again.
      unspilled_.wait(lock, [&] {
        auto now = entries_.find(key);
        return now == entries_.end() || now->second.id != id || now->second.where != Where::kUnspilling;
      });
      continue;
    }

    // On disk: read it back without holding the lock.
    entry.where = Where::kUnspilling;
    const std::uint64_t file = entry.file;
    const std::uint64_t nbytes = entry.nbytes;
    lock.unlock();
    const double read_start = wall_clock_seconds();
    Result<std::shared_ptr<const Buffer>> read = read_file(file_path(file), nbytes);
    if (read.ok() && options_.on_disk_io) options_.on_disk_io(false, read_start, wall_clock_seconds(), nbytes);
    lock.lock();
    it = entries_.find(key);
    bool same = it != entries_.end() && it->second.id == id && it->second.where == Where::kUnspilling;
    if (!same) {
      // Erased (its file with it) or replaced meanwhile: answer as of now.
      unspilled_.notify_all();
      continue;
    }
    Entry& back = it->second;
    if (!read.ok()) {
      back.where = Where::kDisk;
      unspilled_.notify_all();
      lock.unlock();
      warn("cannot read back " + key + ": " + read.status().message());
      return std::nullopt;
    }
    *buffer_slot(back.value) = std::move(*read);
    back.where = Where::kMemory;
    back.lru = lru_.insert(lru_.end(), key);
    spilled_bytes_ -= nbytes;
    --spilled_keys_;
    managed_bytes_ += nbytes;
    ++unspills_;
    Value out = back.value;
    unspilled_.notify_all();
    lock.unlock();
    remove_file(file_path(file));
    spill_to_target();
    return out;
  }
}

std::optional<Value> DataStore::get_in_memory(const std::string& key, bool* spilled) {
  std::lock_guard lock(mutex_);
  *spilled = false;
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  Entry& entry = it->second;
  switch (entry.where) {
    case Where::kMemory:
      if (entry.spillable) lru_.splice(lru_.end(), lru_, entry.lru);
      return entry.value;
    case Where::kSpilling:
      entry.touched = true;  // still in RAM; the spill will be undone
      return entry.value;
    case Where::kDisk:
    case Where::kUnspilling:
      *spilled = true;
      return std::nullopt;
  }
  return std::nullopt;
}

bool DataStore::contains(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return entries_.count(key) > 0;
}

bool DataStore::is_spilled(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  return it != entries_.end() && (it->second.where == Where::kDisk || it->second.where == Where::kUnspilling);
}

bool DataStore::erase(const std::string& key) {
  std::string file;
  Value dropped;  // freed once the lock is dropped
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    file = drop_locked(it->second);
    dropped = std::move(it->second.value);
    entries_.erase(it);
  }
  remove_file(file);
  return true;
}

std::size_t DataStore::erase_all(const std::vector<std::string>& keys) {
  // Short holds of the lock: executor threads read the store meanwhile.
  constexpr std::size_t kKeysPerLock = 4096;
  std::size_t erased = 0;
  std::vector<std::string> files;
  std::vector<Value> dropped;  // freed once the lock is dropped
  for (std::size_t start = 0; start < keys.size(); start += kKeysPerLock) {
    const std::size_t end = std::min(keys.size(), start + kKeysPerLock);
    dropped.clear();
    {
      std::lock_guard lock(mutex_);
      for (std::size_t i = start; i < end; ++i) {
        prefetch_ahead(entries_, keys, i, [](const std::string& key) -> const std::string& { return key; });
        auto it = entries_.find(keys[i]);
        if (it == entries_.end()) continue;
        if (std::string file = drop_locked(it->second); !file.empty()) files.push_back(std::move(file));
        dropped.push_back(std::move(it->second.value));
        entries_.erase(it);
        ++erased;
      }
    }
  }
  for (const std::string& file : files) remove_file(file);
  return erased;
}

std::string DataStore::drop_locked(Entry& entry) {
  switch (entry.where) {
    case Where::kMemory:
      managed_bytes_ -= entry.nbytes;
      if (entry.spillable) lru_.erase(entry.lru);
      return {};
    case Where::kSpilling:
      // The spilling thread finds the entry gone and deletes its own file.
      managed_bytes_ -= entry.nbytes;
      spilling_bytes_ -= entry.nbytes;
      return {};
    case Where::kUnspilling:
      unspilled_.notify_all();
      [[fallthrough]];
    case Where::kDisk:
      spilled_bytes_ -= entry.nbytes;
      --spilled_keys_;
      return file_path(entry.file);
  }
  return {};
}

void DataStore::spill_to_target() {
  if (!spill_enabled() || options_.policy.target <= 0) return;
  while (true) {
    Claim claim;
    {
      std::lock_guard lock(mutex_);
      if (managed_bytes_ - spilling_bytes_ <= target_bytes_) return;
      if (!claim_oldest_locked(claim)) return;
    }
    if (!spill_claimed(std::move(claim))) return;
  }
}

bool DataStore::over_target() const {
  if (!spill_enabled() || options_.policy.target <= 0) return false;
  std::lock_guard lock(mutex_);
  return managed_bytes_ - spilling_bytes_ > target_bytes_;
}

bool DataStore::spill_oldest() {
  Claim claim;
  {
    std::lock_guard lock(mutex_);
    if (!claim_oldest_locked(claim)) return false;
  }
  return spill_claimed(std::move(claim));
}

bool DataStore::claim_oldest_locked(Claim& claim) {
  if (lru_.empty()) return false;
  auto it = entries_.find(lru_.front());
  DTASK_CHECK(it != entries_.end() && it->second.where == Where::kMemory) << "LRU names a key not in RAM";
  Entry& entry = it->second;
  lru_.pop_front();
  entry.where = Where::kSpilling;
  entry.touched = false;
  entry.file = next_file_++;
  spilling_bytes_ += entry.nbytes;
  claim.key = it->first;
  claim.id = entry.id;
  claim.file = entry.file;
  claim.buffer = *buffer_slot(entry.value);
  return true;
}

bool DataStore::spill_claimed(Claim claim) {
  const std::string path = file_path(claim.file);
  const double write_start = wall_clock_seconds();
  Status written = write_file(path, *claim.buffer);
  if (written.ok() && options_.on_disk_io) {
    options_.on_disk_io(true, write_start, wall_clock_seconds(), claim.buffer->size());
  }
  bool keep_file = false;
  std::shared_ptr<const Buffer> released;  // freed once the lock is dropped
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(claim.key);
    if (it != entries_.end() && it->second.id == claim.id && it->second.where == Where::kSpilling) {
      Entry& entry = it->second;
      spilling_bytes_ -= entry.nbytes;
      if (written.ok() && !entry.touched) {
        released = std::move(*buffer_slot(entry.value));
        entry.where = Where::kDisk;
        managed_bytes_ -= entry.nbytes;
        spilled_bytes_ += entry.nbytes;
        ++spilled_keys_;
        ++spills_;
        keep_file = true;
      } else {
        // Read while it was written out (or the write failed): it stays in RAM, as recently used.
        entry.where = Where::kMemory;
        entry.lru = lru_.insert(lru_.end(), claim.key);
      }
    }
  }
  claim.buffer.reset();
  released.reset();
  if (!keep_file) remove_file(path);
  if (!written.ok()) {
    warn("cannot spill " + claim.key + ": " + written.message());
    return false;
  }
  return true;
}

bool DataStore::nothing_left_to_spill() const {
  std::lock_guard lock(mutex_);
  return lru_.empty();
}

MemoryCheck DataStore::check_process_memory() {
  MemoryCheck check;
  if (options_.memory_limit == 0) return check;
  auto measure = [this] { return options_.process_memory ? options_.process_memory() : process_rss_bytes(); };
  const double limit = static_cast<double>(options_.memory_limit);
  const MemoryPolicy& policy = options_.policy;
  std::uint64_t memory = measure();
  if (policy.spill > 0 && static_cast<double>(memory) > policy.spill * limit &&
      LargeBufferPool::instance().cached_bytes() > 0) {
    // Recycled buffers are memory nobody holds: return them before spilling data.
    LargeBufferPool::instance().release_all();
    memory = measure();
  }
  if (policy.spill > 0 && static_cast<double>(memory) > policy.spill * limit) {
    // As Dask does: spill until the process is back under the target.
    const double goal = (policy.target > 0 ? policy.target : policy.spill) * limit;
    while (static_cast<double>(memory) > goal && spill_oldest()) memory = measure();
  }
  check.process_memory = memory;
  check.pause = policy.pause > 0 && static_cast<double>(memory) > policy.pause * limit;
  if (check.pause && spill_enabled() && nothing_left_to_spill()) {
    // Everything that could spill has: the excess is unmanaged memory (the
    // binary, libraries, a sanitizer's shadow, another worker of this
    // process). Pausing cannot lower it, and a worker that pauses with no
    // task running never resumes: the graph would hang. Warn instead.
    check.pause = false;
    check.unmanaged_over_pause = true;
  }
  return check;
}

void DataStore::shrink_if_empty() {
  std::lock_guard lock(mutex_);
  release_if_empty(entries_);
}

std::size_t DataStore::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::vector<msg::KeyInfo> DataStore::list() const {
  std::lock_guard lock(mutex_);
  std::vector<msg::KeyInfo> out;
  out.reserve(entries_.size());
  // A spilled entry keeps its dtype and shape, so its type name is still right.
  for (const auto& [key, entry] : entries_) out.push_back({key, entry.nbytes, entry.value.type_name()});
  return out;
}

std::uint64_t DataStore::managed_bytes() const {
  std::lock_guard lock(mutex_);
  return managed_bytes_;
}

std::uint64_t DataStore::spilled_bytes() const {
  std::lock_guard lock(mutex_);
  return spilled_bytes_;
}

std::size_t DataStore::spilled_count() const {
  std::lock_guard lock(mutex_);
  return spilled_keys_;
}

std::uint64_t DataStore::spill_count() const {
  std::lock_guard lock(mutex_);
  return spills_;
}

std::uint64_t DataStore::unspill_count() const {
  std::lock_guard lock(mutex_);
  return unspills_;
}

DataStoreStats DataStore::stats() const {
  std::lock_guard lock(mutex_);
  return {entries_.size(), managed_bytes_, spilled_bytes_, spilled_keys_, spills_, unspills_};
}

}  // namespace dtask::worker
