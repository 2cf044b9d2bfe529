// The worker's task state machine driven by events alone (no sockets, no
// threads): fetches, failures and retries, cancellations, pause and resume,
// shared dependencies, replicas for a retiring peer. validate() runs after
// every event, and each test ends with nothing transient left behind.
#include "worker/worker_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dtask::worker {
namespace {

using WS = WorkerTaskStatus;

class WorkerStateTest : public ::testing::Test {
 protected:
  /// A task `key` reading `deps`, each {key, holders}. The holders' indices
  /// are into addresses_, which every batch compute() sends carries.
  msg::ComputeTask task(const std::string& key, std::vector<std::pair<std::string, std::vector<std::string>>> deps = {},
                        std::int32_t priority = 0, ResourceList resources = {}) {
    msg::ComputeTask spec;
    spec.key = key;
    spec.op = "op_" + key;
    spec.priority.user = priority;
    spec.resources = std::move(resources);
    for (auto& [dep, holders] : deps) {
      msg::HolderIndices who_has;
      for (const std::string& holder : holders) who_has.push_back(addresses_.holder_index(holder));
      spec.dependencies.push_back({dep, std::move(who_has), 8});
      spec.args.emplace_back(TaskRef{dep});
    }
    return spec;
  }

  static TaskOutcome done(const std::string& key, bool ok = true, double seconds = 1) {
    TaskOutcome outcome;
    outcome.key = key;
    outcome.op = "op_" + key;
    outcome.ok = ok;
    outcome.nbytes = ok ? 16 : 0;
    outcome.type_name = ok ? "int64" : "";
    outcome.error = ok ? "" : "boom in " + key;
    outcome.start_time = 1;
    outcome.stop_time = 1 + seconds;
    return outcome;
  }

  /// Every event goes through here: the state must be valid after it.
  Instructions step(Instructions out) {
    Status valid = state().validate();
    EXPECT_TRUE(valid.ok()) << valid.to_string();
    return out;
  }

  Instructions compute(std::vector<msg::ComputeTask> tasks) {
    return step(state().compute({std::move(tasks), addresses_.holders}));
  }
  Instructions fetched(const std::string& key) { return step(state().fetched(key, 8, "float64")); }
  Instructions failed(const std::string& key, const std::string& holder) {
    return step(state().fetch_failed(key, holder, "not found on " + holder));
  }
  Instructions finished(const std::string& key, bool ok = true, double seconds = 1) {
    return step(state().task_done(done(key, ok, seconds)));
  }
  Instructions free(std::vector<std::string> keys) { return step(state().free_keys(keys)); }

  WS status(const std::string& key) const {
    const WorkerTask* found = state().find(key);
    EXPECT_NE(found, nullptr) << key << " is not known";
    return found ? found->status : WS::kReleased;
  }
  bool known(const std::string& key) const { return state().find(key) != nullptr; }
  /// The holder `key` is being fetched from; empty when none.
  std::string fetching_from(const std::string& key) const {
    const WorkerTask* task = state().find(key);
    return task != nullptr && task->fetching_from != nullptr ? *task->fetching_from : "";
  }

  static std::vector<std::string> executed(const Instructions& out) {
    std::vector<std::string> keys;
    for (const ReadyTask& run : out.execute) keys.push_back(run.key);
    return keys;
  }
  static bool drops(const Instructions& out, const std::string& key) {
    return std::find(out.drop.begin(), out.drop.end(), key) != out.drop.end();
  }

  /// Ray's AssertNoLeaks: only held results are left, nothing reads them,
  /// and no task is anywhere between states.
  void expect_only_held(std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    std::vector<std::string> held;
    for (const msg::KeyInfo& info : state().held()) held.push_back(info.key);
    std::sort(held.begin(), held.end());
    EXPECT_EQ(held, keys);
    EXPECT_EQ(state().size(), keys.size()) << "keys left besides the held results";
    for (const std::string& key : keys) {
      ASSERT_TRUE(known(key));
      EXPECT_TRUE(state().find(key)->dependents.empty()) << key << " still counted as read";
    }
    Status valid = state().validate();
    EXPECT_TRUE(valid.ok()) << valid.to_string();
  }

  WorkerState& state() { return *machine_; }
  const WorkerState& state() const { return *machine_; }
  void make_state(unsigned nthreads, ResourceList resources, unsigned max_queued_per_thread = 0,
                  double io_thread_task_seconds = 0) {
    machine_.emplace(nthreads, std::move(resources), max_queued_per_thread, io_thread_task_seconds);
  }

