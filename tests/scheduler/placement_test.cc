// Placement on hand-built task and worker states: fewest bytes to move wins,
// then the lowest occupancy per thread; ineligible and skipped workers never
// win.
#include "scheduler/placement.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace dtask::scheduler {
namespace {

class PlacementTest : public ::testing::Test {
 protected:
  WorkerState& add_worker(const std::string& name, std::uint32_t nthreads = 1, double occupancy = 0,
                          ResourceList resources = {}) {
    auto worker = std::make_unique<WorkerState>();
    worker->name = name;
    worker->address = "tcp://" + name + ":9000";
    worker->nthreads = nthreads;
    worker->occupancy = occupancy;
    worker->resources = std::move(resources);
    workers.push_back(std::move(worker));
    return *workers.back();
  }

  /// A result of `nbytes` held by `holders`.
  TaskState& add_result(const std::string& key, std::uint64_t nbytes, std::vector<WorkerState*> holders) {
    auto task = std::make_unique<TaskState>();
    task->key = key;
    task->op_stats = &load_op;
    task->status = TaskStatus::kMemory;
    task->nbytes = nbytes;
    task->who_has = std::move(holders);
    tasks.push_back(std::move(task));
    return *tasks.back();
  }

  /// A task to place, depending on `deps`.
  TaskState& add_task(const std::string& key, std::vector<TaskState*> deps = {}) {
    auto task = std::make_unique<TaskState>();
    task->key = key;
    task->op_stats = &compute_op;
    task->status = TaskStatus::kWaiting;
    task->dependencies = std::move(deps);
    tasks.push_back(std::move(task));
    return *tasks.back();
  }

  WorkerState* choose(const TaskState& task, const Placement::Skip& skip = {}) const {
    return placement.choose(task, workers, skip);
  }

