// GraphState driven directly with msg:: structs, no sockets: each test plays
// clients and workers, reads what the state machine wants sent from
// take_outbox(), and ends by checking the structural invariants.
#include "scheduler/graph_state.h"
#include "scheduler/retirement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "scheduler/dashboard_snapshot.h"
#include "tests/scheduler/graph_state_fixture.h"

namespace dtask::scheduler {
namespace {

using namespace graph_test;


// ---- basic lifecycle --------------------------------------------------------

// A diamond a -> (b, c) -> d runs in dependency order, intermediates are freed
// once consumed, and the client is told d is in memory and where.
TEST_F(GraphStateTest, DiamondRunsToMemoryAndClientIsTold) {
  WorkerState* w1 = add_worker("w1", 2);
  submit({task_def("a"), task_def("b", {"a"}), task_def("c", {"a"}), task_def("d", {"b", "c"})}, {"d"});
  Sent sent = drain();
  EXPECT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"a"});
  EXPECT_EQ(graph.count(TaskStatus::kWaiting), 3u);
  EXPECT_EQ(graph.count(TaskStatus::kProcessing), 1u);

  finish(w1, "a", 100);
  sent = drain();
  EXPECT_EQ(as_set(sent.computed_keys("w1")), (std::set<std::string>{"b", "c"}));
  for (const msg::ComputeTask& task : sent.compute["w1"]) {
    ASSERT_EQ(task.dependencies.size(), 1u);
    EXPECT_EQ(task.dependencies[0].key, "a");
    EXPECT_EQ(task.dependencies[0].nbytes, 100u);
    EXPECT_TRUE(task.dependencies[0].who_has.empty()) << "w1 holds a: no holder to fetch it from";
    ASSERT_FALSE(task.args.empty());
    ASSERT_TRUE(task.args[0].is<TaskRef>());
    EXPECT_EQ(task.args[0].get<TaskRef>().key, "a");
  }
  EXPECT_TRUE(sent.freed.empty()) << "a is still needed by b and c";

  finish(w1, "b");
  sent = drain();
  EXPECT_EQ(sent.compute_count(), 0u);
  EXPECT_TRUE(sent.freed.empty()) << "a is still needed by c";

  finish(w1, "c");
  sent = drain();
  EXPECT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"d"});
  EXPECT_EQ(sent.freed_keys("w1"), std::vector<std::string>{"a"});
  EXPECT_TRUE(sent.statuses.empty());

  finish(w1, "d", 64);
  sent = drain();
  EXPECT_EQ(as_set(sent.freed_keys("w1")), (std::set<std::string>{"b", "c"}));
  ASSERT_EQ(sent.statuses_for(client).size(), 1u);
  const msg::KeyStatus& status = sent.statuses_for(client)[0];
  EXPECT_EQ(status.key, "d");
  EXPECT_EQ(status.state, KeyOutcome::kMemory);
  EXPECT_EQ(status.who_has, std::vector<std::string>{address_of("w1")});
  EXPECT_EQ(status.nbytes, 64u);
  EXPECT_EQ(status.type_name, "int64");
  EXPECT_EQ(graph.tasks_completed(), 4u);
  EXPECT_EQ(graph.count(TaskStatus::kMemory), 1u);

  release({"d"});
  sent = drain();
  EXPECT_EQ(sent.freed_keys("w1"), std::vector<std::string>{"d"});
  EXPECT_TRUE(still_held_by("w1").empty());
  EXPECT_EQ(graph.task_count(), 0u);
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

// Tasks submitted before any worker exists wait (root tasks in no-worker)
// and run once a worker registers.
TEST_F(GraphStateTest, TasksSubmittedWithoutWorkersRunWhenOneRegisters) {
  submit({task_def("a"), task_def("b", {"a"})}, {"b"});
  Sent sent = drain();
  EXPECT_EQ(sent.compute_count(), 0u);
  EXPECT_EQ(graph.count(TaskStatus::kNoWorker), 1u);
  EXPECT_EQ(graph.count(TaskStatus::kWaiting), 1u);

  add_worker("w1");
  run_to_completion();
  ASSERT_NE(last_status("b"), nullptr);
  EXPECT_EQ(last_status("b")->state, KeyOutcome::kMemory);

  release_all_and_check_no_leaks();
  EXPECT_TRUE(still_held_by("w1").empty());
}

