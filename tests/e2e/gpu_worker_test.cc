// End-to-end: a worker bound to a GPU (dtask-worker --resources GPU=1
// --device 0), here on a machine without one. A task that needs GPU=1 waits
// in no-worker while only a CPU worker is connected, then runs on the GPU
// worker once it joins, inside a process whose CUDA_VISIBLE_DEVICES names
// the device; the device shows in scheduler_info() and the dashboard's
// /api/workers; bad --device values stop the worker before it starts.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <dtask/client.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/http_get.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::run_command;
using testing::wait_until;

class GpuWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The binding test expects --device 0 to mean CUDA device 0 of the machine.
    if (const char* inherited = ::getenv("CUDA_VISIBLE_DEVICES")) inherited_visible_devices_ = inherited;
    ::unsetenv("CUDA_VISIBLE_DEVICES");
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, testing::test_scheduler_args());
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
    start_gpu_test_worker("cpu", {});
    auto client = Client::connect(scheduler_->address());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(*client);
    ASSERT_TRUE(wait_until([&] { return testing::scheduler_info(*client_)["workers"].size() == 1; }));
  }

  void TearDown() override {
    client_.reset();
    for (auto& worker : workers_) EXPECT_EQ(worker.stop(), 0) << "worker did not stop cleanly on SIGTERM";
    if (scheduler_) {
      EXPECT_EQ(scheduler_->stop(), 0) << "scheduler did not stop cleanly on SIGTERM";
    }
    if (inherited_visible_devices_) ::setenv("CUDA_VISIBLE_DEVICES", inherited_visible_devices_->c_str(), 1);
  }

  void start_gpu_test_worker(const std::string& name, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {scheduler_->address(), "--host", "127.0.0.1", "--nthreads", "1", "--name",
                                     name, "--memory-limit", "512MiB", "--log-level", "warn",
                                     "--plugin", DTASK_PLUGIN_ENVIRONMENT_OP};
    args.insert(args.end(), extra.begin(), extra.end());
    auto worker = DaemonProcess::start(DTASK_WORKER_BIN, args);
    ASSERT_TRUE(worker.ok()) << worker.status().to_string();
    workers_.push_back(std::move(*worker));
  }

  /// The dashboard's /api/workers row of worker `name`, or an empty object.
  nlohmann::json dashboard_worker(const std::string& name) {
    auto reply = testing::http_get(scheduler_->dashboard_address(), "/api/workers");
    EXPECT_TRUE(reply.ok()) << reply.status().to_string();
    if (!reply.ok()) return nlohmann::json::object();
    const nlohmann::json workers = nlohmann::json::parse(reply->body)["workers"];
    for (const auto& worker : workers) {
      if (worker["name"] == name) return worker;
    }
    return nlohmann::json::object();
  }

  std::optional<std::string> inherited_visible_devices_;
  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::unique_ptr<Client> client_;
};

