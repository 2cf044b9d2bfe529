// dtask::Array against the Python stack on whole arrays, on a LocalCluster
// (scheduler and two workers in-process): NumPy and zarr 2 write .npy files
// and Zarr v2 stores that Array::from_npy / from_zarr reduce, and read the
// files Array::to_npy / to_zarr write. Each side prints or computes column
// sums and means, and the two must agree to 1e-9 relative. (The byte-level
// format checks are tests/formats/python_interop_test.cc.) Skips when
// /usr/bin/python3 cannot import numpy and zarr.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dtask/array.h>
#include <dtask/client.h>
#include <dtask/random.h>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/formats/temp_dir.h"

namespace dtask {
namespace {

using formats::testing::TempDir;

constexpr std::int64_t kInteropRows = 1000;
constexpr std::int64_t kInteropCols = 13;

// Prepended to every script: argv[1] is the directory, and report() prints
// "NAME v1 v2 ..." with each number in repr (shortest round-trip) form.
constexpr const char* kPythonPrelude = R"PY(
import os, sys
import numpy as np
import zarr, numcodecs

out = sys.argv[1]

def report(name, values):
    values = np.asarray(values).ravel()
    text = [repr(int(v)) if values.dtype.kind in 'iu' else repr(float(v)) for v in values]
    print(name, ' '.join(text))
)PY";

/// Each number of an NDArray as a double (float32, float64, int32, int64).
std::vector<double> to_doubles(const NDArray& a) {
  std::vector<double> out;
  for (std::int64_t i = 0; i < a.size(); ++i) {
    switch (a.dtype) {
      case DType::kFloat32: out.push_back(a.data<float>()[i]); break;
      case DType::kFloat64: out.push_back(a.data<double>()[i]); break;
      case DType::kInt32: out.push_back(a.data<std::int32_t>()[i]); break;
      case DType::kInt64: out.push_back(static_cast<double>(a.data<std::int64_t>()[i])); break;
      default: ADD_FAILURE() << "unexpected dtype in " << a.describe(); return out;
    }
  }
  return out;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-9 * std::max(1.0, std::abs(want[i]))) << what << ", column " << i;
  }
}

class ArrayInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    client_ = new Client(LocalClusterOptions{.n_workers = 2, .threads_per_worker = 1});
  }
  static void TearDownTestSuite() {
    delete client_;
    client_ = nullptr;
  }

  void SetUp() override {
    if (std::system("/usr/bin/python3 -c 'import numpy, zarr' > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "/usr/bin/python3 cannot import numpy and zarr (install python3-numpy and python3-zarr, "
                      "e.g. bash deploy/install-deps.sh)";
    }
  }

  Client& client() { return *client_; }

  /// Runs the prelude plus `body` with the temp dir as argv[1] and parses the
  /// "NAME v1 v2 ..." lines it prints. Fails the test (with the script's
  /// output) if the script fails.
  std::map<std::string, std::vector<double>> run_python(const std::string& body) {
    const std::string script = dir_.file("script.py");
    const std::string log_path = dir_.file("script.log");
    formats::testing::write_bytes(script, std::string(kPythonPrelude) + body);
    const std::string command =
        "/usr/bin/python3 '" + script + "' '" + dir_.path().string() + "' > '" + log_path + "' 2>&1";
    const int status = std::system(command.c_str());
    const std::string log = formats::testing::read_bytes(log_path);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log;
    std::map<std::string, std::vector<double>> printed;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string name, word;
      words >> name;
      std::vector<double>& values = printed[name];
      while (words >> word) values.push_back(std::strtod(word.c_str(), nullptr));
    }
    return printed;
  }

  static Client* client_;
  TempDir dir_;
};
Client* ArrayInteropTest::client_ = nullptr;

// NumPy's float32 and int64 .npy files give dtask the column sums and means NumPy printed.
TEST_F(ArrayInteropTest, NumpyWritesNpyDtaskReduces) {
  // float32 values are quarters below 256 in magnitude, so every partial sum
  // is exact in float32 and the sums agree whatever the order of addition.
  auto printed = run_python(R"PY(
rng = np.random.default_rng(1)
f4 = (rng.integers(-1024, 1024, size=(1000, 13)) / 4).astype(np.float32)
i8 = rng.integers(-10**12, 10**12, size=(1000, 13), dtype=np.int64)
np.save(os.path.join(out, 'f4.npy'), f4)
np.save(os.path.join(out, 'i8.npy'), i8)
for name, x in (('f4', f4), ('i8', i8)):
    report(name + '_sum', x.sum(axis=0))
    report(name + '_mean', x.mean(axis=0, dtype=np.float64))
)PY");
  for (const auto& [name, dtype] : {std::pair{std::string("f4"), DType::kFloat32}, {std::string("i8"), DType::kInt64}}) {
    SCOPED_TRACE(name);
    Array x = Array::from_npy(dir_.file(name + ".npy"), 128);  // 8 chunks, the last one short
    ASSERT_EQ(x.shape(), (std::vector<std::int64_t>{kInteropRows, kInteropCols}));
    ASSERT_EQ(x.dtype(), dtype);
    EXPECT_EQ(x.n_chunks(), 8);
    NDArray sums = x.sum(0).compute(client());
    EXPECT_EQ(sums.dtype, dtype == DType::kInt64 ? DType::kInt64 : DType::kFloat32);
    expect_close(to_doubles(sums), printed[name + "_sum"], name + " column sums");
    expect_close(to_doubles(x.mean(0).compute(client())), printed[name + "_mean"], name + " column means");
  }
}

