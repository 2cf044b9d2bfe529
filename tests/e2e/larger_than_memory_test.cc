// The arrays issue's acceptance test: a .npy file four times larger than the
// sum of the workers' --memory-limit (2 workers x 64 MiB, a 512 MiB file),
// reduced to column means and X^T X by real dtask-scheduler and dtask-worker
// processes, streamed and then persisted (which must spill). Results must
// equal a direct computation, spilling must happen, and each worker's peak
// RSS (VmHWM, read from /proc) must stay under its limit plus a stated margin.
// The GLM issue's end-to-end test runs on the same cluster: a logistic
// regression fitted from .npy files 1.5 times the cluster's memory; and the
// SGD issue's: Incremental streams a file four times the cluster's memory
// through partial_fit.
#include <gtest/gtest.h>

#include <cmath>
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/ml/incremental.h>
#include <dtask/ml/linear_model.h>
#include <random>
#include <nlohmann/json.hpp>

#include "common/process_memory.h"
#include "formats/npy_format.h"
#include "ml_core/sgd.h"
#include "tests/formats/temp_dir.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/sanitized.h"

namespace dtask {
namespace {

using testing::DaemonProcess;
using testing::wait_until;

constexpr std::int64_t kCols = 16;
constexpr std::int64_t kRows = (std::int64_t{512} << 20) / (kCols * 8);  // 4 Mi rows: 512 MiB
constexpr std::int64_t kChunkRows = (std::int64_t{4} << 20) / (kCols * 8);  // 4 MiB chunks: 128 of them
constexpr std::uint64_t kLimit = std::uint64_t{64} << 20;
// Peak RSS may exceed the limit by this much. The limit governs result bytes
// (spilled above 60% of it), not the process: on top of them an idle worker
// holds ~10 MiB of code and libraries, each of its 2 threads holds a chunk it
// is reading plus the result it is producing (4 x 4 MiB), and a frame being
// received or sent holds one more chunk.
constexpr std::uint64_t kMargin = std::uint64_t{32} << 20;

double value_at(std::int64_t r, std::int64_t c) { return std::sin(0.001 * r + c) + 0.01 * c; }

/// Writes the 512 MiB file in slabs (the test never holds it whole) and the
/// direct column sums and X^T X, in long double, along the way.
struct Expected {
  std::vector<double> means;
  std::vector<double> gram;
};

Expected write_big_npy(const std::string& path) {
  EXPECT_TRUE(formats::create_npy(path, DType::kFloat64, {kRows, kCols}).ok());
  auto header = formats::read_npy_header(path);
  EXPECT_TRUE(header.ok());
  std::vector<long double> sums(kCols, 0), gram(kCols * kCols, 0);
  const std::int64_t slab = 65536;
  for (std::int64_t begin = 0; begin < kRows; begin += slab) {
    NDArray block = NDArray::uninitialized(DType::kFloat64, {slab, kCols});
    double* x = block.mutable_data<double>();
    for (std::int64_t r = 0; r < slab; ++r) {
      for (std::int64_t c = 0; c < kCols; ++c) x[r * kCols + c] = value_at(begin + r, c);
      for (std::int64_t i = 0; i < kCols; ++i) {
        sums[i] += x[r * kCols + i];
        for (std::int64_t j = 0; j < kCols; ++j) gram[i * kCols + j] += x[r * kCols + i] * x[r * kCols + j];
      }
    }
    EXPECT_TRUE(formats::write_npy_rows(path, *header, begin, block).ok());
  }
  Expected out;
  for (long double s : sums) out.means.push_back(static_cast<double>(s / kRows));
  for (long double g : gram) out.gram.push_back(static_cast<double>(g));
  return out;
}

class LargerThanMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scheduler = DaemonProcess::start(DTASK_SCHEDULER_BIN, testing::test_scheduler_args());
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
    for (int i = 0; i < 2; ++i) {
      auto worker = DaemonProcess::start(
          DTASK_WORKER_BIN, {scheduler_->address(), "--host", "127.0.0.1", "--nthreads", "2", "--name",
                             "w" + std::to_string(i), "--memory-limit", "64MiB", "--local-directory",
                             dir_.file("spill-" + std::to_string(i)), "--log-level", "warn"});
      ASSERT_TRUE(worker.ok()) << worker.status().to_string();
      workers_.push_back(std::move(*worker));
    }
    auto client = Client::connect(scheduler_->address());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(*client);
    ASSERT_TRUE(wait_until([&] { return info()["workers"].size() == 2; }));
  }

  void TearDown() override {
    client_.reset();
    for (auto& worker : workers_) EXPECT_EQ(worker.stop(), 0);
    if (scheduler_) {
      EXPECT_EQ(scheduler_->stop(), 0);
    }
  }

  nlohmann::json info() { return testing::scheduler_info(*client_); }

