// End-to-end: workers under memory pressure. A real dtask-scheduler and real
// dtask-worker processes with small memory limits: scattered data beyond the
// cluster's memory spills to each worker's local directory and gathers back
// byte-identical, peak RSS stays bounded, releasing the data deletes the
// spill files, and a worker whose process memory crosses the pause threshold
// starts no tasks until its memory falls again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <dtask/client.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/process_memory.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/sanitized.h"
#include "tests/support/scheduler_fixture.h"

namespace dtask {
namespace {

namespace fs = std::filesystem;
using testing::DaemonProcess;
using testing::wait_until;

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kWorkerLimit = 64 * kMiB;
constexpr std::size_t kArrayBytes = 4 * kMiB;
constexpr std::size_t kArrayDoubles = kArrayBytes / sizeof(double);
constexpr int kArrays = 48;  // 192 MiB: 1.5x the two workers' 128 MiB

/// A 4 MiB float64 array whose every element depends on `seed`.
Value make_array(int seed) {
  NDArray array = NDArray::uninitialized(DType::kFloat64, {static_cast<std::int64_t>(kArrayDoubles)});
  double* data = array.mutable_data<double>();
  for (std::size_t i = 0; i < kArrayDoubles; ++i) data[i] = seed * 1e7 + static_cast<double>(i);
  return Value(std::move(array));
}

/// Regular files anywhere under `directory`.
std::size_t files_under(const fs::path& directory) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(directory, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) ++n;
  }
  return n;
}