  Placement placement;
  std::vector<std::unique_ptr<WorkerState>> workers;
  OpStats load_op{"load"};
  OpStats compute_op{"compute"};
  std::vector<std::unique_ptr<TaskState>> tasks;
};

// The worker that already holds the most input bytes wins, however busy it is.
TEST_F(PlacementTest, FewestBytesToMoveWins) {
  WorkerState& idle = add_worker("idle", 4, 0.0);
  WorkerState& busy = add_worker("busy", 1, 100.0);
  TaskState& big = add_result("big", 1'000'000, {&busy});
  TaskState& small = add_result("small", 10, {&idle});
  TaskState& task = add_task("sum", {&big, &small});
  EXPECT_EQ(Placement::bytes_to_move(task, idle), 1'000'000u);
  EXPECT_EQ(Placement::bytes_to_move(task, busy), 10u);
  EXPECT_EQ(choose(task), &busy);
}

// A dependency held by several workers costs nothing on any of them.
TEST_F(PlacementTest, ReplicasCountAsLocalOnEveryHolder) {
  WorkerState& w1 = add_worker("w1");
  WorkerState& w2 = add_worker("w2");
  WorkerState& w3 = add_worker("w3");
  TaskState& shared = add_result("shared", 500, {&w1, &w2});
  TaskState& only_w2 = add_result("only_w2", 100, {&w2});
  TaskState& task = add_task("t", {&shared, &only_w2});
  EXPECT_EQ(Placement::bytes_to_move(task, w1), 100u);
  EXPECT_EQ(Placement::bytes_to_move(task, w2), 0u);
  EXPECT_EQ(Placement::bytes_to_move(task, w3), 600u);
  EXPECT_EQ(choose(task), &w2);
}

// With equal bytes to move, the lower occupancy per thread wins: 2 s over 4
// threads beats 1 s on one.
TEST_F(PlacementTest, EqualBytesThenLowerOccupancyPerThreadWins) {
  WorkerState& single = add_worker("single", 1, 1.0);
  WorkerState& wide = add_worker("wide", 4, 2.0);
  TaskState& dep = add_result("dep", 64, {});  // held nowhere: equal cost everywhere
  TaskState& task = add_task("t", {&dep});
  EXPECT_EQ(choose(task), &wide);
  wide.occupancy = 8.0;  // 2 s per thread now
  EXPECT_EQ(choose(task), &single);
}

// A root task (nothing to move) goes to the least loaded worker per thread.
TEST_F(PlacementTest, RootTaskGoesToLeastLoadedWorker) {
  add_worker("w1", 2, 3.0);
  WorkerState& w2 = add_worker("w2", 2, 1.0);
  add_worker("w3", 1, 0.75);
  EXPECT_EQ(choose(add_task("root")), &w2);
}

// On a complete tie the earlier registered worker wins, so placement is
// deterministic.
TEST_F(PlacementTest, CompleteTieKeepsTheFirstWorker) {
  WorkerState& first = add_worker("first", 2, 1.0);
  add_worker("second", 2, 1.0);
  EXPECT_EQ(choose(add_task("root")), &first);
}

// A worker declaring zero threads does not divide by zero; it counts as one.
TEST_F(PlacementTest, ZeroThreadsCountAsOne) {
  add_worker("zero", 0, 1.0);
  WorkerState& one = add_worker("one", 1, 0.5);
  EXPECT_EQ(choose(add_task("root")), &one);
}

// Name restrictions admit a worker by name or by address, and nothing else,
// even when the excluded worker holds the inputs.
TEST_F(PlacementTest, RestrictedTaskSkipsOtherWorkers) {
  WorkerState& holder = add_worker("holder");
  WorkerState& allowed = add_worker("allowed", 1, 50.0);
  WorkerState& by_address = add_worker("by_address", 1, 60.0);
  TaskState& dep = add_result("dep", 1'000'000, {&holder});
  TaskState& task = add_task("t", {&dep});
  task.rare().worker_restrictions = {"allowed"};
  EXPECT_FALSE(Placement::eligible(task, holder));
  EXPECT_TRUE(Placement::eligible(task, allowed));
  EXPECT_EQ(choose(task), &allowed);

  task.rare().worker_restrictions = {by_address.address};
  EXPECT_TRUE(Placement::eligible(task, by_address));
  EXPECT_EQ(choose(task), &by_address);

  task.rare().worker_restrictions = {"absent"};
  EXPECT_EQ(choose(task), nullptr);
}

// Loose restrictions (allow_other_workers) are kept while a named worker is
// connected, even a busy or skipped one, and lapse only when none is: then
// the usual rule picks among all. Strict ones never lapse.
TEST_F(PlacementTest, LooseRestrictionLapsesOnlyWithoutTheNamedWorker) {
  WorkerState& named = add_worker("named", 1, 100.0);
  WorkerState& idle = add_worker("idle", 1, 0.0);
  TaskState& task = add_task("t");
  task.rare().worker_restrictions = {"named"};
  task.rare().loose_restrictions = true;
  EXPECT_EQ(choose(task), &named) << "busy but connected: the preference holds";
  EXPECT_EQ(choose(task, [&named](const WorkerState& w) { return &w == &named; }), nullptr)
      << "saturated (skipped) is not gone: wait for it";

  task.rare().worker_restrictions = {"gone"};
  EXPECT_EQ(choose(task), &idle) << "no named worker connected: any worker";
  named.retiring = true;
  task.rare().worker_restrictions = {"named"};
  EXPECT_EQ(choose(task), &idle) << "a retiring worker counts as gone";

  task.rare().loose_restrictions = false;
  task.rare().worker_restrictions = {"gone"};
  EXPECT_EQ(choose(task), nullptr) << "strict restrictions never lapse";
}

// A task needing resources goes only to workers that declare at least that
// much of every one; a worker lacking any is skipped.
TEST_F(PlacementTest, InsufficientResourcesAreSkipped) {
  WorkerState& cpu = add_worker("cpu", 8, 0.0);
  WorkerState& half_gpu = add_worker("half_gpu", 1, 0.0, {{"GPU", 0.5}, {"MEM", 64}});
  WorkerState& gpu_no_mem = add_worker("gpu_no_mem", 1, 0.0, {{"GPU", 1}});
  WorkerState& gpu = add_worker("gpu", 1, 10.0, {{"GPU", 1}, {"MEM", 16}});
  TaskState& task = add_task("train");
  task.rare().resources = {{"GPU", 1}, {"MEM", 16}};
  EXPECT_FALSE(Placement::eligible(task, cpu));
  EXPECT_FALSE(Placement::eligible(task, half_gpu));
  EXPECT_FALSE(Placement::eligible(task, gpu_no_mem));
  EXPECT_TRUE(Placement::eligible(task, gpu)) << "exactly the amount asked is enough";
  EXPECT_EQ(choose(task), &gpu);
  EXPECT_TRUE(cpu.can_ever_run(add_task("plain"))) << "a task asking nothing runs anywhere";
}

// Workers the skip predicate accepts are passed over even when best; when it
// accepts all, there is no choice.
TEST_F(PlacementTest, SkipPredicateIsRespected) {
  WorkerState& best = add_worker("best", 1, 0.0);
  WorkerState& next = add_worker("next", 1, 5.0);
  TaskState& dep = add_result("dep", 100, {&best});
  TaskState& task = add_task("t", {&dep});
  EXPECT_EQ(choose(task), &best);
  EXPECT_EQ(choose(task, [&best](const WorkerState& w) { return &w == &best; }), &next);
  EXPECT_EQ(choose(task, [](const WorkerState&) { return true; }), nullptr);
  EXPECT_EQ(choose(task, [](const WorkerState&) { return false; }), &best);
}

// A paused worker loses to any running one, even holding every dependency;
// among paused workers the usual order holds; with only paused workers one still gets it.
TEST_F(PlacementTest, PausedWorkersComeLast) {
  WorkerState& holder = add_worker("holder", 1, 0.0);
  WorkerState& busy = add_worker("busy", 1, 9.0);
  TaskState& dep = add_result("dep", 1 << 20, {&holder});
  TaskState& task = add_task("t", {&dep});
  EXPECT_EQ(choose(task), &holder);
  holder.last_heartbeat.paused = true;
  EXPECT_EQ(choose(task), &busy) << "a running worker beats a paused one that holds the data";
  EXPECT_EQ(choose(add_task("root")), &busy);
  busy.last_heartbeat.paused = true;
  EXPECT_EQ(choose(task), &holder) << "all paused: fewest bytes to move again";
  EXPECT_EQ(choose(add_task("root2")), &holder) << "all paused: lowest occupancy again";
  holder.last_heartbeat.paused = false;
  EXPECT_EQ(choose(task), &holder);
}

// With no workers at all there is no choice.
TEST_F(PlacementTest, NoWorkersGivesNull) { EXPECT_EQ(choose(add_task("root")), nullptr); }

}  // namespace
}  // namespace dtask::scheduler
