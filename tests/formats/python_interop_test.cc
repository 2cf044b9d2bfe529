// Interoperability with the Python stack dtask replaces: NumPy and zarr 2
// write .npy files and Zarr stores that we read, and read the ones we
// write. Skips when /usr/bin/python3 cannot import numpy and zarr.
//
// Both sides fill arrays with the same formula of the flat element index,
// so each side checks the other's values independently.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "formats/csv_format.h"
#include "formats/npy_format.h"
#include "formats/zarr_format.h"
#include "tests/formats/array_bytes.h"
#include "tests/formats/temp_dir.h"

namespace dtask::formats {
namespace {

using testing::bytes_of;
using testing::kAllDTypes;
using Index = std::vector<std::int64_t>;

// The formula, Python side; `expected(dtype, shape)` mirrors expected() below.
constexpr const char* kPythonPrelude = R"PY(
import sys, os
import numpy as np
import zarr, numcodecs

out = sys.argv[1]

def expected(dtype, shape):
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.int64)
    if dtype.kind == 'f':
        v = i * 0.5 - 3
    elif dtype.kind == 'b':
        v = i % 3 == 0
    elif dtype.kind == 'u':
        v = (i * 7) % 200
    else:
        v = (i * 7) % 200 - 100
    return v.astype(dtype).reshape(shape)

def check(name, got, want):
    if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
        print(f"MISMATCH {name}: got {got.dtype}{got.shape} want {want.dtype}{want.shape}")
        print(got)
        sys.exit(1)
    print(f"ok {name} {got.dtype}{got.shape} sum={float(np.asarray(got, dtype=np.float64).sum())}")
)PY";

/// The formula, C++ side: element i of a `dtype` array of `shape`.
NDArray expected(DType dtype, const Index& shape) {
  NDArray array = NDArray::zeros(dtype, shape);
  auto* bytes = const_cast<std::byte*>(array.buffer->data());
  for (std::int64_t i = 0; i < array.size(); ++i) {
    switch (dtype) {
      case DType::kFloat32: reinterpret_cast<float*>(bytes)[i] = static_cast<float>(static_cast<double>(i) * 0.5 - 3); break;
      case DType::kFloat64: reinterpret_cast<double*>(bytes)[i] = static_cast<double>(i) * 0.5 - 3; break;
      case DType::kInt32: reinterpret_cast<std::int32_t*>(bytes)[i] = static_cast<std::int32_t>((i * 7) % 200 - 100); break;
      case DType::kInt64: reinterpret_cast<std::int64_t*>(bytes)[i] = (i * 7) % 200 - 100; break;
      case DType::kInt8: reinterpret_cast<std::int8_t*>(bytes)[i] = static_cast<std::int8_t>((i * 7) % 200 - 100); break;
      case DType::kUInt8: reinterpret_cast<std::uint8_t*>(bytes)[i] = static_cast<std::uint8_t>((i * 7) % 200); break;
      case DType::kBool: reinterpret_cast<std::uint8_t*>(bytes)[i] = static_cast<std::uint8_t>(i % 3 == 0); break;
    }
  }
  return array;
}

class PythonInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("/usr/bin/python3 -c 'import numpy, zarr' > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "/usr/bin/python3 cannot import numpy and zarr (install python3-zarr to run this test)";
    }
  }

  /// Runs the prelude plus `body` with the temp dir as argv[1]; the exit
  /// status, with the script's output in `log`.
  int run_python(const std::string& body, std::string& log) {
    const std::string script = dir_.file("script.py");
    const std::string log_path = dir_.file("script.log");
    testing::write_bytes(script, std::string(kPythonPrelude) + body);
    const std::string command =
        "/usr/bin/python3 '" + script + "' '" + dir_.path().string() + "' > '" + log_path + "' 2>&1";
    const int status = std::system(command.c_str());
    log = testing::read_bytes(log_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  testing::TempDir dir_;
};

// NumPy writes every dtype, several ranks and format versions 1.0 to 3.0; we read them.
TEST_F(PythonInteropTest, NumpyWritesNpyWeRead) {
  std::string log;
  ASSERT_EQ(run_python(R"PY(
from numpy.lib import format as npf
for name in ['f4', 'f8', 'i4', 'i8', 'i1', 'u1', 'b1']:
    np.save(os.path.join(out, name + '.npy'), expected(name, (37, 5)))
np.save(os.path.join(out, 'rank1.npy'), expected('f8', (11,)))
np.save(os.path.join(out, 'rank0.npy'), expected('i8', ()))
np.save(os.path.join(out, 'rank3.npy'), expected('f4', (4, 3, 2)))
for version in [(2, 0), (3, 0)]:
    with open(os.path.join(out, f'v{version[0]}.npy'), 'wb') as f:
        npf.write_array(f, expected('i4', (6, 2)), version=version)
np.save(os.path.join(out, 'fortran.npy'), np.asfortranarray(expected('f8', (4, 3))))
np.save(os.path.join(out, 'big_endian.npy'), expected('>f8', (4,)))
)PY",
                       log),
            0)
      << log;
  const std::vector<std::pair<std::string, DType>> by_name{
      {"f4", DType::kFloat32}, {"f8", DType::kFloat64}, {"i4", DType::kInt32}, {"i8", DType::kInt64},
      {"i1", DType::kInt8},    {"u1", DType::kUInt8},   {"b1", DType::kBool}};
  for (const auto& [name, dtype] : by_name) {
    const std::string path = dir_.file(name + ".npy");
    auto header = read_npy_header(path);
    ASSERT_TRUE(header.ok()) << header.status().to_string();
    EXPECT_EQ(header->dtype, dtype);
    auto rows = read_npy_rows(path, *header, 0, 37);
    ASSERT_TRUE(rows.ok()) << rows.status().to_string();
    EXPECT_EQ(bytes_of(*rows), bytes_of(expected(dtype, {37, 5}))) << name;
    auto tail = read_npy_rows(path, *header, 30, 37);
    ASSERT_TRUE(tail.ok());
    EXPECT_EQ(bytes_of(*tail), bytes_of(*rows).substr(30 * header->row_bytes())) << name;
  }
  const std::vector<std::tuple<std::string, DType, Index>> others{
      {"rank1", DType::kFloat64, {11}}, {"rank0", DType::kInt64, {}}, {"rank3", DType::kFloat32, {4, 3, 2}},
      {"v2", DType::kInt32, {6, 2}},    {"v3", DType::kInt32, {6, 2}}};
  for (const auto& [name, dtype, shape] : others) {
    auto header = read_npy_header(dir_.file(name + ".npy"));
    ASSERT_TRUE(header.ok()) << name << ": " << header.status().to_string();
    EXPECT_EQ(header->shape, shape) << name;
    auto all = read_npy_rows(dir_.file(name + ".npy"), *header, 0, header->rows());
    ASSERT_TRUE(all.ok()) << all.status().to_string();
    EXPECT_EQ(bytes_of(*all), bytes_of(expected(dtype, shape))) << name;
  }
  EXPECT_EQ(read_npy_header(dir_.file("v2.npy"))->major_version, 2);
  EXPECT_EQ(read_npy_header(dir_.file("v3.npy"))->major_version, 3);
  auto fortran = read_npy_header(dir_.file("fortran.npy"));
  ASSERT_FALSE(fortran.ok());
  EXPECT_NE(fortran.status().message().find("np.ascontiguousarray"), std::string::npos);
  auto big_endian = read_npy_header(dir_.file("big_endian.npy"));
  ASSERT_FALSE(big_endian.ok());
  EXPECT_NE(big_endian.status().message().find("'>f8'"), std::string::npos);
}