class MemoryTest : public testing::SchedulerFixture {
 protected:
  void SetUp() override {
    local_directory_ = fs::temp_directory_path() / ("dtask_memory_test_" + std::to_string(::getpid()) + "_" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(local_directory_);
    fs::create_directories(local_directory_);
    ASSERT_NO_FATAL_FAILURE(start_scheduler());
    ASSERT_NO_FATAL_FAILURE(connect_client());
  }

  void TearDown() override {
    stop_cluster(testing::ExitCheck::kExpectZero);
    // Each worker removes its spill directory when it stops on SIGTERM.
    EXPECT_TRUE(fs::is_empty(local_directory_)) << "a worker left its spill directory behind";
    fs::remove_all(local_directory_);
  }

  /// Worker `name` (its spill directory under local_directory_), once the scheduler lists it.
  void start_named_worker(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--host", "127.0.0.1", "--nthreads", "2", "--name", name, "--local-directory",
                                     local_directory_.string(), "--log-level", "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_NO_FATAL_FAILURE(start_worker(args));
    std::size_t expected = workers_.size();
    EXPECT_TRUE(wait_for_workers(expected));
  }

  nlohmann::json info() { return testing::scheduler_info(*client_); }

  nlohmann::json worker_info(const std::string& name) { return testing::worker_info(*client_, name); }

  fs::path local_directory_;
};

// 192 MiB scattered over two 64 MiB workers spills to disk, gathers back
// byte-identical with peak RSS bounded, and releasing it deletes the files.
TEST_F(MemoryTest, DataBeyondMemorySpillsAndGathersBack) {
  for (const char* name : {"w1", "w2"}) ASSERT_NO_FATAL_FAILURE(start_named_worker(name, {"--memory-limit", "64MiB"}));
  std::vector<std::uint64_t> idle_rss;
  for (const DaemonProcess& worker : workers_) idle_rss.push_back(process_rss_bytes(worker.pid()));

  // Two arrays per scatter: one message of one array to each worker at a time.
  std::vector<Future<Value>> futures;
  for (int i = 0; i < kArrays; i += 2) {
    auto scattered = client_->scatter(std::vector<Value>{make_array(i), make_array(i + 1)});
    ASSERT_TRUE(scattered.ok()) << scattered.status().to_string();
    futures.insert(futures.end(), scattered->begin(), scattered->end());
  }

  // Every byte is accounted for on each worker, most of it on disk, and the
  // RAM part is at or under the target once the spills in flight have landed
  // (a heartbeat can count a value both received and not yet spilled).
  const std::uint64_t per_worker = kArrays / 2 * kArrayBytes;
  ASSERT_TRUE(wait_until([&] {
    nlohmann::json now = info();  // must outlive the loop over its workers
    if (now["workers"].size() != workers_.size()) return false;
    for (const auto& worker : now["workers"]) {
      auto managed = worker["managed_bytes"].get<std::uint64_t>();
      if (managed + worker["spilled_bytes"].get<std::uint64_t>() != per_worker) return false;
      if (static_cast<double>(managed) > 0.6 * kWorkerLimit) return false;
    }
    return true;
  })) << "not all bytes accounted for, or RAM above the target: " << info().dump();
  nlohmann::json spilled = info();
  std::uint64_t spilled_total = 0;
  for (const auto& worker : spilled["workers"]) {
    EXPECT_GT(worker["spilled_bytes"].get<std::uint64_t>(), 0u) << worker.dump();
    EXPECT_LE(worker["managed_bytes"].get<double>(), 0.6 * kWorkerLimit) << "RAM above the target: " << worker.dump();
    EXPECT_EQ(worker["memory_limit"].get<std::uint64_t>(), kWorkerLimit);
    EXPECT_GT(worker["process_memory"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(worker["stored_keys"].get<int>(), kArrays / 2);
    spilled_total += worker["spilled_bytes"].get<std::uint64_t>();
  }
  EXPECT_EQ(spilled["cluster_memory"]["spilled_bytes"].get<std::uint64_t>(), spilled_total);
  // One file per spilled key (the heartbeat may lag the disk by one beat).
  ASSERT_TRUE(wait_until([&] {
    return files_under(local_directory_) == info()["cluster_memory"]["spilled_keys"].get<std::size_t>();
  }));
  std::printf("spilled: %.1f MiB of %.0f MiB in %zu files\n", static_cast<double>(spilled_total) / kMiB,
              static_cast<double>(kArrays * kArrayBytes) / kMiB, files_under(local_directory_));

  // Everything comes back exactly, one array at a time (read back from disk on the worker).
  for (int i = 0; i < kArrays; ++i) {
    auto value = futures[i].value();
    ASSERT_TRUE(value.ok()) << value.status().to_string();
    Value expected = make_array(i);
    const NDArray& got = value->get<NDArray>();
    ASSERT_EQ(got.shape, expected.get<NDArray>().shape);
    ASSERT_EQ(std::memcmp(got.buffer->data(), expected.get<NDArray>().buffer->data(), kArrayBytes), 0)
        << "array " << i << " changed on its way through the disk";
  }

  // Peak RSS per worker: the limit, plus a margin of the idle worker's own RSS
  // (binary, libraries, thread stacks: memory the limit does not govern) and
  // one 4 MiB message in flight (received whole before the store can spill
  // for it). Without the spilling the peak would be the 96 MiB each received.
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    std::uint64_t peak = peak_rss_bytes(workers_[w].pid());
    std::uint64_t margin = idle_rss[w] + kArrayBytes;
    std::printf("worker %zu: peak RSS %.1f MiB (idle %.1f MiB), limit %.0f MiB + margin %.1f MiB\n", w,
                static_cast<double>(peak) / kMiB, static_cast<double>(idle_rss[w]) / kMiB,
                static_cast<double>(kWorkerLimit) / kMiB, static_cast<double>(margin) / kMiB);
    ASSERT_GT(peak, 0u);
#ifndef DTASK_TEST_SANITIZED
    EXPECT_LT(peak, kWorkerLimit + margin);
#endif
  }

  // Releasing the futures frees the data: in RAM and on disk.
  futures.clear();
  ASSERT_TRUE(wait_until([&] {
    nlohmann::json now = info();
    return now["cluster_memory"]["spilled_bytes"] == 0 && now["cluster_memory"]["managed_bytes"] == 0 &&
           now["tasks"] == 0;
  })) << info().dump();
  EXPECT_EQ(files_under(local_directory_), 0u) << "released keys left spill files";
}

// A worker whose process memory crosses the pause threshold starts no new
// task (the data server still answers), and runs it once memory falls again.
TEST_F(MemoryTest, WorkerPausesAndResumes) {
  // The pause threshold sits 16 MiB above an idle worker's own RSS (measured
  // on a probe worker of the same binary), so that a 24 MiB result crosses it
  // and releasing it brings the worker back under it.
  ASSERT_NO_FATAL_FAILURE(start_named_worker("probe", {"--memory-limit", "0"}));
  const std::uint64_t idle = process_rss_bytes(workers_.back().pid());
  ASSERT_GT(idle, 0u);
  const std::uint64_t threshold = idle + 16 * kMiB;
  // Target and spill off: the result stays in RAM. Pause at half the limit.
  ASSERT_NO_FATAL_FAILURE(start_named_worker("pausing", {"--memory-limit", std::to_string(2 * threshold),
                                                           "--memory-target-fraction", "0", "--memory-spill-fraction",
                                                           "0", "--memory-pause-fraction", "0.5"}));
  EXPECT_EQ(worker_info("pausing")["paused"], false);

  // One task makes a 24 MiB result on the pausing worker.
  SubmitOptions on_pausing{.workers = {"pausing"}};
  auto big = client_->submit(on_pausing, "arange", 3 << 20);
  ASSERT_TRUE(big.wait(std::chrono::seconds(60)).ok());
  ASSERT_TRUE(wait_until([&] { return worker_info("pausing")["paused"] == true; })) << worker_info("pausing").dump();
  EXPECT_EQ(worker_info("probe")["paused"], false);
  EXPECT_EQ(info()["cluster_memory"]["paused_workers"], 1);

  // A new task for it waits in the scheduler's queue while the data server still serves.
  auto held_back = client_->submit<std::int64_t>(on_pausing, "add", 40, 2);
  ASSERT_TRUE(wait_until([&] { return info()["states"]["queued"] == 1; })) << info().dump();
  {
    auto fetched = big.value();
    ASSERT_TRUE(fetched.ok()) << fetched.status().to_string();
    EXPECT_EQ(fetched->get<NDArray>().size(), 3 << 20);
  }
  // Memory cannot fall while the result is held, so the worker is still paused.
  EXPECT_EQ(worker_info("pausing")["paused"], true);
  EXPECT_FALSE(held_back.done()) << "a paused worker ran a task";

  // Freeing the result brings memory down: it resumes and runs the task.
  big = Future<Value>();
  ASSERT_TRUE(held_back.wait(std::chrono::seconds(60)).ok()) << info().dump();
  EXPECT_EQ(held_back.result(), 42);
  ASSERT_TRUE(wait_until([&] { return worker_info("pausing")["paused"] == false; }))
      << worker_info("pausing").dump();
  EXPECT_EQ(worker_info("pausing")["tasks_done"].get<int>(), 2);
}

}  // namespace
}  // namespace dtask
