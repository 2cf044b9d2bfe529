// DataStore under a memory limit: least recently used results spill to files
// above the target, come back byte-identical on get(), leave no file behind
// when erased or when the store goes away, and the byte accounting stays
// exact with several threads putting and getting at once.
#include "worker/data_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace dtask::worker {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kKiB = 1024;
constexpr std::size_t kDoubles = 1024;  // 8 KiB arrays

/// An 8 KiB float64 array whose every element depends on `seed`.
Value array_value(std::uint64_t seed, std::size_t n = kDoubles) {
  NDArray array = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(n)});
  double* data = array.mutable_data<double>();
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<double>(seed) * 1e6 + static_cast<double>(i);
  return Value(std::move(array));
}

bool same_array(const Value& value, std::uint64_t seed, std::size_t n = kDoubles) {
  if (!value.is<NDArray>()) return false;
  const NDArray& array = value.get<NDArray>();
  if (array.dtype != DType::kFloat64 || array.shape != std::vector<std::int64_t>{static_cast<std::int64_t>(n)} ||
      array.buffer == nullptr || array.nbytes() != n * sizeof(double)) {
    return false;
  }
  Value expected = array_value(seed, n);
  return std::memcmp(array.buffer->data(), expected.get<NDArray>().buffer->data(), array.nbytes()) == 0;
}

std::size_t files_in(const std::string& directory) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& item : fs::directory_iterator(directory)) ++n;
  return n;
}

class DataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test) {
      if (c == '/') c = '_';  // parameterised names: "AccountingStaysExact/2threads"
    }
    parent_ = fs::temp_directory_path() / ("dtask_data_store_test_" + std::to_string(::getpid()) + "_" + test);
    fs::remove_all(parent_);
  }
  void TearDown() override {
    store_.reset();
    // Every store removes its own directory: only the (empty) parent is left.
    if (fs::exists(parent_)) {
      EXPECT_TRUE(fs::is_empty(parent_)) << "a store left files in " << parent_;
    }
    fs::remove_all(parent_);
  }

  /// A store limited to `limit` bytes with `policy`, spilling under parent_.
  DataStore& make(std::uint64_t limit, MemoryPolicy policy = {}, std::function<std::uint64_t()> rss = {}) {
    DataStoreOptions options;
    options.memory_limit = limit;
    options.policy = policy;
    options.local_directory = parent_.string();
    options.process_memory = std::move(rss);
    auto made = DataStore::make(std::move(options));
    EXPECT_TRUE(made.ok()) << made.status().to_string();
    store_ = std::move(*made);
    return *store_;
  }

  /// managed + spilled bytes equal the bytes of the keys held; files match spilled keys.
  void expect_exact_accounting(std::uint64_t held_bytes) {
    DataStoreStats stats = store_->stats();
    EXPECT_EQ(stats.managed_bytes + stats.spilled_bytes, held_bytes);
    EXPECT_EQ(files_in(store_->directory()), stats.spilled_keys);
  }

  fs::path parent_;
  std::unique_ptr<DataStore> store_;
};

// Above the target the least recently used values spill; a value just read stays in RAM.
TEST_F(DataStoreTest, SpillsLeastRecentlyUsedAboveTarget) {
  DataStore& store = make(100 * kKiB);  // target 0.6: 60 KiB, room for seven 8 KiB arrays
  for (int i = 0; i < 7; ++i) store.put("k" + std::to_string(i), array_value(i));
  EXPECT_EQ(store.spilled_count(), 0u);
  EXPECT_EQ(store.managed_bytes(), 56 * kKiB);

  ASSERT_TRUE(store.get("k0").has_value());  // k0 is now the most recently used
  store.put("k7", array_value(7));           // 64 KiB > 60 KiB: one must go
  EXPECT_EQ(store.spilled_count(), 1u);
  EXPECT_TRUE(store.is_spilled("k1"));
  EXPECT_FALSE(store.is_spilled("k0"));
  store.put("k8", array_value(8));
  EXPECT_TRUE(store.is_spilled("k2"));
  EXPECT_FALSE(store.is_spilled("k0"));
  EXPECT_FALSE(store.is_spilled("k8"));
  EXPECT_EQ(store.spilled_count(), 2u);
  EXPECT_EQ(store.spilled_bytes(), 16 * kKiB);
  EXPECT_EQ(store.managed_bytes(), 56 * kKiB);
  EXPECT_LE(store.managed_bytes(), 60 * kKiB);
  expect_exact_accounting(9 * 8 * kKiB);
}