  std::optional<WorkerState> machine_{std::in_place, 2u, ResourceList{}};
  /// The addresses task() names holders by (ComputeTaskBatch::holders).
  msg::ComputeTaskBatch addresses_;
};

// A task with many inputs on one holder fetches them in several GetData
// requests, each of at most kMaxKeysPerFetch keys and kMaxBytesPerFetch bytes
// (as the scheduler counted them), and every key is asked for exactly once.
TEST_F(WorkerStateTest, ManyDependenciesAreFetchedInBoundedRequests) {
  constexpr std::size_t kInputs = 2 * WorkerState::kMaxKeysPerFetch + 5;
  msg::ComputeTask sum = task("sum");
  const std::uint64_t big = WorkerState::kMaxBytesPerFetch / 2 + 1;  // two of these do not fit one request
  for (std::size_t i = 0; i < kInputs; ++i) {
    const std::string key = "x" + std::to_string(i);
    sum.dependencies.push_back({key, {addresses_.holder_index("tcp://peer:1")}, i < 3 ? big : 8});
    sum.args.emplace_back(TaskRef{key});
  }
  Instructions out = compute({sum});
  std::set<std::string> asked;
  for (const FetchInstruction& fetch : out.fetch) {
    EXPECT_EQ(fetch.holder, "tcp://peer:1");
    EXPECT_LE(fetch.keys.size(), WorkerState::kMaxKeysPerFetch);
    std::uint64_t bytes = 0;
    for (const std::string& key : fetch.keys) {
      EXPECT_TRUE(asked.insert(key).second) << key << " asked for twice";
      bytes += state().find(key)->nbytes;
    }
    EXPECT_TRUE(bytes <= WorkerState::kMaxBytesPerFetch || fetch.keys.size() == 1) << bytes << " bytes in one request";
  }
  EXPECT_EQ(asked.size(), kInputs);
  EXPECT_GE(out.fetch.size(), 5u) << "three big inputs alone, then the small ones in requests of at most "
                                  << WorkerState::kMaxKeysPerFetch;
}

// One DataReply is one event: a task whose inputs all arrive in it starts
// once, a copy fetched for a task since released is forgotten, and a key
// this worker never asked for changes nothing.
TEST_F(WorkerStateTest, AReplyOfManyCopiesIsOneEvent) {
  compute({task("y", {{"a", {"tcp://p"}}, {"b", {"tcp://p"}}}), task("z", {{"c", {"tcp://p"}}})});
  free({"z"});
  ASSERT_EQ(status("c"), WS::kFetchCancelled);
  std::vector<FetchedCopy> reply = {{"a", 8, "int64"}, {"c", 8, "int64"}, {"b", 8, "int64"}, {"stranger", 8, "int64"}};
  Instructions out = step(state().fetched(std::move(reply)));
  EXPECT_EQ(executed(out), std::vector<std::string>{"y"});
  EXPECT_EQ(status("a"), WS::kMemory);
  EXPECT_EQ(status("b"), WS::kMemory);
  EXPECT_EQ(*state().find("b")->type_name, "int64");
  EXPECT_FALSE(known("c")) << "nothing needed the cancelled copy";
  EXPECT_FALSE(known("stranger"));
  finished("y");
  expect_only_held({"y"});
}

// A task with no dependencies runs at once and its result is held and reported.
TEST_F(WorkerStateTest, TaskWithoutDependenciesRunsAndIsReported) {
  Instructions out = compute({task("x")});
  EXPECT_EQ(executed(out), std::vector<std::string>{"x"});
  EXPECT_TRUE(out.fetch.empty());
  EXPECT_EQ(status("x"), WS::kExecuting);

  out = finished("x");
  ASSERT_EQ(out.report.finished.size(), 1u);
  EXPECT_EQ(out.report.finished[0].key, "x");
  EXPECT_EQ(out.report.finished[0].nbytes, 16u);
  EXPECT_EQ(status("x"), WS::kMemory);
  expect_only_held({"x"});
}

// A dependency is fetched from its holder, the task runs once it arrives, and
// the fetched copy is dropped when the task finishes.
TEST_F(WorkerStateTest, FetchedDependencyIsKeptOnlyWhileItsTaskNeedsIt) {
  Instructions out = compute({task("y", {{"a", {"tcp://peer1"}}})});
  ASSERT_EQ(out.fetch.size(), 1u);
  EXPECT_EQ(out.fetch[0].holder, "tcp://peer1");
  EXPECT_EQ(out.fetch[0].keys, std::vector<std::string>{"a"});
  EXPECT_TRUE(out.execute.empty());
  EXPECT_EQ(status("y"), WS::kWaiting);
  EXPECT_EQ(status("a"), WS::kFetching);
  EXPECT_TRUE(state().fetch_wanted("a"));

  out = fetched("a");
  EXPECT_EQ(executed(out), std::vector<std::string>{"y"});
  EXPECT_EQ(status("a"), WS::kMemory);
  EXPECT_TRUE(state().held().empty()) << "a fetched copy is not a result the scheduler may count";

  out = finished("y");
  EXPECT_TRUE(drops(out, "a"));
  EXPECT_FALSE(known("a"));
  expect_only_held({"y"});
}

// A dependency two tasks share is fetched once, counted once per task, and
// dropped only after the second one finishes.
TEST_F(WorkerStateTest, SharedDependencyIsFetchedOnceAndCountedPerTask) {
  Instructions out = compute({task("b", {{"a", {"tcp://p"}}}), task("c", {{"a", {"tcp://p"}}})});
  ASSERT_EQ(out.fetch.size(), 1u);
  EXPECT_EQ(out.fetch[0].keys, std::vector<std::string>{"a"});
  EXPECT_EQ(state().find("a")->dependents.size(), 2u);

  out = fetched("a");
  EXPECT_EQ(out.execute.size(), 2u);
  out = finished("b");
  EXPECT_FALSE(drops(out, "a")) << "c still reads a";
  EXPECT_EQ(state().find("a")->dependents.size(), 1u);
  out = finished("c");
  EXPECT_TRUE(drops(out, "a"));
  expect_only_held({"b", "c"});
}

// A holder that does not have the dependency is not the end: the next known
// holder is tried, and the task runs on the copy from there.
TEST_F(WorkerStateTest, FetchFailureRetriesTheNextHolder) {
  Instructions out = compute({task("y", {{"a", {"tcp://p1", "tcp://p2"}}})});
  ASSERT_EQ(out.fetch.size(), 1u);
  const std::string first = out.fetch[0].holder;
  const std::string second = first == "tcp://p1" ? "tcp://p2" : "tcp://p1";

  out = failed("a", first);
  ASSERT_EQ(out.fetch.size(), 1u) << "no retry";
  EXPECT_EQ(out.fetch[0].holder, second);
  EXPECT_TRUE(out.report.missing.empty());
  EXPECT_EQ(status("y"), WS::kWaiting);

  // A late failure from the first holder changes nothing.
  out = failed("a", first);
  EXPECT_TRUE(out.fetch.empty());
  EXPECT_EQ(status("a"), WS::kFetching);

  out = fetched("a");
  EXPECT_EQ(executed(out), std::vector<std::string>{"y"});
  finished("y");
  expect_only_held({"y"});
}

// With no holder left, every task waiting for the dependency is reported
// missing (the scheduler reschedules it) and lets go of its other dependencies.
TEST_F(WorkerStateTest, FetchFailureWithNoHolderLeftReportsTasksMissing) {
  compute({task("y", {{"a", {"tcp://p1"}}, {"b", {"tcp://p2"}}}), task("z", {{"a", {"tcp://p1"}}})});
  fetched("b");
  EXPECT_EQ(status("b"), WS::kMemory);

  Instructions out = failed("a", "tcp://p1");
  ASSERT_EQ(out.report.missing.size(), 2u);
  for (const msg::TaskMissingData& missing : out.report.missing) {
    EXPECT_TRUE(missing.key == "y" || missing.key == "z") << missing.key;
    EXPECT_EQ(missing.dependency, "a");
    EXPECT_EQ(missing.holder, "tcp://p1");
    EXPECT_NE(missing.message.find("not found on tcp://p1"), std::string::npos) << missing.message;
  }
  EXPECT_TRUE(drops(out, "b")) << "y's other dependency is no longer needed";
  EXPECT_TRUE(out.execute.empty());
  expect_only_held({});
}

// The link to a peer drops while it sends dependencies: the fetch fails for
// every key in flight from it. One with a second holder is fetched from
// there; the task of one without is reported missing.
TEST_F(WorkerStateTest, DependencyLostMidFetchIsFetchedElsewhere) {
  compute({task("y", {{"a", {"tcp://dying"}}}), task("z", {{"b", {"tcp://dying", "tcp://alive"}}})});
  for (const char* key : {"a", "b"}) {
    if (fetching_from(key) != "tcp://dying") continue;
    Instructions out = step(state().fetch_failed(key, "tcp://dying", "fetch from tcp://dying failed: reset"));
    if (std::string(key) == "a") {
      ASSERT_EQ(out.report.missing.size(), 1u);
      EXPECT_EQ(out.report.missing[0].key, "y");
      EXPECT_EQ(out.report.missing[0].dependency, "a");
      EXPECT_EQ(out.report.missing[0].holder, "tcp://dying");
    } else {
      EXPECT_TRUE(out.report.missing.empty());
      ASSERT_EQ(out.fetch.size(), 1u);
      EXPECT_EQ(out.fetch[0].holder, "tcp://alive");
    }
  }
  EXPECT_FALSE(known("y"));
  EXPECT_FALSE(known("a"));
  EXPECT_EQ(fetching_from("b"), "tcp://alive");
  EXPECT_EQ(status("z"), WS::kWaiting);
  EXPECT_EQ(executed(fetched("b")), std::vector<std::string>{"z"});
  finished("z");
  expect_only_held({"z"});
}

// A task released while its dependency is in flight cancels the fetch; the
// late reply is not stored. Assigned again before the reply, it reuses it.
TEST_F(WorkerStateTest, CancelWhileFetchingThenReassign) {
  compute({task("y", {{"a", {"tcp://p"}}})});
  Instructions out = free({"y"});
  EXPECT_FALSE(known("y"));
  EXPECT_EQ(status("a"), WS::kFetchCancelled);
  EXPECT_TRUE(out.drop.empty()) << "nothing was stored yet";
  EXPECT_TRUE(out.report.missing.empty());

  out = compute({task("y", {{"a", {"tcp://p"}}})});
  EXPECT_TRUE(out.fetch.empty()) << "a second request for a key already in flight";
  EXPECT_EQ(status("a"), WS::kFetching);

  free({"y"});
  ASSERT_EQ(status("a"), WS::kFetchCancelled);
  EXPECT_FALSE(state().fetch_wanted("a"));
  out = fetched("a");
  EXPECT_FALSE(known("a"));
  EXPECT_TRUE(out.execute.empty());
  expect_only_held({});
}

// A task released while it runs keeps its thread until it finishes; then its
// result is dropped and not reported.
TEST_F(WorkerStateTest, ReleaseWhileExecutingDropsTheResult) {
  compute({task("x")});
  Instructions out = free({"x"});
  EXPECT_EQ(status("x"), WS::kRunCancelled);
  EXPECT_TRUE(out.drop.empty());

  out = finished("x");
  EXPECT_TRUE(drops(out, "x"));
  EXPECT_TRUE(out.report.finished.empty()) << "reported a result the scheduler released";
  expect_only_held({});
}

// Released while running and assigned again before it finished: the run
// counts, and its result is reported once.
TEST_F(WorkerStateTest, ReassignedWhileCancelledResumes) {
  compute({task("x")});
  free({"x"});
  Instructions out = compute({task("x")});
  EXPECT_TRUE(out.execute.empty()) << "started a second run";
  EXPECT_EQ(status("x"), WS::kExecuting);
  out = finished("x");
  EXPECT_EQ(out.report.finished.size(), 1u);
  EXPECT_FALSE(drops(out, "x"));
  expect_only_held({"x"});
}

// A cancelled run holds its thread: a second task waits for it on a one-thread worker.
TEST_F(WorkerStateTest, CancelledRunStillOccupiesItsThread) {
  make_state(1, {});
  compute({task("x")});
  free({"x"});
  Instructions out = compute({task("y")});
  EXPECT_TRUE(out.execute.empty()) << "two tasks on one thread";
  EXPECT_EQ(status("y"), WS::kReady);
  out = finished("x");
  EXPECT_EQ(executed(out), std::vector<std::string>{"y"});
  finished("y");
  expect_only_held({"y"});
}

// A task whose op raised is reported and forgotten; the scheduler's retry
// assigns it again and it runs again.
TEST_F(WorkerStateTest, ErredTaskRunsAgainWhenRetried) {
  compute({task("x")});
  Instructions out = finished("x", /*ok=*/false);
  ASSERT_EQ(out.report.erred.size(), 1u);
  EXPECT_EQ(out.report.erred[0].message, "boom in x");
  EXPECT_FALSE(known("x"));

  out = compute({task("x")});
  EXPECT_EQ(executed(out), std::vector<std::string>{"x"});
  out = finished("x");
  EXPECT_EQ(out.report.finished.size(), 1u);
  std::vector<WorkerTransition> story = state().story("x");
  std::vector<WS> path;
  for (const WorkerTransition& step : story) path.push_back(step.to);
  EXPECT_EQ(path, (std::vector<WS>{WS::kReady, WS::kExecuting, WS::kErred, WS::kReleased, WS::kReady,
                                   WS::kExecuting, WS::kMemory}));
  ASSERT_EQ(story.size(), 7u);
  EXPECT_STREQ(story[2].stimulus, "task-erred");
  EXPECT_STREQ(story.back().stimulus, "task-finished");
  expect_only_held({"x"});
}

// While paused no task starts, however many threads are idle; resuming starts them.
TEST_F(WorkerStateTest, PauseHoldsReadyTasksUntilResume) {
  EXPECT_TRUE(step(state().set_paused(true)).execute.empty());
  Instructions out = compute({task("x"), task("y"), task("z")});
  EXPECT_TRUE(out.execute.empty());
  EXPECT_EQ(state().count(WS::kReady), 3u);
  EXPECT_EQ(state().not_started(), 3u);

  out = step(state().set_paused(false));
  EXPECT_EQ(out.execute.size(), 2u) << "two threads";
  EXPECT_EQ(state().count(WS::kReady), 1u);
  step(state().set_paused(true));
  for (const ReadyTask& run : out.execute) EXPECT_TRUE(finished(run.key).execute.empty()) << "started while paused";
  out = step(state().set_paused(false));
  EXPECT_EQ(out.execute.size(), 1u);
  finished(out.execute[0].key);
  expect_only_held({"x", "y", "z"});
}

// Threads go to the highest priority first, then to the first assigned.
TEST_F(WorkerStateTest, ReadyTasksStartByPriority) {
  step(state().set_paused(true));
  compute({task("low", {}, 0), task("high", {}, 5), task("low2", {}, 0), task("mid", {}, 2)});
  Instructions out = step(state().set_paused(false));
  EXPECT_EQ(executed(out), (std::vector<std::string>{"high", "mid"}));
  EXPECT_EQ(executed(finished("high")), std::vector<std::string>{"low"});
  EXPECT_EQ(executed(finished("mid")), std::vector<std::string>{"low2"});
  finished("low");
  finished("low2");
  expect_only_held({"high", "mid", "low", "low2"});
}

// A task needing a resource in use waits; one that needs none passes it.
TEST_F(WorkerStateTest, ResourcesHoldBackOnlyTheTasksThatNeedThem) {
  make_state(3, {{"GPU", 1}});
  Instructions out = compute({task("g1", {}, 5, {{"GPU", 1}}), task("g2", {}, 5, {{"GPU", 1}}), task("cpu")});
  EXPECT_EQ(executed(out), (std::vector<std::string>{"g1", "cpu"}));
  EXPECT_EQ(status("g2"), WS::kReady);
  EXPECT_EQ(executed(finished("g1")), std::vector<std::string>{"g2"});
  finished("g2");
  finished("cpu");
  expect_only_held({"g1", "g2", "cpu"});
}

// A replica the scheduler asks for (graceful retire of a peer) is fetched,
// reported acquired, and held; a failed copy is a warning, not a task error.
TEST_F(WorkerStateTest, AcquireReplicaFromRetiringPeer) {
  Instructions out = step(state().acquire("tcp://retiring", {"r", "s"}));
  ASSERT_EQ(out.fetch.size(), 1u);
  EXPECT_EQ(out.fetch[0].holder, "tcp://retiring");
  EXPECT_EQ(out.fetch[0].keys, (std::vector<std::string>{"r", "s"}));

  out = fetched("r");
  ASSERT_EQ(out.report.acquired.size(), 1u);
  EXPECT_EQ(out.report.acquired[0].key, "r");
  out = failed("s", "tcp://retiring");
  EXPECT_TRUE(out.report.missing.empty());
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_NE(out.warnings[0].find("could not copy s"), std::string::npos) << out.warnings[0];
  expect_only_held({"r"});

  // Freed by the scheduler like any result it tracks.
  out = free({"r"});
  EXPECT_TRUE(drops(out, "r"));
  expect_only_held({});
}

// A copy fetched for a local task that the scheduler then asks to keep stays
// after the task finishes.
TEST_F(WorkerStateTest, AcquiringACopyInUseKeepsIt) {
  compute({task("y", {{"a", {"tcp://p"}}})});
  fetched("a");
  Instructions out = step(state().acquire("tcp://p", {"a"}));
  ASSERT_EQ(out.report.acquired.size(), 1u);
  out = finished("y");
  EXPECT_FALSE(drops(out, "a"));
  expect_only_held({"a", "y"});
}

// A result freed by the scheduler while a local task still reads it stays
// until that task finishes.
TEST_F(WorkerStateTest, FreedResultStaysWhileALocalTaskReadsIt) {
  compute({task("x")});
  finished("x");
  compute({task("y", {{"x", {}}})});  // x is here: no holder needed
  EXPECT_EQ(status("y"), WS::kExecuting);
  Instructions out = free({"x"});
  EXPECT_FALSE(drops(out, "x"));
  EXPECT_EQ(status("x"), WS::kMemory);
  EXPECT_TRUE(state().held().size() == 0u) << "x is no longer the scheduler's";
  out = finished("y");
  EXPECT_TRUE(drops(out, "x"));
  expect_only_held({"y"});
}

// A task whose dependency is neither here nor anywhere else is reported
// missing at once, and nothing is kept of it.
TEST_F(WorkerStateTest, UnreachableDependencyIsReportedMissing) {
  Instructions out = compute({task("y", {{"a", {"tcp://p"}}, {"gone", {}}})});
  ASSERT_EQ(out.report.missing.size(), 1u);
  EXPECT_EQ(out.report.missing[0].dependency, "gone");
  EXPECT_TRUE(out.fetch.empty()) << "fetched a dependency for a task that cannot run";
  expect_only_held({});
}

// Assigned a key whose copy is already here: it counts as finished at once.
TEST_F(WorkerStateTest, AssignedKeyAlreadyHereIsReportedFinished) {
  compute({task("y", {{"a", {"tcp://p"}}})});
  fetched("a");
  Instructions out = compute({task("a")});
  ASSERT_EQ(out.report.finished.size(), 1u);
  EXPECT_EQ(out.report.finished[0].key, "a");
  EXPECT_TRUE(out.execute.empty());
  finished("y");
  expect_only_held({"a", "y"});
}

// Losing the scheduler drops assignments that have not started and their
// fetches; running tasks finish and their results stay held for the next one.
TEST_F(WorkerStateTest, SchedulerLostDropsUnstartedAssignments) {
  compute({task("run"), task("waits", {{"a", {"tcp://p"}}}), task("done")});
  finished("done");
  Instructions out = step(state().scheduler_lost());
  EXPECT_FALSE(known("waits"));
  EXPECT_EQ(status("a"), WS::kFetchCancelled);
  EXPECT_EQ(status("run"), WS::kExecuting);
  EXPECT_FALSE(out.has_report()) << "nobody to report to";
  fetched("a");
  out = finished("run");
  EXPECT_EQ(out.report.finished.size(), 1u);
  expect_only_held({"run", "done"});
}

// A client's data put here is held for the scheduler; it may feed a task.
TEST_F(WorkerStateTest, ScatteredDataIsHeldAndReadable) {
  step(state().data_put("s", 64, "bytes"));
  Instructions out = compute({task("y", {{"s", {"tcp://self"}}})});
  EXPECT_TRUE(out.fetch.empty()) << "fetched data it holds";
  EXPECT_EQ(executed(out), std::vector<std::string>{"y"});
  finished("y");
  expect_only_held({"s", "y"});
}

// The table has the edges the lifecycle needs and none that skip a step.
TEST_F(WorkerStateTest, TransitionTableAllowsOnlyItsEdges) {
  EXPECT_TRUE(WorkerState::allowed(WS::kReleased, WS::kFetching));
  EXPECT_TRUE(WorkerState::allowed(WS::kExecuting, WS::kRunCancelled));
  EXPECT_TRUE(WorkerState::allowed(WS::kFetchCancelled, WS::kFetching));
  EXPECT_FALSE(WorkerState::allowed(WS::kWaiting, WS::kExecuting)) << "ran before its dependencies arrived";
  EXPECT_FALSE(WorkerState::allowed(WS::kFetching, WS::kExecuting));
  EXPECT_FALSE(WorkerState::allowed(WS::kMemory, WS::kExecuting));
  EXPECT_FALSE(WorkerState::allowed(WS::kErred, WS::kMemory));
}

// Many tasks over a chain of shared dependencies, with failures and
// cancellations interleaved, leave only held results behind.
TEST_F(WorkerStateTest, InterleavedEventsLeaveNoLeaks) {
  std::vector<msg::ComputeTask> batch;
  for (int i = 0; i < 20; ++i) {
    std::string dep = "d" + std::to_string(i % 4);
    batch.push_back(task("t" + std::to_string(i), {{dep, {"tcp://p1", "tcp://p2"}}}, i % 3));
  }
  compute(std::move(batch));
  free({"t3", "t7"});
  std::vector<std::string> held;
  for (int round = 0; round < 4; ++round) {
    const std::string dep = "d" + std::to_string(round);
    if (round == 1) {
      // Both holders fail: its tasks are reported missing.
      for (int tries = 0; tries < 2 && known(dep); ++tries) failed(dep, fetching_from(dep));
      EXPECT_FALSE(known(dep));
      continue;
    }
    fetched(dep);
  }
  // Finish whatever runs until nothing is left running.
  while (state().count(WS::kExecuting) + state().count(WS::kRunCancelled) > 0) {
    for (const char* key : {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "t12", "t13",
                            "t14", "t15", "t16", "t17", "t18", "t19"}) {
      const WorkerTask* found = state().find(key);
      if (found != nullptr && found->status == WS::kExecuting) {
        finished(key);
        held.push_back(key);
        break;
      }
    }
  }
  EXPECT_EQ(held.size(), 13u) << "20 tasks, less 2 freed, less 5 that read d1";
  expect_only_held(held);
}

// Short tasks queue behind the running ones so a thread never waits for the
// io thread between them; an op not measured yet, or long, queues none, so
// its tasks stay in ready, where a free or a steal can take them back.
TEST_F(WorkerStateTest, ExecutorQueueDepthFollowsEachOpsDurations) {
  make_state(1, {}, 8);
  auto of_op = [this](const std::string& key, const std::string& op) {
    msg::ComputeTask spec = task(key);
    spec.op = op;
    return spec;
  };
  auto finish = [&](const std::string& key, const std::string& op, double seconds) {
    TaskOutcome outcome = done(key, true, seconds);
    outcome.op = op;
    return step(state().task_done(outcome));
  };
  std::vector<msg::ComputeTask> batch;
  for (int i = 0; i < 12; ++i) batch.push_back(of_op("s" + std::to_string(i), "short"));
  batch.push_back(of_op("long0", "long"));
  batch.push_back(of_op("long1", "long"));
  Instructions out = compute(std::move(batch));
  EXPECT_EQ(executed(out), std::vector<std::string>{"s0"}) << "an op not measured yet queues none";

  // Tasks of 10 us: the executor may hold 1 + 8 (the cap), and is refilled to that.
  out = finish("s0", "short", 1e-5);
  EXPECT_EQ(state().queue_depth_per_thread("short"), 8u);
  EXPECT_EQ(executed(out).size(), 9u);
  EXPECT_EQ(state().count(WS::kExecuting), 9u);

  // A queued task freed before it started keeps its slot until the executor
  // gives it back, as a cancelled run does.
  free({"s5"});
  EXPECT_EQ(status("s5"), WS::kRunCancelled);

  // The first long task starts only when no short one is ahead of it and a
  // thread is free; the second waits in ready while it runs.
  for (int i = 1; i < 12; ++i) finish("s" + std::to_string(i), "short", 1e-5);
  EXPECT_EQ(status("long0"), WS::kExecuting);
  EXPECT_EQ(status("long1"), WS::kReady) << "an unmeasured op queued behind a running task";
  out = finish("long0", "long", 0.5);
  EXPECT_EQ(state().queue_depth_per_thread("long"), 0u);
  EXPECT_EQ(executed(out), std::vector<std::string>{"long1"});
  finish("long1", "long", 0.5);
  std::vector<std::string> held = {"long0", "long1"};
  for (int i = 0; i < 12; ++i) {
    if (i != 5) held.push_back("s" + std::to_string(i));
  }
  expect_only_held(held);
}

// A lone task of an op measured tiny runs on the io thread; one of several,
// one beside a running task, one asking for resources or reading many
// inputs does not, and an op that once ran long there never goes back.
TEST_F(WorkerStateTest, OnlyALoneTinyTaskRunsOnTheIoThread) {
  constexpr double kLimit = 50e-6;
  make_state(1, {{"GPU", 1}}, 8, kLimit);
  int next = 0;
  auto spec = [&](const std::string& op, ResourceList resources = {}) {
    msg::ComputeTask one = task("t" + std::to_string(next++));
    one.op = op;
    one.resources = std::move(resources);
    return one;
  };
  auto run_alone = [&](const std::string& op, double seconds, bool on_io_thread = false) {
    Instructions out = compute({spec(op)});
    EXPECT_EQ(out.execute.size(), 1u);
    TaskOutcome outcome = done(out.execute.at(0).key, true, seconds);
    outcome.op = op;
    outcome.on_io_thread = on_io_thread;
    step(state().task_done(outcome));
    return out.execute.at(0).on_io_thread;
  };
  for (unsigned i = 0; i < WorkerState::kIoThreadMinRuns; ++i) {
    EXPECT_FALSE(run_alone("tiny", 2e-6)) << "run " << i << ": too few runs measured";
  }
  EXPECT_TRUE(state().runs_on_io_thread("tiny"));
  EXPECT_TRUE(run_alone("tiny", 2e-6));

  Instructions two = compute({spec("tiny"), spec("tiny")});
  ASSERT_EQ(two.execute.size(), 2u);
  EXPECT_FALSE(two.execute[0].on_io_thread || two.execute[1].on_io_thread) << "two handed over at once";
  Instructions beside = compute({spec("tiny")});
  ASSERT_EQ(beside.execute.size(), 1u);
  EXPECT_FALSE(beside.execute[0].on_io_thread) << "the executor is busy";
  for (const ReadyTask* run : {&two.execute[0], &two.execute[1], &beside.execute[0]}) {
    TaskOutcome outcome = done(run->key, true, 2e-6);
    outcome.op = "tiny";
    step(state().task_done(outcome));
  }

  Instructions gpu = compute({spec("tiny", {{"GPU", 1}})});
  ASSERT_EQ(gpu.execute.size(), 1u);
  EXPECT_FALSE(gpu.execute[0].on_io_thread) << "it asked for a resource";
  finished(gpu.execute[0].key, true, 2e-6);
  msg::ComputeTask wide = spec("tiny");
  for (std::size_t i = 0; i <= WorkerState::kIoThreadMaxInputs; ++i) {
    wide.dependencies.push_back({"in" + std::to_string(i), {addresses_.holder_index("tcp://peer:1")}, 8});
    wide.args.emplace_back(TaskRef{"in" + std::to_string(i)});
  }
  compute({wide});
  for (std::size_t i = 0; i <= WorkerState::kIoThreadMaxInputs; ++i) {
    Instructions out = fetched("in" + std::to_string(i));
    if (i == WorkerState::kIoThreadMaxInputs) {
      ASSERT_EQ(out.execute.size(), 1u);
      EXPECT_FALSE(out.execute[0].on_io_thread) << "too many inputs";
    }
  }
  TaskOutcome wide_done = done(wide.key, true, 2e-6);
  wide_done.op = "tiny";
  step(state().task_done(wide_done));

  // One slow run on an executor thread keeps the op off the io thread a
  // while; one slow run on it, for good.
  auto finish_tiny = [&](const ReadyTask& run, double seconds) {
    TaskOutcome outcome = done(run.key, true, seconds);
    outcome.op = "tiny";
    step(state().task_done(outcome));
  };
  Instructions pair = compute({spec("tiny"), spec("tiny")});
  ASSERT_EQ(pair.execute.size(), 2u);
  finish_tiny(pair.execute[0], 1e-3);
  finish_tiny(pair.execute[1], 2e-6);
  EXPECT_FALSE(state().runs_on_io_thread("tiny"));
  EXPECT_FALSE(run_alone("tiny", 2e-6));
  for (int i = 0; i < 200 && !state().runs_on_io_thread("tiny"); ++i) run_alone("tiny", 2e-6);
  EXPECT_TRUE(state().runs_on_io_thread("tiny")) << "the slow run aged out";
  EXPECT_TRUE(run_alone("tiny", 40 * kLimit, true));  // past the give-up, 20x the limit
  for (int i = 0; i < 200; ++i) EXPECT_FALSE(run_alone("tiny", 2e-6));
  EXPECT_FALSE(state().runs_on_io_thread("tiny")) << "it once ran long on the io thread";
}

// Work stealing: a task not yet handed to the executor is given up (its
// fetched input goes with it), one handed over is kept.
TEST_F(WorkerStateTest, StealGivesUpOnlyTasksNotHandedToTheExecutor) {
  make_state(1, {});
  compute({task("running"), task("queued"), task("fetching", {{"d", {"peer:1"}}})});
  EXPECT_EQ(status("running"), WS::kExecuting);
  EXPECT_EQ(status("queued"), WS::kReady);
  EXPECT_EQ(status("fetching"), WS::kWaiting);
  Instructions out = step(state().steal({{"running", 1}, {"queued", 2}, {"fetching", 3}, {"unknown", 4}}));
  ASSERT_EQ(out.steal_answers.size(), 4u);
  EXPECT_FALSE(out.steal_answers[0].stolen) << "it started";
  EXPECT_TRUE(out.steal_answers[1].stolen);
  EXPECT_TRUE(out.steal_answers[2].stolen);
  EXPECT_FALSE(out.steal_answers[3].stolen);
  EXPECT_EQ(out.steal_answers[2].id, 3u);
  EXPECT_FALSE(known("queued"));
  EXPECT_FALSE(known("fetching"));
  EXPECT_EQ(status("d"), WS::kFetchCancelled) << "nothing here reads the input any more";
  EXPECT_TRUE(out.execute.empty());
  EXPECT_FALSE(out.has_report()) << "a stolen task is not reported: the scheduler moves it";
  fetched("d");
  finished("running");
  expect_only_held({"running"});
}

}  // namespace
}  // namespace dtask::worker
