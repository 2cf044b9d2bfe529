// dtask::ml::KMeans on a LocalCluster (in-process scheduler and workers over
// loopback TCP), checked against a direct single-process Lloyd and against
// the ground truth of well separated blobs.
#include <dtask/ml/kmeans.h>
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <map>

#include "formats/npy_format.h"
#include "worker/cuda/kmeans_assign.h"
#include "tests/formats/temp_dir.h"
#include "tests/support/local_cluster_suite.h"

namespace dtask::ml {
namespace {

using formats::testing::TempDir;

/// Adjusted Rand index of two labelings (1.0: the same partition).
double adjusted_rand_index(const NDArray& a, const NDArray& b) {
  std::map<std::pair<std::int64_t, std::int64_t>, double> joint;
  std::map<std::int64_t, double> rows, cols;
  const std::int64_t n = a.size();
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t x = a.data<std::int64_t>()[i], y = b.data<std::int64_t>()[i];
    joint[{x, y}] += 1;
    rows[x] += 1;
    cols[y] += 1;
  }
  auto pairs = [](double m) { return m * (m - 1) / 2; };
  double index = 0, sum_rows = 0, sum_cols = 0;
  for (auto& [key, m] : joint) index += pairs(m);
  for (auto& [key, m] : rows) sum_rows += pairs(m);
  for (auto& [key, m] : cols) sum_cols += pairs(m);
  double expected = sum_rows * sum_cols / pairs(static_cast<double>(n));
  double maximum = (sum_rows + sum_cols) / 2;
  return (index - expected) / (maximum - expected);
}

/// Plain Lloyd on local data: `iterations` updates from `centers`.
struct DirectLloyd {
  NDArray centers;
  double inertia = 0;
};

DirectLloyd direct_lloyd(const NDArray& x, NDArray centers, int iterations) {
  const std::int64_t n = x.rows(), d = x.cols(), k = centers.rows();
  auto assign = [&](std::vector<std::int64_t>& labels) {
    double inertia = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      double best = 1e300;
      for (std::int64_t j = 0; j < k; ++j) {
        double d2 = 0;
        for (std::int64_t f = 0; f < d; ++f) d2 += std::pow(x.data<double>()[i * d + f] - centers.data<double>()[j * d + f], 2);
        if (d2 < best) {
          best = d2;
          labels[i] = j;
        }
      }
      inertia += best;
    }
    return inertia;
  };
  std::vector<std::int64_t> labels(n);
  for (int it = 0; it < iterations; ++it) {
    assign(labels);
    std::vector<double> sums(k * d, 0), counts(k, 0);
    for (std::int64_t i = 0; i < n; ++i) {
      counts[labels[i]] += 1;
      for (std::int64_t f = 0; f < d; ++f) sums[labels[i] * d + f] += x.data<double>()[i * d + f];
    }
    NDArray next = NDArray::uninitialized(DType::kFloat64, {k, d});
    for (std::int64_t j = 0; j < k * d; ++j) next.mutable_data<double>()[j] = sums[j] / counts[j / d];
    centers = next;
  }
  return {centers, assign(labels)};
}

void expect_near(const NDArray& got, const NDArray& want, double tol) {
  ASSERT_EQ(got.shape, want.shape);
  for (std::int64_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got.data<double>()[i], want.data<double>()[i], tol * std::max(1.0, std::abs(want.data<double>()[i])));
  }
}

class KMeansTest : public testing::LocalClusterSuite {
 protected:

  static datasets::Blobs blobs(std::int64_t chunk_rows = 500) {
    return datasets::make_blobs({.n_samples = 3000, .n_features = 5, .centers = 4, .cluster_std = 0.5,
                                 .random_state = 7, .chunk_rows = chunk_rows});
  }
};

// k-means|| and k-means++ recover well separated blobs exactly (ARI = 1);
// random init may stop in a local minimum (scikit-learn reruns it n_init times).
TEST_F(KMeansTest, RecoversWellSeparatedBlobs) {
  auto data = blobs();
  NDArray truth = data.y.compute(client());
  KMeans random_init({.n_clusters = 4, .init = "random", .random_state = 1});
  random_init.fit(client(), data.X);
  EXPECT_GT(adjusted_rand_index(random_init.labels_.compute(client()), truth), 0.5);
  for (std::string init : {"k-means||", "k-means++"}) {
    KMeans km({.n_clusters = 4, .init = init, .random_state = 1});
    km.fit(client(), data.X);
    EXPECT_DOUBLE_EQ(adjusted_rand_index(km.labels_.compute(client()), truth), 1.0)
        << init << " centers " << ::testing::PrintToString(std::vector<double>(
               km.cluster_centers_.data<double>(), km.cluster_centers_.data<double>() + 20));
    EXPECT_TRUE(km.converged_) << init;
    EXPECT_EQ(km.cluster_centers_.shape, (std::vector<std::int64_t>{4, 5}));
  }
}