// Submitting a key already in memory tells the (second) client at once and
// computes nothing again; the task lives until both clients release it.
TEST_F(GraphStateTest, KnownKeyInMemoryIsReportedAtOnceAndSharedBetweenClients) {
  add_worker("w1");
  submit({task_def("a")}, {"a"});
  run_to_completion();
  ClientState* other = graph.add_client("other");
  submit({task_def("a")}, {"a"}, other);
  Sent sent = drain();
  EXPECT_EQ(sent.compute_count(), 0u);
  ASSERT_EQ(sent.statuses_for(other).size(), 1u);
  EXPECT_EQ(sent.statuses_for(other)[0].state, KeyOutcome::kMemory);

  release({"a"});
  sent = drain();
  EXPECT_TRUE(sent.freed.empty()) << "the other client still wants a";
  EXPECT_EQ(graph.task_count(), 1u);
  release({"a"}, other);
  sent = drain();
  EXPECT_EQ(sent.freed_keys("w1"), std::vector<std::string>{"a"});
  EXPECT_EQ(graph.task_count(), 0u);
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

// A task defined but not wanted, and not needed by a wanted task, is
// forgotten at once and never sent.
/// A graph sent in parts (UpdateGraph::more): parts before the last.
void submit_part(GraphState& graph, ClientState& client, std::vector<msg::TaskDef> tasks) {
  msg::UpdateGraph part;
  part.tasks = std::move(tasks);
  part.more = true;
  graph.update_graph(client, std::move(part));
}

// A part before the last starts at once, so a big graph runs while the rest
// of it arrives; its results stay until the last part says who needs them.
TEST_F(GraphStateTest, GraphInPartsStartsBeforeItsLastPartAndKeepsItsResults) {
  WorkerState* w = add_worker("w", 4);
  submit_part(graph, *client, {task_def("a"), task_def("b")});
  Sent first = drain();  // validate() holds: the parts' tasks are needed by their graph
  EXPECT_EQ(as_set(first.computed_keys("w")), (std::set<std::string>{"a", "b"}));
  finish(w, "a");
  finish(w, "b");
  EXPECT_TRUE(drain().freed.empty()) << "a and b have no dependents yet, but their graph is not complete";
  EXPECT_EQ(graph.find("a")->status, TaskStatus::kMemory);
  submit_part(graph, *client, {task_def("c", {"a", "b"}, "add"), task_def("e")});
  EXPECT_EQ(as_set(drain().computed_keys("w")), (std::set<std::string>{"c", "e"}));
  finish(w, "c");
  Sent after_c = drain();
  EXPECT_TRUE(after_c.freed.empty()) << "c's inputs stay until the last part: a later task could read them";
  submit({task_def("d", {"c"})}, {"d"});  // the last part: wanted keys come with it
  Sent last = drain();
  EXPECT_EQ(last.computed_keys("w"), std::vector<std::string>{"d"});
  // a and b were read by c, which has run: nothing needs them now. e is
  // still running, needed by no wanted key: it is released too.
  EXPECT_EQ(as_set(last.freed_keys("w")), (std::set<std::string>{"a", "b", "e"}));
  run_to_completion();
  ASSERT_NE(last_status("d"), nullptr);
  EXPECT_EQ(last_status("d")->state, KeyOutcome::kMemory);
  EXPECT_EQ(w->tasks_done, 4u) << "each task ran once (e's late report is ignored)";
  release_all_and_check_no_leaks();
}

// A bad task in an early part errs there, and its dependents with it.
TEST_F(GraphStateTest, GraphPartWithAnUnknownDependencyErrsAtOnce) {
  add_worker("w");
  submit_part(graph, *client, {task_def("a", {"missing"}), task_def("b", {"a"})});
  drain();
  EXPECT_EQ(graph.find("a")->status, TaskStatus::kErred);
  EXPECT_EQ(graph.find("b")->status, TaskStatus::kErred);
  submit({task_def("c", {"b"})}, {"c"});
  drain();
  ASSERT_NE(last_status("c"), nullptr);
  EXPECT_EQ(last_status("c")->state, KeyOutcome::kErred);
  EXPECT_NE(last_status("c")->message.find("unknown dependency key 'missing'"), std::string::npos)
      << last_status("c")->message;
  release_all_and_check_no_leaks();
}

TEST_F(GraphStateTest, GraphWhoseLastPartNeverComesGoesWithItsClient) {
  add_worker("w");
  submit_part(graph, *client, {task_def("a"), task_def("b", {"a"})});
  drain();
  EXPECT_EQ(graph.task_count(), 2u);
  graph.remove_client(client);
  drain();
  EXPECT_EQ(graph.task_count(), 0u);
}

TEST_F(GraphStateTest, RefusedPartRefusesTheRestOfItsGraph) {
  add_worker("w");
  submit({task_def("x")}, {"x"});
  run_to_completion();
  submit_part(graph, *client, {task_def("y")});
  EXPECT_EQ(drain().computed_keys("w"), std::vector<std::string>{"y"});  // an early part starts
  msg::TaskDef redefined = task_def("x", {}, "noop");  // a different definition of a known key
  submit_part(graph, *client, {redefined});
  EXPECT_EQ(drain().freed_keys("w"), std::vector<std::string>{"y"}) << "the refused graph's work stops at once";
  submit({task_def("z", {"y"})}, {"z"});
  drain();
  ASSERT_NE(last_status("z"), nullptr);
  EXPECT_EQ(last_status("z")->state, KeyOutcome::kErred);
  EXPECT_NE(last_status("z")->message.find("graph refused"), std::string::npos) << last_status("z")->message;
  EXPECT_EQ(graph.find("y"), nullptr);  // the accepted part went with the refusal
  EXPECT_EQ(graph.find("z"), nullptr);
  EXPECT_EQ(graph.find("x")->status, TaskStatus::kMemory);  // the first definition keeps its result
  // The next graph is judged on its own.
  submit({task_def("w2")}, {"w2"});
  run_to_completion();
  EXPECT_EQ(last_status("w2")->state, KeyOutcome::kMemory);
  release_all_and_check_no_leaks();
}

TEST_F(GraphStateTest, UnwantedTasksAreForgottenWithoutRunning) {
  add_worker("w1");
  submit({task_def("a"), task_def("b", {"a"}), task_def("x"), task_def("y", {"x"})}, {"b"});
  EXPECT_EQ(graph.task_count(), 2u);
  EXPECT_EQ(graph.find("x"), nullptr);
  EXPECT_EQ(graph.find("y"), nullptr);
  run_to_completion();
  EXPECT_EQ(as_set(all.computed_keys("w1")), (std::set<std::string>{"a", "b"}));
  release_all_and_check_no_leaks();
}

// Wanting a key the scheduler has never seen gets an erred status naming it.
TEST_F(GraphStateTest, UnknownWantedKeyIsReportedAsErred) {
  add_worker("w1");
  submit({}, {"ghost"});
  Sent sent = drain();
  ASSERT_EQ(sent.statuses_for(client).size(), 1u);
  const msg::KeyStatus& status = sent.statuses_for(client)[0];
  EXPECT_EQ(status.key, "ghost");
  EXPECT_EQ(status.state, KeyOutcome::kErred);
  EXPECT_NE(status.message.find("ghost"), std::string::npos) << status.message;
  EXPECT_EQ(graph.task_count(), 0u);
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

// A task naming a dependency that does not exist errs with that reason, its
// dependents err too, and none of them is ever sent to a worker.
TEST_F(GraphStateTest, UnknownDependencyErrsTheTaskWithoutRunningIt) {
  add_worker("w1");
  submit({task_def("a", {"missing"}), task_def("b", {"a"})}, {"a", "b"});
  run_to_completion();
  EXPECT_TRUE(all.computed_keys("w1").empty()) << "a task with an unknown dependency was sent to a worker";
  for (const char* key : {"a", "b"}) {
    const msg::KeyStatus* status = last_status(key);
    ASSERT_NE(status, nullptr) << key;
    EXPECT_EQ(status->state, KeyOutcome::kErred) << key;
    EXPECT_EQ(status->failed_key, "a") << key;
    EXPECT_NE(status->message.find("missing"), std::string::npos) << status->message;
  }
  EXPECT_EQ(graph.count(TaskStatus::kErred), 2u);
  release_all_and_check_no_leaks();
}

// A second worker with a name or address already registered is rejected.
TEST_F(GraphStateTest, DuplicateWorkerNameOrAddressIsRejected) {
  add_worker("w1");
  msg::RegisterWorker same_name{"w1", "tcp://elsewhere:1", 1, 0, {}};
  EXPECT_FALSE(graph.add_worker(same_name).ok());
  msg::RegisterWorker same_address{"w2", address_of("w1"), 1, 0, {}};
  EXPECT_FALSE(graph.add_worker(same_address).ok());
  EXPECT_EQ(graph.workers().size(), 1u);
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

// ---- errors -------------------------------------------------------------------

// In a diamond where one branch's op raises, the join errs with the failing
// op, key and message, and the healthy branch's result is freed.
TEST_F(GraphStateTest, FailingBranchErrsTheJoinAndFreesTheOtherBranch) {
  WorkerState* w1 = add_worker("w1", 4);
  submit({task_def("a"), task_def("b", {"a"}), task_def("c", {"a"}), task_def("d", {"b", "c"})}, {"d"});
  drain();
  finish(w1, "a");
  drain();
  fail(w1, "b", "divide", "division by zero");
  Sent sent = drain();
  const msg::KeyStatus* status = last_status("d");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->state, KeyOutcome::kErred);
  EXPECT_EQ(status->op, "divide");
  EXPECT_EQ(status->failed_key, "b");
  EXPECT_EQ(status->message, "division by zero");
  EXPECT_EQ(graph.tasks_erred(), 1u);

  finish(w1, "c");  // the other branch completes after the join already erred
  sent = drain();
  EXPECT_EQ(sent.compute_count(), 0u) << "nothing runs after the join erred";
  EXPECT_TRUE(still_held_by("w1").count("c") == 0) << "c's result is needed by nobody";
  EXPECT_EQ(graph.count(TaskStatus::kErred), 1u);

  release_all_and_check_no_leaks();
  EXPECT_TRUE(still_held_by("w1").empty());
}

// Cancelling tells the client its keys were cancelled and forgets them.
TEST_F(GraphStateTest, CancelledKeysAreReportedAndForgotten) {
  WorkerState* w1 = add_worker("w1");
  submit({task_def("a"), task_def("b", {"a"})}, {"b"});
  drain();
  graph.cancel_keys(*client, {"b"});
  Sent sent = drain();
  ASSERT_EQ(sent.statuses_for(client).size(), 1u);
  EXPECT_EQ(sent.statuses_for(client)[0].state, KeyOutcome::kCancelled);
  EXPECT_EQ(sent.freed_keys("w1"), std::vector<std::string>{"a"}) << "the running a is dropped";
  EXPECT_EQ(graph.task_count(), 0u);
  finish(w1, "a");  // it finished anyway: the worker is told to drop it
  sent = drain();
  EXPECT_EQ(sent.freed_keys("w1"), std::vector<std::string>{"a"});
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

/// Which link of a four-task chain k0 -> k1 -> k2 -> k3 raises.
class GraphStateChainErrorTest : public GraphStateTest, public ::testing::WithParamInterface<int> {};

// Whichever link of a chain raises, every task after it errs, nothing after
// it runs, and the client is told op, failed key and message for the tail.
TEST_P(GraphStateChainErrorTest, ErredOpMakesDependentsErred) {
  const int failing = GetParam();
  WorkerState* w1 = add_worker("w1");
  submit({task_def("k0"), task_def("k1", {"k0"}), task_def("k2", {"k1"}), task_def("k3", {"k2"})}, {"k3"});
  drain();
  for (int i = 0; i < failing; ++i) {
    finish(w1, "k" + std::to_string(i));
    drain();
  }
  const std::string failed_key = "k" + std::to_string(failing);
  fail(w1, failed_key, "explode", "boom at " + failed_key);
  Sent sent = drain();
  EXPECT_EQ(sent.compute_count(), 0u);

  const msg::KeyStatus* status = last_status("k3");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->state, KeyOutcome::kErred);
  EXPECT_EQ(status->op, "explode");
  EXPECT_EQ(status->failed_key, failed_key);
  EXPECT_EQ(status->message, "boom at " + failed_key);
  EXPECT_EQ(all.statuses_for(client).size(), 1u) << "exactly one status for the one wanted key";
  EXPECT_EQ(graph.count(TaskStatus::kErred), 1u) << "only the wanted tail stays erred";
  EXPECT_EQ(graph.tasks_erred(), 1u);
  EXPECT_EQ(graph.tasks_completed(), static_cast<std::uint64_t>(failing));
  EXPECT_EQ(all.computed_keys("w1").size(), static_cast<std::size_t>(failing + 1));
  for (int i = 0; i < failing; ++i) EXPECT_EQ(still_held_by("w1").count("k" + std::to_string(i)), 0u);

  release_all_and_check_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(EachLink, GraphStateChainErrorTest, ::testing::Values(0, 1, 2, 3));

/// (retries allowed, times the op raises)
class GraphStateRetryTest : public GraphStateTest,
                            public ::testing::WithParamInterface<std::pair<std::uint32_t, std::uint32_t>> {};

// A task with `retries` re-runs after each error until it succeeds or the
// retries are spent; the client hears only the final outcome.
TEST_P(GraphStateRetryTest, RetriesRerunAfterErrors) {
  const auto [retries, failures] = GetParam();
  WorkerState* w1 = add_worker("w1");
  msg::TaskDef def = task_def("flaky", {}, "flaky_op");
  def.retries = retries;
  submit({def, task_def("after", {"flaky"})}, {"after"});
  Sent sent = drain();
  ASSERT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"flaky"});

  std::uint32_t runs = 1;
  for (std::uint32_t i = 0; i < failures; ++i) {
    fail(w1, "flaky", "flaky_op", "transient " + std::to_string(i));
    sent = drain();
    if (i < retries) {
      EXPECT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"flaky"}) << "retry " << i + 1;
      EXPECT_TRUE(sent.statuses.empty()) << "an error with retries left is not reported";
      ++runs;
    } else {
      EXPECT_EQ(sent.compute_count(), 0u);
      break;
    }
  }
  if (failures <= retries) {
    finish(w1, "flaky");
    sent = drain();
    EXPECT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"after"});
    finish(w1, "after");
    drain();
    ASSERT_NE(last_status("after"), nullptr);
    EXPECT_EQ(last_status("after")->state, KeyOutcome::kMemory);
    EXPECT_EQ(graph.tasks_erred(), 0u);
  } else {
    ASSERT_NE(last_status("after"), nullptr);
    EXPECT_EQ(last_status("after")->state, KeyOutcome::kErred);
    EXPECT_EQ(last_status("after")->failed_key, "flaky");
    EXPECT_EQ(last_status("after")->message, "transient " + std::to_string(retries));
    EXPECT_EQ(graph.tasks_erred(), 1u);
  }
  EXPECT_EQ(runs, std::min(failures, retries) + 1);
  EXPECT_EQ(all.statuses_for(client).size(), 1u);

  release_all_and_check_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(RetriesAndFailures, GraphStateRetryTest,
                         ::testing::Values(std::make_pair(0u, 1u), std::make_pair(1u, 1u), std::make_pair(1u, 2u),
                                           std::make_pair(2u, 2u), std::make_pair(2u, 3u)));

