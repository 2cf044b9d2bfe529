// dtask::Array end to end on a LocalCluster (scheduler and two workers
// in-process, over loopback TCP): every result is checked against a direct
// computation on the same numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/random.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "formats/csv_format.h"
#include "formats/npy_format.h"
#include "tests/formats/temp_dir.h"
#include "tests/support/daemon_process.h"  // wait_until

namespace dtask {
namespace {

using formats::testing::TempDir;

/// rows x cols float64 with values that make sums exact and orders distinct.
NDArray sample(std::int64_t rows, std::int64_t cols) {
  NDArray a = NDArray::uninitialized(DType::kFloat64, {rows, cols});
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) a.mutable_data<double>()[r * cols + c] = std::sin(r * 0.37 + c) * (c + 1);
  }
  return a;
}

double at(const NDArray& a, std::int64_t r, std::int64_t c) { return a.data<double>()[r * a.cols() + c]; }

void expect_near_arrays(const NDArray& got, const NDArray& want, double tol = 1e-9) {
  ASSERT_EQ(got.shape, want.shape) << got.describe() << " vs " << want.describe();
  NDArray g = got, w = want;
  for (std::int64_t i = 0; i < want.size(); ++i) {
    double gv = g.dtype == DType::kFloat64 ? g.data<double>()[i] : static_cast<double>(g.data<std::int64_t>()[i]);
    double wv = w.dtype == DType::kFloat64 ? w.data<double>()[i] : static_cast<double>(w.data<std::int64_t>()[i]);
    ASSERT_NEAR(gv, wv, tol * std::max(1.0, std::abs(wv))) << "element " << i;
  }
}

class ArrayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    client_ = new Client(LocalClusterOptions{.n_workers = 2, .threads_per_worker = 2});
  }
  static void TearDownTestSuite() {
    delete client_;
    client_ = nullptr;
  }
  Client& client() { return *client_; }

  /// Writes `data` as .npy and opens it with `chunk_rows` rows per chunk.
  Array npy(const NDArray& data, std::int64_t chunk_rows) {
    std::string path = dir_.file("x" + std::to_string(files_++) + ".npy");
    EXPECT_TRUE(formats::write_npy(path, data).ok());
    return Array::from_npy(path, chunk_rows);
  }

  static Client* client_;
  TempDir dir_;
  int files_ = 0;
};
Client* ArrayTest::client_ = nullptr;

// A scattered local array comes back unchanged, whatever the chunking.
TEST_F(ArrayTest, FromNdarrayRoundTrip) {
  NDArray data = sample(103, 4);
  for (std::int64_t chunk_rows : {1, 10, 103, 500}) {
    Array a = Array::from_ndarray(client(), data, chunk_rows);
    EXPECT_EQ(a.shape(), (std::vector<std::int64_t>{103, 4}));
    expect_near_arrays(a.compute(client()), data, 0);
  }
}

// Column reductions over a .npy file equal direct loops, for several chunkings and fan-ins.
TEST_F(ArrayTest, ReductionsMatchDirectComputation) {
  NDArray data = sample(1000, 3);
  NDArray sums = NDArray::zeros(DType::kFloat64, {3}), mins = NDArray::zeros(DType::kFloat64, {3});
  NDArray argmaxes = NDArray::zeros(DType::kInt64, {3});
  for (std::int64_t c = 0; c < 3; ++c) {
    double best = -1e300, low = 1e300;
    for (std::int64_t r = 0; r < 1000; ++r) {
      sums.mutable_data<double>()[c] += at(data, r, c);
      low = std::min(low, at(data, r, c));
      if (at(data, r, c) > best) {
        best = at(data, r, c);
        argmaxes.mutable_data<std::int64_t>()[c] = r;
      }
    }
    mins.mutable_data<double>()[c] = low;
  }
  NDArray vars = NDArray::zeros(DType::kFloat64, {3});
  for (std::int64_t c = 0; c < 3; ++c) {
    double mean = sums.data<double>()[c] / 1000;
    for (std::int64_t r = 0; r < 1000; ++r) vars.mutable_data<double>()[c] += std::pow(at(data, r, c) - mean, 2) / 999;
  }
  for (auto [chunk_rows, split_every] : {std::pair{1000, 8}, {77, 2}, {10, 8}}) {
    Array x = npy(data, chunk_rows);
    ReductionOptions tree{.split_every = split_every};
    expect_near_arrays(x.sum(0, tree).compute(client()), sums);
    expect_near_arrays(x.min(0, tree).compute(client()), mins);
    expect_near_arrays(x.argmax(0, tree).compute(client()), argmaxes, 0);
    expect_near_arrays(x.var(0, 1, tree).compute(client()), vars);
    NDArray means = x.mean(0, tree).compute(client());
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(means.data<double>()[c], sums.data<double>()[c] / 1000, 1e-12);
    NDArray total = x.sum({}, tree).compute(client());
    EXPECT_TRUE(total.shape.empty());
    EXPECT_NEAR(total.data<double>()[0], sums.data<double>()[0] + sums.data<double>()[1] + sums.data<double>()[2], 1e-9);
  }
}