// With an explicit init, centers and inertia equal a direct single-process Lloyd.
TEST_F(KMeansTest, MatchesDirectLloydFromTheSameInit) {
  auto data = blobs();
  NDArray x = data.X.compute(client());
  NDArray init = NDArray::uninitialized(DType::kFloat64, {4, 5});
  for (std::int64_t i = 0; i < 20; ++i) init.mutable_data<double>()[i] = x.data<double>()[i];  // rows 0..3
  KMeans km({.n_clusters = 4, .init = init, .max_iter = 5, .tol = 0});
  km.fit(client(), data.X);
  ASSERT_GE(km.n_iter_, 1);
  ASSERT_LE(km.n_iter_, 5);  // tol = 0 still stops once the centers stop moving
  DirectLloyd direct = direct_lloyd(x, init, km.n_iter_);
  expect_near(km.cluster_centers_, direct.centers, 1e-10);
  EXPECT_NEAR(km.inertia_, direct.inertia, 1e-9 * direct.inertia);
  EXPECT_NEAR(km.score(client(), data.X), -direct.inertia, 1e-9 * direct.inertia);
}

// The same seed and init give the same model whatever the chunking or worker count.
TEST_F(KMeansTest, IndependentOfChunkingAndWorkers) {
  KMeans reference({.n_clusters = 4, .random_state = 3});
  reference.fit(client(), blobs(500).X);
  NDArray labels = reference.labels_.compute(client());
  Client one_worker(LocalClusterOptions{.n_workers = 1, .threads_per_worker = 1});
  for (std::int64_t chunk_rows : {3000, 137}) {
    KMeans km({.n_clusters = 4, .random_state = 3});
    km.fit(chunk_rows == 137 ? one_worker : client(), blobs(chunk_rows).X);
    expect_near(km.cluster_centers_, reference.cluster_centers_, 1e-10);
    EXPECT_EQ(km.n_iter_, reference.n_iter_);
    NDArray other = km.labels_.compute(chunk_rows == 137 ? one_worker : client());
    EXPECT_EQ(0, std::memcmp(other.data<std::int64_t>(), labels.data<std::int64_t>(), labels.nbytes()));
  }
}

// A center nobody is closest to is re-seeded from the farthest rows, as scikit-learn does.
TEST_F(KMeansTest, RelocatesEmptyClusters) {
  auto data = blobs();
  NDArray x = data.X.compute(client());
  NDArray init = NDArray::uninitialized(DType::kFloat64, {4, 5});
  for (std::int64_t i = 0; i < 15; ++i) init.mutable_data<double>()[i] = x.data<double>()[i];  // 3 real rows...
  for (std::int64_t i = 15; i < 20; ++i) init.mutable_data<double>()[i] = 1e6;               // ...and one far away
  KMeans km({.n_clusters = 4, .init = init, .max_iter = 50});
  km.fit(client(), data.X);
  NDArray labels = km.labels_.compute(client());
  std::vector<int> used(4, 0);
  for (std::int64_t i = 0; i < labels.size(); ++i) used[labels.data<std::int64_t>()[i]] = 1;
  EXPECT_EQ(used, (std::vector<int>{1, 1, 1, 1}));
  for (std::int64_t i = 0; i < 20; ++i) EXPECT_LT(std::abs(km.cluster_centers_.data<double>()[i]), 100.0);
}

// A model streamed from a .npy file equals one fitted on the persisted array.
TEST_F(KMeansTest, StreamsFromDiskLikePersisted) {
  TempDir dir;
  auto data = blobs();
  std::string path = dir.file("blobs.npy");
  data.X.to_npy(client(), path);
  KMeans streamed({.n_clusters = 4, .random_state = 2});
  streamed.fit(client(), Array::from_npy(path, 400));
  KMeans held({.n_clusters = 4, .random_state = 2});
  held.fit(client(), Array::from_npy(path, 400).persist(client()));
  expect_near(streamed.cluster_centers_, held.cluster_centers_, 0);
  EXPECT_EQ(streamed.inertia_, held.inertia_);
}

