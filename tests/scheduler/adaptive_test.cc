// Adaptive scaling's rule (scheduler/adaptive.h): the target from occupancy,
// ready tasks and memory, and which workers may be closed.
#include "scheduler/adaptive.h"

#include <gtest/gtest.h>

namespace dtask::scheduler {
namespace {

WorkerLoad idle_load(const std::string& name, std::uint64_t nbytes = 0, std::uint64_t limit = 0,
                       std::uint32_t nthreads = 1) {
  return {name, "tcp://" + name + ":1", nthreads, 0, nbytes, limit, false};
}

std::vector<std::string> load_names(const std::vector<WorkerLoad>& workers) {
  std::vector<std::string> out;
  for (const auto& w : workers) out.push_back(w.name);
  return out;
}

TEST(AdaptiveTargetTest, WorkNoWorkerCanTakeAsksForOne) {
  AdaptiveLoad load;
  load.no_worker_tasks = 1;
  load.ready_tasks = 1;
  load.occupancy = 0.001;  // far below target_duration: still one worker
  EXPECT_EQ(adaptive_target(load, {}).target, 1u);
}

TEST(AdaptiveTargetTest, OccupancyOverTargetDurationInWorkersOfTheGivenSize) {
  AdaptiveLoad load;
  load.occupancy = 100;  // seconds
  load.ready_tasks = 1000;
  AdaptiveTarget target = adaptive_target(load, {.target_duration = 5});
  EXPECT_EQ(target.threads, 20u);
  EXPECT_EQ(target.target, 20u);  // no workers yet: one thread each
  EXPECT_EQ(adaptive_target(load, {.target_duration = 5}, /*threads_per_worker=*/4).target, 5u);
  load.workers = {idle_load("a", 0, 0, 8), idle_load("b", 0, 0, 2)};  // mean 5 threads
  EXPECT_EQ(adaptive_target(load, {.target_duration = 5}).target, 4u);
}

TEST(AdaptiveTargetTest, AFewLongTasksAskForNoMoreThreadsThanTasks) {
  AdaptiveLoad load;
  load.occupancy = 3000;
  load.ready_tasks = 3;
  EXPECT_EQ(adaptive_target(load, {}).threads, 3u);
}

TEST(AdaptiveTargetTest, MemoryPressureDoublesTheWorkers) {
  AdaptiveLoad load;
  load.ready_tasks = 0;
  load.workers = {idle_load("a", 700, 1000), idle_load("b", 600, 1000)};
  load.workers[0].processing = load.workers[1].processing = 1;  // busy, so none is closed
  AdaptiveTarget target = adaptive_target(load, {.memory_fraction = 0.6});
  EXPECT_TRUE(target.memory_pressure);
  EXPECT_EQ(target.target, 4u);
  load.workers[0].nbytes = 100;  // 35%: no pressure
  EXPECT_FALSE(adaptive_target(load, {.memory_fraction = 0.6}).memory_pressure);
}

TEST(AdaptiveTargetTest, IdleWorkersCloseFewestBytesFirstAndBusyOnesStay) {
  AdaptiveLoad load;
  load.workers = {idle_load("heavy", 500), idle_load("light", 10), idle_load("busy"), idle_load("empty")};
  load.workers[2].processing = 2;
  load.ready_tasks = 2;
  load.occupancy = 1;  // one thread's worth
  AdaptiveTarget target = adaptive_target(load, {});
  EXPECT_EQ(target.workers, 4u);
  EXPECT_EQ(load_names(target.to_close), (std::vector<std::string>{"empty", "light", "heavy"}));
  EXPECT_EQ(target.target, 1u);
}

TEST(AdaptiveTargetTest, RetiringWorkersNeitherCountNorClose) {
  AdaptiveLoad load;
  load.workers = {idle_load("a"), idle_load("b")};
  load.workers[1].retiring = true;
  load.ready_tasks = 1;
  load.occupancy = 1;
  AdaptiveTarget target = adaptive_target(load, {});
  EXPECT_EQ(target.workers, 1u);
  EXPECT_EQ(target.target, 1u);
  EXPECT_TRUE(target.to_close.empty());
}

TEST(WorkersToCloseTest, StopsWhereTheOthersCannotHoldTheResults) {
  // Each holds 400 of 1000: the first to go leaves 1200 free for 400, the
  // second would leave 600 free for 800.
  std::vector<WorkerLoad> workers = {idle_load("a", 400, 1000), idle_load("b", 400, 1000),
                                     idle_load("c", 400, 1000)};
  EXPECT_EQ(load_names(workers_to_close(workers, 3)), (std::vector<std::string>{"a"}));
  workers[2].memory_limit = 0;  // an unlimited worker takes anything
  EXPECT_EQ(load_names(workers_to_close(workers, 3)), (std::vector<std::string>{"a", "b"}));
}

TEST(WorkersToCloseTest, TheLastWorkerGoesOnlyEmpty) {
  EXPECT_EQ(workers_to_close({idle_load("a", 1)}, 1).size(), 0u);
  EXPECT_EQ(workers_to_close({idle_load("a", 0)}, 1).size(), 1u);
  EXPECT_EQ(workers_to_close({idle_load("a"), idle_load("b")}, 0).size(), 0u);
}

}  // namespace
}  // namespace dtask::scheduler