// Reductions along axis 1 work row by row and keep the row chunks.
TEST_F(ArrayTest, RowReductions) {
  NDArray data = sample(50, 4);
  NDArray row_max = NDArray::uninitialized(DType::kFloat64, {50});
  for (std::int64_t r = 0; r < 50; ++r) {
    double best = at(data, r, 0);
    for (std::int64_t c = 1; c < 4; ++c) best = std::max(best, at(data, r, c));
    row_max.mutable_data<double>()[r] = best;
  }
  Array x = npy(data, 7);
  Array maxes = x.max(1);
  EXPECT_EQ(maxes.chunks(), x.chunks());
  expect_near_arrays(maxes.compute(client()), row_max, 0);
}

// X.T @ X, X.T @ y and X @ w equal direct products, whatever the chunking.
TEST_F(ArrayTest, MatrixProducts) {
  NDArray data = sample(301, 3);
  NDArray w = NDArray::from_vector<double>({0.5, -1.0, 2.0});
  for (std::int64_t chunk_rows : {301, 40}) {
    Array x = npy(data, chunk_rows);
    NDArray gram = matmul(x.T(), x).compute(client());
    ASSERT_EQ(gram.shape, (std::vector<std::int64_t>{3, 3}));
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        double direct = 0;
        for (int r = 0; r < 301; ++r) direct += at(data, r, i) * at(data, r, j);
        EXPECT_NEAR(at(gram, i, j), direct, 1e-9 * std::max(1.0, std::abs(direct)));
      }
    }
    Array y = x.column(1);
    NDArray xty = matmul(x.T(), y).compute(client());
    ASSERT_EQ(xty.shape, (std::vector<std::int64_t>{3}));
    EXPECT_NEAR(xty.data<double>()[1], at(gram, 1, 1), 1e-9 * at(gram, 1, 1));
    NDArray xw = matmul(x, w).compute(client());
    ASSERT_EQ(xw.shape, (std::vector<std::int64_t>{301}));
    for (int r = 0; r < 301; r += 50) {
      EXPECT_NEAR(xw.data<double>()[r], 0.5 * at(data, r, 0) - at(data, r, 1) + 2 * at(data, r, 2), 1e-12);
    }
    // The same through a one-chunk Array instead of a local NDArray.
    expect_near_arrays(matmul(x, Array::from_ndarray(client(), w)).compute(client()), xw);
  }
}

// Elementwise arithmetic broadcasts scalars and row vectors; comparisons give bools.
TEST_F(ArrayTest, ElementwiseWithBroadcasting) {
  NDArray data = sample(20, 3);
  Array x = npy(data, 6);
  NDArray row = NDArray::from_vector<double>({1.0, 2.0, 3.0});
  NDArray got = ((x - x.mean(0)) * 2.0 + row).compute(client());
  NDArray means = x.mean(0).compute(client());
  for (int r = 0; r < 20; ++r) {
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(at(got, r, c), (at(data, r, c) - means.data<double>()[c]) * 2.0 + row.data<double>()[c], 1e-12);
    }
  }
  Array positive = x > 0.0;
  EXPECT_EQ(positive.dtype(), DType::kBool);
  NDArray flags = positive.compute(client());
  EXPECT_EQ(flags.data<bool>()[4], at(data, 1, 1) > 0);
  NDArray count = positive.astype(DType::kInt64).sum().compute(client());
  std::int64_t direct = 0;
  for (std::int64_t i = 0; i < data.size(); ++i) direct += data.data<double>()[i] > 0;
  EXPECT_EQ(count.data<std::int64_t>()[0], direct);
  NDArray e = exp(x.rechunk(5) / 10.0).compute(client());
  EXPECT_NEAR(at(e, 3, 2), std::exp(at(data, 3, 2) / 10.0), 1e-12);
}

