// Zarr v2 stores: .zarray parsing (and every rejection), metadata round
// trips, chunk reads and writes with padded edge chunks, missing chunks as
// fill_value, and read_zarr_rows across column chunks.
#include "formats/zarr_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
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
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;
using Index = std::vector<std::int64_t>;

// What python zarr 2.13 writes for zarr.open(..., shape=(5, 3), chunks=(2, 2), dtype='f8').
constexpr const char* kZarr213 = R"({
    "chunks": [
        2,
        2
    ],
    "compressor": {
        "blocksize": 0,
        "clevel": 5,
        "cname": "lz4",
        "id": "blosc",
        "shuffle": 1
    },
    "dtype": "<f8",
    "fill_value": 0.0,
    "filters": null,
    "order": "C",
    "shape": [
        5,
        3
    ],
    "zarr_format": 2
})";

std::string zarray(const std::string& overrides) {
  // A minimal valid .zarray with `overrides` spliced in (later keys win in nlohmann).
  std::string base = R"({"zarr_format": 2, "shape": [10, 4], "chunks": [5, 2], "dtype": "<f8",
                         "compressor": null, "fill_value": 0.0, "order": "C", "filters": null)";
  return base + (overrides.empty() ? "" : ", " + overrides) + "}";
}

// Element (r, c, ...) of a reference array: its flat index, as the dtype.
NDArray reference(DType dtype, const Index& shape) {
  NDArray array = NDArray::zeros(dtype, shape);
  auto* bytes = const_cast<std::byte*>(array.buffer->data());
  for (std::int64_t i = 0; i < array.size(); ++i) {
    switch (dtype) {
      case DType::kFloat32: reinterpret_cast<float*>(bytes)[i] = static_cast<float>(i) * 0.5f; break;
      case DType::kFloat64: reinterpret_cast<double*>(bytes)[i] = static_cast<double>(i) * 0.25; break;
      case DType::kInt32: reinterpret_cast<std::int32_t*>(bytes)[i] = static_cast<std::int32_t>(i) - 50; break;
      case DType::kInt64: reinterpret_cast<std::int64_t*>(bytes)[i] = i * 1000000007LL; break;
      case DType::kInt8: reinterpret_cast<std::int8_t*>(bytes)[i] = static_cast<std::int8_t>(i % 100 - 50); break;
      case DType::kUInt8: reinterpret_cast<std::uint8_t*>(bytes)[i] = static_cast<std::uint8_t>(i % 250 + 1); break;
      case DType::kBool: reinterpret_cast<std::uint8_t*>(bytes)[i] = static_cast<std::uint8_t>(i % 3 == 0); break;
    }
  }
  return array;
}

// The sub-box of a 2-D array: rows [r0, r1), columns [c0, c1).
NDArray slice2d(const NDArray& a, std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
  const std::size_t item = dtype_size(a.dtype);
  NDArray out = NDArray::zeros(a.dtype, {r1 - r0, c1 - c0});
  for (std::int64_t r = r0; r < r1; ++r) {
    std::memcpy(const_cast<std::byte*>(out.buffer->data()) + (r - r0) * (c1 - c0) * item,
                a.buffer->data() + (r * a.shape[1] + c0) * item, (c1 - c0) * item);
  }
  return out;
}

// Writes every chunk of the 2-D `array` into a new store with `meta`.
void write_all_chunks(const std::string& store, const ZarrMetadata& meta, const NDArray& array) {
  ASSERT_TRUE(create_zarr(store, meta).ok());
  const Index grid = zarr_chunk_grid(meta);
  for (std::int64_t i = 0; i < grid[0]; ++i) {
    for (std::int64_t j = 0; j < grid[1]; ++j) {
      const std::int64_t r0 = i * meta.chunks[0], c0 = j * meta.chunks[1];
      NDArray part = slice2d(array, r0, std::min(meta.shape[0], r0 + meta.chunks[0]), c0,
                             std::min(meta.shape[1], c0 + meta.chunks[1]));
      Status status = write_zarr_chunk(store, meta, {i, j}, part);
      ASSERT_TRUE(status.ok()) << status.to_string();
    }
  }
}

