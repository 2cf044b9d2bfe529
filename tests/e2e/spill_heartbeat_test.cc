// End-to-end: a worker spilling a lot of data keeps its heartbeats on time.
// Spill files are written and read back on the worker's disk threads, never
// on its network thread, so a long spill stalls neither heartbeats nor peer
// transfers. A real dtask-scheduler and dtask-worker: a client scatters far
// more than the worker's memory limit while a second client polls the
// scheduler's view of the worker's last message.
//
// Size: DTASK_SPILL_TEST_MIB (default 1024, i.e. 1 GiB, which spills in a few
// seconds here; sanitizer builds default to 256 MiB and allow 10 intervals).
#include <gtest/gtest.h>
#include <unistd.h>

#include <dtask/client.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/logging.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/sanitized.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::wait_until;

class SpillHeartbeatTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kOneMiB = 1 << 20;
  static constexpr std::size_t kChunkBytes = 64 * kOneMiB;
  static constexpr int kChunksPerScatter = 8;  // one PutData of 512 MiB
  static constexpr int kHeartbeatMs = 200;
#ifdef DTASK_TEST_SANITIZED
  static constexpr double kMaxSilence = 10.0 * kHeartbeatMs / 1000;  // seconds: everything runs 5-15x slower
#else
  static constexpr double kMaxSilence = 5.0 * kHeartbeatMs / 1000;  // seconds
#endif

  static std::uint64_t spill_test_bytes() {
#ifdef DTASK_TEST_SANITIZED
    std::uint64_t mib = 256;
#else
    std::uint64_t mib = 1024;
#endif
    if (const char* env = std::getenv("DTASK_SPILL_TEST_MIB"); env != nullptr && std::atoi(env) > 0) {
      mib = static_cast<std::uint64_t>(std::atoi(env));
    }
    return mib * kOneMiB;
  }

  /// A 64 MiB int64 array whose elements depend on `seed`.
  static Value chunk(int seed) {
    const std::size_t n = kChunkBytes / sizeof(std::int64_t);
    NDArray array = NDArray::uninitialized(DType::kInt64, {static_cast<std::int64_t>(n)});
    std::int64_t* data = array.mutable_data<std::int64_t>();
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::int64_t>(seed) << 32 | static_cast<std::int64_t>(i);
    return Value(std::move(array));
  }

  void SetUp() override {
    local_directory_ = std::filesystem::temp_directory_path() /
                       ("dtask_spill_heartbeat_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(local_directory_);
    std::filesystem::create_directories(local_directory_);
    std::vector<std::string> args = testing::test_scheduler_args();
    auto interval = std::find(args.begin(), args.end(), "--heartbeat-interval-ms");
    ASSERT_NE(interval, args.end());
    *(interval + 1) = std::to_string(kHeartbeatMs);
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, args);
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
    auto worker = DaemonProcess::start(
        DTASK_WORKER_BIN, {scheduler_->address(), "--host", "127.0.0.1", "--nthreads", "1", "--name", "spiller",
                           "--memory-limit", "256MiB", "--local-directory", local_directory_.string(),
                           "--log-level", "warn"});
    ASSERT_TRUE(worker.ok()) << worker.status().to_string();
    worker_ = std::make_unique<DaemonProcess>(std::move(*worker));
    for (auto* client : {&client_, &watcher_}) {
      auto connected = Client::connect(scheduler_->address());
      ASSERT_TRUE(connected.ok()) << connected.status().to_string();
      *client = std::move(*connected);
    }
    ASSERT_TRUE(wait_until([&] { return testing::scheduler_info(*client_)["workers"].size() == 1; }));
  }

  void TearDown() override {
    client_.reset();
    watcher_.reset();
    if (worker_) {
      EXPECT_EQ(worker_->stop(), 0);
    }
    if (scheduler_) {
      EXPECT_EQ(scheduler_->stop(), 0);
    }
    std::filesystem::remove_all(local_directory_);
  }

  /// Seconds since the scheduler last heard from the worker, as of now.
  double silence() {
    nlohmann::json worker = testing::worker_info(*watcher_, "spiller");
    if (!worker.contains("last_seen")) return 0;
    return wall_clock_seconds() - worker["last_seen"].get<double>();
  }

  std::filesystem::path local_directory_;
  std::unique_ptr<DaemonProcess> scheduler_;
  std::unique_ptr<DaemonProcess> worker_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<Client> watcher_;  // its own connection: polls while client_ scatters
};