// predict, transform and save/load agree with the fitted model.
TEST_F(KMeansTest, PredictTransformSaveLoad) {
  TempDir dir;
  auto data = blobs();
  KMeans km({.n_clusters = 4});
  km.fit(client(), data.X);
  NDArray distances = km.transform(data.X).compute(client());
  NDArray labels = km.predict(data.X).compute(client());
  ASSERT_EQ(distances.shape, (std::vector<std::int64_t>{3000, 4}));
  for (std::int64_t i = 0; i < 3000; i += 111) {
    const double* row = distances.data<double>() + i * 4;
    EXPECT_EQ(std::min_element(row, row + 4) - row, labels.data<std::int64_t>()[i]);
  }
  std::string path = dir.file("model.json");
  km.save(path);
  KMeans loaded = KMeans::load(path);
  expect_near(loaded.cluster_centers_, km.cluster_centers_, 0);
  EXPECT_EQ(loaded.n_iter_, km.n_iter_);
  EXPECT_EQ(std::memcmp(loaded.predict(data.X).compute(client()).data<std::int64_t>(), labels.data<std::int64_t>(),
                        labels.nbytes()),
            0);
  if (std::system("/usr/bin/python3 -c 'import json' 2>/dev/null") == 0) {
    std::string check = "/usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); "
                        "assert len(m[\"cluster_centers\"])==4 and len(m[\"cluster_centers\"][0])==5' " + path;
    EXPECT_EQ(std::system(check.c_str()), 0) << "Python could not read the model";
  }
}

// Bad input gives clear errors: k < 1, k > n, 1-d data, NaN in a chunk.
TEST_F(KMeansTest, RejectsBadInput) {
  auto data = blobs();
  EXPECT_THROW(KMeans({.n_clusters = 0}).fit(client(), data.X), ArrayError);
  try {
    KMeans({.n_clusters = 5}).fit(client(), data.X.slice_rows(0, 4));
    FAIL() << "no error";
  } catch (const ArrayError& e) {
    EXPECT_NE(std::string(e.what()).find("n_samples=4 should be >= n_clusters=5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(KMeans({.n_clusters = 2}).fit(client(), data.X.column(0)), ArrayError);
  EXPECT_THROW(KMeans({.n_clusters = 2, .init = "bogus"}).fit(client(), data.X), ArrayError);
  NDArray x = data.X.compute(client());
  x.mutable_data<double>()[1234 * 5 + 2] = std::nan("");
  Array with_nan = Array::from_ndarray(client(), x, 500);
  try {
    KMeans({.n_clusters = 4, .init = "random"}).fit(client(), with_nan);
    FAIL() << "no error";
  } catch (const TaskError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("NaN"), std::string::npos) << what;
    EXPECT_NE(what.find("row 234"), std::string::npos) << what;  // row 1234 is row 234 of chunk 2
  }
  EXPECT_THROW(KMeans().predict(data.X), ArrayError);
}

// device = "gpu" needs a GPU worker; with one, a build without CUDA (or a
// machine without a device) fails with a clear error, and a CUDA build on a
// GPU gives the CPU's model.
TEST_F(KMeansTest, GpuDevice) {
  auto data = blobs();
  EXPECT_THROW(KMeans({.n_clusters = 4, .device = "gpu"}).fit(client(), data.X), ArrayError);  // no GPU worker
  EXPECT_THROW(KMeans({.n_clusters = 4, .device = "tpu"}).fit(client(), data.X), ArrayError);
  Client gpu_client(LocalClusterOptions{.n_workers = 1, .threads_per_worker = 1, .resources = {{"GPU", 1}}});
  KMeans cpu({.n_clusters = 4, .random_state = 5});
  cpu.fit(gpu_client, data.X);
  KMeans gpu({.n_clusters = 4, .random_state = 5, .device = "gpu"});
  if (!cuda::device_available()) {
    try {
      gpu.fit(gpu_client, data.X);
      FAIL() << "no error";
    } catch (const TaskError& e) {
      EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
    }
    GTEST_SKIP() << "no CUDA device here (" << cuda::device_description() << "): checked the error path only";
  }
  gpu.fit(gpu_client, data.X);
  std::printf("GPU: %s\n", cuda::device_description().c_str());
  expect_near(gpu.cluster_centers_, cpu.cluster_centers_, 1e-9);
  EXPECT_NEAR(gpu.inertia_, cpu.inertia_, 1e-9 * cpu.inertia_);
  EXPECT_EQ(gpu.n_iter_, cpu.n_iter_);
}

// get_params / set_params by scikit-learn's names; init only as a method name; errors list the parameters.
TEST(KMeansParamsTest, ParametersByName) {
  KMeans km({.n_clusters = 3});
  km.set_params({{"n_clusters", 5}, {"init", "k-means++"}, {"tol", 1e-6}});
  Params p = km.get_params();
  EXPECT_EQ(p.at("n_clusters"), ParamValue(5));
  EXPECT_EQ(p.at("init"), ParamValue("k-means++"));
  EXPECT_EQ(km.clone().options().n_clusters, 5);
  try {
    km.set_params({{"k", 2}});
    FAIL() << "an unknown parameter was accepted";
  } catch (const ArrayError& e) {
    EXPECT_NE(std::string(e.what()).find("Invalid parameter 'k' for estimator KMeans. Valid parameters are: "
                                         "['device', 'init', 'init_max_iter',"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(km.set_params({{"init", 3}}), ArrayError);
  EXPECT_THROW(km.set_params({{"max_iter", 2.5}}), ArrayError);
}

}  // namespace
}  // namespace dtask::ml
