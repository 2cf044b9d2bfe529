// .npy headers (versions 1.0, 2.0, 3.0; every rejection path) and row-range
// reads and writes against real files.
#include "formats/npy_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "tests/formats/array_bytes.h"
#include "tests/formats/temp_dir.h"

namespace dtask::formats {
namespace {

using testing::bytes_of;
using testing::kAllDTypes;
using testing::TempDir;
using testing::write_bytes;

// A .npy header by hand: any version, any dict, padded to 64 bytes.
std::string npy_with_dict(const std::string& dict, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string body = dict;
  while ((prefix + body.size() + 1) % 64 != 0) body.push_back(' ');
  body.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (std::size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<char>((body.size() >> (8 * i)) & 0xff));
  return out + body;
}

std::string dict_for(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

// An array of `dtype` and `shape` whose element i holds i (bools alternate).
NDArray iota(DType dtype, std::vector<std::int64_t> shape) {
  NDArray array = NDArray::zeros(dtype, std::move(shape));
  auto* bytes = const_cast<std::byte*>(array.buffer->data());
  for (std::int64_t i = 0; i < array.size(); ++i) {
    switch (dtype) {
      case DType::kFloat32: reinterpret_cast<float*>(bytes)[i] = static_cast<float>(i) + 0.5f; break;
      case DType::kFloat64: reinterpret_cast<double*>(bytes)[i] = static_cast<double>(i) + 0.25; break;
      case DType::kInt32: reinterpret_cast<std::int32_t*>(bytes)[i] = static_cast<std::int32_t>(i) - 7; break;
      case DType::kInt64: reinterpret_cast<std::int64_t*>(bytes)[i] = (i << 33) - 3; break;
      case DType::kInt8: reinterpret_cast<std::int8_t*>(bytes)[i] = static_cast<std::int8_t>(i % 200 - 100); break;
      case DType::kUInt8: reinterpret_cast<std::uint8_t*>(bytes)[i] = static_cast<std::uint8_t>(i % 256); break;
      case DType::kBool: reinterpret_cast<std::uint8_t*>(bytes)[i] = static_cast<std::uint8_t>(i % 2); break;
    }
  }
  return array;
}

// The bytes of rows [begin, end) of a C-ordered array.
std::string row_bytes(const NDArray& array, std::int64_t begin, std::int64_t end) {
  const std::size_t row = array.rows() == 0 ? 0 : array.nbytes() / static_cast<std::size_t>(array.rows());
  return std::string(reinterpret_cast<const char*>(array.buffer->data()) + begin * row, (end - begin) * row);
}

// ---- headers -----------------------------------------------------------------------

// make_npy_header writes what NumPy writes: v1.0, '\n'-terminated, data 64-aligned.
TEST(NpyHeaderTest, MadeHeadersLookLikeNumpys) {
  const std::string header = make_npy_header(DType::kFloat64, {3, 4});
  EXPECT_EQ(header.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(header.size() % 64, 0u);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_NE(header.find("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"), std::string::npos);
  EXPECT_NE(make_npy_header(DType::kInt8, {5}).find("'shape': (5,)"), std::string::npos);
  EXPECT_NE(make_npy_header(DType::kBool, {}).find("'descr': '|b1'"), std::string::npos);
  EXPECT_NE(make_npy_header(DType::kBool, {}).find("'shape': ()"), std::string::npos);
}

// Every dtype and rank survives make_npy_header -> parse_npy_header.
TEST(NpyHeaderTest, RoundTripsEveryDTypeAndRank) {
  const std::vector<std::vector<std::int64_t>> shapes{{}, {0}, {7}, {3, 4}, {2, 3, 5}, {0, 9}};
  for (DType dtype : kAllDTypes) {
    for (const auto& shape : shapes) {
      const std::string bytes = make_npy_header(dtype, shape);
      auto header = parse_npy_header(bytes, "x.npy");
      ASSERT_TRUE(header.ok()) << header.status().to_string();
      EXPECT_EQ(header->dtype, dtype);
      EXPECT_EQ(header->shape, shape);
      EXPECT_EQ(header->data_offset, bytes.size());
      EXPECT_EQ(header->major_version, 1);
    }
  }
}

// A dict too long for v1.0's 16-bit length makes a v2.0 header, still 64-aligned.
TEST(NpyHeaderTest, LongDictsUseVersionTwo) {
  std::vector<std::int64_t> shape(25000, 1);
  const std::string bytes = make_npy_header(DType::kInt32, shape);
  EXPECT_EQ(bytes[6], '\x02');
  EXPECT_EQ(bytes.size() % 64, 0u);
  auto header = parse_npy_header(bytes, "long.npy");
  ASSERT_TRUE(header.ok()) << header.status().to_string();
  EXPECT_EQ(header->major_version, 2);
  EXPECT_EQ(header->shape, shape);
  EXPECT_EQ(header->data_offset, bytes.size());
}

// Versions 2.0 and 3.0 use a 32-bit header length; both parse.
TEST(NpyHeaderTest, ParsesVersionsTwoAndThree) {
  for (int major : {2, 3}) {
    const std::string bytes = npy_with_dict(dict_for("<i8", "(10, 2)"), major);
    auto header = parse_npy_header(bytes, "v.npy");
    ASSERT_TRUE(header.ok()) << header.status().to_string();
    EXPECT_EQ(header->major_version, major);
    EXPECT_EQ(header->dtype, DType::kInt64);
    EXPECT_EQ(header->shape, (std::vector<std::int64_t>{10, 2}));
    EXPECT_EQ(header->data_offset, bytes.size());
    EXPECT_EQ(header->rows(), 10);
    EXPECT_EQ(header->row_bytes(), 16u);
  }
}

// Byte-order variants NumPy may write ('=', '|' for one-byte types), key
// order, double quotes and Python 2's long suffix are all accepted.
TEST(NpyHeaderTest, AcceptsTheDialectsNumpyWrites) {
  struct Case {
    std::string dict;
    DType dtype;
    std::vector<std::int64_t> shape;
  };
  const std::vector<Case> cases{
      {dict_for("=f4", "(2,)"), DType::kFloat32, {2}},
      {dict_for("<u1", "()"), DType::kUInt8, {}},
      {dict_for("|i1", "(1, 2, 3)"), DType::kInt8, {1, 2, 3}},
      {"{'shape': (4, 5), 'fortran_order': False, 'descr': '<i4'}", DType::kInt32, {4, 5}},
      {"{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (3L, 2L), }", DType::kFloat64, {3, 2}},
      {"{'descr':'|b1','fortran_order':False,'shape':( 6 , )}", DType::kBool, {6}},
  };
  for (const Case& c : cases) {
    auto header = parse_npy_header(npy_with_dict(c.dict), "d.npy");
    ASSERT_TRUE(header.ok()) << c.dict << ": " << header.status().to_string();
    EXPECT_EQ(header->dtype, c.dtype) << c.dict;
    EXPECT_EQ(header->shape, c.shape) << c.dict;
  }
}

// Fortran order is refused with a message that says how to fix the file.
TEST(NpyHeaderTest, RejectsFortranOrder) {
  auto header = parse_npy_header(npy_with_dict(dict_for("<f8", "(3, 4)", "True")), "model.npy");
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.status().code(), StatusCode::kInvalid);
  EXPECT_EQ(header.status().message(),
            "model.npy is Fortran-ordered; dtask reads C-order .npy files; save it with np.ascontiguousarray");
}

// With at most one extent above 1, Fortran and C order are the same bytes.
TEST(NpyHeaderTest, AcceptsFortranOrderWhenItIsAlsoCOrder) {
  for (const char* shape : {"(5,)", "(1, 7)", "()"}) {
    auto header = parse_npy_header(npy_with_dict(dict_for("<f8", shape, "True")), "f.npy");
    EXPECT_TRUE(header.ok()) << shape << ": " << header.status().to_string();
  }
}

// Big-endian data is refused, naming the file and the descr.
TEST(NpyHeaderTest, RejectsBigEndian) {
  auto header = parse_npy_header(npy_with_dict(dict_for(">f8", "(3,)")), "be.npy");
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("be.npy"), std::string::npos) << header.status().message();
  EXPECT_NE(header.status().message().find("'>f8'"), std::string::npos) << header.status().message();
  EXPECT_NE(header.status().message().find("big-endian"), std::string::npos) << header.status().message();
}

// Types dtask has no dtype for are refused, naming the file and the descr.
TEST(NpyHeaderTest, RejectsUnsupportedDescrs) {
  for (const char* descr : {"<f2", "<c16", "<u4", "<U10", "|O", "<M8[ns]", "|f8", "f8", ""}) {
    auto header = parse_npy_header(npy_with_dict(dict_for(descr, "(3,)")), "odd.npy");
    ASSERT_FALSE(header.ok()) << descr;
    EXPECT_EQ(header.status().code(), StatusCode::kInvalid);
    EXPECT_NE(header.status().message().find("odd.npy"), std::string::npos) << header.status().message();
    EXPECT_NE(header.status().message().find(std::string("'") + descr + "'"), std::string::npos)
        << header.status().message();
  }
  auto structured = parse_npy_header(npy_with_dict("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }"),
                                     "rec.npy");
  ASSERT_FALSE(structured.ok());
  EXPECT_NE(structured.status().message().find("structured"), std::string::npos);
}

// A file that does not start with the magic string is refused.
TEST(NpyHeaderTest, RejectsBadMagic) {
  std::string bytes = make_npy_header(DType::kFloat64, {3});
  bytes[1] = 'X';
  auto header = parse_npy_header(bytes, "bad.npy");
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("magic"), std::string::npos);
  EXPECT_FALSE(parse_npy_header("", "empty.npy").ok());
  EXPECT_FALSE(parse_npy_header("\x93NUM", "short.npy").ok());
}

// Unknown versions are refused; so is every truncation of a valid header.
TEST(NpyHeaderTest, RejectsBadVersionsAndTruncation) {
  std::string bytes = make_npy_header(DType::kFloat64, {3, 4});
  for (char major : {'\0', '\x04', '\x7f'}) {
    std::string changed = bytes;
    changed[6] = major;
    EXPECT_FALSE(parse_npy_header(changed, "v.npy").ok()) << static_cast<int>(major);
  }
  std::string minor = bytes;
  minor[7] = '\x01';
  EXPECT_FALSE(parse_npy_header(minor, "v.npy").ok());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto header = parse_npy_header(std::string_view(bytes).substr(0, n), "cut.npy");
    ASSERT_FALSE(header.ok()) << n;
    EXPECT_NE(header.status().message().find("cut.npy"), std::string::npos);
  }
}