std::vector<CodecConfig> codecs() {
  return {CodecConfig{},
          CodecConfig{.id = CodecId::kZlib, .level = 1},
          CodecConfig{.id = CodecId::kGzip, .level = 1},
          CodecConfig{.id = CodecId::kZstd, .level = 1},
          CodecConfig{.id = CodecId::kBlosc, .level = 5, .blosc_cname = "lz4", .blosc_shuffle = 1},
          CodecConfig{.id = CodecId::kBlosc, .level = 5, .blosc_cname = "zstd", .blosc_shuffle = 2}};
}

// ---- metadata ------------------------------------------------------------------------

// The .zarray python zarr 2.13 writes parses to the right metadata.
TEST(ZarrMetadataTest, ParsesWhatZarrWrites) {
  auto meta = parse_zarr_metadata(kZarr213, "a.zarr");
  ASSERT_TRUE(meta.ok()) << meta.status().to_string();
  EXPECT_EQ(meta->shape, (Index{5, 3}));
  EXPECT_EQ(meta->chunks, (Index{2, 2}));
  EXPECT_EQ(meta->dtype, DType::kFloat64);
  EXPECT_EQ(meta->compressor.id, CodecId::kBlosc);
  EXPECT_EQ(meta->compressor.blosc_cname, "lz4");
  ASSERT_TRUE(meta->fill_value.has_value());
  EXPECT_EQ(*meta->fill_value, 0.0);
  EXPECT_EQ(meta->order, 'C');
  EXPECT_EQ(meta->dimension_separator, ".");
}

// fill_value: null, numbers, booleans and the NaN / Infinity strings.
TEST(ZarrMetadataTest, ParsesFillValues) {
  auto fill = [](const std::string& value, const std::string& dtype = "<f8") {
    auto meta = parse_zarr_metadata(zarray("\"fill_value\": " + value + ", \"dtype\": \"" + dtype + "\""), "f.zarr");
    EXPECT_TRUE(meta.ok()) << value << ": " << meta.status().to_string();
    return meta.ok() ? meta->fill_value : std::optional<double>(-12345.0);
  };
  EXPECT_FALSE(fill("null").has_value());
  EXPECT_EQ(fill("3.5"), 3.5);
  EXPECT_EQ(fill("-2", "<i4"), -2.0);
  EXPECT_EQ(fill("true", "|b1"), 1.0);
  EXPECT_TRUE(std::isnan(*fill("\"NaN\"")));
  EXPECT_EQ(fill("\"Infinity\""), HUGE_VAL);
  EXPECT_EQ(fill("\"-Infinity\""), -HUGE_VAL);
}

// Optional keys: nested separator, empty filters list.
TEST(ZarrMetadataTest, ParsesOptionalKeys) {
  auto nested = parse_zarr_metadata(zarray("\"dimension_separator\": \"/\""), "n.zarr");
  ASSERT_TRUE(nested.ok()) << nested.status().to_string();
  EXPECT_EQ(nested->dimension_separator, "/");
  EXPECT_TRUE(parse_zarr_metadata(zarray("\"filters\": []"), "f.zarr").ok());
  EXPECT_TRUE(parse_zarr_metadata(zarray("\"dimension_separator\": null"), "f.zarr").ok());
}

// Fortran order is refused with a message that says what to do.
TEST(ZarrMetadataTest, RejectsFortranOrder) {
  auto meta = parse_zarr_metadata(zarray("\"order\": \"F\""), "data/f.zarr");
  ASSERT_FALSE(meta.ok());
  EXPECT_EQ(meta.status().message(),
            "data/f.zarr is Fortran-ordered (order 'F'); dtask reads C-order Zarr arrays; rewrite it with order='C'");
}

