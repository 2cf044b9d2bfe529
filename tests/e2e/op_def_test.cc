// End-to-end: ops submitted by their OpDef (dtask/op_def.h) on real
// dtask-scheduler and dtask-worker processes: built-in ops (dtask/builtin_ops.h)
// and the example plugin's (examples/plugin/example_ops.h), through submit,
// delayed, map and Array::map_blocks. What must not compile is checked by
// tests/compile_fail/ instead.
#include <gtest/gtest.h>

#include <dtask/array.h>
#include <dtask/builtin_ops.h>
#include <dtask/client.h>
#include <dtask/collective.h>

#include <nlohmann/json.hpp>

#include "examples/plugin/example_ops.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::wait_until;

class OpDefTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, testing::test_scheduler_args());
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
    // Both workers load the example plugin, so any of them runs its ops.
    for (const char* name : {"w1", "w2"}) {
      auto worker = DaemonProcess::start(DTASK_WORKER_BIN,
                                         {scheduler_->address(), "--host", "127.0.0.1", "--nthreads", "2", "--name",
                                          name, "--memory-limit", "1GiB", "--log-level", "warn", "--plugin",
                                          DTASK_EXAMPLE_PLUGIN});
      ASSERT_TRUE(worker.ok()) << worker.status().to_string();
      workers_.push_back(std::move(*worker));
    }
    auto client = Client::connect(scheduler_->address());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(*client);
    ASSERT_TRUE(wait_until([&] { return testing::scheduler_info(*client_)["workers"].size() == workers_.size(); }));
  }

  void TearDown() override {
    client_.reset();
    for (auto& worker : workers_) EXPECT_EQ(worker.stop(), 0) << "worker did not stop cleanly on SIGTERM";
    if (scheduler_) EXPECT_EQ(scheduler_->stop(), 0) << "scheduler did not stop cleanly on SIGTERM";
  }

  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::unique_ptr<Client> client_;
};

// submit(OpDef, ...) runs a built-in op and its future has the OpDef's result type.
TEST_F(OpDefTest, BuiltinOpsBySubmit) {
  Future<double> product = client_->submit(ops::kMul, 2.5, 4);  // an integer widens to the double parameter
  EXPECT_DOUBLE_EQ(product.result(), 10.0);
  Future<Value> next = client_->submit(ops::kInc, 41);
  EXPECT_EQ(next.result().get<std::int64_t>(), 42);
  // A result feeds the next op; the OpDef types both ends.
  Future<NDArray> range = client_->submit(ops::kArange, 5);
  Future<double> total = client_->submit(SubmitOptions{.priority = 1}, ops::kArraySum, range);
  EXPECT_DOUBLE_EQ(total.result(), 10.0);
}

// delayed(OpDef) builds a graph of typed and variadic ops computed in one message.
TEST_F(OpDefTest, BuiltinOpsByDelayed) {
  std::vector<Delayed> parts;
  for (std::int64_t i = 0; i < 100; ++i) parts.push_back(delayed(ops::kInc)(i));
  Delayed total = delayed(ops::kSum)(parts);  // OpDef<Value(VarArgs)>: one list argument
  EXPECT_EQ(client_->compute<std::int64_t>(total).result(), 100 * 101 / 2);
  Delayed added = delayed(ops::kAdd)(delayed(ops::kMul)(3.0, 4.0), 1, 2);
  EXPECT_DOUBLE_EQ(client_->compute<double>(added).result(), 15.0);
}

// map(OpDef, lists...) zips the lists into one call each.
TEST_F(OpDefTest, MapByOpDef) {
  std::vector<double> xs{3, 5, 8};
  std::vector<double> ys{4, 12, 15};
  std::vector<Future<double>> hypots = client_->map(example::kHypot, xs, ys);
  EXPECT_EQ(client_->gather(hypots), (std::vector<double>{5, 13, 17}));
  std::vector<Future<double>> products = client_->map(ops::kMul, xs, client_->map(example::kHypot, xs, ys));
  EXPECT_EQ(client_->gather(products), (std::vector<double>{15, 65, 136}));
}

// A plugin's ops are submitted by the OpDefs its header declares.
TEST_F(OpDefTest, PluginOpsByTheirOpDef) {
  Future<std::int64_t> square = client_->submit(example::kSquare, 12);
  EXPECT_EQ(square.result(), 144);
  NDArray a = NDArray::from_vector(std::vector<double>{1, 2, 3});
  Future<NDArray> scaled = client_->submit(example::kScale, a, 2.0);
  NDArray out = scaled.result();
  ASSERT_EQ(out.size(), 3);
  EXPECT_DOUBLE_EQ(out.data<double>()[2], 6.0);
  // The string API still reaches the same op, and an op registered by name only.
  EXPECT_EQ(client_->submit<std::int64_t>("example.square", 7).result(), 49);
  EXPECT_EQ(client_->submit<std::string>("example.describe", 1, 2.5).result(), "int64, float64");
}

// A Future<Value> argument compiles for any parameter; the worker checks it
// when the task runs and names the op and the argument.
TEST_F(OpDefTest, UntypedArgumentsAreCheckedByTheWorker) {
  Future<Value> text = client_->submit(ops::kIdentity, std::string("twelve"));
  auto wrong = client_->submit(example::kSquare, text).try_result();
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("argument 0 of op 'example.square'"), std::string::npos)
      << wrong.status().to_string();
}

// Array::map_blocks(OpDef) runs the op per chunk; an arity it does not take
// is an ArrayError when the graph is built, before anything is submitted.
TEST_F(OpDefTest, MapBlocksByOpDef) {
  NDArray ones = NDArray::zeros(DType::kFloat64, {10, 2});
  for (std::int64_t i = 0; i < ones.size(); ++i) ones.mutable_data<double>()[i] = 1.0;
  Array X = Array::from_ndarray(*client_, ones, 3);
  NDArray doubled = X.map_blocks(example::kScale, {Value(2.0)}).compute(*client_);
  ASSERT_EQ(doubled.size(), 20);
  for (std::int64_t i = 0; i < doubled.size(); ++i) EXPECT_DOUBLE_EQ(doubled.data<double>()[i], 2.0);
  try {
    (void)X.map_blocks(example::kScale, {Value(2.0), Value(3.0)});
    FAIL() << "map_blocks with three arguments for a two-parameter op did not throw";
  } catch (const ArrayError& e) {
    EXPECT_NE(std::string(e.what()).find("op 'example.scale' takes 2 arguments"), std::string::npos) << e.what();
  }
}

// tree_allreduce by an OpDef of (list, weights): sgd_average is the built-in one.
TEST_F(OpDefTest, TreeAllreduceTakesTheCombineOpDef) {
  std::vector<FutureBase> parts{client_->submit(ops::kArange, 3)};
  Future<Bytes> one = tree_allreduce(*client_, parts, ops::kSgdAverage);
  ASSERT_TRUE(one.valid());  // one part comes back as it is, no task
  EXPECT_EQ(one.key(), parts.front().key());
}

}  // namespace
}  // namespace dtask