// ---- releasing ----------------------------------------------------------------

/// How many worker reports to deliver before the client lets go.
class GraphStateReleaseTest : public GraphStateTest, public ::testing::WithParamInterface<int> {
 protected:
  // Two wanted keys over a shared diamond, on two workers.
  void start() {
    add_worker("w1");
    add_worker("w2");
    submit({task_def("a"), task_def("b", {"a"}), task_def("c", {"a"}), task_def("d", {"b", "c"}),
            task_def("e", {"c"})},
           {"d", "e"});
    drain();
  }
  /// Delivers up to `n` pending reports, in the order the tasks were sent.
  void deliver(int n) {
    for (int i = 0; i < n && !pending.empty(); ++i) {
      auto [name, key] = pending.front();
      pending.pop_front();
      finish(graph.find_worker(name), key);
      drain();
    }
  }
  /// The workers report what they were still running; the scheduler must
  /// tell them to drop every result.
  void deliver_rest() {
    while (!pending.empty()) deliver(1);
  }
};

// Releasing every key the client wants, at any point of the computation,
// forgets every task and leaves no result on any worker.
TEST_P(GraphStateReleaseTest, ReleasingAllClientKeysForgetsEveryTask) {
  start();
  deliver(GetParam());
  release({"d", "e"});
  drain();
  EXPECT_EQ(graph.task_count(), 0u);
  deliver_rest();
  EXPECT_EQ(graph.task_count(), 0u);
  EXPECT_TRUE(still_held_by("w1").empty());
  EXPECT_TRUE(still_held_by("w2").empty());
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

// Removing the client, at any point of the computation, does what releasing
// all its keys does.
TEST_P(GraphStateReleaseTest, RemoveClientForgetsEveryTask) {
  start();
  deliver(GetParam());
  graph.remove_client(client);
  drain();
  EXPECT_EQ(graph.client_count(), 0u);
  EXPECT_EQ(graph.task_count(), 0u);
  deliver_rest();
  EXPECT_EQ(graph.task_count(), 0u);
  EXPECT_TRUE(still_held_by("w1").empty());
  EXPECT_TRUE(still_held_by("w2").empty());
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

INSTANTIATE_TEST_SUITE_P(AfterReports, GraphStateReleaseTest, ::testing::Range(0, 6));

// Releasing one of two wanted keys keeps what the other still needs.
TEST_F(GraphStateTest, ReleasingOneKeyKeepsWhatAnotherNeeds) {
  add_worker("w1");
  submit({task_def("a"), task_def("b", {"a"}), task_def("c", {"a"})}, {"b", "c"});
  drain();
  release({"b"});
  run_to_completion();
  ASSERT_NE(last_status("c"), nullptr);
  EXPECT_EQ(last_status("c")->state, KeyOutcome::kMemory);
  EXPECT_EQ(last_status("b"), nullptr);
  EXPECT_EQ(still_held_by("w1"), std::set<std::string>{"c"});
  release({"c"});
  drain();
  EXPECT_TRUE(still_held_by("w1").empty());
  EXPECT_EQ(graph.task_count(), 0u);
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

// ---- restrictions and resources -------------------------------------------------

/// Worker saturation: finite (root tasks queue) or infinite (they do not).
class GraphStateResourceTest : public GraphStateTest, public ::testing::WithParamInterface<double> {
 protected:
  GraphStateResourceTest() : GraphStateTest(config_with_saturation(GetParam(), SchedulerConfig{}.saturation_latency)) {}
};

// A task needing a GPU waits in no-worker while only CPU workers (or a worker
// with too little GPU) exist, then runs on the GPU worker and nowhere else.
TEST_P(GraphStateResourceTest, GpuTaskWaitsForAGpuWorker) {
  add_worker("cpu", 4);
  add_worker("half", 4, {{"GPU", 0.5}});
  msg::TaskDef train = task_def("train", {}, "train");
  train.resources = {{"GPU", 1}};
  submit({train, task_def("score", {"train"})}, {"score"});
  Sent sent = drain();
  EXPECT_EQ(sent.compute_count(), 0u);
  EXPECT_EQ(graph.count(TaskStatus::kNoWorker), 1u);

  WorkerState* gpu = add_worker("gpu", 1, {{"GPU", 1}, {"MEM", 4}});
  sent = drain();
  EXPECT_EQ(graph.count(TaskStatus::kNoWorker), 0u);
  ASSERT_EQ(sent.computed_keys("gpu"), std::vector<std::string>{"train"});
  EXPECT_EQ(sent.compute_count(), 1u);
  EXPECT_EQ(sent.compute["gpu"][0].resources, (ResourceList{{"GPU", 1}}));

  finish(gpu, "train", 1000);
  sent = drain();
  EXPECT_EQ(sent.computed_keys("gpu"), std::vector<std::string>{"score"}) << "score goes where its input is";
  run_to_completion();
  ASSERT_NE(last_status("score"), nullptr);
  EXPECT_EQ(last_status("score")->state, KeyOutcome::kMemory);

  release_all_and_check_no_leaks();
  EXPECT_TRUE(still_held_by("gpu").empty());
}

// A non-root task needing a GPU goes to no-worker when its inputs are ready,
// not before, and leaves it when a GPU worker registers.
TEST_P(GraphStateResourceTest, GpuDependentWaitsInNoWorkerAfterItsInputs) {
  WorkerState* cpu = add_worker("cpu", 2);
  msg::TaskDef fit = task_def("fit", {"load"}, "fit");
  fit.resources = {{"GPU", 1}};
  submit({task_def("load"), fit}, {"fit"});
  drain();
  EXPECT_EQ(graph.count(TaskStatus::kNoWorker), 0u);
  finish(cpu, "load");
  drain();
  EXPECT_EQ(graph.count(TaskStatus::kNoWorker), 1u);
  add_worker("gpu", 1, {{"GPU", 2}});
  Sent sent = drain();
  ASSERT_EQ(sent.computed_keys("gpu"), std::vector<std::string>{"fit"});
  ASSERT_EQ(sent.compute["gpu"][0].dependencies.size(), 1u);
  EXPECT_EQ(sent.holders_of("gpu", sent.compute["gpu"][0].dependencies[0]), std::vector<std::string>{address_of("cpu")});
  run_to_completion();
  EXPECT_EQ(last_status("fit")->state, KeyOutcome::kMemory);
  release_all_and_check_no_leaks();
}

// Tasks restricted to named workers (by name or by address) run only there;
// one restricted to an absent worker waits until that worker registers.
TEST_P(GraphStateResourceTest, WorkerRestrictionsAreRespected) {
  add_worker("w1", 2);
  add_worker("w2", 2);
  add_worker("w3", 2);
  std::vector<msg::TaskDef> tasks;
  std::vector<std::string> wanted;
  for (int i = 0; i < 6; ++i) {
    tasks.push_back(task_def("on_w2_" + std::to_string(i)));
    tasks.back().workers = {"w2"};
    wanted.push_back(tasks.back().key);
  }
  tasks.push_back(task_def("on_w3_by_address"));
  tasks.back().workers = {address_of("w3")};
  tasks.push_back(task_def("on_w1_or_w3", {"on_w2_0"}));
  tasks.back().workers = {"w1", "w3"};
  tasks.push_back(task_def("on_w9"));
  tasks.back().workers = {"w9"};
  for (std::size_t i = 6; i < tasks.size(); ++i) wanted.push_back(tasks[i].key);
  submit(tasks, wanted);
  run_to_completion();
  EXPECT_EQ(graph.count(TaskStatus::kNoWorker), 1u);
  EXPECT_EQ(graph.find("on_w9")->status, TaskStatus::kNoWorker);

  add_worker("w9");
  run_to_completion();
  for (const auto& [worker, computes] : all.compute) {
    for (const msg::ComputeTask& task : computes) {
      if (task.key.starts_with("on_w2_")) {
        EXPECT_EQ(worker, "w2") << task.key;
      } else if (task.key == "on_w3_by_address") {
        EXPECT_EQ(worker, "w3");
      } else if (task.key == "on_w1_or_w3") {
        EXPECT_TRUE(worker == "w1" || worker == "w3") << worker;
      } else {
        EXPECT_EQ(worker, "w9") << task.key;
      }
    }
  }
  EXPECT_EQ(all.compute_count(), tasks.size());
  EXPECT_EQ(graph.count(TaskStatus::kMemory), tasks.size());
  release_all_and_check_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(Saturation, GraphStateResourceTest, ::testing::Values(1.0, 1.1, kNoQueuing));

// ---- root-task queuing -----------------------------------------------------------

struct QueuingParams {
  int workers;
  std::uint32_t nthreads;
};

class GraphStateQueuingTest : public GraphStateTest, public ::testing::WithParamInterface<QueuingParams> {
 protected:
  GraphStateQueuingTest() : GraphStateTest(config_with_saturation(1.0)) {}

  void expect_no_worker_over_its_threads() const {
    for (const auto& worker : graph.workers()) {
      EXPECT_LE(worker->processing.size(), worker->nthreads) << worker->name;
    }
  }
};

// With worker_saturation 1.0 each worker runs at most nthreads root tasks;
// the rest wait in queued and drain in priority order as tasks finish.
TEST_P(GraphStateQueuingTest, RootTasksQueueAndDrainInPriorityOrder) {
  const auto [nworkers, nthreads] = GetParam();
  for (int i = 0; i < nworkers; ++i) add_worker("w" + std::to_string(i), nthreads);
  const std::size_t slots = static_cast<std::size_t>(nworkers) * nthreads;
  const std::size_t ntasks = 12;
  std::vector<msg::TaskDef> tasks;
  std::vector<std::string> wanted;
  for (std::size_t i = 0; i < ntasks; ++i) {
    char key[8];
    std::snprintf(key, sizeof(key), "r%02zu", i);
    tasks.push_back(task_def(key));
    tasks.back().priority.order = i;
    wanted.push_back(key);
  }
  submit(tasks, wanted);
  Sent sent = drain();
  EXPECT_EQ(sent.compute_count(), std::min(slots, ntasks));
  EXPECT_EQ(graph.count(TaskStatus::kProcessing), std::min(slots, ntasks));
  EXPECT_EQ(graph.count(TaskStatus::kQueued), ntasks - std::min(slots, ntasks));
  expect_no_worker_over_its_threads();
  for (const auto& worker : graph.workers()) {
    EXPECT_EQ(worker->processing.size(), nthreads) << "every worker gets work";
  }

  std::vector<std::string> dispatched;
  for (const auto& [worker, computes] : sent.compute) {
    for (const msg::ComputeTask& task : computes) dispatched.push_back(task.key);
  }
  std::sort(dispatched.begin(), dispatched.end());  // the first wave goes out together
  while (!pending.empty()) {
    auto [name, key] = pending.front();
    pending.pop_front();
    finish(graph.find_worker(name), key);
    sent = drain();
    EXPECT_LE(sent.compute_count(), 1u) << "one finished task frees one slot";
    for (const std::string& next : sent.computed_keys(name)) dispatched.push_back(next);
    EXPECT_EQ(sent.compute_count(), sent.computed_keys(name).size()) << "the freed slot is on " << name;
    expect_no_worker_over_its_threads();
    EXPECT_EQ(graph.count(TaskStatus::kProcessing) + graph.count(TaskStatus::kQueued) +
                  graph.count(TaskStatus::kMemory),
              ntasks);
  }
  EXPECT_EQ(dispatched, wanted) << "queued roots leave the queue in priority order";
  EXPECT_EQ(graph.count(TaskStatus::kMemory), ntasks);
  EXPECT_EQ(graph.count(TaskStatus::kQueued), 0u);

  release_all_and_check_no_leaks();
}

// A queued root task with a higher user priority, submitted later, takes the
// next free slot ahead of older queued ones; and every ComputeTask carries
// the task's priority.
TEST_P(GraphStateQueuingTest, PrioritiesOrderTheQueueAndAreCarriedIntoComputeTask) {
  const auto [nworkers, nthreads] = GetParam();
  for (int i = 0; i < nworkers; ++i) add_worker("w" + std::to_string(i), nthreads);
  const std::size_t slots = static_cast<std::size_t>(nworkers) * nthreads;
  std::vector<msg::TaskDef> tasks;
  std::vector<std::string> wanted;
  for (std::size_t i = 0; i < slots + 3; ++i) {
    tasks.push_back(task_def("low" + std::to_string(i)));
    tasks.back().priority = {0, 1, i};
    wanted.push_back(tasks.back().key);
  }
  submit(tasks, wanted);
  drain();
  EXPECT_EQ(graph.count(TaskStatus::kQueued), 3u);

  msg::TaskDef urgent = task_def("urgent");
  urgent.priority = {10, 2, 0};
  submit({urgent}, {"urgent"});
  Sent sent = drain();
  EXPECT_EQ(sent.compute_count(), 0u) << "every slot is taken";
  EXPECT_EQ(graph.find("urgent")->status, TaskStatus::kQueued);

  auto [name, key] = pending.front();
  pending.pop_front();
  finish(graph.find_worker(name), key);
  sent = drain();
  ASSERT_EQ(sent.computed_keys(name), std::vector<std::string>{"urgent"});
  EXPECT_EQ(sent.compute[name][0].priority.user, 10);
  EXPECT_EQ(sent.compute[name][0].priority.generation, 2u);
  EXPECT_EQ(sent.compute[name][0].priority.order, 0u);

  run_to_completion();
  std::map<std::string, Priority> submitted;
  for (const msg::TaskDef& def : tasks) submitted[def.key] = def.priority;
  submitted["urgent"] = urgent.priority;
  for (const auto& [worker, computes] : all.compute) {
    for (const msg::ComputeTask& task : computes) {
      EXPECT_EQ(task.priority.user, submitted[task.key].user) << task.key;
      EXPECT_EQ(task.priority.generation, submitted[task.key].generation) << task.key;
      EXPECT_EQ(task.priority.order, submitted[task.key].order) << task.key;
    }
  }
  release_all_and_check_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(WorkersAndThreads, GraphStateQueuingTest,
                         ::testing::Values(QueuingParams{1, 1}, QueuingParams{1, 2}, QueuingParams{1, 4},
                                           QueuingParams{2, 1}, QueuingParams{2, 3}),
                         [](const auto& info) {
                           return std::to_string(info.param.workers) + "workers_" +
                                  std::to_string(info.param.nthreads) + "threads";
                         });

class GraphStatePauseTest : public GraphStateTest {
 protected:
  GraphStatePauseTest() : GraphStateTest(config_with_saturation(1.0)) {}
  void heartbeat(WorkerState* worker, bool paused) {
    msg::Heartbeat beat;
    beat.paused = paused;
    graph.worker_heartbeat(*worker, beat, 1.0);
  }
};

// A paused worker (memory above its pause threshold) gets no queued root
// tasks; once a heartbeat says it resumed, the queue fills it again.
TEST_F(GraphStatePauseTest, PausedWorkerGetsNoRootTasksUntilItResumes) {
  WorkerState* paused = add_worker("w0");
  add_worker("w1");
  heartbeat(paused, true);
  std::vector<msg::TaskDef> tasks;
  std::vector<std::string> wanted;
  for (int i = 0; i < 4; ++i) {
    tasks.push_back(task_def("r" + std::to_string(i)));
    wanted.push_back("r" + std::to_string(i));
  }
  submit(tasks, wanted);
  Sent sent = drain();
  EXPECT_TRUE(sent.computed_keys("w0").empty()) << "a paused worker gets no root task";
  EXPECT_EQ(sent.computed_keys("w1").size(), 1u);
  EXPECT_EQ(graph.count(TaskStatus::kQueued), 3u);

  heartbeat(paused, true);  // still paused: nothing moves
  EXPECT_EQ(drain().compute_count(), 0u);
  heartbeat(paused, false);
  sent = drain();
  EXPECT_EQ(sent.computed_keys("w0").size(), 1u) << "resumed: it takes from the queue";
  EXPECT_EQ(graph.count(TaskStatus::kQueued), 2u);

  run_to_completion();
  EXPECT_EQ(graph.count(TaskStatus::kMemory), 4u);
  release_all_and_check_no_leaks();
}

/// Threads per worker, with saturation 1.0, 1 s of latency to cover and
/// 0.25 s assumed for an op never seen.
class GraphStateLatencyQueuingTest : public GraphStateTest, public ::testing::WithParamInterface<std::uint32_t> {
 protected:
  GraphStateLatencyQueuingTest() : GraphStateTest(latency_config()) {}
  static SchedulerConfig latency_config() {
    SchedulerConfig config = config_with_saturation(1.0, 1.0);
    config.default_task_duration = 0.25;
    return config;
  }
  void submit_roots(const std::string& op, int n) {
    std::vector<msg::TaskDef> tasks;
    std::vector<std::string> wanted;
    for (int i = 0; i < n; ++i) {
      tasks.push_back(task_def(op + std::to_string(i), {}, op));
      tasks.back().priority.order = static_cast<std::uint64_t>(i);
      wanted.push_back(tasks.back().key);
    }
    submit(tasks, wanted);
  }
};

// Root tasks of an op never seen pipeline past nthreads until the worker
// holds saturation_latency seconds of estimated work per thread, and no
// further; the queue still drains completely.
TEST_P(GraphStateLatencyQueuingTest, TinyRootTasksPipelineUpToTheLatency) {
  const std::uint32_t nthreads = GetParam();
  add_worker("w0", nthreads);
  submit_roots("tiny", 20);
  Sent sent = drain();
  const std::size_t pipelined = 4 * nthreads;  // 1 s per thread / 0.25 s per task
  EXPECT_EQ(sent.compute_count(), pipelined);
  EXPECT_EQ(graph.count(TaskStatus::kQueued), 20 - pipelined);
  while (!pending.empty()) {
    auto [name, key] = pending.front();
    pending.pop_front();
    finish(graph.find_worker(name), key, 8, 0.25);  // as estimated: the pipeline depth stays
    drain();
    EXPECT_LE(graph.workers()[0]->processing.size(), pipelined);
  }
  EXPECT_EQ(graph.count(TaskStatus::kMemory), 20u);
  release_all_and_check_no_leaks();
}

// Once an op is known to take long, its root tasks are capped by the thread
// count alone: nthreads run, the rest queue.
TEST_P(GraphStateLatencyQueuingTest, HeavyRootTasksAreCappedByThreadCount) {
  const std::uint32_t nthreads = GetParam();
  WorkerState* w0 = add_worker("w0", nthreads);
  submit({task_def("heavy_probe", {}, "heavy")}, {"heavy_probe"});
  drain();
  pending.clear();
  finish(w0, "heavy_probe", 8, 10.0);  // the scheduler learns "heavy" takes 10 s
  drain();
  submit_roots("heavy", 10);
  Sent sent = drain();
  EXPECT_EQ(sent.compute_count(), nthreads);
  EXPECT_EQ(graph.count(TaskStatus::kQueued), 10u - nthreads);
  while (!pending.empty()) {
    auto [name, key] = pending.front();
    pending.pop_front();
    finish(graph.find_worker(name), key, 8, 10.0);
    drain();
    EXPECT_LE(w0->processing.size(), nthreads);
  }
  EXPECT_EQ(graph.count(TaskStatus::kMemory), 11u);
  release_all_and_check_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(Threads, GraphStateLatencyQueuingTest, ::testing::Values(1u, 2u, 4u));

// ---- losing workers -----------------------------------------------------------

// Removing a worker sends the tasks it was running to another worker.
TEST_F(GraphStateTest, RemovingAWorkerReschedulesItsProcessingTasks) {
  WorkerState* w1 = add_worker("w1");
  add_worker("w2");
  submit({task_def("a"), task_def("b")}, {"a", "b"});
  Sent sent = drain();
  ASSERT_EQ(sent.compute_count(), 2u);
  std::string on_w1 = sent.computed_keys("w1").at(0);
  std::string on_w2 = sent.computed_keys("w2").at(0);

  graph.remove_worker(w1, "test");
  sent = drain();
  EXPECT_EQ(sent.computed_keys("w2"), std::vector<std::string>{on_w1});
  expect_processing_on_live_workers();
  run_to_completion();
  for (const std::string& key : {on_w1, on_w2}) {
    ASSERT_NE(last_status(key), nullptr);
    EXPECT_EQ(last_status(key)->state, KeyOutcome::kMemory);
    EXPECT_EQ(last_status(key)->who_has, std::vector<std::string>{address_of("w2")});
  }
  release_all_and_check_no_leaks();
  EXPECT_TRUE(still_held_by("w2").empty());
}

// Removing a worker recomputes the results only it held (and what was
// running on them), but not results another worker still has.
TEST_F(GraphStateTest, RemovingAWorkerRecomputesResultsOnlyItHeld) {
  WorkerState* w1 = add_worker("w1");
  WorkerState* w2 = add_worker("w2");
  submit({task_def("big"), task_def("small"), task_def("sum", {"big", "small"})}, {"sum"});
  Sent sent = drain();
  ASSERT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"big"});
  ASSERT_EQ(sent.computed_keys("w2"), std::vector<std::string>{"small"});
  finish(w1, "big", 1'000'000);
  finish(w2, "small", 8);
  sent = drain();
  ASSERT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"sum"}) << "sum goes where most of its input is";

  graph.remove_worker(w2, "connection lost");
  sent = drain();
  expect_processing_on_live_workers();
  EXPECT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"small"}) << "only small is recomputed";
  EXPECT_EQ(sent.freed_keys("w1"), std::vector<std::string>{"sum"}) << "sum's run used a lost input";
  EXPECT_EQ(graph.find("big")->status, TaskStatus::kMemory);
  EXPECT_EQ(graph.find("sum")->status, TaskStatus::kWaiting);
  pending.clear();

  finish(w1, "small");
  sent = drain();
  ASSERT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"sum"});
  for (const msg::DependencyLocation& dep : sent.compute["w1"][0].dependencies) {
    EXPECT_TRUE(dep.who_has.empty()) << dep.key << " is on w1 alone, where sum runs";
    EXPECT_EQ(graph.find(dep.key)->who_has, std::vector<WorkerState*>{w1}) << dep.key;
  }
  finish(w1, "sum");
  drain();
  ASSERT_NE(last_status("sum"), nullptr);
  EXPECT_EQ(last_status("sum")->state, KeyOutcome::kMemory);
  const std::vector<std::string> computed_on_w1 = all.computed_keys("w1");
  EXPECT_EQ(std::count(computed_on_w1.begin(), computed_on_w1.end(), "big"), 1);

  release_all_and_check_no_leaks();
  EXPECT_TRUE(still_held_by("w1").empty());
}