// Every unsupported or malformed .zarray is Invalid and names the store.
TEST(ZarrMetadataTest, RejectsBadMetadata) {
  const std::vector<std::string> bad{
      zarray("\"zarr_format\": 3"),
      zarray("\"zarr_format\": \"2\""),
      R"({"shape": [3], "chunks": [3], "dtype": "<f8", "compressor": null, "order": "C"})",
      zarray("\"order\": \"K\""),
      zarray("\"filters\": [{\"id\": \"delta\", \"dtype\": \"<f8\"}]"),
      zarray("\"dtype\": \">f8\""),
      zarray("\"dtype\": \"<c16\""),
      zarray("\"dtype\": [[\"a\", \"<f8\"]]"),
      zarray("\"chunks\": [0, 2]"),
      zarray("\"chunks\": [5]"),
      zarray("\"chunks\": [5, 2.5]"),
      zarray("\"shape\": [-1, 4]"),
      zarray("\"shape\": \"10\""),
      zarray("\"shape\": [4611686018427387904, 4]"),
      zarray("\"chunks\": [100000, 100000]"),
      zarray("\"compressor\": {\"id\": \"lzma\"}"),
      zarray("\"dimension_separator\": \"-\""),
      zarray("\"fill_value\": \"zero\""),
      zarray("\"fill_value\": [1]"),
      "[1, 2, 3]",
      "{\"zarr_format\": 2",
      "",
  };
  for (const std::string& json : bad) {
    auto meta = parse_zarr_metadata(json, "bad.zarr");
    ASSERT_FALSE(meta.ok()) << json;
    EXPECT_EQ(meta.status().code(), StatusCode::kInvalid) << json;
    EXPECT_NE(meta.status().message().find("bad.zarr"), std::string::npos) << meta.status().message();
  }
  auto big_endian = parse_zarr_metadata(zarray("\"dtype\": \">f8\""), "be.zarr");
  EXPECT_NE(big_endian.status().message().find("'>f8'"), std::string::npos) << big_endian.status().message();
  auto v3 = parse_zarr_metadata(zarray("\"zarr_format\": 3"), "v3.zarr");
  EXPECT_NE(v3.status().message().find("Zarr v2"), std::string::npos) << v3.status().message();
}

// zarr_metadata_json writes what parse_zarr_metadata reads back, for every
// dtype, codec, fill value and separator.
TEST(ZarrMetadataTest, JsonRoundTrips) {
  for (DType dtype : kAllDTypes) {
    for (const CodecConfig& codec : codecs()) {
      for (std::optional<double> fill : {std::optional<double>(), std::optional<double>(0.0),
                                         std::optional<double>(1.0)}) {
        ZarrMetadata meta{.shape = {7, 5}, .chunks = {3, 2}, .dtype = dtype, .compressor = codec, .fill_value = fill};
        meta.dimension_separator = dtype == DType::kInt8 ? "/" : ".";
        const std::string json = zarr_metadata_json(meta);
        auto back = parse_zarr_metadata(json, "r.zarr");
        ASSERT_TRUE(back.ok()) << json << "\n" << back.status().to_string();
        EXPECT_EQ(back->shape, meta.shape);
        EXPECT_EQ(back->chunks, meta.chunks);
        EXPECT_EQ(back->dtype, meta.dtype);
        EXPECT_EQ(back->compressor, meta.compressor);
        EXPECT_EQ(back->fill_value, meta.fill_value) << json;
        EXPECT_EQ(back->dimension_separator, meta.dimension_separator);
      }
    }
  }
  ZarrMetadata nan{.shape = {3}, .chunks = {3}, .dtype = DType::kFloat32,
                   .fill_value = std::numeric_limits<double>::quiet_NaN()};
  EXPECT_NE(zarr_metadata_json(nan).find("\"NaN\""), std::string::npos);
  auto back = parse_zarr_metadata(zarr_metadata_json(nan), "nan.zarr");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(std::isnan(*back->fill_value));
}

