// The transition table (scheduler/graph_transitions.cc): every change of a
// task's status is one of its edges. These tests drive the edges that used
// to be made by hand outside the table, and prove that a change outside it
// aborts.
#include "scheduler/graph_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/scheduler/graph_state_fixture.h"

namespace dtask::scheduler {

/// The private transition machinery, for the death tests below (a friend of GraphState).
struct GraphStateTestAccess {
  static TaskState& task(GraphState& graph, const std::string& key) { return *graph.tasks_.at(key); }
  static void set_status(GraphState& graph, const std::string& key, TaskStatus to) {
    graph.set_status(task(graph, key), to);
  }
  static void transition(GraphState& graph, const std::string& key, TaskStatus to) {
    GraphState::Recommendations out;
    graph.transition(task(graph, key), to, out);
    graph.transitions(std::move(out));
  }
};

namespace {

using namespace graph_test;
using S = TaskStatus;

class GraphTransitionsTest : public GraphStateTest {
 protected:
  GraphTransitionsTest() : GraphStateTest(config_with_saturation(1.0)) {}

  /// Each edge of the table that made at least one change, and only those, is an edge of the table.
  void expect_only_table_edges() const {
    for (int from = 0; from < kTaskStatusCount; ++from) {
      for (int to = 0; to < kTaskStatusCount; ++to) {
        if (graph.edge_count(S(from), S(to)) > 0) {
          EXPECT_TRUE(graph.has_edge(S(from), S(to))) << task_status_name(S(from)) << " -> " << task_status_name(S(to));
        }
      }
    }
  }
};

// The table holds the edges the state machine is drawn with, and no pair of a status with itself.
TEST_F(GraphTransitionsTest, TableHoldsTheDrawnEdges) {
  const std::vector<std::pair<S, S>> edges = {
      {S::kReleased, S::kWaiting},   {S::kReleased, S::kForgotten}, {S::kReleased, S::kMemory},
      {S::kReleased, S::kErred},     {S::kWaiting, S::kProcessing}, {S::kWaiting, S::kQueued},
      {S::kWaiting, S::kNoWorker},   {S::kWaiting, S::kReleased},   {S::kWaiting, S::kErred},
      {S::kQueued, S::kProcessing},  {S::kNoWorker, S::kProcessing}, {S::kQueued, S::kNoWorker},
      {S::kNoWorker, S::kQueued},    {S::kQueued, S::kReleased},    {S::kNoWorker, S::kReleased},
      {S::kProcessing, S::kMemory},  {S::kProcessing, S::kErred},   {S::kProcessing, S::kReleased},
      {S::kMemory, S::kReleased},    {S::kErred, S::kReleased},
      // Work stealing.
      {S::kProcessing, S::kStealing}, {S::kStealing, S::kProcessing}, {S::kStealing, S::kMemory},
      {S::kStealing, S::kErred},     {S::kStealing, S::kReleased},
  };
  std::size_t in_table = 0;
  for (int from = 0; from < kTaskStatusCount; ++from) {
    for (int to = 0; to < kTaskStatusCount; ++to) in_table += graph.has_edge(S(from), S(to)) ? 1 : 0;
    EXPECT_FALSE(graph.has_edge(S(from), S(from)));
  }
  for (const auto& [from, to] : edges) {
    EXPECT_TRUE(graph.has_edge(from, to)) << task_status_name(from) << " -> " << task_status_name(to);
  }
  EXPECT_EQ(in_table, edges.size());
}

// update_graph errs a task whose dependency is unknown through released -> erred.
TEST_F(GraphTransitionsTest, BadGraphInputErrsThroughReleasedToErred) {
  add_worker("w1");
  submit({task_def("a", {"missing"}), task_def("b", {"a"})}, {"b"});
  run_to_completion();
  EXPECT_EQ(graph.edge_count(S::kReleased, S::kErred), 1u) << "a";
  EXPECT_EQ(graph.edge_count(S::kWaiting, S::kErred), 1u) << "b, which waited on a";
  EXPECT_EQ(graph.tasks_erred(), 1u);
  ASSERT_NE(last_status("b"), nullptr);
  EXPECT_EQ(last_status("b")->failed_key, "a");
  expect_only_table_edges();
  release_all_and_check_no_leaks();
}

// Scattered data lost with its worker errs through released -> erred, and the client hears it was lost.
TEST_F(GraphTransitionsTest, LostScatteredDataErrsThroughReleasedToErred) {
  add_worker("holder");
  add_worker("w2");
  ASSERT_TRUE(graph.keys_scattered(*client, {address_of("holder"), {{"x", 8, "int64"}}}).ok());
  drain();
  graph.remove_worker(graph.find_worker("holder"), "test");
  drain();
  EXPECT_EQ(graph.find("x")->status, S::kErred);
  EXPECT_EQ(graph.edge_count(S::kReleased, S::kErred), 1u);
  ASSERT_NE(last_status("x"), nullptr);
  EXPECT_EQ(last_status("x")->state, KeyOutcome::kLost);
  EXPECT_EQ(graph.tasks_erred(), 0u) << "lost data is not an op that raised";
  expect_only_table_edges();
  release_all_and_check_no_leaks();
}

// A ready GPU task that finds its worker saturated goes no-worker -> queued;
// once no GPU worker is left, a freed slot sends it queued -> no-worker.
TEST_F(GraphTransitionsTest, ReadyTasksMoveBetweenQueuedAndNoWorkerThroughTheTable) {
  WorkerState* cpu = add_worker("cpu");
  msg::TaskDef g1 = task_def("g1");
  msg::TaskDef g2 = task_def("g2");
  g1.resources = g2.resources = {{"GPU", 1}};
  submit({task_def("x"), g1, g2}, {"x", "g1", "g2"});
  drain();
  EXPECT_EQ(graph.count(S::kNoWorker), 2u);

  add_worker("gpu", 1, {{"GPU", 1}});
  drain();
  EXPECT_EQ(graph.find("g1")->status, S::kProcessing);
  EXPECT_EQ(graph.find("g2")->status, S::kQueued);
  EXPECT_EQ(graph.edge_count(S::kNoWorker, S::kQueued), 1u);

  // Its slot freed by g1's release, the leaving GPU worker's queue is tried
  // again: g2 finds no GPU worker left.
  graph.remove_worker(graph.find_worker("gpu"), "test");
  drain();
  EXPECT_EQ(graph.find("g1")->status, S::kNoWorker);
  EXPECT_EQ(graph.find("g2")->status, S::kNoWorker);
  EXPECT_EQ(graph.edge_count(S::kQueued, S::kNoWorker), 1u);
  finish(cpu, "x");
  drain();
  EXPECT_EQ(graph.find("g2")->status, S::kNoWorker) << "the CPU worker cannot run it";

  WorkerState* gpu = add_worker("gpu2", 2, {{"GPU", 2}});
  drain();
  finish(gpu, "g1");
  finish(gpu, "g2");
  drain();
  EXPECT_EQ(graph.count(S::kMemory), 3u);
  expect_only_table_edges();
  release_all_and_check_no_leaks();
}

// A retry goes processing -> released -> waiting through the table, and the
// worker that reported the error is sent no FreeKeys that could cancel the rerun.
TEST_F(GraphTransitionsTest, RetryGoesThroughProcessingToReleased) {
  WorkerState* w1 = add_worker("w1");
  msg::TaskDef flaky = task_def("flaky");
  flaky.retries = 1;
  submit({flaky}, {"flaky"});
  drain();
  fail(w1, "flaky");
  Sent sent = drain();
  EXPECT_EQ(sent.computed_keys("w1"), std::vector<std::string>{"flaky"});
  EXPECT_TRUE(sent.freed_keys("w1").empty());
  EXPECT_EQ(graph.edge_count(S::kProcessing, S::kReleased), 1u);
  EXPECT_EQ(graph.edge_count(S::kProcessing, S::kErred), 0u);
  finish(w1, "flaky");
  drain();
  EXPECT_EQ(graph.find("flaky")->status, S::kMemory);
  expect_only_table_edges();
  release_all_and_check_no_leaks();
}

using GraphTransitionsDeathTest = GraphTransitionsTest;

// A status change made outside an edge of the table aborts.
TEST_F(GraphTransitionsDeathTest, StatusChangeOutsideTheTableAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  submit({task_def("a")}, {"a"});  // no worker: a waits in no-worker
  drain();
  ASSERT_EQ(graph.find("a")->status, S::kNoWorker);
  EXPECT_DEATH(GraphStateTestAccess::set_status(graph, "a", S::kMemory), "outside its edge of the transition table");
}

// A transition neither in the table nor routable through released aborts.
TEST_F(GraphTransitionsDeathTest, TransitionNotInTheTableAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  add_worker("w");
  submit({task_def("b")}, {"b"});
  run_to_completion();
  ASSERT_EQ(graph.find("b")->status, S::kMemory);
  // memory -> queued is no edge; routed through released, released -> queued is none either.
  EXPECT_DEATH(GraphStateTestAccess::transition(graph, "b", S::kQueued), "no transition released -> queued");
}

}  // namespace
}  // namespace dtask::scheduler