// SpillOnPut::kLater writes no file in put(): the bytes stay in RAM above the
// target until spill_to_target() runs (on the worker's disk thread).
TEST_F(DataStoreTest, DeferredPutSpillsOnlyWhenAsked) {
  DataStore& store = make(100 * kKiB);  // target 60 KiB
  for (int i = 0; i < 10; ++i) store.put("k" + std::to_string(i), array_value(i), SpillOnPut::kLater);
  EXPECT_EQ(store.spilled_count(), 0u);
  EXPECT_EQ(store.managed_bytes(), 80 * kKiB);
  EXPECT_EQ(files_in(store.directory()), 0u);
  store.spill_to_target();
  EXPECT_EQ(store.spilled_count(), 3u);
  EXPECT_TRUE(store.is_spilled("k0"));
  EXPECT_LE(store.managed_bytes(), 60 * kKiB);
  expect_exact_accounting(10 * 8 * kKiB);
}

// get_in_memory() answers from RAM and never reads a spill file back: a
// spilled key is reported as spilled and stays on disk.
TEST_F(DataStoreTest, GetInMemoryNeverReadsAFile) {
  DataStore& store = make(100 * kKiB);
  for (int i = 0; i < 10; ++i) store.put("k" + std::to_string(i), array_value(i));
  ASSERT_TRUE(store.is_spilled("k0"));
  bool spilled = false;
  EXPECT_FALSE(store.get_in_memory("k0", &spilled).has_value());
  EXPECT_TRUE(spilled);
  EXPECT_TRUE(store.is_spilled("k0"));
  EXPECT_EQ(store.unspill_count(), 0u);
  auto hot = store.get_in_memory("k9", &spilled);
  ASSERT_TRUE(hot.has_value());
  EXPECT_FALSE(spilled);
  EXPECT_TRUE(same_array(*hot, 9));
  EXPECT_FALSE(store.get_in_memory("absent", &spilled).has_value());
  EXPECT_FALSE(spilled);
  expect_exact_accounting(10 * 8 * kKiB);
}

// get() of a spilled key reads back identical bytes (dtype and shape too) into an aligned buffer.
TEST_F(DataStoreTest, UnspillReturnsIdenticalBytes) {
  DataStore& store = make(100 * kKiB);
  for (int i = 0; i < 10; ++i) store.put("k" + std::to_string(i), array_value(i));
  ASSERT_TRUE(store.is_spilled("k0"));
  auto back = store.get("k0");
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(same_array(*back, 0));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(back->get<NDArray>().buffer->data()) % Buffer::kAlignment, 0u);
  // It is back in RAM as the most recently used; another went out to make room.
  EXPECT_FALSE(store.is_spilled("k0"));
  EXPECT_EQ(store.unspill_count(), 1u);
  EXPECT_LE(store.managed_bytes(), 60 * kKiB);
  for (int i = 0; i < 10; ++i) {
    auto value = store.get("k" + std::to_string(i));
    ASSERT_TRUE(value.has_value());
    EXPECT_TRUE(same_array(*value, i)) << "k" << i;
  }
  expect_exact_accounting(10 * 8 * kKiB);
}

// Byte blobs spill and come back like arrays.
TEST_F(DataStoreTest, BytesSpillToo) {
  DataStore& store = make(100 * kKiB);
  std::string blob(40 * kKiB, 'x');
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7);
  store.put("blob", Value(Bytes::from_string(blob)));
  store.put("big", array_value(1, 4096));  // 32 KiB: 72 KiB in all, the blob is the oldest
  EXPECT_TRUE(store.is_spilled("blob"));
  auto back = store.get("blob");
  ASSERT_TRUE(back.has_value());
  ASSERT_TRUE(back->is<Bytes>());
  EXPECT_EQ(back->get<Bytes>().view(), blob);
  expect_exact_accounting(72 * kKiB);
}