// create_zarr writes .zarray and an empty .zattrs; read_zarr_metadata reads it.
TEST(ZarrStoreTest, CreateThenReadMetadata) {
  TempDir dir;
  const std::string store = dir.file("deep/er/a.zarr");
  ZarrMetadata meta{.shape = {10, 4}, .chunks = {5, 2}, .dtype = DType::kInt32,
                    .compressor = CodecConfig{.id = CodecId::kZstd, .level = 3}};
  ASSERT_TRUE(create_zarr(store, meta).ok());
  EXPECT_EQ(read_bytes(store + "/.zattrs"), "{}");
  auto back = read_zarr_metadata(store);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->dtype, DType::kInt32);
  EXPECT_EQ(back->compressor, meta.compressor);

  write_bytes(store + "/.zattrs", "{\"keep\": 1}");
  ASSERT_TRUE(create_zarr(store, meta).ok());
  EXPECT_EQ(read_bytes(store + "/.zattrs"), "{\"keep\": 1}") << "existing attributes are kept";

  auto missing = read_zarr_metadata(dir.file("nothing.zarr"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(create_zarr(dir.file("x.zarr"), ZarrMetadata{.shape = {3}, .chunks = {0}}).ok());
}

// ---- chunks -------------------------------------------------------------------------

// Every dtype and codec: chunks written (edge chunks included) read back
// clipped to the array's bounds with the original values.
TEST(ZarrStoreTest, ChunksRoundTripClippedAtEdges) {
  TempDir dir;
  for (DType dtype : kAllDTypes) {
    for (const CodecConfig& codec : codecs()) {
      const std::string store = dir.file(std::string(dtype_name(dtype)) + codec_config_json(codec).substr(0, 20));
      ZarrMetadata meta{.shape = {7, 5}, .chunks = {3, 2}, .dtype = dtype, .compressor = codec};
      const NDArray array = reference(dtype, meta.shape);
      write_all_chunks(store, meta, array);
      for (std::int64_t i = 0; i < 3; ++i) {
        for (std::int64_t j = 0; j < 3; ++j) {
          auto chunk = read_zarr_chunk(store, meta, {i, j});
          ASSERT_TRUE(chunk.ok()) << chunk.status().to_string();
          const std::int64_t r1 = std::min<std::int64_t>(7, (i + 1) * 3), c1 = std::min<std::int64_t>(5, (j + 1) * 2);
          EXPECT_EQ(chunk->shape, (Index{r1 - i * 3, c1 - j * 2}));
          EXPECT_EQ(bytes_of(*chunk), bytes_of(slice2d(array, i * 3, r1, j * 2, c1)))
              << dtype_name(dtype) << " " << codec_config_json(codec) << " chunk " << i << "," << j;
        }
      }
    }
  }
}

// On disk an edge chunk is a full chunk padded with fill_value, as Zarr expects.
TEST(ZarrStoreTest, EdgeChunksArePaddedWithFillValue) {
  TempDir dir;
  const std::string store = dir.file("pad.zarr");
  ZarrMetadata meta{.shape = {5}, .chunks = {4}, .dtype = DType::kFloat64, .fill_value = -1.5};
  ASSERT_TRUE(create_zarr(store, meta).ok());
  ASSERT_TRUE(write_zarr_chunk(store, meta, {1}, NDArray::from_vector<double>({9.0})).ok());
  const std::string raw = read_bytes(store + "/1");
  ASSERT_EQ(raw.size(), 4 * sizeof(double));
  double values[4];
  std::memcpy(values, raw.data(), sizeof(values));
  EXPECT_EQ(values[0], 9.0);
  EXPECT_EQ(values[1], -1.5);
  EXPECT_EQ(values[3], -1.5);
  // A full-shape array is accepted for an edge chunk too.
  ASSERT_TRUE(write_zarr_chunk(store, meta, {1}, NDArray::from_vector<double>({1, 2, 3, 4})).ok());
  auto chunk = read_zarr_chunk(store, meta, {1});
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->shape, (Index{1}));
  EXPECT_EQ(chunk->data<double>()[0], 1.0);
}

// A chunk with no file reads as fill_value (null reads as 0), clipped.
TEST(ZarrStoreTest, MissingChunksReadAsFillValue) {
  TempDir dir;
  struct Case {
    DType dtype;
    std::optional<double> fill;
    double expected;
  };
  for (const Case& c : {Case{DType::kFloat64, 3.5, 3.5}, Case{DType::kFloat32, std::nullopt, 0.0},
                        Case{DType::kInt32, -7.0, -7.0}, Case{DType::kUInt8, 300.0, 255.0},
                        Case{DType::kBool, 1.0, 1.0}, Case{DType::kInt64, 0.0, 0.0}}) {
    const std::string store = dir.file("fill" + std::string(dtype_name(c.dtype)));
    ZarrMetadata meta{.shape = {5, 3}, .chunks = {2, 2}, .dtype = c.dtype, .fill_value = c.fill};
    ASSERT_TRUE(create_zarr(store, meta).ok());
    auto chunk = read_zarr_chunk(store, meta, {2, 1});
    ASSERT_TRUE(chunk.ok()) << chunk.status().to_string();
    EXPECT_EQ(chunk->shape, (Index{1, 1}));
    auto rows = read_zarr_rows(store, meta, 0, 5);
    ASSERT_TRUE(rows.ok());
    for (std::int64_t i = 0; i < rows->size(); ++i) {
      double v = 0;
      switch (c.dtype) {
        case DType::kFloat64: v = rows->data<double>()[i]; break;
        case DType::kFloat32: v = rows->data<float>()[i]; break;
        case DType::kInt32: v = rows->data<std::int32_t>()[i]; break;
        case DType::kInt64: v = static_cast<double>(rows->data<std::int64_t>()[i]); break;
        default: v = rows->data<std::uint8_t>()[i]; break;
      }
      ASSERT_EQ(v, c.expected) << dtype_name(c.dtype) << " element " << i;
    }
  }
  ZarrMetadata nan_meta{.shape = {3}, .chunks = {2}, .dtype = DType::kFloat64,
                        .fill_value = std::numeric_limits<double>::quiet_NaN()};
  ASSERT_TRUE(create_zarr(dir.file("nan.zarr"), nan_meta).ok());
  auto nan_chunk = read_zarr_chunk(dir.file("nan.zarr"), nan_meta, {1});
  ASSERT_TRUE(nan_chunk.ok());
  EXPECT_TRUE(std::isnan(nan_chunk->data<double>()[0]));
}