// A header length above 1 MiB is refused before anything is read.
TEST(NpyHeaderTest, RejectsHugeHeaderLength) {
  std::string bytes = "\x93NUMPY\x02";
  bytes.push_back('\0');
  bytes += std::string("\x00\x00\x20\x00", 4);  // 2 MiB
  auto header = parse_npy_header(bytes, "huge.npy");
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("limit"), std::string::npos) << header.status().message();
}

// Readers and writers share one bound on the data size, whatever the header
// length: npy_header_fuzzer found a v3 file with a 100-byte header and
// 2^63 - 116 bytes of |u1 data that parsed, while the header
// make_npy_header writes for the same shape (128 bytes) did not.
TEST(NpyHeaderTest, DataSizeLimitDoesNotDependOnTheHeader) {
  const std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (  9223372036854775692), }";
  std::string fuzzed = "\x93NUMPY\x03";
  fuzzed.push_back('\0');
  fuzzed += std::string("\x64\x00\x00\x00", 4);  // 100 bytes
  fuzzed += dict + std::string(100 - dict.size(), ' ');
  auto header = parse_npy_header(fuzzed, "fuzzed.npy");
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("too large"), std::string::npos) << header.status().message();
  TempDir dir;
  EXPECT_FALSE(create_npy(dir.file("huge.npy"), DType::kUInt8, {9223372036854775692LL}).ok());
  // Up to the bound, what make_npy_header writes for a shape parses back.
  const std::int64_t largest =
      std::numeric_limits<std::int64_t>::max() - static_cast<std::int64_t>(kMaxNpyHeaderBytes + 12 + 64);
  for (DType dtype : {DType::kUInt8, DType::kFloat64}) {
    const std::vector<std::int64_t> shape{largest / static_cast<std::int64_t>(dtype_size(dtype))};
    auto made = parse_npy_header(make_npy_header(dtype, shape), "largest.npy");
    ASSERT_TRUE(made.ok()) << made.status().to_string();
    EXPECT_EQ(made->shape, shape);
    auto past = parse_npy_header(make_npy_header(dtype, {shape[0] + 1}), "past.npy");
    EXPECT_FALSE(past.ok());
  }
}

