// The Zarr v2 compressors dtask understands, as numcodecs writes them:
// none, zlib, gzip, zstd and blosc (lz4, lz4hc, zstd, zlib, blosclz, with
// any shuffle). Decoding is bounded by the size the chunk must have, so a
// corrupt or hostile chunk is an error, never a crash or a memory blow-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dtask/status.h"

namespace dtask::formats {

enum class CodecId : std::uint8_t { kNone, kZlib, kGzip, kZstd, kBlosc };

/// The "id" numcodecs uses: "zlib", "blosc", ...; "none" for kNone.
std::string_view codec_name(CodecId id);

/// A compressor as a .zarray "compressor" entry describes it. The defaults
/// are numcodecs' (level 1; Blosc lz4, clevel 5, byte shuffle, auto blocksize).
struct CodecConfig {
  CodecId id = CodecId::kNone;
  int level = 1;                   // zlib/gzip/zstd level, or Blosc's clevel
  std::string blosc_cname = "lz4";  // Blosc's inner compressor
  int blosc_shuffle = 1;           // -1 auto, 0 none, 1 byte shuffle, 2 bit shuffle
  std::size_t blosc_blocksize = 0;  // 0: Blosc picks

  bool operator==(const CodecConfig&) const = default;
};

/// Parses a "compressor" JSON value: `null` or a numcodecs config object.
/// Unsupported ids, unknown keys and out-of-range settings are Invalid,
/// naming `what` (the store). Thread-safe.
Result<CodecConfig> parse_codec_config(std::string_view compressor_json, std::string_view what);

/// The JSON numcodecs writes for `config` ("null" for none). Thread-safe.
std::string codec_config_json(const CodecConfig& config);

/// An upper bound on the encoded size of `raw_size` bytes under any codec,
/// generous enough for other writers; larger chunk files are refused unread.
std::uint64_t max_encoded_size(std::uint64_t raw_size);

/// Decodes `encoded` into `out`, which must be exactly the decoded size:
/// data that decodes to more or fewer bytes is Invalid, as is corrupt data.
/// Never writes past `out`. `what` names the chunk in errors. Thread-safe.
Status decode_into(const CodecConfig& config, std::span<const std::byte> encoded, std::span<std::byte> out,
                   std::string_view what);

/// Decodes `encoded`, which must decode to exactly `expected_size` bytes.
/// Thread-safe.
Result<std::vector<std::byte>> decode(const CodecConfig& config, std::span<const std::byte> encoded,
                                      std::size_t expected_size, std::string_view what = "chunk");

/// Encodes `raw` as numcodecs would; `typesize` (the element size) guides
/// Blosc's shuffle. Thread-safe.
Result<std::vector<std::byte>> encode(const CodecConfig& config, std::span<const std::byte> raw,
                                      std::size_t typesize);

}  // namespace dtask::formats
