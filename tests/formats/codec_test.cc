// Zarr v2 compressors: config parsing, round trips of every codec and Blosc
// setting, and corrupt, truncated or mis-sized input reported as errors.
#include "formats/codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace dtask::formats {
namespace {

std::vector<std::byte> sample_bytes(std::size_t n, unsigned seed = 1) {
  // Half smooth (compressible, like real arrays), half noise.
  std::vector<std::byte> out(n);
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = i % 2048 < 1024 ? static_cast<std::byte>((i / 8) & 0xff) : static_cast<std::byte>(rng() & 0xff);
  }
  return out;
}

CodecConfig parse_ok(const std::string& json) {
  auto config = parse_codec_config(json, "store.zarr");
  EXPECT_TRUE(config.ok()) << json << ": " << config.status().to_string();
  return config.ok() ? *config : CodecConfig{};
}

std::vector<CodecConfig> every_codec() {
  std::vector<CodecConfig> configs{
      CodecConfig{},
      CodecConfig{.id = CodecId::kZlib, .level = 1},
      CodecConfig{.id = CodecId::kZlib, .level = 9},
      CodecConfig{.id = CodecId::kGzip, .level = 5},
      CodecConfig{.id = CodecId::kZstd, .level = 1},
      CodecConfig{.id = CodecId::kZstd, .level = 19},
      CodecConfig{.id = CodecId::kZstd, .level = -3},
  };
  for (const char* cname : {"lz4", "lz4hc", "zstd", "zlib", "blosclz"}) {
    for (int shuffle : {-1, 0, 1, 2}) {
      configs.push_back(CodecConfig{.id = CodecId::kBlosc, .level = 5, .blosc_cname = cname, .blosc_shuffle = shuffle});
    }
  }
  configs.push_back(CodecConfig{.id = CodecId::kBlosc, .level = 9, .blosc_cname = "lz4", .blosc_blocksize = 4096});
  configs.push_back(CodecConfig{.id = CodecId::kBlosc, .level = 0, .blosc_cname = "lz4"});
  return configs;
}

std::string describe(const CodecConfig& config) { return codec_config_json(config); }

// ---- config ---------------------------------------------------------------------------

// The configs numcodecs writes parse to the right settings.
TEST(CodecConfigTest, ParsesNumcodecsConfigs) {
  EXPECT_EQ(parse_ok("null").id, CodecId::kNone);
  CodecConfig zlib = parse_ok(R"({"id": "zlib", "level": 4})");
  EXPECT_EQ(zlib.id, CodecId::kZlib);
  EXPECT_EQ(zlib.level, 4);
  EXPECT_EQ(parse_ok(R"({"id": "gzip", "level": 1})").id, CodecId::kGzip);
  CodecConfig zstd = parse_ok(R"({"id": "zstd", "level": 3, "checksum": false})");
  EXPECT_EQ(zstd.id, CodecId::kZstd);
  EXPECT_EQ(zstd.level, 3);
  CodecConfig blosc = parse_ok(R"({"blocksize": 0, "clevel": 7, "cname": "zstd", "id": "blosc", "shuffle": 2})");
  EXPECT_EQ(blosc.id, CodecId::kBlosc);
  EXPECT_EQ(blosc.level, 7);
  EXPECT_EQ(blosc.blosc_cname, "zstd");
  EXPECT_EQ(blosc.blosc_shuffle, 2);
  EXPECT_EQ(blosc.blosc_blocksize, 0u);
}

// Settings left out take numcodecs' defaults.
TEST(CodecConfigTest, MissingSettingsTakeNumcodecsDefaults) {
  EXPECT_EQ(parse_ok(R"({"id": "zlib"})").level, 1);
  CodecConfig blosc = parse_ok(R"({"id": "blosc"})");
  EXPECT_EQ(blosc.level, 5);
  EXPECT_EQ(blosc.blosc_cname, "lz4");
  EXPECT_EQ(blosc.blosc_shuffle, 1);
}

// codec_config_json writes what parse_codec_config reads back.
TEST(CodecConfigTest, JsonRoundTrips) {
  for (const CodecConfig& config : every_codec()) {
    auto back = parse_codec_config(codec_config_json(config), "s");
    ASSERT_TRUE(back.ok()) << describe(config);
    EXPECT_EQ(*back, config) << describe(config);
  }
  EXPECT_EQ(codec_config_json(CodecConfig{}), "null");
}

