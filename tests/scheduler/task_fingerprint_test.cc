// A key names one computation: task_fingerprint tells definitions apart, and
// GraphState refuses a graph that redefines a key it holds, while a graph
// that sends a key again with the same definition reuses its result.
#include "scheduler/task_fingerprint.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/logging.h"
#include "scheduler/graph_state.h"

namespace dtask::scheduler {
namespace {

/// op(TaskRef(dep)..., x): the dependencies appear as arguments, as the client sends them.
msg::TaskDef fingerprint_def(std::string key, std::string op, std::int64_t x, std::vector<std::string> deps = {}) {
  msg::TaskDef def;
  def.key = std::move(key);
  def.op = std::move(op);
  for (const std::string& dep : deps) def.args.emplace_back(TaskRef{dep});
  def.args.emplace_back(x);
  def.dependencies = std::move(deps);
  return def;
}

// Only what a task computes counts: op, arguments, dependency set; not how it runs.
TEST(TaskFingerprintTest, DependsOnWhatIsComputedNotHow) {
  const msg::TaskDef base = fingerprint_def("k", "inc", 1, {"a", "b"});
  const std::uint64_t fp = task_fingerprint(base);
  EXPECT_NE(fp, 0u);

  msg::TaskDef how = base;
  how.priority = Priority{5, 7, 9};
  how.retries = 3;
  how.workers = {"w1"};
  how.resources = {{"GPU", 1}};
  how.allow_other_workers = true;
  EXPECT_EQ(task_fingerprint(how), fp);

  msg::TaskDef reordered = base;
  reordered.dependencies = {"b", "a", "b"};
  EXPECT_EQ(task_fingerprint(reordered), fp);

  EXPECT_NE(task_fingerprint(fingerprint_def("k", "dec", 1, {"a", "b"})), fp);
  EXPECT_NE(task_fingerprint(fingerprint_def("k", "inc", 2, {"a", "b"})), fp);
  msg::TaskDef other_dep = base;
  other_dep.dependencies = {"a", "c"};
  EXPECT_NE(task_fingerprint(other_dep), fp);
}

// Values of different types or nesting that print alike still differ.
TEST(TaskFingerprintTest, TellsValueTypesAndNestingApart) {
  auto with_args = [](std::vector<Value> args) {
    msg::TaskDef def;
    def.key = "k";
    def.op = "f";
    def.args = std::move(args);
    return task_fingerprint(def);
  };
  std::vector<std::uint64_t> seen = {
      with_args({}),
      with_args({Value()}),
      with_args({1}),
      with_args({1.0}),
      with_args({true}),
      with_args({"1"}),
      with_args({TaskRef{"1"}}),
      with_args({Bytes::from_string("1")}),
      with_args({ValueList{1}}),
      with_args({ValueList{1, 2}}),
      with_args({ValueList{ValueList{1}, 2}}),
      with_args({"ab", "c"}),
      with_args({"a", "bc"}),
      with_args({NDArray::from_vector<double>({1, 2})}),
      with_args({NDArray::from_vector<double>({1, 3})}),
      with_args({NDArray::from_vector<double>({1, 2}, {1, 2})}),
  };
  for (std::size_t i = 0; i < seen.size(); ++i) {
    for (std::size_t j = i + 1; j < seen.size(); ++j) EXPECT_NE(seen[i], seen[j]) << i << " vs " << j;
  }
  EXPECT_EQ(with_args({ValueList{1, "x"}}), with_args({ValueList{1, "x"}}));
}

class TaskRedefinitionTest : public ::testing::Test {
 protected:
  TaskRedefinitionTest() : graph(SchedulerConfig{}, *make_logger("test", "error")) {
    first = graph.add_client("first");
    second = graph.add_client("second");
    msg::RegisterWorker registration;
    registration.name = "w";
    registration.data_address = "tcp://w:9000";
    registration.nthreads = 4;
    registration.memory_limit = 1ull << 30;
    worker = *graph.add_worker(registration);
  }

  void submit(ClientState* client, std::vector<msg::TaskDef> tasks, std::vector<std::string> wanted) {
    graph.update_graph(*client, msg::UpdateGraph{std::move(tasks), std::move(wanted)});
  }

  /// Finishes every task the outbox sends to the worker; returns the statuses sent to `client`.
  std::vector<msg::KeyStatus> run(ClientState* client) {
    std::vector<msg::KeyStatus> statuses;
    for (;;) {
      Outbox outbox = graph.take_outbox();
      auto& mine = outbox.statuses[client].statuses;
      statuses.insert(statuses.end(), mine.begin(), mine.end());
      auto batch = outbox.compute.find(worker);
      if (batch == outbox.compute.end()) break;
      msg::WorkerReport report;
      for (const TaskState* task : batch->second.tasks) {
        report.finished.push_back({task->key, 8, "int64", 1.0, 1.5});
        ++computed;
      }
      graph.worker_report(*worker, report);
    }
    EXPECT_TRUE(graph.validate().ok()) << graph.validate().to_string();
    return statuses;
  }