// zarr writes stores with every compressor we support; we read them,
// including never-written chunks (fill_value) and nested chunk keys.
TEST_F(PythonInteropTest, ZarrWritesStoresWeRead) {
  std::string log;
  ASSERT_EQ(run_python(R"PY(
from numcodecs import Blosc, Zlib, Zstd, GZip
compressors = {
    'none': None,
    'zlib': Zlib(level=1),
    'gzip': GZip(level=5),
    'zstd': Zstd(level=1),
    'blosc_lz4': Blosc(cname='lz4', clevel=5, shuffle=Blosc.SHUFFLE),
    'blosc_zstd_bit': Blosc(cname='zstd', clevel=3, shuffle=Blosc.BITSHUFFLE),
    'blosc_lz4hc_none': Blosc(cname='lz4hc', clevel=5, shuffle=Blosc.NOSHUFFLE),
    'blosc_zlib_auto': Blosc(cname='zlib', clevel=5, shuffle=Blosc.AUTOSHUFFLE),
    'blosc_blosclz': Blosc(cname='blosclz', clevel=9, shuffle=Blosc.SHUFFLE),
}
for name, compressor in compressors.items():
    for dtype in ['f8', 'i4', 'u1']:
        z = zarr.open(os.path.join(out, f'{name}_{dtype}.zarr'), mode='w', shape=(23, 7), chunks=(5, 3),
                      dtype=dtype, compressor=compressor)
        z[:] = expected(dtype, (23, 7))
z = zarr.open(os.path.join(out, 'partial.zarr'), mode='w', shape=(23, 7), chunks=(5, 3), dtype='f4',
              fill_value=-1.5)
z[0:5, :] = expected('f4', (23, 7))[0:5, :]
z = zarr.open(os.path.join(out, 'nested.zarr'), mode='w', shape=(10, 4), chunks=(3, 3), dtype='i8',
              dimension_separator='/')
z[:] = expected('i8', (10, 4))
)PY",
                       log),
            0)
      << log;
  for (const char* name : {"none", "zlib", "gzip", "zstd", "blosc_lz4", "blosc_zstd_bit", "blosc_lz4hc_none",
                           "blosc_zlib_auto", "blosc_blosclz"}) {
    for (auto [suffix, dtype] : std::vector<std::pair<std::string, DType>>{
             {"f8", DType::kFloat64}, {"i4", DType::kInt32}, {"u1", DType::kUInt8}}) {
      const std::string store = dir_.file(std::string(name) + "_" + suffix + ".zarr");
      auto meta = read_zarr_metadata(store);
      ASSERT_TRUE(meta.ok()) << meta.status().to_string();
      EXPECT_EQ(meta->dtype, dtype);
      auto all = read_zarr_rows(store, *meta, 0, 23);
      ASSERT_TRUE(all.ok()) << all.status().to_string();
      EXPECT_EQ(bytes_of(*all), bytes_of(expected(dtype, {23, 7}))) << store;
      auto edge = read_zarr_chunk(store, *meta, {4, 2});
      ASSERT_TRUE(edge.ok());
      EXPECT_EQ(edge->shape, (Index{3, 1})) << "edge chunks come back clipped";
    }
  }
  const std::string partial = dir_.file("partial.zarr");
  auto meta = read_zarr_metadata(partial);
  ASSERT_TRUE(meta.ok()) << meta.status().to_string();
  auto rows = read_zarr_rows(partial, *meta, 0, 23);
  ASSERT_TRUE(rows.ok());
  const NDArray want = expected(DType::kFloat32, {23, 7});
  for (std::int64_t i = 0; i < 23 * 7; ++i) {
    ASSERT_EQ(rows->data<float>()[i], i < 35 ? want.data<float>()[i] : -1.5f) << i;
  }
  const std::string nested = dir_.file("nested.zarr");
  auto nested_meta = read_zarr_metadata(nested);
  ASSERT_TRUE(nested_meta.ok()) << nested_meta.status().to_string();
  EXPECT_EQ(nested_meta->dimension_separator, "/");
  auto nested_rows = read_zarr_rows(nested, *nested_meta, 2, 8);
  ASSERT_TRUE(nested_rows.ok()) << nested_rows.status().to_string();
  EXPECT_EQ(bytes_of(*nested_rows), bytes_of(expected(DType::kInt64, {10, 4})).substr(2 * 4 * 8, 6 * 4 * 8));
}