  std::uint64_t total_spilled() {
    std::uint64_t total = 0;
    nlohmann::json snapshot = info();  // kept alive: a range-for over info()["workers"] would dangle
    for (const auto& worker : snapshot["workers"]) total += worker.value("spilled_bytes", std::uint64_t{0});
    return total;
  }

  void expect_results(const Array& x, const Expected& expected) {
    NDArray means = x.mean(0).compute(*client_);
    ASSERT_EQ(means.shape, (std::vector<std::int64_t>{kCols}));
    for (std::int64_t c = 0; c < kCols; ++c) EXPECT_NEAR(means.data<double>()[c], expected.means[c], 1e-10);
    NDArray gram = matmul(x.T(), x).compute(*client_);
    ASSERT_EQ(gram.shape, (std::vector<std::int64_t>{kCols, kCols}));
    for (std::int64_t i = 0; i < kCols * kCols; ++i) {
      EXPECT_NEAR(gram.data<double>()[i], expected.gram[i], 1e-9 * std::abs(expected.gram[i]) + 1e-6) << i;
    }
  }

  void expect_peak_rss_under_limit() {
    for (const auto& worker : workers_) {
      std::uint64_t peak = peak_rss_bytes(worker.pid());
      ASSERT_GT(peak, 0u);
#ifndef DTASK_TEST_SANITIZED
      EXPECT_LT(peak, kLimit + kMargin) << "worker " << worker.pid() << " peaked at " << (peak >> 20) << " MiB";
#endif
      std::printf("worker pid %d peak RSS %.1f MiB (limit 64 MiB + %llu MiB margin)\n", worker.pid(),
                  peak / 1048576.0, static_cast<unsigned long long>(kMargin >> 20));
    }
  }

  formats::testing::TempDir dir_;
  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::unique_ptr<Client> client_;
};

// Streamed from disk, then persisted (spilling 3/4 of it): right answers, bounded RSS.
TEST_F(LargerThanMemoryTest, NpyFourTimesTheClusterMemory) {
  std::string path = dir_.file("big.npy");
  Expected expected = write_big_npy(path);
  Array x = Array::from_npy(path, kChunkRows);
  ASSERT_EQ(x.n_chunks(), 128);
  ASSERT_GE(x.nbytes(), static_cast<std::int64_t>(4 * 2 * kLimit));

  expect_results(x, expected);  // streamed: chunks are read, reduced and dropped
  expect_peak_rss_under_limit();

  Array held = x.persist(*client_);  // 512 MiB kept on 2 x 64 MiB workers: most of it spills
  for (std::int64_t i = 0; i < held.n_chunks(); ++i) {
    ASSERT_TRUE(held.chunk(i).future_deps().front().wait().ok());
  }
  // At least half the data cannot fit in RAM. Spilled bytes arrive with the
  // heartbeats, so wait for them rather than read the first report.
  EXPECT_TRUE(wait_until([&] { return total_spilled() > (std::uint64_t{256} << 20); })) << info().dump();
  std::uint64_t spilled = total_spilled();
  std::printf("spilled %.1f MiB across the workers\n", spilled / 1048576.0);

  expect_results(held, expected);  // read back from the spill files
  expect_peak_rss_under_limit();
}

/// X [rows, kCols] with standard normal entries and y = 1 where
/// x.w_true + noise > 0, written in slabs (never held whole). Returns how
/// many labels are 1.
std::int64_t write_logistic_npy(const std::string& x_path, const std::string& y_path, std::int64_t rows) {
  EXPECT_TRUE(formats::create_npy(x_path, DType::kFloat64, {rows, kCols}).ok());
  EXPECT_TRUE(formats::create_npy(y_path, DType::kFloat64, {rows}).ok());
  auto x_header = formats::read_npy_header(x_path);
  auto y_header = formats::read_npy_header(y_path);
  EXPECT_TRUE(x_header.ok() && y_header.ok());
  std::mt19937_64 rng(17);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::int64_t ones = 0;
  const std::int64_t slab = 65536;
  for (std::int64_t begin = 0; begin < rows; begin += slab) {
    const std::int64_t n = std::min(slab, rows - begin);
    NDArray x = NDArray::uninitialized(DType::kFloat64, {n, kCols});
    NDArray y = NDArray::uninitialized(DType::kFloat64, {n});
    for (std::int64_t r = 0; r < n; ++r) {
      double eta = 0.5;
      for (std::int64_t c = 0; c < kCols; ++c) {
        double v = normal(rng);
        x.mutable_data<double>()[r * kCols + c] = v;
        eta += (c % 3 == 0 ? 1.0 : -0.5) * v;
      }
      y.mutable_data<double>()[r] = eta + normal(rng) > 0 ? 1.0 : 0.0;
      ones += y.data<double>()[r] == 1.0 ? 1 : 0;
    }
    EXPECT_TRUE(formats::write_npy_rows(x_path, *x_header, begin, x).ok());
    EXPECT_TRUE(formats::write_npy_rows(y_path, *y_header, begin, y).ok());
  }
  return ones;
}