// Unsupported ids, bad settings and malformed JSON are errors naming the store.
TEST(CodecConfigTest, RejectsBadConfigs) {
  for (const char* json : {
           R"({"id": "lz4"})",
           R"({"id": "bz2", "level": 1})",
           R"({"id": 3})",
           R"({"level": 1})",
           R"([1, 2])",
           R"("zlib")",
           R"({"id": "zlib", "level": "high"})",
           R"({"id": "zlib", "level": 10})",
           R"({"id": "zlib", "level": 1, "extra": true})",
           R"({"id": "zstd", "level": 1000})",
           R"({"id": "blosc", "cname": "snappyish"})",
           R"({"id": "blosc", "cname": 4})",
           R"({"id": "blosc", "clevel": 10})",
           R"({"id": "blosc", "shuffle": 3})",
           R"({"id": "blosc", "blocksize": -1})",
           R"({"id": "blosc", "clevel": 2.5})",
           "{",
           "",
       }) {
    auto config = parse_codec_config(json, "bad.zarr");
    ASSERT_FALSE(config.ok()) << json;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalid) << json;
    EXPECT_NE(config.status().message().find("bad.zarr"), std::string::npos) << config.status().message();
  }
}

// ---- round trips ----------------------------------------------------------------------

// Every codec and Blosc setting round-trips data of several sizes and item sizes.
TEST(CodecTest, EveryCodecRoundTrips) {
  for (const CodecConfig& config : every_codec()) {
    for (std::size_t n : {0u, 1u, 8u, 1000u, 65536u, 300000u}) {
      for (std::size_t typesize : {1u, 4u, 8u}) {
        const std::vector<std::byte> raw = sample_bytes(n, static_cast<unsigned>(n + typesize));
        auto encoded = encode(config, raw, typesize);
        ASSERT_TRUE(encoded.ok()) << describe(config) << " n=" << n << ": " << encoded.status().to_string();
        auto decoded = decode(config, *encoded, n);
        ASSERT_TRUE(decoded.ok()) << describe(config) << " n=" << n << ": " << decoded.status().to_string();
        EXPECT_EQ(*decoded, raw) << describe(config) << " n=" << n << " typesize=" << typesize;
      }
    }
  }
}

// Compressible data actually shrinks (the codec is applied, not skipped).
TEST(CodecTest, CompressorsCompress) {
  std::vector<std::byte> zeros(100000, std::byte{0});
  for (const CodecConfig& config : every_codec()) {
    if (config.id == CodecId::kNone || (config.id == CodecId::kBlosc && config.level == 0)) continue;
    auto encoded = encode(config, zeros, 8);
    ASSERT_TRUE(encoded.ok());
    EXPECT_LT(encoded->size(), zeros.size() / 10) << describe(config);
  }
}

// The encodings are the standard formats: zlib and gzip headers, zstd magic, blosc header.
TEST(CodecTest, WritesStandardFormats) {
  const std::vector<std::byte> raw = sample_bytes(5000);
  auto zlib = encode(CodecConfig{.id = CodecId::kZlib}, raw, 1);
  ASSERT_TRUE(zlib.ok());
  EXPECT_EQ((*zlib)[0], std::byte{0x78});
  auto gzip = encode(CodecConfig{.id = CodecId::kGzip}, raw, 1);
  ASSERT_TRUE(gzip.ok());
  EXPECT_EQ((*gzip)[0], std::byte{0x1f});
  EXPECT_EQ((*gzip)[1], std::byte{0x8b});
  auto zstd = encode(CodecConfig{.id = CodecId::kZstd}, raw, 1);
  ASSERT_TRUE(zstd.ok());
  const std::byte magic[] = {std::byte{0x28}, std::byte{0xb5}, std::byte{0x2f}, std::byte{0xfd}};
  EXPECT_EQ(std::memcmp(zstd->data(), magic, 4), 0);
  auto blosc = encode(CodecConfig{.id = CodecId::kBlosc}, raw, 8);
  ASSERT_TRUE(blosc.ok());
  std::uint32_t nbytes = 0;
  std::memcpy(&nbytes, blosc->data() + 4, 4);
  EXPECT_EQ(nbytes, raw.size());
}

// ---- bad input ----------------------------------------------------------------------

// Data that decodes to a different size than the chunk's is an error, both
// ways, for every codec.
TEST(CodecTest, ExpectedSizeMismatchIsAnError) {
  const std::vector<std::byte> raw = sample_bytes(10000);
  for (const CodecConfig& config : every_codec()) {
    auto encoded = encode(config, raw, 4);
    ASSERT_TRUE(encoded.ok());
    for (std::size_t expected : {raw.size() - 1, raw.size() + 1, std::size_t{0}, raw.size() * 2}) {
      auto decoded = decode(config, *encoded, expected, "c/0.0");
      ASSERT_FALSE(decoded.ok()) << describe(config) << " expected=" << expected;
      EXPECT_EQ(decoded.status().code(), StatusCode::kInvalid);
      EXPECT_NE(decoded.status().message().find("c/0.0"), std::string::npos) << decoded.status().message();
    }
  }
}

// A small chunk that inflates to far more than the chunk size (a
// decompression bomb) fails without writing past the output.
TEST(CodecTest, DecompressionBombsAreBounded) {
  const std::vector<std::byte> big(50'000'000, std::byte{0});
  for (CodecId id : {CodecId::kZlib, CodecId::kGzip, CodecId::kZstd, CodecId::kBlosc}) {
    auto encoded = encode(CodecConfig{.id = id}, big, 1);
    ASSERT_TRUE(encoded.ok());
    std::vector<std::byte> out(4096 + 64, std::byte{0x5a});
    Status status = decode_into(CodecConfig{.id = id}, *encoded, std::span(out).first(4096), "bomb");
    EXPECT_FALSE(status.ok()) << codec_name(id);
    for (std::size_t i = 4096; i < out.size(); ++i) ASSERT_EQ(out[i], std::byte{0x5a}) << codec_name(id);
  }
}