// A GPU=1 task waits in no-worker (in scheduler_info() and on the dashboard)
// while only a CPU worker is connected; a worker started with --resources
// GPU=1 --device 0 then runs it, in a process with CUDA_VISIBLE_DEVICES=0,
// and the CPU worker never ran it.
TEST_F(GpuWorkerTest, GpuTaskWaitsForTheGpuWorkerAndRunsThere) {
  auto on_gpu = client_->submit<std::string>(SubmitOptions{.resources = {{"GPU", 1}}}, "test.getenv",
                                             "CUDA_VISIBLE_DEVICES");
  ASSERT_TRUE(wait_until([&] {
    nlohmann::json info = testing::scheduler_info(*client_);
    return info["states"]["no-worker"] == 1 && info["no_worker_keys"] == nlohmann::json::array({on_gpu.key()});
  })) << testing::scheduler_info(*client_).dump();
  // The dashboard counts it too, from its next snapshot (published a few times a second).
  EXPECT_TRUE(wait_until([&] {
    auto status = testing::http_get(scheduler_->dashboard_address(), "/api/status");
    return status.ok() && nlohmann::json::parse(status->body)["states"]["no-worker"] == 1;
  }));
  EXPECT_FALSE(on_gpu.done());

  start_gpu_test_worker("gpu", {"--resources", "GPU=1", "--device", "0"});
  auto visible = on_gpu.try_result();
  ASSERT_TRUE(visible.ok()) << visible.status().to_string();
  EXPECT_EQ(*visible, "0") << "the task ran in a process not bound to device 0";
  EXPECT_EQ(testing::worker_info(*client_, "gpu")["tasks_done"], 1);
  EXPECT_EQ(testing::worker_info(*client_, "cpu")["tasks_done"], 0);
  EXPECT_EQ(testing::scheduler_info(*client_)["states"]["no-worker"], 0);
  // The CPU worker runs unconstrained tasks in a process it did not bind.
  auto on_cpu = client_->submit<std::string>(SubmitOptions{.workers = {"cpu"}}, "test.getenv", "CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(on_cpu.result(), "<unset>");
}

// The bound device is part of the worker's info, in scheduler_info() and in
// the dashboard's /api/workers: its index, and its name and memory when the
// worker could ask CUDA (a CUDA build with a device); a CPU worker has none.
TEST_F(GpuWorkerTest, DeviceShowsInWorkerInfo) {
  start_gpu_test_worker("gpu", {"--resources", "GPU=1", "--device", "0"});
  ASSERT_TRUE(wait_until([&] { return testing::scheduler_info(*client_)["workers"].size() == 2; }));
  nlohmann::json gpu = testing::worker_info(*client_, "gpu");
  ASSERT_TRUE(gpu["gpu"].is_object()) << gpu.dump();
  EXPECT_EQ(gpu["gpu"]["index"], 0);
  const std::string name = gpu["gpu"]["name"];
  if (name.empty()) {
    EXPECT_EQ(gpu["gpu"]["memory"], 0) << "memory without a name";
  } else {
    EXPECT_GT(gpu["gpu"]["memory"].get<std::uint64_t>(), 0u) << gpu.dump();
  }
  EXPECT_EQ(gpu["resources"]["GPU"], 1.0);
  EXPECT_TRUE(testing::worker_info(*client_, "cpu")["gpu"].is_null());

  // The dashboard gets the same from its snapshot, published a few times a second.
  ASSERT_TRUE(wait_until([&] { return dashboard_worker("gpu")["gpu"].is_object(); }));
  EXPECT_EQ(dashboard_worker("gpu")["gpu"], gpu["gpu"]);
  EXPECT_TRUE(dashboard_worker("cpu").contains("gpu"));
  EXPECT_TRUE(dashboard_worker("cpu")["gpu"].is_null());
}

/// Runs dtask-worker with `args` (and `environment`, "NAME=value" words for
/// env(1)); its exit code and what it wrote to stdout and stderr.
std::pair<int, std::string> run_gpu_test_worker(const std::vector<std::string>& args,
                                                const std::vector<std::string>& environment = {}) {
  std::vector<std::string> command = {"-u", "CUDA_VISIBLE_DEVICES"};
  command.insert(command.end(), environment.begin(), environment.end());
  command.insert(command.end(), {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", DTASK_WORKER_BIN});
  command.insert(command.end(), args.begin(), args.end());
  return run_command("/usr/bin/env", command);
}

// --device without a GPU resource, negative, not a number or empty, or past
// the devices CUDA_VISIBLE_DEVICES lets the worker see, is refused at once
// (before it waits for a scheduler file) with a message naming the value and
// the fix, and a non-zero exit.
TEST(GpuWorkerCli, BadDeviceValuesAreRefusedBeforeStarting) {
  const std::vector<std::string> scheduler = {"--scheduler-file", "/nonexistent/dtask-scheduler.json",
                                              "--scheduler-file-timeout", "60"};
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> environment;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--device", "0"}, {}, "dtask-worker: --device 0 binds a GPU, but this worker declares none: add --resources GPU=1"},
      {{"--resources", "MEM=1e9", "--device", "0"}, {}, "add --resources GPU=1"},
      {{"--resources", "GPU=1", "--device", "-1"}, {}, "dtask-worker: --device -1 is negative: devices are numbered from 0"},
      {{"--resources", "GPU=1", "--device=-3"}, {}, "--device -3 is negative"},
      {{"--resources", "GPU=1", "--device", "first"}, {}, "dtask-worker: --device 'first' is not a device index"},
      {{"--resources", "GPU=1", "--device", "1.5"}, {}, "--device '1.5' is not a device index"},
      {{"--resources", "GPU=1", "--device", ""}, {}, "--device '' is not a device index"},
      {{"--resources", "GPU=1"}, {"DTASK_WORKER_DEVICE=gpu0"}, "--device 'gpu0' is not a device index"},
      {{"--resources", "GPU=1", "--device", "2"}, {"CUDA_VISIBLE_DEVICES=4,5"},
       "--device 2: CUDA_VISIBLE_DEVICES=\"4,5\" lets this process see 2 devices"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = scheduler;
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto started = std::chrono::steady_clock::now();
    auto [code, output] = run_gpu_test_worker(args, c.environment);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_NE(code, 0) << output;
    EXPECT_NE(output.find(c.message), std::string::npos) << "expected: " << c.message << "\ngot: " << output;
    EXPECT_LT(took, std::chrono::seconds(20)) << "the worker waited for its scheduler file first: " << output;
  }
}

}  // namespace
}  // namespace dtask
