#pragma once

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

}  // namespace dtask