// We write .npy files (whole, and filled by row ranges); NumPy reads them.
TEST_F(PythonInteropTest, WeWriteNpyNumpyReads) {
  const std::vector<std::pair<std::string, DType>> by_name{
      {"f4", DType::kFloat32}, {"f8", DType::kFloat64}, {"i4", DType::kInt32}, {"i8", DType::kInt64},
      {"i1", DType::kInt8},    {"u1", DType::kUInt8},   {"b1", DType::kBool}};
  for (const auto& [name, dtype] : by_name) {
    ASSERT_TRUE(write_npy(dir_.file(name + ".npy"), expected(dtype, {37, 5})).ok());
  }
  ASSERT_TRUE(write_npy(dir_.file("rank0.npy"), expected(DType::kInt64, {})).ok());
  ASSERT_TRUE(write_npy(dir_.file("rank3.npy"), expected(DType::kFloat32, {4, 3, 2})).ok());
  const std::string filled = dir_.file("filled.npy");
  ASSERT_TRUE(create_npy(filled, DType::kFloat64, {100, 3}).ok());
  auto header = read_npy_header(filled);
  ASSERT_TRUE(header.ok());
  const NDArray all = expected(DType::kFloat64, {100, 3});
  for (std::int64_t begin = 0; begin < 100; begin += 30) {
    const std::int64_t end = std::min<std::int64_t>(100, begin + 30);
    NDArray part = NDArray::zeros(DType::kFloat64, {end - begin, 3});
    std::memcpy(part.mutable_data<double>(), all.data<double>() + begin * 3, part.nbytes());
    ASSERT_TRUE(write_npy_rows(filled, *header, begin, part).ok());
  }
  std::string log;
  EXPECT_EQ(run_python(R"PY(
for name in ['f4', 'f8', 'i4', 'i8', 'i1', 'u1', 'b1']:
    check(name, np.load(os.path.join(out, name + '.npy')), expected(name, (37, 5)))
check('rank0', np.load(os.path.join(out, 'rank0.npy')), expected('i8', ()))
check('rank3', np.load(os.path.join(out, 'rank3.npy')), expected('f4', (4, 3, 2)))
check('filled', np.load(os.path.join(out, 'filled.npy')), expected('f8', (100, 3)))
mm = np.load(os.path.join(out, 'f8.npy'), mmap_mode='r')
assert mm.offset % 64 == 0, 'data is 64-byte aligned'
print('done')
)PY",
                       log),
            0)
      << log;
  EXPECT_NE(log.find("ok filled float64(100, 3)"), std::string::npos) << log;
  EXPECT_NE(log.find("done"), std::string::npos) << log;
}

// We write Zarr stores with every codec (edge chunks padded, one chunk left
// unwritten, nested keys); zarr reads them with the right values.
TEST_F(PythonInteropTest, WeWriteZarrZarrReads) {
  const std::vector<std::pair<std::string, CodecConfig>> codecs{
      {"none", CodecConfig{}},
      {"zlib", CodecConfig{.id = CodecId::kZlib, .level = 1}},
      {"gzip", CodecConfig{.id = CodecId::kGzip, .level = 6}},
      {"zstd", CodecConfig{.id = CodecId::kZstd, .level = 3}},
      {"blosc_lz4", CodecConfig{.id = CodecId::kBlosc, .level = 5, .blosc_cname = "lz4", .blosc_shuffle = 1}},
      {"blosc_zstd_bit", CodecConfig{.id = CodecId::kBlosc, .level = 5, .blosc_cname = "zstd", .blosc_shuffle = 2}},
      {"blosc_auto", CodecConfig{.id = CodecId::kBlosc, .level = 5, .blosc_cname = "blosclz", .blosc_shuffle = -1}},
  };
  for (const auto& [name, codec] : codecs) {
    for (auto [suffix, dtype] : std::vector<std::pair<std::string, DType>>{
             {"f8", DType::kFloat64}, {"i4", DType::kInt32}, {"b1", DType::kBool}}) {
      const std::string store = dir_.file(name + "_" + suffix + ".zarr");
      ZarrMetadata meta{.shape = {23, 7}, .chunks = {5, 3}, .dtype = dtype, .compressor = codec, .fill_value = 0.0};
      if (name == "zstd") meta.dimension_separator = "/";
      ASSERT_TRUE(create_zarr(store, meta).ok());
      const NDArray all = expected(dtype, {23, 7});
      const std::size_t item = dtype_size(dtype);
      for (std::int64_t i = 0; i < 5; ++i) {
        for (std::int64_t j = 0; j < 3; ++j) {
          const std::int64_t rows = std::min<std::int64_t>(5, 23 - i * 5), cols = std::min<std::int64_t>(3, 7 - j * 3);
          NDArray part = NDArray::zeros(dtype, {rows, cols});
          for (std::int64_t r = 0; r < rows; ++r) {
            std::memcpy(const_cast<std::byte*>(part.buffer->data()) + r * cols * item,
                        all.buffer->data() + ((i * 5 + r) * 7 + j * 3) * item, cols * item);
          }
          ASSERT_TRUE(write_zarr_chunk(store, meta, {i, j}, part).ok());
        }
      }
    }
  }
  ZarrMetadata sparse{.shape = {8, 2}, .chunks = {4, 2}, .dtype = DType::kFloat32, .fill_value = 7.0};
  ASSERT_TRUE(create_zarr(dir_.file("sparse.zarr"), sparse).ok());
  ASSERT_TRUE(write_zarr_chunk(dir_.file("sparse.zarr"), sparse, {0, 0}, expected(DType::kFloat32, {4, 2})).ok());
  std::string log;
  EXPECT_EQ(run_python(R"PY(
for name in ['none', 'zlib', 'gzip', 'zstd', 'blosc_lz4', 'blosc_zstd_bit', 'blosc_auto']:
    for dtype in ['f8', 'i4', 'b1']:
        z = zarr.open(os.path.join(out, f'{name}_{dtype}.zarr'), mode='r')
        want_id = None if name == 'none' else name.split('_')[0]
        got_id = None if z.compressor is None else z.compressor.codec_id
        assert got_id == want_id, (name, got_id)
        check(f'{name}_{dtype}', z[:], expected(dtype, (23, 7)))
        # The stored edge chunk is padded to the full chunk shape, as zarr expects.
        raw = z.store[z._chunk_key((4, 2))]
        dec = z.compressor.decode(raw) if z.compressor else raw
        assert len(bytes(dec)) == 5 * 3 * np.dtype(dtype).itemsize
s = zarr.open(os.path.join(out, 'sparse.zarr'), mode='r')
want = np.full((8, 2), 7.0, dtype='f4')
want[0:4] = expected('f4', (4, 2))
check('sparse', s[:], want)
)PY",
                       log),
            0)
      << log;
  EXPECT_NE(log.find("ok blosc_auto_b1 bool(23, 7)"), std::string::npos) << log;
  EXPECT_NE(log.find("ok sparse float32(8, 2)"), std::string::npos) << log;
}