// A result lost with its worker is recomputed for the client that wants it
// even when nothing depends on it.
TEST_F(GraphStateTest, WantedResultLostWithItsWorkerIsRecomputed) {
  WorkerState* w1 = add_worker("w1");
  submit({task_def("a")}, {"a"});
  drain();
  finish(w1, "a");
  drain();
  pending.clear();
  graph.remove_worker(w1, "test");
  drain();
  EXPECT_EQ(graph.find("a")->status, TaskStatus::kNoWorker);
  add_worker("w2");
  run_to_completion();
  ASSERT_NE(last_status("a"), nullptr);
  EXPECT_EQ(last_status("a")->who_has, std::vector<std::string>{address_of("w2")});
  release_all_and_check_no_leaks();
}

// A worker that cannot fetch a dependency (its holder died before the
// scheduler noticed) reports it missing: the task is rescheduled, not
// failed, and the dependency is recomputed when that was its only copy.
TEST_F(GraphStateTest, MissingDependencyIsRecomputedAndTheTaskRescheduled) {
  WorkerState* w1 = add_worker("w1");
  WorkerState* w2 = add_worker("w2");
  submit({task_def("a"), task_def("b"), task_def("c", {"a", "b"}, "add")}, {"c"});
  Sent sent = drain();
  ASSERT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"a"});
  finish(w1, "a", 8);
  finish(w2, "b", 1'000'000);
  sent = drain();
  ASSERT_EQ(sent.computed_keys("w2"), std::vector<std::string>{"c"});
  msg::WorkerReport report;
  report.missing.push_back({"c", "a", address_of("w1"), "fetch from w1 failed"});
  graph.worker_report(*w2, report);
  sent = drain();
  EXPECT_EQ(sent.freed_keys("w1"), std::vector<std::string>{"a"}) << "the copy w2 could not fetch is dropped";
  EXPECT_EQ(graph.find("c")->status, TaskStatus::kWaiting);
  ASSERT_EQ(sent.compute_count(), 1u) << "a is recomputed";
  // w2 dropped c when it could not start it: only the recomputation of a is outstanding.
  pending.erase(std::remove(pending.begin(), pending.end(), std::make_pair(std::string("w2"), std::string("c"))),
                pending.end());
  run_to_completion();
  ASSERT_NE(last_status("c"), nullptr);
  EXPECT_EQ(last_status("c")->state, KeyOutcome::kMemory);
  release_all_and_check_no_leaks();
}

