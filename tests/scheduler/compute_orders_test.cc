// What GraphState sends a worker to run (Outbox::compute, scheduler/compute_orders.h):
// tasks taken back before the outbox is taken are not sent, a task is sent
// once however often it was assigned, and the frame encoded straight from the
// TaskStates decodes to the ComputeTaskBatch compute_batch() describes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/message_codec.h"
#include "graph_state_fixture.h"

namespace dtask::scheduler::graph_test {
namespace {

using ComputeOrdersTest = GraphStateTest;

TEST_F(ComputeOrdersTest, TaskReleasedBeforeTheOutboxIsTakenIsNotSent) {
  add_worker("w1");
  submit({task_def("a")}, {"a"});  // assigned to w1, not yet taken
  release({"a"});
  EXPECT_EQ(drain().compute_count(), 0u) << "a task taken back in the same round reached a worker";
}

TEST_F(ComputeOrdersTest, TaskAssignedTwiceBeforeTheOutboxIsTakenIsSentOnce) {
  add_worker("w1");
  submit({task_def("a")}, {"a"});
  release({"a"});
  submit({task_def("a")}, {"a"});  // the same key again, to the same worker
  EXPECT_EQ(drain().computed_keys("w1"), std::vector<std::string>{"a"});
}

// The codec reads TaskStates through ComputeOrderSource; what the worker
// decodes must be what compute_batch() (the tests' view) says.
TEST_F(ComputeOrdersTest, EncodedFromTaskStatesDecodesAsTheComputeMessage) {
  WorkerState* w1 = add_worker("w1");
  WorkerState* w2 = add_worker("w2");
  submit({task_def("a"), task_def("b"), task_def("c", {"a", "b", "a"})}, {"c"});
  for (auto& [worker, keys] : drain().compute) {
    for (const msg::ComputeTask& task : keys) finish(worker == "w1" ? w1 : w2, task.key, 40 + task.key.size());
  }
  Outbox outbox = graph.take_outbox();
  ASSERT_EQ(outbox.compute.size(), 1u);
  const ComputeOrders& orders = outbox.compute.begin()->second;
  ASSERT_EQ(orders.tasks.size(), 1u);
  const msg::ComputeTaskBatch expected_batch = compute_batch(orders);
  const msg::ComputeTask& expected = expected_batch.tasks[0];

  EncodedFrame frame = encode_compute_tasks(ComputeOrderSource(orders));
  auto decoded = decode_frame(flatten_frame(frame), FrameLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  const auto* batch = std::get_if<msg::ComputeTaskBatch>(&*decoded);
  ASSERT_NE(batch, nullptr) << "decoded as " << message_kind_name(decoded->index());
  ASSERT_EQ(batch->tasks.size(), 1u);
  const msg::ComputeTask& got = batch->tasks[0];
  EXPECT_EQ(got.key, "c");
  EXPECT_EQ(got.op, expected.op);
  EXPECT_EQ(got.args.size(), expected.args.size());
  EXPECT_TRUE(got.inline_result) << "a client wants c";
  ASSERT_EQ(got.dependencies.size(), 2u) << "a named twice counts once";
  for (std::size_t i = 0; i < got.dependencies.size(); ++i) {
    EXPECT_EQ(got.dependencies[i].key, expected.dependencies[i].key);
    EXPECT_EQ(batch->holders_of(got.dependencies[i]), expected_batch.holders_of(expected.dependencies[i]));
    EXPECT_EQ(got.dependencies[i].nbytes, 40 + got.dependencies[i].key.size());
  }
  // A dependency c's own worker holds goes without holders (it reads its
  // copy); the other names the worker to fetch it from.
  const TaskState& c = *orders.tasks[0];
  ASSERT_NE(c.dependencies[0]->who_has, c.dependencies[1]->who_has) << "a and b ran on different workers";
  for (std::size_t i = 0; i < got.dependencies.size(); ++i) {
    const TaskState& dep = *c.dependencies[i];
    ASSERT_EQ(dep.who_has.size(), 1u);
    if (dep.who_has[0] == c.processing_on) {
      EXPECT_TRUE(got.dependencies[i].who_has.empty()) << dep.key;
    } else {
      EXPECT_EQ(batch->holders_of(got.dependencies[i]), std::vector<std::string>{dep.who_has[0]->address}) << dep.key;
    }
  }
}

}  // namespace
}  // namespace dtask::scheduler::graph_test