// Zarr v2 stores in (100, 7) chunks (so each row of chunks spans two column
// chunks), compressed with Blosc lz4 and zstd: dtask's column sums and means
// equal zarr's, and the whole array equals the same data saved as .npy.
TEST_F(ArrayInteropTest, ZarrWritesStoresDtaskReduces) {
  auto printed = run_python(R"PY(
from numcodecs import Blosc
rng = np.random.default_rng(2)
stores = {
    'lz4': (rng.normal(3.0, 1.0, size=(1000, 13)),
            Blosc(cname='lz4', clevel=5, shuffle=Blosc.SHUFFLE)),
    'zstd': (rng.integers(-50000, 50000, size=(1000, 13)).astype(np.int32),
             Blosc(cname='zstd', clevel=3, shuffle=Blosc.BITSHUFFLE)),
}
for name, (x, compressor) in stores.items():
    z = zarr.open(os.path.join(out, name + '.zarr'), mode='w', shape=x.shape, chunks=(100, 7),
                  dtype=x.dtype, compressor=compressor)
    z[:] = x
    np.save(os.path.join(out, name + '.npy'), x)
    chunk_files = [f for f in os.listdir(os.path.join(out, name + '.zarr')) if not f.startswith('.')]
    assert len(chunk_files) == 10 * 2, chunk_files
    report(name + '_sum', x.sum(axis=0))
    report(name + '_mean', x.mean(axis=0, dtype=np.float64))
)PY");
  for (const auto& [name, dtype] : {std::pair{std::string("lz4"), DType::kFloat64}, {std::string("zstd"), DType::kInt32}}) {
    SCOPED_TRACE(name);
    Array z = Array::from_zarr(dir_.file(name + ".zarr"));
    ASSERT_EQ(z.shape(), (std::vector<std::int64_t>{kInteropRows, kInteropCols}));
    ASSERT_EQ(z.dtype(), dtype);
    EXPECT_EQ(z.n_chunks(), 10);  // one per row of Zarr chunks
    expect_close(to_doubles(z.sum(0).compute(client())), printed[name + "_sum"], name + " column sums");
    expect_close(to_doubles(z.mean(0).compute(client())), printed[name + "_mean"], name + " column means");
    NDArray from_zarr = z.compute(client());
    NDArray from_npy = Array::from_npy(dir_.file(name + ".npy"), 100).compute(client());
    ASSERT_EQ(from_zarr.nbytes(), from_npy.nbytes());
    EXPECT_EQ(std::memcmp(from_zarr.data<std::byte>(), from_npy.data<std::byte>(), from_npy.nbytes()), 0);
  }
}

// Arrays dtask writes with to_npy and to_zarr (every compressor) read back in
// NumPy and zarr with the shape, dtype and column sums dtask computes itself.
TEST_F(ArrayInteropTest, DtaskWritesPythonReads) {
  Array normal = random::normal({kInteropRows, kInteropCols}, {.seed = 7, .chunk_rows = 128}, 2.0, 3.0);
  NDArray counts = NDArray::uninitialized(DType::kInt64, {kInteropRows, kInteropCols});
  for (std::int64_t i = 0; i < counts.size(); ++i) counts.mutable_data<std::int64_t>()[i] = (i * 7919) % 100003 - 50000;
  Array integers = Array::from_ndarray(client(), counts, 300);
  const std::vector<std::string> compressors = {"none", "zlib", "zstd", "blosc"};

  std::string body;
  for (const auto& [name, x] : {std::pair{std::string("normal"), normal}, {std::string("integers"), integers}}) {
    x.to_npy(client(), dir_.file(name + ".npy"));
    body += "x = np.load(os.path.join(out, '" + name + ".npy'))\n" +
            "report('" + name + "_npy_shape', x.shape)\n" +
            "print('" + name + "_npy_dtype_' + x.dtype.name)\n" +
            "report('" + name + "_npy_sum', x.sum(axis=0))\n";
    for (const std::string& compressor : compressors) {
      const std::string store = name + "_" + compressor + ".zarr";
      x.to_zarr(client(), dir_.file(store), ZarrWriteOptions{.compressor = compressor});
      const std::string key = name + "_zarr_" + compressor;
      body += "z = zarr.open(os.path.join(out, '" + store + "'), mode='r')\n" +
              "print('" + key + "_codec_' + (z.compressor.codec_id if z.compressor else 'none'))\n" +
              "report('" + key + "_shape', z.shape)\n" +
              "print('" + key + "_dtype_' + z.dtype.name)\n" +
              "report('" + key + "_sum', z[:].sum(axis=0))\n";
    }
  }
  auto printed = run_python(body);

  for (const auto& [name, x] : {std::pair{std::string("normal"), normal}, {std::string("integers"), integers}}) {
    SCOPED_TRACE(name);
    const std::vector<double> sums = to_doubles(x.sum(0).compute(client()));
    const std::string dtype(dtype_name(x.dtype()));
    std::vector<std::string> keys = {name + "_npy"};
    for (const std::string& compressor : compressors) keys.push_back(name + "_zarr_" + compressor);
    for (const std::string& key : keys) {
      EXPECT_EQ(printed[key + "_shape"], (std::vector<double>{static_cast<double>(kInteropRows), static_cast<double>(kInteropCols)})) << key;
      EXPECT_TRUE(printed.count(key + "_dtype_" + dtype)) << key << " is not " << dtype;
      expect_close(printed[key + "_sum"], sums, key + " column sums");
    }
    for (const std::string& compressor : compressors) {
      EXPECT_TRUE(printed.count(name + "_zarr_" + compressor + "_codec_" + compressor)) << compressor;
    }
  }
}

}  // namespace
}  // namespace dtask