// Extents near INT64_MAX (legal for one-byte dtypes) give the right chunk
// grid and clipped edge chunk: (shape + chunks - 1) / chunks overflowed
// (seen while writing fuzz/zarr_fuzzer.cc).
TEST(ZarrStoreTest, HugeExtentsDoNotOverflowTheChunkGrid) {
  TempDir dir;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  ZarrMetadata meta{.shape = {kMax}, .chunks = {2}, .dtype = DType::kUInt8, .fill_value = 7.0};
  ASSERT_TRUE(parse_zarr_metadata(zarr_metadata_json(meta), "huge.zarr").ok());
  EXPECT_EQ(zarr_chunk_grid(meta), (Index{kMax / 2 + 1}));
  const std::string store = dir.file("huge.zarr");
  ASSERT_TRUE(create_zarr(store, meta).ok());
  auto last = read_zarr_chunk(store, meta, {kMax / 2});
  ASSERT_TRUE(last.ok()) << last.status().to_string();
  EXPECT_EQ(last->shape, (Index{1}));
  EXPECT_EQ(last->data<std::uint8_t>()[0], 7);
  auto past = read_zarr_chunk(store, meta, {kMax / 2 + 1});
  EXPECT_FALSE(past.ok());
  auto tail = read_zarr_rows(store, meta, kMax - 1, kMax);
  ASSERT_TRUE(tail.ok()) << tail.status().to_string();
  EXPECT_EQ(tail->shape, (Index{1}));
  // A trailing axis with a huge extent.
  auto wide = parse_zarr_metadata(
      R"({"zarr_format": 2, "shape": [1, 9223372036854775807], "chunks": [1, 3], "dtype": "|u1",
          "compressor": null, "fill_value": 0, "order": "C", "filters": null})",
      "wide.zarr");
  ASSERT_TRUE(wide.ok()) << wide.status().to_string();
  EXPECT_EQ(zarr_chunk_grid(*wide), (Index{1, kMax / 3 + 1}));
}

// With dimension_separator "/", chunks live in nested directories.
TEST(ZarrStoreTest, NestedSeparatorUsesDirectories) {
  TempDir dir;
  const std::string store = dir.file("nested.zarr");
  ZarrMetadata meta{.shape = {4, 4}, .chunks = {2, 2}, .dtype = DType::kInt64,
                    .compressor = CodecConfig{.id = CodecId::kZlib}, .dimension_separator = "/"};
  const NDArray array = reference(DType::kInt64, meta.shape);
  write_all_chunks(store, meta, array);
  EXPECT_TRUE(std::filesystem::is_regular_file(store + "/1/0"));
  EXPECT_EQ(zarr_chunk_key(meta, {1, 0}), "1/0");
  auto rows = read_zarr_rows(store, meta, 0, 4);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(bytes_of(*rows), bytes_of(array));
}

// Corrupt, truncated or oversized chunk files are errors naming the file.
TEST(ZarrStoreTest, BadChunkFilesAreErrors) {
  TempDir dir;
  for (const CodecConfig& codec : codecs()) {
    const std::string store = dir.file("bad" + std::to_string(static_cast<int>(codec.id)) + codec.blosc_cname);
    ZarrMetadata meta{.shape = {100}, .chunks = {50}, .dtype = DType::kFloat64, .compressor = codec};
    ASSERT_TRUE(create_zarr(store, meta).ok());
    ASSERT_TRUE(write_zarr_chunk(store, meta, {0}, reference(DType::kFloat64, {50})).ok());
    const std::string good = read_bytes(store + "/0");
    for (const std::string& bad : {good.substr(0, good.size() / 2), std::string("garbage"), std::string()}) {
      write_bytes(store + "/0", bad);
      auto chunk = read_zarr_chunk(store, meta, {0});
      ASSERT_FALSE(chunk.ok()) << codec_config_json(codec) << " " << bad.size();
      EXPECT_NE(chunk.status().message().find(store + "/0"), std::string::npos) << chunk.status().message();
    }
    write_bytes(store + "/0", std::string(1 << 20, 'x'));  // far bigger than 50 doubles can encode to
    EXPECT_FALSE(read_zarr_chunk(store, meta, {0}).ok());
  }
}