// Every truncation of an encoded chunk is an error, never a crash.
TEST(CodecTest, TruncatedInputIsAnError) {
  const std::vector<std::byte> raw = sample_bytes(3000);
  for (const CodecConfig& config : every_codec()) {
    auto encoded = encode(config, raw, 8);
    ASSERT_TRUE(encoded.ok());
    for (std::size_t n = 0; n < encoded->size(); n += std::max<std::size_t>(1, encoded->size() / 97)) {
      auto decoded = decode(config, std::span(*encoded).first(n), raw.size());
      EXPECT_FALSE(decoded.ok()) << describe(config) << " cut at " << n;
    }
  }
}

// Flipped bytes and random garbage give an error or (for codecs without a
// checksum) wrong data of the right size, never a crash or an overrun.
TEST(CodecTest, CorruptInputNeverCrashes) {
  const std::vector<std::byte> raw = sample_bytes(20000);
  std::mt19937 rng(7);
  for (const CodecConfig& config : every_codec()) {
    auto encoded = encode(config, raw, 8);
    ASSERT_TRUE(encoded.ok());
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<std::byte> bad = *encoded;
      for (int flips = 0; flips < 3; ++flips) bad[rng() % bad.size()] ^= static_cast<std::byte>(1 + rng() % 255);
      std::vector<std::byte> out(raw.size() + 64, std::byte{0x5a});
      (void)decode_into(config, bad, std::span(out).first(raw.size()), "x");
      for (std::size_t i = raw.size(); i < out.size(); ++i) ASSERT_EQ(out[i], std::byte{0x5a}) << describe(config);
    }
    std::vector<std::byte> garbage(500);
    for (auto& b : garbage) b = static_cast<std::byte>(rng() & 0xff);
    if (config.id != CodecId::kNone) {
      EXPECT_FALSE(decode(config, garbage, raw.size()).ok()) << describe(config);
    }
  }
}

// zlib and gzip carry checksums: a flipped payload byte is always caught.
TEST(CodecTest, ZlibDetectsCorruptPayload) {
  const std::vector<std::byte> raw = sample_bytes(20000);
  for (CodecId id : {CodecId::kZlib, CodecId::kGzip}) {
    auto encoded = encode(CodecConfig{.id = id}, raw, 1);
    ASSERT_TRUE(encoded.ok());
    std::vector<std::byte> bad = *encoded;
    bad[bad.size() / 2] ^= std::byte{0x40};
    EXPECT_FALSE(decode(CodecConfig{.id = id}, bad, raw.size()).ok()) << codec_name(id);
  }
}

// Decoding the same data with the wrong codec is an error.
TEST(CodecTest, WrongCodecIsAnError) {
  const std::vector<std::byte> raw = sample_bytes(4000);
  auto zstd = encode(CodecConfig{.id = CodecId::kZstd}, raw, 1);
  ASSERT_TRUE(zstd.ok());
  EXPECT_FALSE(decode(CodecConfig{.id = CodecId::kZlib}, *zstd, raw.size()).ok());
  EXPECT_FALSE(decode(CodecConfig{.id = CodecId::kBlosc}, *zstd, raw.size()).ok());
  EXPECT_FALSE(decode(CodecConfig{.id = CodecId::kGzip}, *zstd, raw.size()).ok());
  auto zlib = encode(CodecConfig{.id = CodecId::kZlib}, raw, 1);
  ASSERT_TRUE(zlib.ok());
  EXPECT_FALSE(decode(CodecConfig{.id = CodecId::kZstd}, *zlib, raw.size()).ok());
}

// Concurrent encodes and decodes of every codec agree with the serial result
// (Blosc runs through its context API, without the global lock).
TEST(CodecTest, ConcurrentUseIsSafe) {
  for (int n_threads : {1, 2, 4}) {
    std::vector<std::thread> threads;
    std::vector<int> failures(static_cast<std::size_t>(n_threads), 0);
    for (int t = 0; t < n_threads; ++t) {
      threads.emplace_back([&, t] {
        for (const CodecConfig& config : every_codec()) {
          const std::vector<std::byte> raw = sample_bytes(50000, static_cast<unsigned>(t + 10));
          auto encoded = encode(config, raw, 4);
          auto decoded = encoded.ok() ? decode(config, *encoded, raw.size()) : encoded;
          if (!decoded.ok() || *decoded != raw) ++failures[static_cast<std::size_t>(t)];
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (int f : failures) EXPECT_EQ(f, 0) << n_threads << " threads";
  }
}

}  // namespace
}  // namespace dtask::formats