// ---- graceful retire (scheduler/retirement.h) -------------------------------

/// Retirements over the fixture's graph, recording what they would send.
class RetirementTest : public GraphStateTest {
 protected:
  RetirementTest()
      : retirements(graph,
                    {[this](WorkerState& target, msg::AcquireReplicas request) {
                       acquires.emplace_back(target.name, std::move(request));
                     },
                     [this](WorkerState& worker, const std::string& reason) {
                       closed.push_back(worker.name + ": " + reason);
                       graph.remove_worker(&worker, reason, /*graceful=*/true);
                     },
                     [this](ClientState&, msg::RetireWorkersReply reply) { replies.push_back(std::move(reply)); }},
                    std::chrono::milliseconds(1000), test_logger()) {}

  Retirements retirements;
  std::vector<std::pair<std::string, msg::AcquireReplicas>> acquires;  // (target, request)
  std::vector<std::string> closed;
  std::vector<msg::RetireWorkersReply> replies;
};

// A retiring worker's unique results are copied before it goes: it gets no
// new tasks meanwhile, closes once the copies are reported, and the client
// gets its answer; nothing is recomputed and no task counts a failure.
TEST_F(RetirementTest, CopiesUniqueResultsThenCloses) {
  WorkerState* w1 = add_worker("w1");
  WorkerState* w2 = add_worker("w2");
  submit({task_def("a"), task_def("b")}, {"a", "b"});
  Sent sent = drain();
  const std::string on_w1 = sent.computed_keys("w1").at(0);
  finish(w1, on_w1);
  finish(w2, sent.computed_keys("w2").at(0));
  drain();
  pending.clear();
  ASSERT_TRUE(retirements.start({"w1"}, *client, 7).ok());
  ASSERT_EQ(acquires.size(), 1u);
  EXPECT_EQ(acquires[0].first, "w2");
  EXPECT_EQ(acquires[0].second.holder, address_of("w1"));
  EXPECT_EQ(acquires[0].second.keys, std::vector<std::string>{on_w1});
  EXPECT_TRUE(closed.empty()) << "not before the copy";
  submit({task_def("c")}, {"c"});
  EXPECT_EQ(drain().computed_keys("w2"), std::vector<std::string>{"c"}) << "a retiring worker gets no new tasks";
  pending.clear();

  msg::WorkerReport report;
  report.acquired.push_back({on_w1, 8});
  graph.worker_report(*w2, report);
  retirements.poll(Retirements::Clock::now());
  EXPECT_EQ(closed, std::vector<std::string>{"w1: retired"});
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].request_id, 7u);
  EXPECT_EQ(replies[0].retired, std::vector<std::string>{"w1"});
  EXPECT_EQ(graph.find(on_w1)->status, TaskStatus::kMemory);
  EXPECT_EQ(graph.find(on_w1)->who_has, std::vector<WorkerState*>{w2});
  EXPECT_TRUE(drain().compute.empty()) << "nothing recomputed";
  EXPECT_TRUE(retirements.empty());
}