// numpy.savetxt and Python's csv module write CSV files we read.
TEST_F(PythonInteropTest, PythonWritesCsvWeRead) {
  std::string log;
  ASSERT_EQ(run_python(R"PY(
import csv
np.savetxt(os.path.join(out, 'savetxt.csv'), expected('f8', (50, 4)), delimiter=',', header='a,b,c,d', comments='')
with open(os.path.join(out, 'module.csv'), 'w', newline='') as f:
    w = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC)
    w.writerow(['x', 'note, with comma', 'y'])
    for i in range(10):
        w.writerow([i * 0.5, f'line\nbreak {i}', '' if i == 3 else i])
)PY",
                       log),
            0)
      << log;
  const std::string savetxt = dir_.file("savetxt.csv");
  auto layout = scan_csv(savetxt, CsvOptions{.header = true}, 20);
  ASSERT_TRUE(layout.ok()) << layout.status().to_string();
  EXPECT_EQ(layout->column_names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(layout->rows, 50);
  std::vector<double> values;
  for (const CsvChunk& chunk : layout->chunks) {
    auto array = read_csv_rows(savetxt, chunk, layout->columns, CsvOptions{.header = true});
    ASSERT_TRUE(array.ok()) << array.status().to_string();
    values.insert(values.end(), array->data<double>(), array->data<double>() + array->size());
  }
  const NDArray want = expected(DType::kFloat64, {50, 4});
  EXPECT_EQ(values, std::vector<double>(want.data<double>(), want.data<double>() + 200));

  const std::string module = dir_.file("module.csv");
  const CsvOptions options{.header = true, .columns = {0, 2}};
  auto module_layout = scan_csv(module, options, 4);
  ASSERT_TRUE(module_layout.ok()) << module_layout.status().to_string();
  EXPECT_EQ(module_layout->rows, 10);
  EXPECT_EQ(module_layout->column_names.at(1), "note, with comma");
  auto last = read_csv_rows(module, module_layout->chunks.at(0), 3, options);
  ASSERT_TRUE(last.ok()) << last.status().to_string();
  EXPECT_EQ(last->data<double>()[6], 1.5);
  EXPECT_TRUE(std::isnan(last->data<double>()[7]));
}

}  // namespace
}  // namespace dtask::formats
