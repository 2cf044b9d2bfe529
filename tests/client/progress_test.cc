#include "dtask/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <dtask/client.h>
#include <string>

namespace dtask {
namespace {

// A terminal line: bar, percentage, counts, rate and time left.
TEST(ProgressTest, FormatsATerminalBar) {
  std::string line = format_progress({.done = 50, .failed = 0, .total = 200, .elapsed_seconds = 2}, true, 10);
  EXPECT_EQ(line, "[##........]  25% 50/200 | 25.0 tasks/s | ETA 0:06");
}

// A plain line for logs, with failures counted.
TEST(ProgressTest, FormatsAPlainLine) {
  std::string line = format_progress({.done = 3000, .failed = 2, .total = 4000, .elapsed_seconds = 1.5}, false);
  EXPECT_EQ(line, "3000/4000 tasks done (75%), 2 failed, 2.0k tasks/s, ETA 0:01");
  EXPECT_EQ(format_progress({.done = 10, .failed = 0, .total = 10, .elapsed_seconds = 65}, false),
            "10/10 tasks done (100%), 0.2 tasks/s, took 1:05");
}

// Nothing done yet: the rate is zero and the time left unknown.
TEST(ProgressTest, UnknownEta) {
  EXPECT_EQ(format_progress({.done = 0, .failed = 0, .total = 5, .elapsed_seconds = 0}, false),
            "0/5 tasks done (0%), 0.0 tasks/s, ETA ?");
}

// progress() on real futures waits for all of them, prints a final line, and returns the first failure.
TEST(ProgressTest, WaitsForFuturesAndReportsFailure) {
  Client client(LocalClusterOptions{.n_workers = 1, .dashboard_address = "none"});
  std::vector<FutureBase> futures;
  for (int i = 0; i < 50; ++i) futures.push_back(client.submit("inc", i));
  futures.push_back(client.submit("fail", "nope"));
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  Status status = progress(futures, {.out = out, .tty = false});
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("nope"), std::string::npos) << status.to_string();
  for (const FutureBase& future : futures) EXPECT_TRUE(future.done());
  std::rewind(out);
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), out));
  std::fclose(out);
  EXPECT_NE(text.find("51/51 tasks done (100%), 1 failed"), std::string::npos) << text;
}

}  // namespace
}  // namespace dtask
