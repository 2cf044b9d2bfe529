#include "worker/data_store.h"

namespace dtask::worker {

void DataStore::put(const std::string& key, Value value) {
  std::uint64_t nbytes = value.nbytes();
  std::lock_guard lock(mutex_);
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) managed_bytes_ -= it->second.nbytes;
  it->second = Entry{std::move(value), nbytes};
  managed_bytes_ += nbytes;
}

std::optional<Value> DataStore::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.value;
}

bool DataStore::contains(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return entries_.count(key) > 0;
}

bool DataStore::erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  managed_bytes_ -= it->second.nbytes;
  entries_.erase(it);
  return true;
}

std::size_t DataStore::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::uint64_t DataStore::managed_bytes() const {
  std::lock_guard lock(mutex_);
  return managed_bytes_;
}

}  // namespace dtask::worker