// Negative and overflowing shapes, missing keys and malformed dicts are refused.
TEST(NpyHeaderTest, RejectsBadDicts) {
  const std::vector<std::string> dicts{
      dict_for("<f8", "(-1, 3)"),
      dict_for("<f8", "(4294967296, 4294967296)"),
      dict_for("<f8", "(99999999999999999999,)"),
      dict_for("<f8", "(1152921504606846976,)"),  // 2^60 float64s overflow int64 bytes
      "{'descr': '<f8', 'shape': (3,), }",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1, }",
      "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (3,), }",
      "{'descr': '<f8', 'fortran_order': False, 'shape': [3], }",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), } trailing",
      "{'descr': '<f8' 'fortran_order': False, 'shape': (3,), }",
      "{'descr: '<f8', 'fortran_order': False, 'shape': (3,)",
      "'descr': '<f8'",
      "",
  };
  for (const std::string& dict : dicts) {
    auto header = parse_npy_header(npy_with_dict(dict), "d.npy");
    EXPECT_FALSE(header.ok()) << dict;
    if (!header.ok()) {
      EXPECT_NE(header.status().message().find("d.npy"), std::string::npos) << dict;
    }
  }
}

// ---- files -------------------------------------------------------------------------

// Every dtype: write_npy, then read the header and several row ranges back.
TEST(NpyFileTest, RoundTripsRowRangesOfEveryDType) {
  TempDir dir;
  for (DType dtype : kAllDTypes) {
    const std::string path = dir.file(std::string(dtype_name(dtype)) + ".npy");
    const NDArray array = iota(dtype, {10, 3});
    ASSERT_TRUE(write_npy(path, array).ok());
    auto header = read_npy_header(path);
    ASSERT_TRUE(header.ok()) << header.status().to_string();
    EXPECT_EQ(header->dtype, dtype);
    EXPECT_EQ(header->shape, (std::vector<std::int64_t>{10, 3}));
    EXPECT_EQ(header->data_offset % 64, 0u);
    for (auto [begin, end] : std::vector<std::pair<int, int>>{{0, 10}, {0, 1}, {3, 7}, {9, 10}, {5, 5}}) {
      auto rows = read_npy_rows(path, *header, begin, end);
      ASSERT_TRUE(rows.ok()) << rows.status().to_string();
      EXPECT_EQ(rows->dtype, dtype);
      EXPECT_EQ(rows->shape, (std::vector<std::int64_t>{end - begin, 3}));
      EXPECT_EQ(bytes_of(*rows), row_bytes(array, begin, end)) << dtype_name(dtype) << " " << begin;
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(rows->buffer->data()) % 64, 0u);
    }
  }
}