// Shape and dtype mistakes are thrown while building the graph, naming both operands.
TEST_F(ArrayTest, ShapeErrorsNameBothOperands) {
  Array a = npy(sample(20, 3), 5);
  Array b = npy(sample(21, 3), 5);
  try {
    (void)(a + b);
    FAIL() << "no error";
  } catch (const ArrayError& e) {
    EXPECT_NE(std::string(e.what()).find(a.name()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(b.name()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[21, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(matmul(a, b), ArrayError);          // the right operand spans chunks
  EXPECT_THROW(matmul(a.T(), b), ArrayError);      // 20 vs 21 rows
  EXPECT_THROW(a.sum(2), ArrayError);
  EXPECT_THROW(a.slice_cols(0, 2) + a, ArrayError);
  EXPECT_THROW(concatenate({a, a.column(0)}), ArrayError);
  EXPECT_THROW(Array::from_npy(dir_.file("missing.npy")), ArrayError);
}

// Slices, rechunks and concatenation move exactly the right rows and columns.
TEST_F(ArrayTest, SlicingRechunkAndConcatenate) {
  NDArray data = sample(50, 4);
  Array x = npy(data, 8);
  NDArray rows = x.slice_rows(13, -7).compute(client());
  ASSERT_EQ(rows.shape, (std::vector<std::int64_t>{30, 4}));
  EXPECT_EQ(at(rows, 0, 2), at(data, 13, 2));
  EXPECT_EQ(at(rows, 29, 3), at(data, 42, 3));
  NDArray cols = x.slice_cols(1, 3).compute(client());
  ASSERT_EQ(cols.shape, (std::vector<std::int64_t>{50, 2}));
  EXPECT_EQ(at(cols, 49, 1), at(data, 49, 2));
  Array rechunked = x.rechunk(ChunkGrid({5, 20, 25}));
  EXPECT_EQ(rechunked.n_chunks(), 3);
  expect_near_arrays(rechunked.compute(client()), data, 0);
  NDArray stacked = concatenate({x, x.slice_rows(0, 10)}).compute(client());
  ASSERT_EQ(stacked.shape, (std::vector<std::int64_t>{60, 4}));
  EXPECT_EQ(at(stacked, 55, 1), at(data, 5, 1));
  NDArray wide = concatenate({x, x.rechunk(11).slice_cols(0, 1)}, 1).compute(client());
  ASSERT_EQ(wide.shape, (std::vector<std::int64_t>{50, 5}));
  EXPECT_EQ(at(wide, 33, 4), at(data, 33, 0));
}

// to_npy and to_zarr (every codec) write files that read back identically.
TEST_F(ArrayTest, WritesNpyAndZarr) {
  NDArray data = sample(97, 5);
  Array x = npy(data, 10);
  std::string out = dir_.file("out.npy");
  x.to_npy(client(), out);
  expect_near_arrays(Array::from_npy(out, 33).compute(client()), data, 0);
  for (std::string codec : {"none", "zlib", "zstd", "blosc"}) {
    std::string store = dir_.file("out-" + codec + ".zarr");
    x.rechunk(ChunkGrid({7, 90})).to_zarr(client(), store, {.compressor = codec});
    Array back = Array::from_zarr(store);
    EXPECT_EQ(back.chunks().size(0), 7) << codec;
    expect_near_arrays(back.compute(client()), data, 0);
  }
}

// CSV files are read in row chunks; a bad value names the file, line and column.
TEST_F(ArrayTest, ReadsCsv) {
  std::string path = dir_.file("table.csv");
  {
    std::ofstream csv(path);
    csv << "a,b,c\n";
    for (int r = 0; r < 25; ++r) csv << r << "," << r * 0.5 << ",\"" << -r << "\"\n";
  }
  Array t = Array::from_csv(path, {.chunk_rows = 4, .header = true, .columns = {2, 0}});
  EXPECT_EQ(t.shape(), (std::vector<std::int64_t>{25, 2}));
  EXPECT_EQ(t.n_chunks(), 7);
  NDArray got = t.compute(client());
  EXPECT_EQ(at(got, 24, 0), -24.0);
  EXPECT_EQ(at(got, 24, 1), 24.0);
  {
    std::ofstream csv(path, std::ios::app);
    csv << "25,oops,1\n";
  }
  Array bad = Array::from_csv(path, {.chunk_rows = 4, .header = true});
  try {
    bad.compute(client());
    FAIL() << "no error";
  } catch (const TaskError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("table.csv line 27 column 2"), std::string::npos) << what;
    EXPECT_NE(what.find("read_csv"), std::string::npos) << what;
  }
}

// Generated data do not depend on the chunking; make_regression's y is X @ coef + bias.
TEST_F(ArrayTest, GeneratorsAreReproducibleAcrossChunkings) {
  NDArray a = random::normal({500, 3}, {.seed = 7, .chunk_rows = 500}).compute(client());
  NDArray b = random::normal({500, 3}, {.seed = 7, .chunk_rows = 37}).compute(client());
  expect_near_arrays(a, b, 0);
  NDArray c = random::normal({500, 3}, {.seed = 8, .chunk_rows = 37}).compute(client());
  EXPECT_NE(at(a, 0, 0), at(c, 0, 0));
  NDArray moments = random::normal({20000, 2}, {.seed = 1, .chunk_rows = 3000}, 5.0, 2.0).stddev(0).compute(client());
  EXPECT_NEAR(moments.data<double>()[0], 2.0, 0.1);

  auto blobs = datasets::make_blobs({.n_samples = 1000, .n_features = 4, .centers = 5, .cluster_std = 0.1,
                                     .random_state = 3, .chunk_rows = 128});
  NDArray x = blobs.X.compute(client());
  NDArray y = blobs.y.compute(client());
  for (int r = 0; r < 1000; r += 97) {
    std::int64_t label = y.data<std::int64_t>()[r];
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 5);
    EXPECT_NEAR(at(x, r, 2), at(blobs.centers, label, 2), 1.0);
  }

  auto reg = datasets::make_regression({.n_samples = 300, .n_features = 6, .n_informative = 3, .bias = 1.5,
                                        .random_state = 2, .chunk_rows = 64});
  NDArray rx = reg.X.compute(client());
  NDArray ry = reg.y.compute(client());
  EXPECT_EQ(reg.coef.data<double>()[5], 0.0);
  for (int r = 0; r < 300; r += 29) {
    double direct = 1.5;
    for (int c = 0; c < 6; ++c) direct += at(rx, r, c) * reg.coef.data<double>()[c];
    EXPECT_NEAR(ry.data<double>()[r], direct, 1e-9 * std::max(1.0, std::abs(direct)));
  }
  auto cls = datasets::make_classification({.n_samples = 400, .n_features = 5, .random_state = 4, .chunk_rows = 50});
  NDArray labels = cls.y.compute(client());
  std::int64_t ones = 0;
  for (int r = 0; r < 400; ++r) ones += labels.data<std::int64_t>()[r];
  EXPECT_GT(ones, 100);
  EXPECT_LT(ones, 300);
}

// A persisted array keeps its chunks on the workers and computes like the original.
TEST_F(ArrayTest, PersistKeepsChunksOnWorkers) {
  NDArray data = sample(64, 2);
  Array x = npy(data, 16).persist(client());
  for (std::int64_t i = 0; i < x.n_chunks(); ++i) {
    ASSERT_EQ(x.chunk(i).future_deps().size(), 1u);
    EXPECT_TRUE(x.chunk(i).future_deps()[0].wait().ok());
  }
  expect_near_arrays(x.sum(0).compute(client()), npy(data, 64).sum(0).compute(client()));
}

// A chunk read that fails at run time reports the op and the chunk's key.
TEST_F(ArrayTest, FailedChunkReadNamesOpAndKey) {
  NDArray data = sample(40, 2);
  std::string path = dir_.file("shrinks.npy");
  ASSERT_TRUE(formats::write_npy(path, data).ok());
  Array x = Array::from_npy(path, 10);
  ASSERT_TRUE(formats::write_npy(path, sample(15, 2)).ok());  // the file shrinks under the graph
  try {
    x.sum().compute(client());
    FAIL() << "no error";
  } catch (const TaskError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("read_npy"), std::string::npos) << what;
    EXPECT_NE(what.find(x.name() + "-"), std::string::npos) << what;
  }
}

// In-process workers spill too: each counts its share of the process's memory.
TEST(LocalClusterMemoryTest, PersistBeyondTheLimitSpills) {
  TempDir dir;
  Client client(LocalClusterOptions{.n_workers = 2, .threads_per_worker = 1, .memory_limit = 16 << 20,
                                    .local_directory = dir.path().string()});
  Array x = random::normal({8 << 20 >> 3, 8}, {.seed = 5, .chunk_rows = 16384});  // 64 MiB in 1 MiB chunks
  NDArray direct = x.sum(0).compute(client);
  Array held = x.persist(client);
  expect_near_arrays(held.sum(0).compute(client), direct);
  nlohmann::json json;
  auto spilled = [&] {  // as of the workers' latest heartbeats
    auto info = client.scheduler_info();
    json = info.ok() ? nlohmann::json::parse(*info) : nlohmann::json::object();
    return json.contains("cluster_memory") ? json["cluster_memory"]["spilled_bytes"].get<std::uint64_t>() : 0;
  };
  EXPECT_TRUE(testing::wait_until([&] { return spilled() > (std::uint64_t{32} << 20); })) << json.dump();
}

}  // namespace
}  // namespace dtask
