// End-to-end: the status page in a real browser. Headless Chromium (Debian's
// chromium, installed by `deploy/install-deps.sh --with-browser`) loads the
// page of a real dtask-scheduler while a graph runs; its JavaScript polls
// the JSON API and draws the page; the test checks the rendered DOM for the
// worker rows (with their GPU column) and a progress bar with completed tasks, and keeps a
// screenshot under the build directory (test-artifacts/).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <dtask/client.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/formats/temp_dir.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/http_get.h"
#include "tests/support/scheduler_fixture.h"

namespace dtask {
namespace {

using testing::run_command;
using testing::wait_until;

constexpr const char* kChromium = "/usr/bin/chromium";

class DashboardBrowserTest : public testing::SchedulerFixture {
 protected:
  void SetUp() override {
    if (::access(kChromium, X_OK) != 0) {
      GTEST_SKIP() << kChromium << " is not installed; install it with: bash deploy/install-deps.sh --with-browser";
    }
    ASSERT_NO_FATAL_FAILURE(start_scheduler());
    for (const char* name : {"alpha", "beta"}) {
      std::vector<std::string> args = {"--host", "127.0.0.1", "--nthreads", "2", "--name", name, "--memory-limit",
                                       "512MiB", "--log-level", "warn"};
      // beta is bound to a GPU (by index alone on a machine without one): the GPU column shows it.
      if (std::string(name) == "beta") args.insert(args.end(), {"--resources", "GPU=1", "--device", "0"});
      ASSERT_NO_FATAL_FAILURE(start_worker(args));
    }
    ASSERT_NO_FATAL_FAILURE(connect_client());
    ASSERT_TRUE(wait_for_workers(2));
  }

  void TearDown() override { stop_cluster(testing::ExitCheck::kIgnore); }

  /// Runs headless Chromium on the status page (bounded by `timeout`); returns its exit code and stdout.
  std::pair<int, std::string> chromium(const std::vector<std::string>& extra) {
    formats::testing::TempDir profile;  // a fresh Chromium profile per run
    std::vector<std::string> args = {"120", kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                     "--disable-background-networking", "--disable-dev-shm-usage",
                                     "--user-data-dir=" + profile.path().string(),
                                     // Virtual time: the page's timers and fetches run to this budget, then the DOM is read.
                                     "--virtual-time-budget=5000", "--window-size=1400,1100"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(scheduler_->dashboard_address());
    return run_command("/usr/bin/timeout", args);
  }
};

// The status page, rendered by Chromium while a graph runs, shows both workers and a progress bar with completed tasks.
TEST_F(DashboardBrowserTest, StatusPageShowsWorkersAndProgress) {
  // Done work, work still running, and work that cannot start: a graph in the middle of its run.
  std::vector<FutureBase> held;
  for (int i = 0; i < 60; ++i) held.push_back(client_->submit("inc", i));
  for (int i = 0; i < 4; ++i) held.push_back(client_->submit("fail", "broken input " + std::to_string(i)));
  auto gpu = client_->submit(SubmitOptions{.resources = {{"GPU", 2}}}, "noop");  // more than beta has
  held.push_back(gpu);
  held.push_back(client_->submit("identity", gpu));
  for (int i = 0; i < 4; ++i) held.push_back(client_->submit("sleep", 1.5));
  ASSERT_TRUE(wait_until([&] {
    auto status = testing::http_get(scheduler_->dashboard_address(), "/api/status");
    if (!status.ok() || status->status != 200) return false;
    auto json = nlohmann::json::parse(status->body);
    return json["states"]["memory"] == 60 && json["states"]["erred"] == 4;
  }));

  auto [code, dom] = chromium({"--dump-dom"});
  ASSERT_EQ(code, 0) << "chromium --dump-dom failed";
  // Rendered rows only: the page's script holds the same class name in its template.
  const std::regex worker_row("<tr class=\"worker-row\" data-worker=\"[a-z]+\"");
  std::ptrdiff_t rows = std::distance(std::sregex_iterator(dom.begin(), dom.end(), worker_row), std::sregex_iterator());
  EXPECT_EQ(rows, 2) << dom;
  EXPECT_NE(dom.find("data-worker=\"alpha\""), std::string::npos);
  EXPECT_NE(dom.find("data-worker=\"beta\""), std::string::npos);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(dom, match, std::regex("<div class=\"progress-row\" data-group=\"inc\" data-done=\"(\\d+)\"")))
      << dom;
  EXPECT_EQ(std::stoi(match[1]), 60);
  EXPECT_NE(dom.find("broken input"), std::string::npos) << "the errors table lists the failures";
  // The workers table's GPU column: "-" for alpha; beta's index, with the
  // device's name and memory where its worker could ask CUDA.
  EXPECT_NE(dom.find("<th>GPU</th>"), std::string::npos) << dom;
  const std::string& page = dom;
  auto gpu_cell = [&page](const std::string& worker) {
    auto row = page.find("<tr class=\"worker-row\" data-worker=\"" + worker + "\"");
    auto cell = row == std::string::npos ? row : page.find("<td class=\"gpu\">", row);
    if (cell == std::string::npos || cell > page.find("</tr>", row)) return std::string("(no GPU cell)");
    cell += std::string("<td class=\"gpu\">").size();
    return page.substr(cell, page.find("</td>", cell) - cell);
  };
  EXPECT_EQ(gpu_cell("alpha"), "-");
  const std::string beta_gpu = gpu_cell("beta");
  EXPECT_TRUE(beta_gpu == "0" || std::regex_match(beta_gpu, std::regex("0: .+, \\d+ GiB"))) << beta_gpu;

  const std::filesystem::path artifacts = DTASK_TEST_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  const std::filesystem::path screenshot = artifacts / "dashboard.png";
  std::filesystem::remove(screenshot);
  auto [shot_code, ignored] = chromium({"--screenshot=" + screenshot.string(), "--hide-scrollbars"});
  ASSERT_EQ(shot_code, 0) << "chromium --screenshot failed";
  ASSERT_TRUE(std::filesystem::exists(screenshot));
  std::ifstream png(screenshot, std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(std::filesystem::file_size(screenshot), 10000u) << "a blank page would be smaller";
  std::printf("dashboard screenshot: %s\n", screenshot.c_str());
}

}  // namespace
}  // namespace dtask