// erase() of a spilled key deletes its file and its bytes from the accounting.
TEST_F(DataStoreTest, EraseOfSpilledKeyRemovesFile) {
  DataStore& store = make(100 * kKiB);
  for (int i = 0; i < 9; ++i) store.put("k" + std::to_string(i), array_value(i));
  ASSERT_TRUE(store.is_spilled("k0"));
  ASSERT_EQ(files_in(store.directory()), 2u);
  EXPECT_TRUE(store.erase("k0"));
  EXPECT_FALSE(store.contains("k0"));
  EXPECT_FALSE(store.get("k0").has_value());
  EXPECT_EQ(files_in(store.directory()), 1u);
  EXPECT_EQ(store.spilled_count(), 1u);
  EXPECT_FALSE(store.erase("k0"));
  expect_exact_accounting(8 * 8 * kKiB);
}

// erase_all() drops what it names (spilled or not, in more keys than one
// hold of the lock takes), skips keys not held, and keeps the accounting exact.
TEST_F(DataStoreTest, EraseAllDropsManyKeysAndTheirFiles) {
  DataStore& store = make(100 * kKiB);
  for (int i = 0; i < 9; ++i) store.put("k" + std::to_string(i), array_value(i));
  ASSERT_TRUE(store.is_spilled("k0"));
  std::vector<std::string> keys = {"k0", "k3", "never-held"};
  for (int i = 0; i < 10000; ++i) {
    keys.push_back("small" + std::to_string(i));
    store.put(keys.back(), Value(std::int64_t{i}));
  }
  EXPECT_EQ(store.erase_all(keys), 10002u);
  EXPECT_FALSE(store.contains("k0"));
  EXPECT_FALSE(store.contains("k3"));
  EXPECT_FALSE(store.contains("small9999"));
  EXPECT_TRUE(store.contains("k1"));
  EXPECT_EQ(store.size(), 7u);
  expect_exact_accounting(7 * 8 * kKiB);
}

// Putting a new value under a spilled key replaces it and deletes the old file.
TEST_F(DataStoreTest, ReplacingSpilledKeyRemovesOldFile) {
  DataStore& store = make(100 * kKiB);
  for (int i = 0; i < 8; ++i) store.put("k" + std::to_string(i), array_value(i));
  ASSERT_TRUE(store.is_spilled("k0"));
  store.put("k0", array_value(100));
  auto value = store.get("k0");
  ASSERT_TRUE(value.has_value());
  EXPECT_TRUE(same_array(*value, 100));
  EXPECT_EQ(store.size(), 8u);
  expect_exact_accounting(8 * 8 * kKiB);
}

// The destructor removes the spill directory and every file in it.
TEST_F(DataStoreTest, DestructorRemovesDirectory) {
  DataStore& store = make(100 * kKiB);
  for (int i = 0; i < 12; ++i) store.put("k" + std::to_string(i), array_value(i));
  std::string directory = store.directory();
  ASSERT_TRUE(fs::exists(directory));
  EXPECT_EQ(fs::path(directory).parent_path(), parent_);
  EXPECT_GT(files_in(directory), 0u);
  store_.reset();
  EXPECT_FALSE(fs::exists(directory));
}

// Two stores under one local directory each make their own subdirectory.
TEST_F(DataStoreTest, EachStoreHasItsOwnDirectory) {
  DataStore& first = make(100 * kKiB);
  std::string first_directory = first.directory();
  auto second = DataStore::make({.memory_limit = 100 * kKiB, .local_directory = parent_.string()});
  ASSERT_TRUE(second.ok());
  EXPECT_NE((*second)->directory(), first_directory);
  second->reset();
  EXPECT_TRUE(fs::exists(first_directory));
}

// Small values, scalars and strings are never spilled, even far above the target.
TEST_F(DataStoreTest, SmallValuesNeverSpill) {
  DataStore& store = make(16 * kKiB);  // target: 9.6 KiB
  std::uint64_t held = 0;
  for (int i = 0; i < 20; ++i) {
    Value small = array_value(i, 256);  // 2 KiB: under the 4 KiB spill minimum
    held += small.nbytes();
    store.put("small" + std::to_string(i), std::move(small));
    store.put("int" + std::to_string(i), Value(i));
    store.put("text" + std::to_string(i), Value(std::string(1000, 'a')));
    held += Value(i).nbytes() + Value(std::string(1000, 'a')).nbytes();
  }
  EXPECT_EQ(store.spilled_count(), 0u);
  EXPECT_EQ(store.spill_count(), 0u);
  EXPECT_GT(store.managed_bytes(), 10 * kKiB);
  expect_exact_accounting(held);
}