// 0-d, 1-d, 3-d and empty arrays round-trip too.
TEST(NpyFileTest, RoundTripsOtherRanks) {
  TempDir dir;
  for (const auto& shape : std::vector<std::vector<std::int64_t>>{{}, {17}, {4, 3, 2}, {0, 5}}) {
    const std::string path = dir.file("a.npy");
    const NDArray array = iota(DType::kFloat64, shape);
    ASSERT_TRUE(write_npy(path, array).ok());
    auto header = read_npy_header(path);
    ASSERT_TRUE(header.ok()) << header.status().to_string();
    auto all = read_npy_rows(path, *header, 0, header->rows());
    ASSERT_TRUE(all.ok()) << all.status().to_string();
    EXPECT_EQ(all->shape, shape);
    EXPECT_EQ(bytes_of(*all), bytes_of(array));
  }
}

// Row ranges outside the array are refused, naming the file and range.
TEST(NpyFileTest, RejectsRowRangesOutOfBounds) {
  TempDir dir;
  const std::string path = dir.file("r.npy");
  ASSERT_TRUE(write_npy(path, iota(DType::kInt32, {5, 2})).ok());
  auto header = read_npy_header(path);
  ASSERT_TRUE(header.ok());
  for (auto [begin, end] : std::vector<std::pair<int, int>>{{-1, 2}, {3, 2}, {0, 6}, {6, 7}}) {
    auto rows = read_npy_rows(path, *header, begin, end);
    ASSERT_FALSE(rows.ok()) << begin << " " << end;
    EXPECT_NE(rows.status().message().find(path), std::string::npos);
    EXPECT_NE(rows.status().message().find("rows [" + std::to_string(begin) + ", " + std::to_string(end) + ")"),
              std::string::npos)
        << rows.status().message();
  }
}

// A file shorter than its header promises is reported as truncated.
TEST(NpyFileTest, RejectsFilesTooShort) {
  TempDir dir;
  const std::string path = dir.file("short.npy");
  std::string bytes = make_npy_header(DType::kFloat64, {100, 2});
  bytes += std::string(100 * 2 * 8 - 1, '\0');
  write_bytes(path, bytes);
  auto header = read_npy_header(path);
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("truncated"), std::string::npos) << header.status().message();
  EXPECT_NE(header.status().message().find(path), std::string::npos);

  // A header parsed from a complete file, then the file cut: the read fails cleanly.
  bytes.push_back('\0');
  write_bytes(path, bytes);
  auto good = read_npy_header(path);
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  write_bytes(path, bytes.substr(0, bytes.size() - 8));
  auto rows = read_npy_rows(path, *good, 0, 1);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("truncated"), std::string::npos) << rows.status().message();

  write_bytes(path, bytes.substr(0, 30));
  EXPECT_FALSE(read_npy_header(path).ok());
}