// Logistic regression streamed from .npy files 1.5 times the cluster's
// memory: lbfgs and newton reach the same coefficients (1e-5), the model
// fits its data, and no worker's RSS passes its limit plus the margin.
TEST_F(LargerThanMemoryTest, LogisticRegressionFromNpyLargerThanMemory) {
  const std::int64_t rows = (std::int64_t{192} << 20) / (kCols * 8);  // 192 MiB of X
  const std::string x_path = dir_.file("X.npy"), y_path = dir_.file("y.npy");
  const std::int64_t ones = write_logistic_npy(x_path, y_path, rows);
  Array X = Array::from_npy(x_path, kChunkRows), y = Array::from_npy(y_path, kChunkRows);
  ASSERT_GT(X.nbytes(), static_cast<std::int64_t>(2 * kLimit));

  ml::LogisticRegression lbfgs({.C = 1.0, .solver = "lbfgs", .tol = 1e-3});
  lbfgs.fit(*client_, X, y);
  ml::LogisticRegression newton({.C = 1.0, .solver = "newton", .tol = 1e-3});
  newton.fit(*client_, X, y);
  EXPECT_TRUE(lbfgs.converged_);
  EXPECT_TRUE(newton.converged_);
  for (std::int64_t j = 0; j < kCols; ++j) {
    const double a = lbfgs.coef_.data<double>()[j], b = newton.coef_.data<double>()[j];
    EXPECT_NEAR(a, b, 1e-5 * std::max(1.0, std::abs(b))) << "coefficient " << j;
    EXPECT_GT(a * (j % 3 == 0 ? 1.0 : -1.0), 0.0) << "coefficient " << j << " has the wrong sign";
  }
  const double accuracy = lbfgs.score(*client_, X, y);
  EXPECT_GT(accuracy, 0.75);
  std::printf("logistic regression on %lld rows (%lld ones): lbfgs %d iterations, newton %d; accuracy %.4f\n",
              static_cast<long long>(rows), static_cast<long long>(ones), lbfgs.n_iter_, newton.n_iter_, accuracy);
  expect_peak_rss_under_limit();
}

// SGDClassifier trained by Incremental on a .npy file four times the
// cluster's memory, one epoch of partial_fit over 128 chunks read where the
// model goes: its accuracy is within 1% of an in-memory fit on the same rows
// (scikit-learn's fit: shuffled epochs until the loss stops improving), and
// no worker's RSS passes its limit plus the margin.
TEST_F(LargerThanMemoryTest, IncrementalSgdFromNpyFourTimesTheClusterMemory) {
  const std::string x_path = dir_.file("X.npy"), y_path = dir_.file("y.npy");
  write_logistic_npy(x_path, y_path, kRows);
  Array X = Array::from_npy(x_path, kChunkRows), y = Array::from_npy(y_path, kChunkRows);
  ASSERT_GE(X.nbytes(), static_cast<std::int64_t>(4 * 2 * kLimit));

  ml::Incremental inc(ml::SGDClassifier({.random_state = 0}), {.random_state = 0});
  inc.fit(*client_, X, y, {0.0, 1.0});
  EXPECT_EQ(inc.n_partial_fit_calls_, X.n_chunks());
  const double accuracy = inc.score(*client_, X, y);
  expect_peak_rss_under_limit();

  // The in-memory reference, fitted here in the test process on all rows.
  auto x_header = formats::read_npy_header(x_path);
  auto y_header = formats::read_npy_header(y_path);
  ASSERT_TRUE(x_header.ok() && y_header.ok());
  auto x_all = formats::read_npy_rows(x_path, *x_header, 0, kRows);
  auto y_all = formats::read_npy_rows(y_path, *y_header, 0, kRows);
  ASSERT_TRUE(x_all.ok() && y_all.ok());
  auto reference = ml_core::SgdModel::make(ml_core::SgdClassifierOptions{.random_state = 0});
  ASSERT_TRUE(reference.ok());
  ASSERT_TRUE(reference->fit(x_all->data<double>(), kRows, kCols, y_all->data<double>()).ok());
  std::vector<double> predicted = reference->predict(x_all->data<double>(), kRows);
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < kRows; ++i) right += predicted[i] == y_all->data<double>()[i];
  const double reference_accuracy = static_cast<double>(right) / kRows;
  EXPECT_NEAR(accuracy, reference_accuracy, 0.01);
  std::printf("Incremental SGD over %lld rows in %lld chunks: accuracy %.4f; in-memory fit (%lld epochs) %.4f\n",
              static_cast<long long>(kRows), static_cast<long long>(X.n_chunks()), accuracy,
              static_cast<long long>(reference->n_iter()), reference_accuracy);
}

}  // namespace
}  // namespace dtask