// While a worker spills DTASK_SPILL_TEST_MIB (1 GiB), the scheduler never
// goes more than 5 heartbeat intervals without hearing from it.
TEST_F(SpillHeartbeatTest, HeartbeatsKeepComingWhileSpilling) {
  const int chunks = static_cast<int>(spill_test_bytes() / kChunkBytes);
  ASSERT_GE(chunks, 2) << "DTASK_SPILL_TEST_MIB: at least 128";
  std::atomic<bool> spilling{true};
  std::atomic<double> worst{0};
  std::atomic<int> polls{0};
  std::thread watch([&] {
    while (spilling) {
      worst = std::max(worst.load(), silence());
      ++polls;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the sampling period, not a synchronisation
    }
  });

  const double start = wall_clock_seconds();
  std::vector<Future<Value>> futures;
  for (int i = 0; i < chunks; i += kChunksPerScatter) {
    std::vector<Value> batch;
    for (int j = i; j < std::min(chunks, i + kChunksPerScatter); ++j) batch.push_back(chunk(j));
    auto scattered = client_->scatter(batch);
    ASSERT_TRUE(scattered.ok()) << scattered.status().to_string();
    futures.insert(futures.end(), scattered->begin(), scattered->end());
  }
  // Everything beyond the target (60% of 256 MiB) ends up on disk.
  const std::uint64_t total = static_cast<std::uint64_t>(chunks) * kChunkBytes;
  const bool spilled = wait_until(
      [&] {
        nlohmann::json worker = testing::worker_info(*client_, "spiller");
        return worker.contains("spilled_bytes") && worker["spilled_bytes"].get<std::uint64_t>() + 160 * kOneMiB >= total;
      },
      std::chrono::seconds(120));
  const double spill_seconds = wall_clock_seconds() - start;
  spilling = false;
  watch.join();
  ASSERT_TRUE(spilled) << testing::worker_info(*client_, "spiller").dump();
  std::printf("spilled %.0f MiB in %.1f s; longest silence %.3f s over %d polls (bound %.1f s)\n",
              static_cast<double>(total) / kOneMiB, spill_seconds, worst.load(), polls.load(), kMaxSilence);
  EXPECT_GT(polls.load(), 10);
  EXPECT_LT(worst.load(), kMaxSilence) << "the worker's heartbeats stalled while it spilled";

  // Read back byte for byte in one request naming the last chunk (most
  // likely still in RAM) first, then spilled ones (read on the worker's disk
  // threads): the whole request is then answered from disk.
  const std::vector<int> picked = {chunks - 1, 0, chunks / 2};
  std::vector<FutureBase> wanted;
  for (int i : picked) wanted.push_back(futures[static_cast<std::size_t>(i)]);
  auto values = client_->gather_values(wanted);
  ASSERT_TRUE(values.ok()) << values.status().to_string();
  ASSERT_EQ(values->size(), picked.size());
  for (std::size_t k = 0; k < picked.size(); ++k) {
    Value expected = chunk(picked[k]);
    ASSERT_EQ(std::memcmp((*values)[k].get<NDArray>().buffer->data(), expected.get<NDArray>().buffer->data(),
                          kChunkBytes),
              0)
        << "chunk " << picked[k] << " changed on its way through the disk";
  }
}

}  // namespace
}  // namespace dtask