// A missing file is NotFound and names the path.
TEST(NpyFileTest, MissingFileIsNotFound) {
  TempDir dir;
  auto header = read_npy_header(dir.file("nope.npy"));
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.status().code(), StatusCode::kNotFound);
  EXPECT_NE(header.status().message().find("nope.npy"), std::string::npos);
}

// create_npy sizes the file; threads then fill disjoint row ranges and the
// result equals the array written in one go.
TEST(NpyFileTest, CreateThenFillRowRangesInParallel) {
  TempDir dir;
  const NDArray whole = iota(DType::kInt64, {1000, 4});
  for (int n_threads : {1, 2, 4}) {
    const std::string path = dir.file("par.npy");
    ASSERT_TRUE(create_npy(path, DType::kInt64, {1000, 4}).ok());
    auto header = read_npy_header(path);
    ASSERT_TRUE(header.ok()) << header.status().to_string();
    auto zeros = read_npy_rows(path, *header, 0, 1000);
    ASSERT_TRUE(zeros.ok());
    EXPECT_EQ(bytes_of(*zeros), std::string(1000 * 4 * 8, '\0'));

    std::vector<std::thread> threads;
    std::vector<Status> results(static_cast<std::size_t>(n_threads));
    const std::int64_t per = 1000 / n_threads;
    for (int t = 0; t < n_threads; ++t) {
      threads.emplace_back([&, t] {
        const std::int64_t begin = t * per;
        const std::int64_t end = t == n_threads - 1 ? 1000 : begin + per;
        NDArray part = NDArray::zeros(DType::kInt64, {end - begin, 4});
        std::memcpy(part.mutable_data<std::int64_t>(), whole.data<std::int64_t>() + begin * 4,
                    static_cast<std::size_t>(end - begin) * 4 * 8);
        results[static_cast<std::size_t>(t)] = write_npy_rows(path, *header, begin, part);
      });
    }
    for (auto& thread : threads) thread.join();
    for (const Status& status : results) EXPECT_TRUE(status.ok()) << status.to_string();
    auto all = read_npy_rows(path, *header, 0, 1000);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(bytes_of(*all), bytes_of(whole)) << n_threads << " threads";
  }
}

// write_npy_rows refuses a wrong dtype, wrong trailing shape or rows past the end.
TEST(NpyFileTest, WriteRowsChecksDTypeShapeAndRange) {
  TempDir dir;
  const std::string path = dir.file("w.npy");
  ASSERT_TRUE(create_npy(path, DType::kFloat32, {10, 3}).ok());
  auto header = read_npy_header(path);
  ASSERT_TRUE(header.ok());
  EXPECT_FALSE(write_npy_rows(path, *header, 0, iota(DType::kFloat64, {2, 3})).ok());
  EXPECT_FALSE(write_npy_rows(path, *header, 0, iota(DType::kFloat32, {2, 4})).ok());
  EXPECT_FALSE(write_npy_rows(path, *header, 0, iota(DType::kFloat32, {6})).ok());
  Status past_end = write_npy_rows(path, *header, 9, iota(DType::kFloat32, {2, 3}));
  ASSERT_FALSE(past_end.ok());
  EXPECT_NE(past_end.message().find("rows [9, 11)"), std::string::npos) << past_end.message();
  EXPECT_TRUE(write_npy_rows(path, *header, 8, iota(DType::kFloat32, {2, 3})).ok());
  EXPECT_FALSE(write_npy_rows(dir.file("absent.npy"), *header, 0, iota(DType::kFloat32, {1, 3})).ok());
}

// create_npy refuses negative or overflowing shapes and unwritable paths.
TEST(NpyFileTest, CreateRejectsBadShapesAndPaths) {
  TempDir dir;
  EXPECT_FALSE(create_npy(dir.file("neg.npy"), DType::kFloat64, {-3}).ok());
  EXPECT_FALSE(create_npy(dir.file("big.npy"), DType::kFloat64, {1LL << 40, 1LL << 40}).ok());
  EXPECT_FALSE(create_npy(dir.file("no/such/dir.npy"), DType::kFloat64, {3}).ok());
}

}  // namespace
}  // namespace dtask::formats