// Without a memory limit nothing spills and no directory is made.
TEST_F(DataStoreTest, UnlimitedStoreNeverSpills) {
  DataStore& store = make(0);
  for (int i = 0; i < 50; ++i) store.put("k" + std::to_string(i), array_value(i));
  EXPECT_EQ(store.spilled_count(), 0u);
  EXPECT_EQ(store.managed_bytes(), 50 * 8 * kKiB);
  EXPECT_TRUE(store.directory().empty());
  EXPECT_FALSE(store.check_process_memory().pause);
}

// Counters: spills and unspills count each move; stats() agrees with the accessors.
TEST_F(DataStoreTest, CountersAreRight) {
  DataStore& store = make(100 * kKiB);
  for (int i = 0; i < 10; ++i) store.put("k" + std::to_string(i), array_value(i));
  EXPECT_EQ(store.spill_count(), 3u);  // 80 KiB held, 56 KiB may stay
  EXPECT_EQ(store.unspill_count(), 0u);
  ASSERT_TRUE(store.get("k0").has_value());  // back in: k3 goes out
  ASSERT_TRUE(store.get("k1").has_value());  // back in: k4 goes out
  DataStoreStats stats = store.stats();
  EXPECT_EQ(stats.spills, 5u);
  EXPECT_EQ(stats.unspills, 2u);
  EXPECT_EQ(stats.spilled_keys, 3u);
  EXPECT_EQ(stats.keys, 10u);
  EXPECT_TRUE(store.is_spilled("k2"));
  EXPECT_TRUE(store.is_spilled("k3"));
  EXPECT_TRUE(store.is_spilled("k4"));
  EXPECT_EQ(stats.spilled_bytes, store.spilled_bytes());
  EXPECT_EQ(stats.managed_bytes, store.managed_bytes());
  expect_exact_accounting(10 * 8 * kKiB);
}

// Process memory above the spill threshold spills LRU values until it is below the target.
TEST_F(DataStoreTest, ProcessMemoryAboveSpillThresholdSpills) {
  DataStore* store = nullptr;
  // Unmanaged memory of 30 KiB plus the bytes held in RAM.
  auto rss = [&store] { return 30 * kKiB + store->managed_bytes(); };
  store = &make(100 * kKiB, MemoryPolicy{.target = 0.6, .spill = 0.7, .pause = 0.8}, rss);
  for (int i = 0; i < 6; ++i) store->put("k" + std::to_string(i), array_value(i));  // 48 KiB: under target
  EXPECT_EQ(store->spilled_count(), 0u);
  MemoryCheck check = store->check_process_memory();  // 78 KiB > 70 KiB: spill to under 60 KiB
  EXPECT_EQ(store->spilled_count(), 3u);
  EXPECT_EQ(check.process_memory, 54 * kKiB);
  EXPECT_FALSE(check.pause);
  EXPECT_TRUE(store->is_spilled("k0"));
  EXPECT_TRUE(store->is_spilled("k2"));
  EXPECT_FALSE(store->is_spilled("k3"));
  // Under the spill threshold nothing more happens.
  store->check_process_memory();
  EXPECT_EQ(store->spilled_count(), 3u);
  expect_exact_accounting(6 * 8 * kKiB);
}

// Above the pause threshold the check says pause, and stops saying so once memory falls.
TEST_F(DataStoreTest, PauseFollowsProcessMemory) {
  std::atomic<std::uint64_t> memory{10 * kKiB};
  // Spilling off: pausing is the only defence, so high memory pauses.
  DataStore& store = make(100 * kKiB, MemoryPolicy{.target = 0, .spill = 0, .pause = 0.8},
                          [&memory] { return memory.load(); });
  EXPECT_FALSE(store.check_process_memory().pause);
  memory = 85 * kKiB;
  MemoryCheck check = store.check_process_memory();
  EXPECT_TRUE(check.pause);
  EXPECT_EQ(check.process_memory, 85 * kKiB);
  memory = 75 * kKiB;
  EXPECT_FALSE(store.check_process_memory().pause);
}

