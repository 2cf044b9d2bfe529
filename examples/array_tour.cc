// A tour of the chunked-array API, run by CI: every public call in
// dtask/array.h, dtask/random.h and dtask/datasets.h once, on a LocalCluster
// of two workers. Files go to a temporary directory (or argv[1]).
// Exits non-zero if anything is off.
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/datasets.h>
#include <dtask/ops.h>  // to register the example's own op on in-process workers
#include <dtask/random.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#define EXPECT(cond)                                                                \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "array_tour: %s failed at line %d\n", #cond, __LINE__); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (false)

namespace {
bool near(double a, double b, double tol = 1e-9) { return std::abs(a - b) <= tol * std::max(1.0, std::abs(b)); }
double scalar(const dtask::NDArray& a) { return a.dtype == dtask::DType::kFloat64 ? a.data<double>()[0] : 0.0; }
}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / ("dtask-array-tour-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // A user op for map_blocks: a * x + y on matching chunks of two arrays.
  auto register_ops = [](dtask::OpRegistry& registry) {
    (void)registry.add_function("axpy", [](const dtask::NDArray& x, const dtask::NDArray& y, double a) {
      dtask::NDArray out = dtask::NDArray::uninitialized(dtask::DType::kFloat64, x.shape);
      for (std::int64_t i = 0; i < x.size(); ++i) out.mutable_data<double>()[i] = a * x.data<double>()[i] + y.data<double>()[i];
      return out;
    });
  };
  dtask::Client client(dtask::LocalClusterOptions{.n_workers = 2, .threads_per_worker = 2, .register_ops = register_ops});

  // Generated on the workers, reproducible by seed whatever the chunking.
  dtask::Array X = dtask::random::normal({100'000, 8}, {.seed = 1, .chunk_rows = 10'000});
  std::printf("X: %s\n", X.describe().c_str());
  EXPECT(X.shape()[0] == 100'000 && X.ndim() == 2 && X.n_chunks() == 10 && X.dtype() == dtask::DType::kFloat64);
  EXPECT(X.rows() == 100'000 && X.cols() == 8 && X.size() == 800'000 && X.nbytes() == 6'400'000);
  dtask::Array U = dtask::random::uniform({1000}, {.seed = 2}, -1.0, 1.0);
  EXPECT(U.min().compute(client).data<double>()[0] >= -1.0);

  // Reductions: trees over row chunks (axis 0 or everything) or per row (axis 1).
  dtask::NDArray means = X.mean(0).compute(client);
  dtask::NDArray stds = X.stddev(0).compute(client);
  std::printf("column 0: mean %.4f std %.4f\n", means.data<double>()[0], stds.data<double>()[0]);
  EXPECT(std::abs(means.data<double>()[0]) < 0.05 && std::abs(stds.data<double>()[0] - 1.0) < 0.05);
  EXPECT(near(X.var(0, 1).compute(client).data<double>()[3], std::pow(X.stddev(0, 1).compute(client).data<double>()[3], 2)));
  EXPECT(X.sum(1).compute(client).shape == std::vector<std::int64_t>{100'000});
  EXPECT(X.max().compute(client).data<double>()[0] > X.min().compute(client).data<double>()[0]);
  dtask::NDArray where_max = X.argmax(0, {.split_every = 4}).compute(client);
  EXPECT(where_max.dtype == dtask::DType::kInt64);
  EXPECT(X.argmin(0).compute(client).data<std::int64_t>()[0] >= 0);

  // Elementwise arithmetic with broadcasting; comparisons give bools.
  dtask::Array centered = (X - X.mean(0)) / X.stddev(0);
  EXPECT(std::abs(centered.mean().compute(client).data<double>()[0]) < 1e-9);
  dtask::Array flags = X > 0.0;
  EXPECT(flags.astype(dtask::DType::kInt64).sum().compute(client).data<std::int64_t>()[0] > 300'000);
  dtask::NDArray row = dtask::NDArray::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT((X * row + 1.0).shape() == X.shape());
  EXPECT(near(scalar(dtask::exp(dtask::log(dtask::abs(X) + 1.0)).sum().compute(client)),
              scalar((dtask::abs(X) + 1.0).sum().compute(client))));
  EXPECT(scalar(dtask::sqrt(dtask::maximum(X, 0.0)).min().compute(client)) == 0.0);
  EXPECT(scalar(dtask::minimum(-X, 0.0).max().compute(client)) == 0.0);
  EXPECT(dtask::elementwise("sigmoid", X).max().compute(client).data<double>()[0] < 1.0);

  // Matrix products for tall-and-skinny data.
  dtask::NDArray gram = dtask::matmul(X.T(), X).compute(client);          // 8 x 8, a tree reduction
  dtask::NDArray xty = dtask::dot(X.T(), X.column(0)).compute(client);    // 8
  dtask::Array scores = dtask::matmul(X, dtask::NDArray::from_vector<double>({1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT(gram.shape == (std::vector<std::int64_t>{8, 8}) && near(gram.data<double>()[0], xty.data<double>()[0]));
  EXPECT(X.T().is_transposed() && scores.shape() == std::vector<std::int64_t>{100'000});

  // Slicing, rechunking and joining.
  dtask::Array head = X.slice_rows(0, 1000).slice_cols(2, 5);
  EXPECT(head.shape() == (std::vector<std::int64_t>{1000, 3}));
  dtask::Array even = X.rechunk(25'000);
  EXPECT(even.n_chunks() == 4 && X.rechunk(dtask::ChunkGrid({50'000, 50'000})).chunks().size(1) == 50'000);
  EXPECT(dtask::concatenate({X, X}).rows() == 200'000 && dtask::concatenate({X, X}, 1).cols() == 16);
  // map_blocks: a registered op on every chunk, op(chunk_a, chunk_b, ..., args...).
  dtask::Array tripled = dtask::map_blocks("axpy", {X, X.rechunk(7'000)}, {2.0}, dtask::DType::kFloat64);
  EXPECT(near(scalar(tripled.sum().compute(client)), 3 * scalar(X.sum().compute(client))));
  dtask::Array as_float32 = X.map_blocks("astype", {"float32"}, dtask::DType::kFloat32);
  EXPECT(as_float32.compute(client).dtype == dtask::DType::kFloat32);

  // Files: .npy, Zarr and CSV, each chunk read or written by its own task.
  std::string npy = (dir / "x.npy").string(), zarr = (dir / "x.zarr").string(), csv = (dir / "x.csv").string();
  X.to_npy(client, npy);
  X.to_zarr(client, zarr, {.compressor = "blosc"});
  dtask::Array from_npy = dtask::Array::from_npy(npy, 30'000);
  dtask::Array from_zarr = dtask::Array::from_zarr(zarr);
  EXPECT(near(scalar(from_npy.sum().compute(client)), scalar(X.sum().compute(client))));
  EXPECT(near(scalar(from_zarr.sum().compute(client)), scalar(X.sum().compute(client))));
  {
    std::ofstream out(csv);
    out << "a,b\n1,2\n3,\n5,6\n";
  }
  dtask::NDArray table = dtask::Array::from_csv(csv, {.header = true}).compute(client);
  EXPECT(table.shape == (std::vector<std::int64_t>{3, 2}) && std::isnan(table.data<double>()[3]));

  // Local data in, futures kept on the workers, chunk tasks for your own ops.
  dtask::Array small = dtask::Array::from_ndarray(client, row, 3);
  EXPECT(small.n_chunks() == 3 && small.chunks() == dtask::ChunkGrid({3, 3, 2}));
  dtask::Array held = X.persist(client);
  EXPECT(held.chunk(0).future_deps().size() == 1 && held.name() == X.name());
  dtask::Array rebuilt = dtask::Array::from_chunks(held.shape(), held.dtype(), held.chunks(),
                                                   {held.chunk(0), held.chunk(1), held.chunk(2), held.chunk(3),
                                                    held.chunk(4), held.chunk(5), held.chunk(6), held.chunk(7),
                                                    held.chunk(8), held.chunk(9)},
                                                   "rebuilt");
  EXPECT(near(scalar(rebuilt.sum().compute(client)), scalar(X.sum().compute(client))));

  // Datasets shaped like scikit-learn's.
  auto blobs = dtask::datasets::make_blobs({.n_samples = 10'000, .n_features = 4, .centers = 3, .random_state = 0});
  auto classes = dtask::datasets::make_classification({.n_samples = 1000, .n_features = 6, .random_state = 0});
  auto regression = dtask::datasets::make_regression({.n_samples = 1000, .n_features = 5, .noise = 0.1});
  EXPECT(blobs.centers.shape == (std::vector<std::int64_t>{3, 4}) && blobs.y.max().compute(client).data<std::int64_t>()[0] == 2);
  EXPECT(classes.y.dtype() == dtask::DType::kInt64 && regression.coef.shape == std::vector<std::int64_t>{5});

  // Mistakes are caught while the graph is built.
  try {
    (void)(X + X.slice_rows(0, 10));
    EXPECT(false);
  } catch (const dtask::ArrayError& e) {
    std::printf("caught as expected: %s\n", e.what());
  }
  fs::remove_all(dir);
  std::printf("array_tour: ok\n");
  return 0;
}