// Without another worker, or past the deadline, the worker goes anyway (its
// results are recomputed later); an unknown name is an error.
TEST_F(RetirementTest, GoesAnywayWithoutATargetOrAfterTheDeadline) {
  WorkerState* w1 = add_worker("w1");
  submit({task_def("a")}, {"a"});
  drain();
  finish(w1, "a");
  drain();
  pending.clear();
  EXPECT_FALSE(retirements.start({"nobody"}, *client, 1).ok());
  ASSERT_TRUE(retirements.start({"w1"}, *client, 2).ok());
  EXPECT_EQ(closed, std::vector<std::string>{"w1: retired with no other worker to copy to"});

  WorkerState* w2 = add_worker("w2");
  add_worker("w3");
  run_to_completion();
  retirements.start(*w2);  // w2 retires itself; w3 is asked for a copy that never comes
  ASSERT_EQ(acquires.size(), 1u);
  retirements.poll(Retirements::Clock::now() + std::chrono::seconds(2));
  EXPECT_EQ(closed.back(), "w2: retired after its copies timed out");
  run_to_completion();
  EXPECT_EQ(last_status("a")->who_has, std::vector<std::string>{address_of("w3")});
  release_all_and_check_no_leaks();
}

/// allowed_failures = 0..3: a task erring after that many worker deaths.
class GraphStateKilledWorkerTest : public GraphStateTest, public ::testing::WithParamInterface<std::uint32_t> {
 protected:
  static SchedulerConfig config(std::uint32_t allowed) {
    SchedulerConfig c;
    c.allowed_failures = allowed;
    return c;
  }
  GraphStateKilledWorkerTest() : GraphStateTest(config(GetParam())) {}
};