// With spilling on and nothing left to spill, the excess is unmanaged memory:
// the worker does not pause (it could never resume) but says so.
TEST_F(DataStoreTest, UnmanagedMemoryWarnsInsteadOfPausing) {
  std::atomic<std::uint64_t> memory{85 * kKiB};
  DataStore& store = make(100 * kKiB, MemoryPolicy{}, [&memory] { return memory.load(); });
  MemoryCheck check = store.check_process_memory();
  EXPECT_FALSE(check.pause);
  EXPECT_TRUE(check.unmanaged_over_pause);
}

// Each step can be turned off: target 0 keeps everything in RAM; pause 0 never pauses.
TEST_F(DataStoreTest, DisabledStepsDoNothing) {
  std::atomic<std::uint64_t> memory{95 * kKiB};
  DataStore& store = make(100 * kKiB, MemoryPolicy{.target = 0, .spill = 0, .pause = 0},
                          [&memory] { return memory.load(); });
  for (int i = 0; i < 20; ++i) store.put("k" + std::to_string(i), array_value(i));
  MemoryCheck check = store.check_process_memory();
  EXPECT_FALSE(check.pause);
  EXPECT_EQ(store.spilled_count(), 0u);
  EXPECT_EQ(store.managed_bytes(), 160 * kKiB);
}

// Fractions outside [0, 1] are refused.
TEST_F(DataStoreTest, BadFractionsAreRefused) {
  EXPECT_FALSE(DataStore::make({.memory_limit = kKiB, .policy = {.target = 1.5}}).ok());
  EXPECT_FALSE(DataStore::make({.memory_limit = kKiB, .policy = {.pause = -0.1}}).ok());
}

// Many threads putting, getting (spilled keys too) and erasing keep the accounting exact.
class DataStoreConcurrencyTest : public DataStoreTest, public ::testing::WithParamInterface<int> {};

TEST_P(DataStoreConcurrencyTest, AccountingStaysExact) {
  const int nthreads = GetParam();
  constexpr int kOps = 300;
  DataStore& store = make(256 * kKiB);  // target: ~150 KiB, i.e. ~19 of the 8 KiB arrays
  // Key "t<thread>-<i>" always holds array_value(thread * kOps + i), so any thread can check it.
  auto seed_of = [](int thread, int i) { return static_cast<std::uint64_t>(thread * kOps + i); };
  std::atomic<int> wrong{0};
  std::vector<std::vector<bool>> kept(nthreads, std::vector<bool>(kOps, false));
  std::vector<std::thread> threads;
  for (int t = 0; t < nthreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t + 1));
      for (int i = 0; i < kOps; ++i) {
        store.put("t" + std::to_string(t) + "-" + std::to_string(i), array_value(seed_of(t, i)));
        kept[t][i] = true;
        // Read an older key of any thread: it may be on disk, or erased by its owner.
        int other = static_cast<int>(random() % nthreads);
        int j = static_cast<int>(random() % (i + 1));
        if (auto value = store.get("t" + std::to_string(other) + "-" + std::to_string(j))) {
          if (!same_array(*value, seed_of(other, j))) ++wrong;
        }
        if (i % 4 == 3) {
          int gone = static_cast<int>(random() % (i + 1));
          store.erase("t" + std::to_string(t) + "-" + std::to_string(gone));
          kept[t][gone] = false;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);

  std::uint64_t held = 0;
  std::size_t keys = 0;
  for (int t = 0; t < nthreads; ++t) {
    for (int i = 0; i < kOps; ++i) {
      std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
      ASSERT_EQ(store.contains(key), kept[t][i]) << key;
      if (!kept[t][i]) continue;
      held += 8 * kKiB;
      ++keys;
    }
  }
  EXPECT_EQ(store.size(), keys);
  expect_exact_accounting(held);
  EXPECT_LE(store.managed_bytes(), static_cast<std::uint64_t>(0.6 * 256 * kKiB));
  EXPECT_GT(store.spill_count(), 0u);
  // Everything still reads back right, and reading it back keeps the accounting exact.
  for (int t = 0; t < nthreads; ++t) {
    for (int i = 0; i < kOps; ++i) {
      if (!kept[t][i]) continue;
      auto value = store.get("t" + std::to_string(t) + "-" + std::to_string(i));
      ASSERT_TRUE(value.has_value());
      EXPECT_TRUE(same_array(*value, seed_of(t, i)));
    }
  }
  expect_exact_accounting(held);
}

INSTANTIATE_TEST_SUITE_P(Threads, DataStoreConcurrencyTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "threads"; });

}  // namespace
}  // namespace dtask::worker