  GraphState graph;
  ClientState* first = nullptr;
  ClientState* second = nullptr;
  WorkerState* worker = nullptr;
  int computed = 0;
};

// The same definition sent again (by another client) reuses the result: nothing recomputes.
TEST_F(TaskRedefinitionTest, SameDefinitionReusesTheResult) {
  submit(first, {fingerprint_def("a", "inc", 1), fingerprint_def("b", "add", 2, {"a"})}, {"b"});
  ASSERT_EQ(run(first).size(), 1u);
  ASSERT_EQ(computed, 2);
  submit(second, {fingerprint_def("a", "inc", 1), fingerprint_def("b", "add", 2, {"a"})}, {"b"});
  std::vector<msg::KeyStatus> statuses = run(second);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].state, KeyOutcome::kMemory);
  EXPECT_EQ(computed, 2);
}

// A key redefined (another argument, op or dependency) refuses the whole
// graph: its wanted keys err naming the key, the old task and its holder are untouched.
TEST_F(TaskRedefinitionTest, RedefinedKeyRefusesTheGraph) {
  submit(first, {fingerprint_def("a", "inc", 1), fingerprint_def("c", "inc", 9)}, {"a", "c"});
  run(first);
  ASSERT_EQ(computed, 2);
  const std::vector<std::vector<msg::TaskDef>> redefinitions = {
      {fingerprint_def("a", "inc", 2)},
      {fingerprint_def("a", "dec", 1)},
      {fingerprint_def("c", "inc", 9), fingerprint_def("a", "inc", 1, {"c"})},
  };
  for (const auto& tasks : redefinitions) {
    submit(second, {tasks.begin(), tasks.end()}, {"a", "new"});
    std::vector<msg::KeyStatus> statuses = run(second);
    ASSERT_EQ(statuses.size(), 2u);
    for (const msg::KeyStatus& status : statuses) {
      EXPECT_EQ(status.state, KeyOutcome::kErred);
      EXPECT_NE(status.message.find("key 'a' already names a task of op 'inc'"), std::string::npos)
          << status.message;
    }
  }
  EXPECT_EQ(computed, 2);
  EXPECT_EQ(graph.find("new"), nullptr);
  EXPECT_EQ(graph.find("a")->status, TaskStatus::kMemory);
  EXPECT_FALSE(contains(graph.find("a")->who_wants, static_cast<const ClientState*>(second)));
  // The first client still gets its result when it asks again.
  submit(first, {fingerprint_def("a", "inc", 1)}, {"a"});
  std::vector<msg::KeyStatus> again = run(first);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].state, KeyOutcome::kMemory);
}

// A key defined twice in one graph by different tasks errs; the rest of the graph runs.
TEST_F(TaskRedefinitionTest, KeyDefinedTwiceInOneGraphErrs) {
  submit(first, {fingerprint_def("a", "inc", 1), fingerprint_def("a", "inc", 2), fingerprint_def("b", "inc", 3)},
         {"a", "b"});
  std::vector<msg::KeyStatus> statuses = run(first);
  ASSERT_EQ(statuses.size(), 2u);
  for (const msg::KeyStatus& status : statuses) {
    if (status.key == "a") {
      EXPECT_EQ(status.state, KeyOutcome::kErred);
      EXPECT_NE(status.message.find("defined twice"), std::string::npos) << status.message;
    } else {
      EXPECT_EQ(status.state, KeyOutcome::kMemory);
    }
  }
}

// A task definition naming a scattered key is refused too: data is not a computation.
TEST_F(TaskRedefinitionTest, ScatteredKeyCannotBecomeATask) {
  ASSERT_TRUE(graph.keys_scattered(*first, msg::KeysScattered{"tcp://w:9000", {{"s", 8, "int64"}}}).ok());
  run(first);
  submit(second, {fingerprint_def("s", "inc", 1)}, {"s"});
  std::vector<msg::KeyStatus> statuses = run(second);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].state, KeyOutcome::kErred);
  EXPECT_NE(statuses[0].message.find("key 's' already names data scattered by a client"), std::string::npos)
      << statuses[0].message;
  EXPECT_EQ(computed, 0);
}

}  // namespace
}  // namespace dtask::scheduler