// A task whose workers keep dying is rescheduled allowed_failures times, then
// errs with "worker killed while running <op> <key>" (its dependent too),
// instead of killing the workers one by one; a graceful retire does not count.
TEST_P(GraphStateKilledWorkerTest, TaskErrsAfterAllowedFailures) {
  const std::uint32_t allowed = GetParam();
  submit({task_def("poison", {}, "segfault"), task_def("after", {"poison"})}, {"after"});
  WorkerState* retired = add_worker("retired");
  drain();
  ASSERT_EQ(graph.find("poison")->processing_on, retired);
  graph.remove_worker(retired, "retired", /*graceful=*/true);
  for (std::uint32_t death = 1; death <= allowed + 1; ++death) {
    WorkerState* w = add_worker("w" + std::to_string(death));
    drain();
    ASSERT_EQ(graph.find("poison")->processing_on, w) << "death " << death;
    graph.remove_worker(w, "connection lost");
    drain();
  }
  const msg::KeyStatus* status = last_status("after");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->state, KeyOutcome::kErred);
  EXPECT_EQ(status->failed_key, "poison");
  EXPECT_EQ(status->op, "segfault");
  EXPECT_NE(status->message.find("worker killed while running segfault poison"), std::string::npos)
      << status->message;
  EXPECT_NE(status->message.find(std::to_string(allowed + 1) + " workers died"), std::string::npos)
      << status->message;
  release_all_and_check_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(AllowedFailures, GraphStateKilledWorkerTest, ::testing::Values(0u, 1u, 3u));

/// Workers at the start; the first one is removed while root tasks queue.
class GraphStateRemoveQueuingTest : public GraphStateTest, public ::testing::WithParamInterface<int> {
 protected:
  GraphStateRemoveQueuingTest() : GraphStateTest(config_with_saturation(1.0)) {}
};

// Removing a worker while root tasks are queued never leaves a task
// processing on the removed worker: its freed slots are not refilled.
TEST_P(GraphStateRemoveQueuingTest, RemovedWorkerGetsNoQueuedTasks) {
  const int nworkers = GetParam();
  std::vector<WorkerState*> workers;
  for (int i = 0; i < nworkers; ++i) workers.push_back(add_worker("w" + std::to_string(i)));
  std::vector<msg::TaskDef> tasks;
  std::vector<std::string> wanted;
  for (int i = 0; i < 4 + nworkers; ++i) {
    tasks.push_back(task_def("r" + std::to_string(i)));
    tasks.back().priority.order = static_cast<std::uint64_t>(i);
    wanted.push_back(tasks.back().key);
  }
  submit(tasks, wanted);
  drain();
  ASSERT_EQ(graph.count(TaskStatus::kProcessing), static_cast<std::size_t>(nworkers));

  graph.remove_worker(workers[0], "test");
  expect_processing_on_live_workers();
  EXPECT_EQ(graph.count(TaskStatus::kProcessing), static_cast<std::size_t>(nworkers - 1));
  ASSERT_FALSE(HasFailure()) << "stopping before validate() follows a dangling worker pointer";
  drain();

  add_worker("replacement");
  run_to_completion();
  EXPECT_EQ(graph.count(TaskStatus::kMemory), tasks.size());
  release_all_and_check_no_leaks();
}

INSTANTIATE_TEST_SUITE_P(Workers, GraphStateRemoveQueuingTest, ::testing::Values(1, 2, 3));

// ---- scattered data -------------------------------------------------------------

