// A normal shutdown is quiet: a Client that started a LocalCluster, ran a
// graph and is destroyed logs no warning or error (each worker's removal
// used to print one, "scheduler shutting down").
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <dtask/client.h>
#include <dtask/local_cluster.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dtask {
namespace {

/// Runs `body` with this process's stderr going to a file; what it wrote.
template <typename F>
std::string captured_stderr(F body) {
  char path[] = "/tmp/dtask-quiet-shutdown.XXXXXX";
  const int file = mkstemp(path);
  EXPECT_GE(file, 0);
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(file, 2);
  body();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  return text.str();
}

TEST(LocalClusterShutdownTest, DestroyingTheClientLogsNoWarning) {
  const std::string log = captured_stderr([] {
    Client client(LocalClusterOptions{.n_workers = 2, .log_level = "info", .dashboard_address = "none"});
    std::vector<Future<std::int64_t>> results;
    for (std::int64_t i = 0; i < 20; ++i) results.push_back(client.submit<std::int64_t>("inc", i));
    for (std::int64_t i = 0; i < 20; ++i) EXPECT_EQ(results[i].result(), i + 1);
  });
  EXPECT_NE(log.find("registered"), std::string::npos) << "the capture saw no log at all:\n" << log;
  EXPECT_EQ(log.find(" warning "), std::string::npos) << log;
  EXPECT_EQ(log.find(" error "), std::string::npos) << log;
}

}  // namespace
}  // namespace dtask