// Writes check the dtype, the shape and the chunk index.
TEST(ZarrStoreTest, WriteChecksItsArguments) {
  TempDir dir;
  const std::string store = dir.file("w.zarr");
  ZarrMetadata meta{.shape = {5, 3}, .chunks = {2, 2}, .dtype = DType::kFloat32};
  ASSERT_TRUE(create_zarr(store, meta).ok());
  EXPECT_FALSE(write_zarr_chunk(store, meta, {0, 0}, reference(DType::kFloat64, {2, 2})).ok());
  EXPECT_FALSE(write_zarr_chunk(store, meta, {0, 0}, reference(DType::kFloat32, {2, 1})).ok());
  EXPECT_FALSE(write_zarr_chunk(store, meta, {2, 1}, reference(DType::kFloat32, {2, 2, 1})).ok());
  EXPECT_FALSE(write_zarr_chunk(store, meta, {3, 0}, reference(DType::kFloat32, {2, 2})).ok());
  EXPECT_FALSE(write_zarr_chunk(store, meta, {0}, reference(DType::kFloat32, {2, 2})).ok());
  EXPECT_FALSE(write_zarr_chunk(store, meta, {-1, 0}, reference(DType::kFloat32, {2, 2})).ok());
  EXPECT_TRUE(write_zarr_chunk(store, meta, {2, 1}, reference(DType::kFloat32, {1, 1})).ok());
  EXPECT_FALSE(read_zarr_chunk(store, meta, {0, 2}).ok());
}

// ---- rows -------------------------------------------------------------------------

// read_zarr_rows assembles any row range across all column chunks.
TEST(ZarrRowsTest, AssemblesRowsAcrossColumnChunks) {
  TempDir dir;
  for (const CodecConfig& codec : codecs()) {
    const std::string store = dir.file("rows" + codec_config_json(codec).substr(0, 20));
    ZarrMetadata meta{.shape = {10, 7}, .chunks = {4, 3}, .dtype = DType::kFloat64, .compressor = codec};
    const NDArray array = reference(DType::kFloat64, meta.shape);
    write_all_chunks(store, meta, array);
    for (auto [begin, end] : std::vector<std::pair<int, int>>{{0, 4}, {4, 8}, {8, 10}, {2, 9}, {0, 10}, {5, 5}, {9, 10}}) {
      auto rows = read_zarr_rows(store, meta, begin, end);
      ASSERT_TRUE(rows.ok()) << rows.status().to_string();
      EXPECT_EQ(rows->shape, (Index{end - begin, 7}));
      EXPECT_EQ(bytes_of(*rows), bytes_of(slice2d(array, begin, end, 0, 7))) << begin << " " << end;
    }
    for (auto [begin, end] : std::vector<std::pair<int, int>>{{-1, 3}, {4, 3}, {0, 11}}) {
      auto rows = read_zarr_rows(store, meta, begin, end);
      ASSERT_FALSE(rows.ok());
      EXPECT_NE(rows.status().message().find(store), std::string::npos);
    }
  }
}

// One whole row of chunks spanning all columns comes back as that chunk.
TEST(ZarrRowsTest, SingleChunkRowRange) {
  TempDir dir;
  const std::string store = dir.file("one.zarr");
  ZarrMetadata meta{.shape = {10, 3}, .chunks = {4, 3}, .dtype = DType::kInt32};
  const NDArray array = reference(DType::kInt32, meta.shape);
  write_all_chunks(store, meta, array);
  auto last = read_zarr_rows(store, meta, 8, 10);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->shape, (Index{2, 3}));
  EXPECT_EQ(bytes_of(*last), bytes_of(slice2d(array, 8, 10, 0, 3)));
}