// Scattered keys are in memory at once, feed tasks placed next to them, and
// are freed and forgotten when released.
TEST_F(GraphStateTest, ScatteredKeysFeedDependentsAndAreForgottenWhenReleased) {
  add_worker("w1");
  add_worker("w2");
  ASSERT_TRUE(graph.keys_scattered(*client, {address_of("w2"), {{"x", 1'000'000, "float64[125000]"}}}).ok());
  Sent sent = drain();
  ASSERT_EQ(sent.statuses_for(client).size(), 1u);
  EXPECT_EQ(sent.statuses_for(client)[0].state, KeyOutcome::kMemory);
  EXPECT_EQ(sent.statuses_for(client)[0].nbytes, 1'000'000u);

  submit({task_def("y", {"x"})}, {"y"});
  sent = drain();
  EXPECT_EQ(sent.computed_keys("w2"), std::vector<std::string>{"y"});
  run_to_completion();
  release_all();
  sent = drain();
  EXPECT_EQ(as_set(sent.freed_keys("w2")), (std::set<std::string>{"x", "y"}));
  EXPECT_EQ(graph.task_count(), 0u);
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

// Scattering to an address no worker has is a NotFound error, and changes nothing.
TEST_F(GraphStateTest, ScatterToUnknownWorkerIsNotFound) {
  add_worker("w1");
  Status status = graph.keys_scattered(*client, {"tcp://nowhere:1", {{"x", 8, "int64"}}});
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(graph.task_count(), 0u);
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

// Scattered data lost with its worker cannot be recomputed: the client is
// told it is lost, and tasks waiting on it err instead of waiting forever.
TEST_F(GraphStateTest, LostScatteredDataErrsTasksWaitingOnIt) {
  add_worker("holder");
  WorkerState* w2 = add_worker("w2");
  ASSERT_TRUE(graph.keys_scattered(*client, {address_of("holder"), {{"x", 8, "int64"}}}).ok());
  msg::TaskDef slow = task_def("slow");
  slow.workers = {"w2"};
  submit({slow, task_def("y", {"x", "slow"})}, {"y"});
  drain();
  EXPECT_EQ(graph.find("y")->status, TaskStatus::kWaiting);

  graph.remove_worker(graph.find_worker("holder"), "test");
  drain();
  ASSERT_NE(last_status("x"), nullptr);
  EXPECT_EQ(last_status("x")->state, KeyOutcome::kLost);
  finish(w2, "slow");
  drain();
  EXPECT_EQ(graph.count(TaskStatus::kWaiting), 0u) << "y waits forever on lost data";
  ASSERT_NE(last_status("y"), nullptr);
  EXPECT_EQ(last_status("y")->state, KeyOutcome::kErred);
  EXPECT_EQ(last_status("y")->failed_key, "x");

  release_all_and_check_no_leaks();
  EXPECT_TRUE(still_held_by("w2").empty());
}

// ---- a larger graph under every configuration --------------------------------------

/// (workers, worker_saturation, saturation_latency)
using TreeParams = std::tuple<int, double, double>;

std::string tree_test_name(const TreeParams& params) {
  double saturation = std::get<1>(params);
  return std::to_string(std::get<0>(params)) + "workers_" +
         (std::isinf(saturation) ? std::string("noqueue") : "sat" + std::to_string(int(saturation * 10))) +
         (std::get<2>(params) > 0 ? "_latency" : "_count");
}

class GraphStateTreeTest : public GraphStateTest, public ::testing::WithParamInterface<TreeParams> {
 protected:
  GraphStateTreeTest() : GraphStateTest(config_with_saturation(std::get<1>(GetParam()), std::get<2>(GetParam()))) {}
};

// A tree reduction of 16 leaves runs to one result on any number of workers
// and saturation, and releasing it leaves nothing behind anywhere.
TEST_P(GraphStateTreeTest, TreeReductionRunsToCompletionAndCleansUp) {
  for (int i = 0; i < std::get<0>(GetParam()); ++i) add_worker("w" + std::to_string(i), 2);
  std::vector<msg::TaskDef> tasks;
  std::vector<std::string> level;
  for (int i = 0; i < 16; ++i) {
    level.push_back("leaf" + std::to_string(i));
    tasks.push_back(task_def(level.back(), {}, "load"));
    tasks.back().priority.order = static_cast<std::uint64_t>(i);
  }
  for (int depth = 0; level.size() > 1; ++depth) {
    std::vector<std::string> next;
    for (std::size_t i = 0; i < level.size(); i += 2) {
      next.push_back("sum" + std::to_string(depth) + "_" + std::to_string(i / 2));
      tasks.push_back(task_def(next.back(), {level[i], level[i + 1]}, "add"));
    }
    level = std::move(next);
  }
  submit(tasks, {level[0]});
  run_to_completion();
  ASSERT_NE(last_status(level[0]), nullptr);
  EXPECT_EQ(last_status(level[0])->state, KeyOutcome::kMemory);
  EXPECT_EQ(graph.tasks_completed(), tasks.size());
  EXPECT_EQ(graph.task_count(), tasks.size()) << "lineage is kept while the result is wanted";
  EXPECT_EQ(graph.count(TaskStatus::kMemory), 1u) << "intermediates are freed";

  release_all();
  drain();
  for (const auto& worker : graph.workers()) EXPECT_TRUE(still_held_by(worker->name).empty()) << worker->name;
  EXPECT_EQ(graph.task_count(), 0u);
  ASSERT_TRUE(graph.validate().ok()) << graph.validate().to_string();
}

INSTANTIATE_TEST_SUITE_P(
    WorkersAndSaturation, GraphStateTreeTest,
    ::testing::Combine(::testing::Values(1, 2, 3), ::testing::Values(1.0, 1.1, kNoQueuing),
                       ::testing::Values(0.0, 0.005)),
    [](const auto& info) { return tree_test_name(info.param); });

// Task groups count their tasks by state as they move, count the task edges
// between groups, feed the task stream, and go with their last task.
TEST_F(GraphStateTest, GroupsCountTasksByOpAndFeedTheDashboard) {
  WorkerState* worker = add_worker("a", 2);
  submit({task_def("x1"), task_def("x2"), task_def("y", {"x1", "x2"}, "sum")}, {"y"});
  drain();
  const TaskGroup& inc = *graph.groups().at("inc");
  const TaskGroup& sum = *graph.groups().at("sum");
  EXPECT_EQ(inc.counts[static_cast<int>(TaskStatus::kProcessing)], 2u);
  EXPECT_EQ(sum.counts[static_cast<int>(TaskStatus::kWaiting)], 1u);
  EXPECT_EQ(sum.dependencies.at(const_cast<TaskGroup*>(&inc)), 2u);

  run_to_completion();
  EXPECT_EQ(inc.completed, 2u);
  EXPECT_EQ(sum.counts[static_cast<int>(TaskStatus::kMemory)], 1u);
  EXPECT_EQ(graph.first_with_status(TaskStatus::kMemory)->key, "y");
  auto events = graph.stream().since(0, 100);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(graph.stream().op_names()[events.back().op], "sum");
  EXPECT_EQ(graph.stream().worker_names()[events.back().worker], "a");

  SnapshotHistory history;
  auto snapshot = build_dashboard_snapshot(graph, SnapshotOptions{.stream_seconds = 1e12}, history, 2.0);
  EXPECT_EQ(snapshot->counts[static_cast<int>(TaskStatus::kMemory)], 1u);
  EXPECT_EQ(snapshot->groups.size(), 2u);
  EXPECT_EQ(snapshot->group_edges.size(), 1u);
  ASSERT_EQ(snapshot->task_samples[static_cast<int>(TaskStatus::kMemory)].size(), 1u);
  EXPECT_EQ(snapshot->task_samples[static_cast<int>(TaskStatus::kMemory)][0].worker, "a");
  EXPECT_TRUE(snapshot->graph_is_small);
  EXPECT_EQ(snapshot->small_graph.tasks.size(), 3u);
  EXPECT_EQ(snapshot->small_graph.edges.size(), 2u);
  EXPECT_EQ(snapshot->stream.size(), 3u);
  EXPECT_EQ(worker->tasks_done, 3u);

  release_all_and_check_no_leaks();
  EXPECT_TRUE(graph.groups().empty());
}

// A failure reported by a worker is listed with its op, key, worker and message.
TEST_F(GraphStateTest, RecentErrorsNameOpKeyWorkerAndMessage) {
  add_worker("a");
  submit({task_def("x", {}, "explode")}, {"x"});
  run_to_completion({"x"});
  ASSERT_EQ(graph.recent_errors().size(), 1u);
  const ErrorRecord& error = graph.recent_errors().front();
  EXPECT_EQ(error.key, "x");
  EXPECT_EQ(error.worker, "a");
  EXPECT_EQ(error.message, "boom");
  EXPECT_EQ(graph.groups().at("explode")->counts[static_cast<int>(TaskStatus::kErred)], 1u);
  release_all_and_check_no_leaks();
}

}  // namespace
}  // namespace dtask::scheduler

namespace dtask::scheduler {
namespace {

// --worker-ttl reads the steady clock: a wall clock set back (or forward)
// by hours says nothing about whether the worker is alive.
TEST(WorkerLivenessTest, SilenceIsMeasuredOnTheSteadyClock) {
  WorkerState worker;
  worker.last_seen = 1e9;  // wall clock, since jumped
  worker.last_heard = 100;
  EXPECT_FALSE(worker.silent_for(130, 60));
  EXPECT_TRUE(worker.silent_for(161, 60));
}

// A wide sum's status goes to its client before the release of its inputs
// (kEarlyStatusesAbove and more transitions) runs, through the early sender
// the server installs; an event with few transitions left keeps its
// statuses in the outbox.
TEST_F(GraphStateTest, StatusGoesAheadOfALongReleaseCascade) {
  WorkerState* w1 = add_worker("w1");
  const std::size_t inputs = GraphState::kEarlyStatusesAbove + 10;
  std::vector<msg::TaskDef> defs;
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < inputs; ++i) {
    keys.push_back("in-" + std::to_string(i));
    defs.push_back(task_def(keys.back()));
  }
  defs.push_back(task_def("sum", keys, "sum"));
  submit(std::move(defs), {"sum", "in-0"});
  std::vector<msg::KeyStatus> early;
  std::size_t inputs_in_memory_then = 0;
  graph.send_statuses_early([&](ClientStatuses statuses) {
    for (auto& [who, batch] : statuses) {
      EXPECT_EQ(who, client);
      early.insert(early.end(), batch.statuses.begin(), batch.statuses.end());
    }
    inputs_in_memory_then = graph.count(TaskStatus::kMemory) - 1;  // less the sum
  });
  // The worker runs what it is sent, a few at a time, until it is sent the sum.
  for (;;) {
    const std::vector<std::string> computed = drain().computed_keys("w1");
    if (std::find(computed.begin(), computed.end(), "sum") != computed.end()) break;
    ASSERT_FALSE(computed.empty()) << "nothing sent before the sum";
    for (const std::string& key : computed) finish(w1, key);
  }
  EXPECT_TRUE(early.empty()) << "each input's few transitions left its status in the outbox";
  ASSERT_NE(last_status("in-0"), nullptr) << "...which drain() took";
  all.statuses.clear();

  finish(w1, "sum");
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].key, "sum");
  EXPECT_EQ(early[0].state, KeyOutcome::kMemory);
  EXPECT_EQ(inputs_in_memory_then, inputs) << "the status went after the inputs were released";
  EXPECT_EQ(graph.count(TaskStatus::kMemory), 2u) << "sum and in-0, which the client wants, are left";
  drain();
  EXPECT_EQ(last_status("sum"), nullptr) << "sum's status was sent twice";
  release_all_and_check_no_leaks();
}

}  // namespace
}  // namespace dtask::scheduler
