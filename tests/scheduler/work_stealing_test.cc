// Work stealing: the policy alone (scheduler/work_stealing.h), then
// GraphState carrying steals out, with validate() after every event (each
// drain() checks it) and every way a steal can end.
#include "scheduler/work_stealing.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "scheduler/graph_state.h"
#include "tests/scheduler/graph_state_fixture.h"

namespace dtask::scheduler {
namespace {

using namespace graph_test;
using S = TaskStatus;

// ---- the policy ---------------------------------------------------------------

/// `n` candidates of `duration` seconds on worker 0, moving `bytes` each.
std::vector<StealCandidate> queue_of(std::size_t n, double duration, std::uint64_t bytes = 0) {
  return std::vector<StealCandidate>(n, StealCandidate{0, duration, bytes});
}

// A worker with ten one-second tasks and an idle one: about half move, and
// only while the thief would still finish sooner than the victim.
TEST(StealPolicyTest, MovesAboutHalfTheQueueToAnIdleWorker) {
  std::vector<StealWorker> workers = {{10.0, 1, 10, true}, {0.0, 1, 0, true}};
  auto moves = choose_steals(workers, queue_of(9, 1.0), {}, StealConfig{});
  ASSERT_EQ(moves.size(), 5u) << "five seconds of work each";
  for (const StealMove& move : moves) {
    EXPECT_EQ(move.victim, 0u);
    EXPECT_EQ(move.thief, 1u);
  }
}

// Tasks far shorter than the latency of moving them, or whose inputs take
// longer to fetch than the victim needs to run them, stay.
TEST(StealPolicyTest, CheapTasksAndCostlyTransfersStay) {
  std::vector<StealWorker> workers = {{1.0, 1, 2000, true}, {0.0, 1, 0, true}};
  EXPECT_TRUE(choose_steals(workers, queue_of(1999, 0.0005), {}, StealConfig{}).empty());
  EXPECT_GT(steal_cost_multiplier({0, 0.0005, 0}, StealConfig{}), StealConfig{}.max_cost_multiplier);
  workers = {{10.0, 1, 10, true}, {0.0, 1, 0, true}};
  EXPECT_TRUE(choose_steals(workers, queue_of(9, 1.0, 2'000'000'000), {}, StealConfig{}).empty())
      << "20 s to fetch a 1 s task's input";
}

// Nothing moves from a worker without a queue, to one that may not receive,
// or to one the task may not run on.
TEST(StealPolicyTest, NoQueueNoReceiverOrIneligibleThiefMovesNothing) {
  EXPECT_TRUE(choose_steals({{2.0, 2, 2, true}, {0.0, 1, 0, true}}, queue_of(2, 1.0), {}, StealConfig{}).empty());
  EXPECT_TRUE(choose_steals({{10.0, 1, 10, true}, {0.0, 1, 0, false}}, queue_of(9, 1.0), {}, StealConfig{}).empty());
  auto never = [](std::size_t, std::size_t) { return false; };
  EXPECT_TRUE(choose_steals({{10.0, 1, 10, true}, {0.0, 1, 0, true}}, queue_of(9, 1.0), never, StealConfig{}).empty());
}

// Each move goes to the least occupied worker per thread at that moment.
TEST(StealPolicyTest, SpreadsOverThievesByOccupancyPerThread) {
  std::vector<StealWorker> workers = {{12.0, 1, 12, true}, {1.0, 1, 1, true}, {0.0, 2, 0, true}};
  auto moves = choose_steals(workers, queue_of(11, 1.0), {}, StealConfig{});
  std::map<std::size_t, int> to;
  for (const StealMove& move : moves) ++to[move.thief];
  EXPECT_GT(to[2], to[1]) << "the two-thread idle worker takes the most";
  EXPECT_GT(to[1], 0);
  EXPECT_EQ(to.count(0), 0u);
}

// The cheapest candidates to move go first.
TEST(StealPolicyTest, CheapestToMoveFirst) {
  std::vector<StealCandidate> candidates = {{0, 1.0, 50'000'000}, {0, 1.0, 0}};
  auto moves = choose_steals({{3.0, 1, 3, true}, {0.0, 1, 0, true}}, candidates, {}, StealConfig{});
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].candidate, 1u);
}

// ---- GraphState with steal events ----------------------------------------------

class WorkStealingGraphTest : public GraphStateTest {
 protected:
  WorkStealingGraphTest() : GraphStateTest(config()) {}
  static SchedulerConfig config() {
    SchedulerConfig c;
    c.work_stealing = true;
    return c;
  }

  /// Data `d` made on A and ten one-second tasks reading it: placement piles
  /// them all onto A. Once the first finishes (its op's duration measured),
  /// a steal round asks A for some of the rest for B. Returns the requests.
  std::vector<msg::StealItem> pile_onto_a_and_steal() {
    a = add_worker("A");
    b = add_worker("B");
    msg::TaskDef data = task_def("d");
    data.workers = {"A"};
    data.allow_other_workers = true;  // may be recomputed elsewhere once A is gone
    std::vector<msg::TaskDef> defs = {data};
    std::vector<std::string> wanted;
    for (int i = 0; i < 10; ++i) {
      defs.push_back(task_def("L" + std::to_string(i), {"d"}, "slow"));
      wanted.push_back(defs.back().key);
    }
    submit(defs, wanted);
    drain();
    std::erase(pending, std::make_pair(std::string("A"), std::string("d")));
    finish(a, "d", 8000);
    drain();
    EXPECT_EQ(a->processing.size(), 10u) << "placement piles the tasks onto the data";
    EXPECT_EQ(graph.steal_round(), 0u) << "no duration measured yet: guessed too short to move";
    std::erase(pending, std::make_pair(std::string("A"), std::string("L0")));
    finish(a, "L0", 8, 1.0);
    drain();
    const std::size_t asked = graph.steal_round();
    Sent sent = drain();
    EXPECT_GT(asked, 0u);
    auto it = sent.steals.find("A");
    EXPECT_TRUE(it != sent.steals.end());
    std::vector<msg::StealItem> items = it == sent.steals.end() ? std::vector<msg::StealItem>{} : it->second;
    EXPECT_EQ(items.size(), asked);
    for (const msg::StealItem& item : items) {
      EXPECT_EQ(graph.find(item.key)->status, S::kStealing) << item.key;
      EXPECT_EQ(graph.find(item.key)->processing_on, a) << "stays on its victim until it answers";
    }
    EXPECT_EQ(graph.count(S::kStealing), items.size());
    EXPECT_EQ(graph.steal_round(), 0u) << "steals in flight count where they go";
    return items;
  }

  /// The victim's answer; a task it gives up is no longer its to run.
  void answer(WorkerState* victim, const std::vector<msg::StealItem>& items, bool stolen) {
    msg::StealResponse response;
    for (const msg::StealItem& item : items) {
      response.answers.push_back({item.key, item.id, stolen});
      if (stolen) std::erase(pending, std::make_pair(victim->name, item.key));
    }
    graph.steal_response(*victim, response);
  }

  /// How many times each key was reported finished by a worker that ran it.
  std::map<std::string, int> runs_of_finished() {
    std::map<std::string, int> runs;
    while (!pending.empty()) {
      auto [name, key] = pending.front();
      pending.pop_front();
      WorkerState* worker = graph.find_worker(name);
      if (worker == nullptr) continue;
      ++runs[key];
      ++ran_on[name];
      finish(worker, key, 8, 1.0);
      drain();
    }
    return runs;
  }

  WorkerState* a = nullptr;
  WorkerState* b = nullptr;
  std::map<std::string, int> ran_on;
};

// Confirmed: the victim gave the tasks up, they run on the thief, each once.
TEST_F(WorkStealingGraphTest, ConfirmedStealRunsTheTaskOnTheThiefOnce) {
  auto items = pile_onto_a_and_steal();
  ASSERT_FALSE(items.empty());
  answer(a, items, /*stolen=*/true);
  Sent sent = drain();
  std::vector<std::string> keys;
  for (const auto& item : items) keys.push_back(item.key);
  EXPECT_EQ(as_set(sent.computed_keys("B")), as_set(keys));
  for (const auto& key : keys) EXPECT_EQ(graph.find(key)->processing_on, b);
  EXPECT_TRUE(sent.freed_keys("A").empty()) << "nothing of a given-up task is left on the victim";
  EXPECT_EQ(graph.steals_confirmed(), items.size());
  EXPECT_EQ(graph.edge_count(S::kStealing, S::kProcessing), items.size());

  auto runs = runs_of_finished();
  for (const auto& [key, n] : runs) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(runs.size(), 9u);
  EXPECT_EQ(ran_on["B"], static_cast<int>(items.size()));
  EXPECT_EQ(graph.count(S::kMemory), 10u) << "every L; d went once they were done";
  release_all_and_check_no_leaks();
}

// Refused: the victim had started them; they stay and run there.
TEST_F(WorkStealingGraphTest, RefusedStealLeavesTheTaskOnTheVictim) {
  auto items = pile_onto_a_and_steal();
  answer(a, items, /*stolen=*/false);
  Sent sent = drain();
  EXPECT_TRUE(sent.computed_keys("B").empty());
  for (const auto& item : items) {
    EXPECT_EQ(graph.find(item.key)->status, S::kProcessing);
    EXPECT_EQ(graph.find(item.key)->processing_on, a);
  }
  EXPECT_EQ(graph.steals_refused(), items.size());
  auto runs = runs_of_finished();
  for (const auto& [key, n] : runs) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(ran_on["B"], 0);
  release_all_and_check_no_leaks();
}

// A task that finishes on the victim before the victim sees the request is
// kept once, on the victim; the refusal that follows changes nothing.
TEST_F(WorkStealingGraphTest, TaskFinishingOnTheVictimDuringItsStealIsKeptOnce) {
  auto items = pile_onto_a_and_steal();
  ASSERT_FALSE(items.empty());
  const std::string key = items.front().key;
  std::erase(pending, std::make_pair(std::string("A"), key));
  finish(a, key, 8, 1.0);
  Sent sent = drain();
  EXPECT_EQ(graph.find(key)->status, S::kMemory);
  EXPECT_EQ(graph.edge_count(S::kStealing, S::kMemory), 1u);
  answer(a, {items.front()}, /*stolen=*/false);
  sent = drain();
  EXPECT_EQ(graph.find(key)->status, S::kMemory);
  EXPECT_EQ(graph.find(key)->who_has, std::vector<WorkerState*>{a});
  EXPECT_TRUE(sent.computed_keys("B").empty());
  answer(a, std::vector<msg::StealItem>(items.begin() + 1, items.end()), /*stolen=*/false);
  runs_of_finished();
  release_all_and_check_no_leaks();
}

// The victim dies mid-steal: its tasks (and the data only it held) are
// recomputed on the thief, and the steals are forgotten.
TEST_F(WorkStealingGraphTest, VictimDyingMidStealReschedulesItsTasks) {
  auto items = pile_onto_a_and_steal();
  graph.remove_worker(a, "killed");
  drain();
  EXPECT_EQ(graph.count(S::kStealing), 0u);
  EXPECT_EQ(graph.edge_count(S::kStealing, S::kReleased), items.size());
  run_to_completion();
  EXPECT_EQ(graph.count(S::kMemory), 10u) << "every L; d went once they were done";
  release_all_and_check_no_leaks();
}

// The thief dies mid-steal: a task the victim gave up anyway is placed
// afresh (back on the victim, with no FreeKeys that would cancel it); one it
// kept stays.
TEST_F(WorkStealingGraphTest, ThiefDyingMidStealPlacesGivenUpTasksAfresh) {
  auto items = pile_onto_a_and_steal();
  ASSERT_GE(items.size(), 2u);
  graph.remove_worker(b, "killed");
  drain();
  EXPECT_EQ(graph.count(S::kStealing), items.size()) << "still waiting for the victim's answer";
  answer(a, {items[0]}, /*stolen=*/true);
  Sent sent = drain();
  EXPECT_EQ(sent.computed_keys("A"), std::vector<std::string>{items[0].key});
  EXPECT_TRUE(sent.freed_keys("A").empty());
  answer(a, std::vector<msg::StealItem>(items.begin() + 1, items.end()), /*stolen=*/false);
  drain();
  EXPECT_EQ(graph.count(S::kStealing), 0u);
  auto runs = runs_of_finished();
  for (const auto& [key, n] : runs) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(graph.count(S::kMemory), 10u) << "every L; d went once they were done";
  release_all_and_check_no_leaks();
}

// An answer to an older request than the task's current one settles nothing.
TEST_F(WorkStealingGraphTest, AnswerToAnOlderRequestIsIgnored) {
  auto items = pile_onto_a_and_steal();
  answer(a, items, /*stolen=*/false);
  drain();
  ASSERT_GT(graph.steal_round(), 0u) << "asked again";
  Sent sent = drain();
  auto again = sent.steals["A"];
  ASSERT_FALSE(again.empty());
  msg::StealItem old = again.front();
  for (const auto& item : items) {
    if (item.key == old.key) old = item;
  }
  if (old.id != again.front().id) {
    answer(a, {old}, /*stolen=*/true);  // the first request's id
    drain();
    EXPECT_EQ(graph.find(old.key)->status, S::kStealing);
  }
  answer(a, again, /*stolen=*/false);
  drain();
  EXPECT_EQ(graph.count(S::kStealing), 0u);
  runs_of_finished();
  release_all_and_check_no_leaks();
}

// The client lets go while a steal is in flight: the victim is told to free
// the task, and its late confirmation changes nothing.
TEST_F(WorkStealingGraphTest, ReleaseDuringStealForgetsIt) {
  auto items = pile_onto_a_and_steal();
  release_all();
  Sent sent = drain();
  EXPECT_EQ(graph.count(S::kStealing), 0u);
  for (const auto& item : items) EXPECT_TRUE(as_set(sent.freed_keys("A")).count(item.key)) << item.key;
  answer(a, items, /*stolen=*/true);
  drain();
  EXPECT_EQ(graph.task_count(), 0u);
}

class WorkStealingOffTest : public GraphStateTest {
 protected:
  WorkStealingOffTest() : GraphStateTest(off()) {}
  static SchedulerConfig off() {
    SchedulerConfig c;
    c.work_stealing = false;
    return c;
  }
};

// With stealing off, a round asks nothing of a worker however piled up.
TEST_F(WorkStealingOffTest, StealRoundDoesNothing) {
  WorkerState* a = add_worker("A");
  add_worker("B");
  std::vector<msg::TaskDef> defs;
  std::vector<std::string> wanted;
  for (int i = 0; i < 10; ++i) {
    defs.push_back(task_def("L" + std::to_string(i), {}, "slow"));
    defs.back().workers = {"A"};
    defs.back().allow_other_workers = true;
    wanted.push_back(defs.back().key);
  }
  submit(defs, wanted);
  drain();
  finish(a, "L0", 8, 1.0);
  drain();
  EXPECT_EQ(graph.steal_round(), 0u);
  EXPECT_TRUE(drain().steals.empty());
  release_all_and_check_no_leaks();
}

}  // namespace
}  // namespace dtask::scheduler