// 1-d, 3-d and 0-d arrays read by rows too.
TEST(ZarrRowsTest, OtherRanks) {
  TempDir dir;
  ZarrMetadata one{.shape = {9}, .chunks = {4}, .dtype = DType::kInt64};
  ASSERT_TRUE(create_zarr(dir.file("1d"), one).ok());
  const NDArray values = reference(DType::kInt64, {9});
  for (std::int64_t i = 0; i < 3; ++i) {
    NDArray part = NDArray::zeros(DType::kInt64, {std::min<std::int64_t>(4, 9 - 4 * i)});
    std::memcpy(part.mutable_data<std::int64_t>(), values.data<std::int64_t>() + 4 * i, part.nbytes());
    ASSERT_TRUE(write_zarr_chunk(dir.file("1d"), one, {i}, part).ok());
  }
  auto mid = read_zarr_rows(dir.file("1d"), one, 3, 9);
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(std::vector<std::int64_t>(mid->data<std::int64_t>(), mid->data<std::int64_t>() + 6),
            std::vector<std::int64_t>(values.data<std::int64_t>() + 3, values.data<std::int64_t>() + 9));

  ZarrMetadata three{.shape = {5, 3, 4}, .chunks = {2, 2, 3}, .dtype = DType::kFloat32, .fill_value = 2.0};
  ASSERT_TRUE(create_zarr(dir.file("3d"), three).ok());
  NDArray block = reference(DType::kFloat32, {2, 1, 1});  // chunk (2, 1, 1) clips to rows 4, col 2, depth 3
  EXPECT_FALSE(write_zarr_chunk(dir.file("3d"), three, {2, 1, 1}, block).ok());
  block = reference(DType::kFloat32, {1, 1, 1});
  block.mutable_data<float>()[0] = 42.0f;
  ASSERT_TRUE(write_zarr_chunk(dir.file("3d"), three, {2, 1, 1}, block).ok());
  auto rows = read_zarr_rows(dir.file("3d"), three, 3, 5);
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  EXPECT_EQ(rows->shape, (Index{2, 3, 4}));
  for (std::int64_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ(rows->data<float>()[i], i == 23 ? 42.0f : 2.0f) << i;
  }

  ZarrMetadata scalar{.shape = {}, .chunks = {}, .dtype = DType::kFloat64};
  ASSERT_TRUE(create_zarr(dir.file("0d"), scalar).ok());
  NDArray value = NDArray::zeros(DType::kFloat64, {});
  value.mutable_data<double>()[0] = 6.25;
  ASSERT_TRUE(write_zarr_chunk(dir.file("0d"), scalar, {}, value).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.file("0d/0")));
  auto back = read_zarr_rows(dir.file("0d"), scalar, 0, 1);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(back->shape.empty());
  EXPECT_EQ(back->data<double>()[0], 6.25);
}

// Threads writing different chunks of one store at once produce the same
// store as one writer.
TEST(ZarrStoreTest, ConcurrentChunkWrites) {
  TempDir dir;
  ZarrMetadata meta{.shape = {64, 6}, .chunks = {4, 3}, .dtype = DType::kFloat64,
                    .compressor = CodecConfig{.id = CodecId::kBlosc}};
  const NDArray array = reference(DType::kFloat64, meta.shape);
  for (int n_threads : {1, 2, 4}) {
    const std::string store = dir.file("par" + std::to_string(n_threads));
    ASSERT_TRUE(create_zarr(store, meta).ok());
    std::vector<std::thread> threads;
    std::vector<int> failures(static_cast<std::size_t>(n_threads), 0);
    for (int t = 0; t < n_threads; ++t) {
      threads.emplace_back([&, t] {
        for (std::int64_t i = t; i < 16; i += n_threads) {
          for (std::int64_t j = 0; j < 2; ++j) {
            if (!write_zarr_chunk(store, meta, {i, j}, slice2d(array, i * 4, i * 4 + 4, j * 3, j * 3 + 3)).ok()) {
              ++failures[static_cast<std::size_t>(t)];
            }
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (int f : failures) EXPECT_EQ(f, 0);
    auto rows = read_zarr_rows(store, meta, 0, 64);
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(bytes_of(*rows), bytes_of(array)) << n_threads << " threads";
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(store)) files += entry.is_regular_file() ? 1 : 0;
    EXPECT_EQ(files, 32u + 2u) << "32 chunks, .zarray and .zattrs; no temporary files left";
  }
}

}  // namespace
}  // namespace dtask::formats
