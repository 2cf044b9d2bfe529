// Helpers for the open-addressing tables (Abseil's) that hold a daemon's
// keys: giving an emptied table's memory back, and hiding the memory latency
// of lookups in a table far bigger than the caches.
#pragma once

#include <cstddef>

namespace dtask {

/// Frees the buckets of an emptied hash table. Open-addressing tables
/// (Abseil's) keep their capacity when every element is erased, so a table
/// that once held a million-task graph would pin its memory after the graph
/// is released. Small tables are left alone: they cost little and are
/// refilled at once. Call it from a timer, not on every erase.
template <typename Table>
void release_if_empty(Table& table) {
  constexpr auto kKeepBuckets = 1024;
  if (table.empty() && table.bucket_count() > kKeepBuckets) Table().swap(table);
}

/// How far ahead prefetch_ahead reaches: enough lookups in flight to hide a
/// miss to memory, few enough that the lines are still cached when used.
inline constexpr std::size_t kPrefetchDistance = 8;

/// Call before looking up `key_of(items[i])` in `table` while walking
/// `items` in order: starts loading the table slot of the item
/// kPrefetchDistance ahead. A lookup in a table of a million keys waits on
/// memory; walking a million-input task's keys this way keeps several of
/// those waits in flight at once.
template <typename Table, typename Items, typename KeyOf>
void prefetch_ahead(const Table& table, const Items& items, std::size_t i, KeyOf key_of) {
  if (i + kPrefetchDistance < items.size()) table.prefetch(key_of(items[i + kPrefetchDistance]));
}

}  // namespace dtask
