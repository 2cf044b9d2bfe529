// When a key's last future dies, the client tells the scheduler to release
// it. A future for the same key made while the old state was dying (a
// deterministic key computed again at once) must not lose its result to
// that late release: the old state's destructor runs its release() after
// the new state is live, and the release would reach the scheduler after
// the new graph.
#include <dtask/builtin_ops.h>
#include <dtask/client.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string_view>
#include <string>
#include <vector>

#include "client/src/client_core.h"
#include "client/src/deadline.h"

namespace dtask::internal {
namespace future_release_test {  // named, not anonymous: the unity build puts a folder's tests in one file

using namespace std::chrono_literals;

/// Sends the one-task graph `key` = op(args), wanted by `core`'s client.
void submit(ClientCore& core, const std::string& key, std::string_view op, std::vector<Value> args) {
  core.send_graph({key}, [&](const ClientCore::GraphPartSink& part) {
    msg::TaskDef task;
    task.key = key;
    task.op = std::string(op);
    task.args = std::move(args);
    part({std::move(task)});
  });
}

/// Submits `arange(n)` under `key` wanted by `core`'s client, and waits for it.
std::shared_ptr<FutureState> compute_arange(ClientCore& core, const std::string& key, std::int64_t n) {
  std::shared_ptr<FutureState> state = core.state_for(key);
  submit(core, key, ops::kArange.name, {Value(n)});
  EXPECT_TRUE(core.wait_done(*state, Deadline::in(30s)).ok()) << key;
  return state;
}

TEST(FutureReleaseTest, LateReleaseOfADeadStateKeepsTheLiveStatesResult) {
  Client cluster(LocalClusterOptions{.n_workers = 1, .threads_per_worker = 1});
  auto connected = ClientCore::connect(cluster.scheduler_address(), ClientOptions{});
  ASSERT_TRUE(connected.ok()) << connected.status().to_string();
  ClientCore& core = **connected;

  // 8,000 bytes: too big to come with its status, so it stays on the worker.
  std::shared_ptr<FutureState> live = compute_arange(core, "future-release-arange", 1000);
  ASSERT_FALSE(live->value.has_value());
  // The old state's destructor, running late: `live` is the key's state now.
  core.release(live->key);
  // Queued releases go ahead of the next graph, and its task runs on the same
  // worker: once it is done, a release sent would have freed the key there.
  compute_arange(core, "future-release-after", 10);

  Result<std::vector<Value>> values = core.fetch({live}, Deadline::in(10s));
  ASSERT_TRUE(values.ok()) << values.status().to_string();
  EXPECT_EQ(values->front().nbytes(), 8000u);
  core.close();
}

// A future whose status named a holder that has since freed the key (the
// status the scheduler sent for an earlier submission of a key submitted
// again: its release then freed it, and the scheduler computes it anew, on
// the same worker): the fetch waits for the next status and gets the new
// result from that worker, instead of skipping it until the deadline.
TEST(FutureReleaseTest, FetchFromAHolderThatFreedTheKeyWaitsForItsNextStatus) {
  Client cluster(LocalClusterOptions{.n_workers = 1, .threads_per_worker = 2});
  auto connected = ClientCore::connect(cluster.scheduler_address(), ClientOptions{});
  ASSERT_TRUE(connected.ok()) << connected.status().to_string();
  ClientCore& core = **connected;

  const std::string key = "future-release-stale";
  std::shared_ptr<FutureState> state = compute_arange(core, key, 1000);
  ASSERT_FALSE(state->value.has_value());
  // Freed on the worker, then computed again there, slowly (same size, 8,000 bytes).
  core.send(msg::ReleaseKeys{{key}});
  NDArray same = NDArray::zeros(DType::kFloat64, {1000});
  submit(core, key, ops::kSleep.name, {Value(0.5), Value(same)});
  // The free has reached the worker once a task sent after it has run there
  // (the other thread: the sleep holds one).
  compute_arange(core, "future-release-barrier", 10);

  Result<std::vector<Value>> values = core.fetch({state}, Deadline::in(20s));
  ASSERT_TRUE(values.ok()) << values.status().to_string();
  EXPECT_EQ(values->front().nbytes(), 8000u);
  core.close();
}

}  // namespace future_release_test
}  // namespace dtask::internal
