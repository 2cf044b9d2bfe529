#include "formats/codec.h"

#include <blosc.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>

#include "formats/codec_json_internal.h"

namespace dtask::formats {
namespace {

using nlohmann::json;

// ---- config --------------------------------------------------------------------------

std::string in_store(std::string_view what) { return " in " + std::string(what); }

/// An integer setting `key` of `object` in [lo, hi], or its default when absent.
Status int_setting(const json& object, const char* key, std::int64_t lo, std::int64_t hi, std::string_view what,
                   std::int64_t& out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::success();
  if (!it->is_number_integer()) {
    return Status::invalid("compressor setting '" + std::string(key) + "'" + in_store(what) + " must be an integer");
  }
  const std::int64_t value = it->get<std::int64_t>();
  if (value < lo || value > hi) {
    return Status::invalid("compressor setting '" + std::string(key) + "' = " + std::to_string(value) +
                           in_store(what) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  out = value;
  return Status::success();
}

Status check_keys(const json& object, std::initializer_list<std::string_view> allowed, std::string_view what) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      return Status::invalid("unknown compressor setting '" + it.key() + "'" + in_store(what));
    }
  }
  return Status::success();
}

Status parse_level_codec(const json& object, std::int64_t lo, std::int64_t hi, std::string_view what,
                         std::initializer_list<std::string_view> keys, CodecConfig& config) {
  DTASK_RETURN_NOT_OK(check_keys(object, keys, what));
  std::int64_t level = config.level;
  DTASK_RETURN_NOT_OK(int_setting(object, "level", lo, hi, what, level));
  config.level = static_cast<int>(level);
  return Status::success();
}

Status parse_blosc(const json& object, std::string_view what, CodecConfig& config) {
  // "typesize" appears in newer numcodecs configs; it is only a hint for the writer.
  DTASK_RETURN_NOT_OK(check_keys(object, {"id", "cname", "clevel", "shuffle", "blocksize", "typesize"}, what));
  config.level = 5;
  auto cname = object.find("cname");
  if (cname != object.end()) {
    if (!cname->is_string()) return Status::invalid("Blosc 'cname'" + in_store(what) + " must be a string");
    config.blosc_cname = cname->get<std::string>();
  }
  if (blosc_compname_to_compcode(config.blosc_cname.c_str()) < 0) {
    // Not blosc_list_compressors(): it fills a static buffer on first use, unsynchronised.
    std::string available;
    for (const char* name : {"blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"}) {
      if (blosc_compname_to_compcode(name) >= 0) available += (available.empty() ? "" : ", ") + std::string(name);
    }
    return Status::invalid("Blosc compressor '" + config.blosc_cname + "'" + in_store(what) +
                           " is not available; this libblosc has " + available);
  }
  std::int64_t clevel = config.level, shuffle = config.blosc_shuffle, blocksize = 0;
  DTASK_RETURN_NOT_OK(int_setting(object, "clevel", 0, 9, what, clevel));
  DTASK_RETURN_NOT_OK(int_setting(object, "shuffle", -1, 2, what, shuffle));
  DTASK_RETURN_NOT_OK(int_setting(object, "blocksize", 0, BLOSC_MAX_BUFFERSIZE, what, blocksize));
  config.level = static_cast<int>(clevel);
  config.blosc_shuffle = static_cast<int>(shuffle);
  config.blosc_blocksize = static_cast<std::size_t>(blocksize);
  return Status::success();
}

// ---- zlib and gzip -------------------------------------------------------------------

// zlib counts in 32-bit uInt; feed it at most this much at a time.
constexpr std::size_t kZlibStep = std::size_t{1} << 30;

/// Hands zlib the next slice of `in` (at most kZlibStep: avail_in is 32-bit)
/// once it has used up the last one.
void feed_input(z_stream& stream, std::span<const std::byte> in, std::size_t& in_pos) {
  if (stream.avail_in != 0 || in_pos >= in.size()) return;
  const std::size_t n = std::min(kZlibStep, in.size() - in_pos);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + in_pos));
  stream.avail_in = static_cast<uInt>(n);
  in_pos += n;
}

std::string size_mismatch(std::string_view what, std::string_view codec, std::string_view detail) {
  return std::string(what) + ": " + std::string(codec) + " data " + std::string(detail);
}

struct InflateStream {
  z_stream stream{};
  bool open = false;
  ~InflateStream() {
    if (open) inflateEnd(&stream);
  }
};

/// Inflates into exactly `out`. A one-byte scratch output after `out` fills
/// up tells "ends exactly here" from "would decode to more" without ever
/// writing past `out`.
Status inflate_into(std::span<const std::byte> in, std::span<std::byte> out, int window_bits, std::string_view codec,
                    std::string_view what) {
  InflateStream z;
  if (inflateInit2(&z.stream, window_bits) != Z_OK) return Status::internal("inflateInit2 failed");
  z.open = true;
  std::size_t in_pos = 0, out_pos = 0;
  unsigned char scratch = 0;
  bool in_scratch = false;
  while (true) {
    feed_input(z.stream, in, in_pos);
    if (z.stream.avail_out == 0) {
      if (out_pos < out.size()) {
        const std::size_t n = std::min(kZlibStep, out.size() - out_pos);
        z.stream.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
        z.stream.avail_out = static_cast<uInt>(n);
        out_pos += n;
      } else if (!in_scratch) {
        in_scratch = true;
        z.stream.next_out = &scratch;
        z.stream.avail_out = 1;
      } else {
        return Status::invalid(size_mismatch(what, codec, "decodes to more than " + std::to_string(out.size()) +
                                                              " bytes, the chunk size"));
      }
    }
    const int rc = inflate(&z.stream, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && z.stream.avail_out == 0) continue;  // the output refill above handles it
    if (rc == Z_BUF_ERROR) return Status::invalid(size_mismatch(what, codec, "is truncated"));
    return Status::invalid(size_mismatch(what, codec, std::string("is corrupt: ") +
                                                          (z.stream.msg ? z.stream.msg : "inflate failed")));
  }
  const std::uint64_t produced = z.stream.total_out;
  if (in_scratch && z.stream.avail_out == 0) {
    return Status::invalid(size_mismatch(what, codec, "decodes to more than " + std::to_string(out.size()) +
                                                          " bytes, the chunk size"));
  }
  if (produced != out.size()) {
    return Status::invalid(size_mismatch(what, codec, "decodes to " + std::to_string(produced) + " bytes, expected " +
                                                          std::to_string(out.size())));
  }
  return Status::success();
}

struct DeflateStream {
  z_stream stream{};
  bool open = false;
  ~DeflateStream() {
    if (open) deflateEnd(&stream);
  }
};

Result<std::vector<std::byte>> deflate_all(std::span<const std::byte> in, int level, int window_bits) {
  DeflateStream z;
  if (deflateInit2(&z.stream, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::invalid("bad zlib level " + std::to_string(level));
  }
  z.open = true;
  std::vector<std::byte> out(deflateBound(&z.stream, in.size()) + 64);
  std::size_t in_pos = 0, out_pos = 0;
  while (true) {
    feed_input(z.stream, in, in_pos);
    if (z.stream.avail_out == 0) {
      if (out_pos == out.size()) out.resize(out.size() + out.size() / 2 + 64);
      const std::size_t n = std::min(kZlibStep, out.size() - out_pos);
      z.stream.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
      z.stream.avail_out = static_cast<uInt>(n);
      out_pos += n;
    }
    const int flush = in_pos == in.size() ? Z_FINISH : Z_NO_FLUSH;
    const int rc = deflate(&z.stream, flush);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return Status::internal("deflate failed");
  }
  out.resize(z.stream.total_out);
  return out;
}

// ---- zstd ---------------------------------------------------------------------------

Status zstd_decode(std::span<const std::byte> in, std::span<std::byte> out, std::string_view what) {
  // The first frame's declared size gives an early, clear answer; several
  // frames (legal, if unusual) are checked by the decoded total below.
  const unsigned long long content = ZSTD_getFrameContentSize(in.data(), in.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) return Status::invalid(size_mismatch(what, "zstd", "is not a valid zstd frame"));
  if (content != ZSTD_CONTENTSIZE_UNKNOWN && content > out.size()) {
    return Status::invalid(size_mismatch(what, "zstd", "decodes to " + std::to_string(content) +
                                                           " bytes, expected " + std::to_string(out.size())));
  }
  // ZSTD_decompress never writes past the capacity it is given.
  std::byte empty{};
  const std::size_t rc = ZSTD_decompress(out.empty() ? &empty : out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(rc) && ZSTD_getErrorCode(rc) == ZSTD_error_dstSize_tooSmall) {
    return Status::invalid(size_mismatch(what, "zstd", "decodes to more than " + std::to_string(out.size()) +
                                                           " bytes, the chunk size"));
  }
  if (ZSTD_isError(rc)) {
    return Status::invalid(size_mismatch(what, "zstd", std::string("is corrupt: ") + ZSTD_getErrorName(rc)));
  }
  if (rc != out.size()) {
    return Status::invalid(size_mismatch(what, "zstd", "decodes to " + std::to_string(rc) + " bytes, expected " +
                                                           std::to_string(out.size())));
  }
  return Status::success();
}

Result<std::vector<std::byte>> zstd_encode(std::span<const std::byte> in, int level) {
  std::vector<std::byte> out(ZSTD_compressBound(in.size()));
  const std::size_t rc = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(rc)) return Status::internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(rc));
  out.resize(rc);
  return out;
}

// ---- blosc --------------------------------------------------------------------------

Status blosc_decode(std::span<const std::byte> in, std::span<std::byte> out, std::string_view what) {
  if (in.size() < BLOSC_MIN_HEADER_LENGTH) return Status::invalid(size_mismatch(what, "blosc", "is truncated"));
  std::size_t nbytes = 0, cbytes = 0, blocksize = 0;
  blosc_cbuffer_sizes(in.data(), &nbytes, &cbytes, &blocksize);
  if (nbytes != out.size()) {
    return Status::invalid(size_mismatch(what, "blosc", "says it decodes to " + std::to_string(nbytes) +
                                                            " bytes, expected " + std::to_string(out.size())));
  }
  // validate checks the header against the buffer length, which makes the
  // decompression below safe to attempt on untrusted bytes.
  if (blosc_cbuffer_validate(in.data(), in.size(), &nbytes) != 0 || nbytes != out.size()) {
    return Status::invalid(size_mismatch(what, "blosc", "is corrupt (bad header or truncated)"));
  }
  if (out.empty()) return Status::success();
  const int rc = blosc_decompress_ctx(in.data(), out.data(), out.size(), 1);
  if (rc < 0 || static_cast<std::size_t>(rc) != out.size()) {
    return Status::invalid(size_mismatch(what, "blosc", "is corrupt (decompression failed)"));
  }
  return Status::success();
}

Result<std::vector<std::byte>> blosc_encode(const CodecConfig& config, std::span<const std::byte> in,
                                            std::size_t typesize) {
  if (in.size() > BLOSC_MAX_BUFFERSIZE) {
    return Status::invalid("blosc cannot compress " + std::to_string(in.size()) + " bytes in one chunk (limit " +
                           std::to_string(BLOSC_MAX_BUFFERSIZE) + ")");
  }
  if (typesize == 0 || typesize > BLOSC_MAX_TYPESIZE) typesize = 1;
  int shuffle = config.blosc_shuffle;
  // numcodecs' AUTOSHUFFLE: bit shuffle for one-byte items, byte shuffle otherwise.
  if (shuffle == -1) shuffle = typesize == 1 ? BLOSC_BITSHUFFLE : BLOSC_SHUFFLE;
  std::vector<std::byte> out(in.size() + BLOSC_MAX_OVERHEAD);
  const int rc = blosc_compress_ctx(config.level, shuffle, typesize, in.size(), in.data(), out.data(), out.size(),
                                    config.blosc_cname.c_str(), config.blosc_blocksize, 1);
  if (rc <= 0) return Status::internal("blosc compression failed (" + std::to_string(rc) + ")");
  out.resize(static_cast<std::size_t>(rc));
  return out;
}

constexpr int kZlibWindow = 15;         // zlib format: what numcodecs Zlib writes
constexpr int kGzipWindow = 15 + 16;    // gzip format

}  // namespace

namespace internal {

Result<CodecConfig> codec_from_json(const json& compressor, std::string_view what) {
  CodecConfig config;
  if (compressor.is_null()) return config;
  auto id = compressor.find("id");
  if (!compressor.is_object() || id == compressor.end() || !id->is_string()) {
    return Status::invalid("'compressor'" + in_store(what) + " must be null or an object with a string 'id'");
  }
  const std::string name = id->get<std::string>();
  if (name == "zlib" || name == "gzip") {
    config.id = name == "zlib" ? CodecId::kZlib : CodecId::kGzip;
    DTASK_RETURN_NOT_OK(parse_level_codec(compressor, -1, 9, what, {"id", "level"}, config));
  } else if (name == "zstd") {
    config.id = CodecId::kZstd;
    // The frame carries its own checksum flag; "checksum" only matters to writers.
    DTASK_RETURN_NOT_OK(
        parse_level_codec(compressor, ZSTD_minCLevel(), ZSTD_maxCLevel(), what, {"id", "level", "checksum"}, config));
  } else if (name == "blosc") {
    config.id = CodecId::kBlosc;
    DTASK_RETURN_NOT_OK(parse_blosc(compressor, what, config));
  } else {
    return Status::invalid("compressor '" + name + "'" + in_store(what) +
                           " is not supported; dtask reads zlib, gzip, zstd, blosc or no compressor");
  }
  return config;
}

json codec_to_json(const CodecConfig& config) {
  switch (config.id) {
    case CodecId::kNone: return nullptr;
    case CodecId::kZlib:
    case CodecId::kGzip:
    case CodecId::kZstd: return json{{"id", std::string(codec_name(config.id))}, {"level", config.level}};
    case CodecId::kBlosc:
      return json{{"id", "blosc"},
                  {"cname", config.blosc_cname},
                  {"clevel", config.level},
                  {"shuffle", config.blosc_shuffle},
                  {"blocksize", config.blosc_blocksize}};
  }
  return nullptr;
}

}  // namespace internal

std::string_view codec_name(CodecId id) {
  switch (id) {
    case CodecId::kNone: return "none";
    case CodecId::kZlib: return "zlib";
    case CodecId::kGzip: return "gzip";
    case CodecId::kZstd: return "zstd";
    case CodecId::kBlosc: return "blosc";
  }
  return "unknown";
}

Result<CodecConfig> parse_codec_config(std::string_view compressor_json, std::string_view what) {
  json parsed = json::parse(compressor_json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Status::invalid("'compressor'" + in_store(what) + " is not valid JSON");
  return internal::codec_from_json(parsed, what);
}

std::string codec_config_json(const CodecConfig& config) { return internal::codec_to_json(config).dump(); }

std::uint64_t max_encoded_size(std::uint64_t raw_size) { return raw_size + raw_size / 4 + (std::uint64_t{1} << 16); }

Status decode_into(const CodecConfig& config, std::span<const std::byte> encoded, std::span<std::byte> out,
                   std::string_view what) {
  switch (config.id) {
    case CodecId::kNone:
      if (encoded.size() != out.size()) {
        return Status::invalid(size_mismatch(what, "uncompressed", "is " + std::to_string(encoded.size()) +
                                                                       " bytes, expected " + std::to_string(out.size())));
      }
      if (!out.empty()) std::memcpy(out.data(), encoded.data(), out.size());
      return Status::success();
    case CodecId::kZlib: return inflate_into(encoded, out, kZlibWindow, "zlib", what);
    case CodecId::kGzip: return inflate_into(encoded, out, kGzipWindow, "gzip", what);
    case CodecId::kZstd: return zstd_decode(encoded, out, what);
    case CodecId::kBlosc: return blosc_decode(encoded, out, what);
  }
  return Status::invalid(std::string(what) + ": unknown codec");
}

Result<std::vector<std::byte>> decode(const CodecConfig& config, std::span<const std::byte> encoded,
                                      std::size_t expected_size, std::string_view what) {
  std::vector<std::byte> out;
  try {
    out.resize(expected_size);
  } catch (const std::bad_alloc&) {
    return Status::out_of_memory("cannot allocate " + std::to_string(expected_size) + " bytes to decode " +
                                 std::string(what));
  }
  DTASK_RETURN_NOT_OK(decode_into(config, encoded, out, what));
  return out;
}

Result<std::vector<std::byte>> encode(const CodecConfig& config, std::span<const std::byte> raw,
                                      std::size_t typesize) {
  try {
    switch (config.id) {
      case CodecId::kNone: return std::vector<std::byte>(raw.begin(), raw.end());
      case CodecId::kZlib: return deflate_all(raw, config.level, kZlibWindow);
      case CodecId::kGzip: return deflate_all(raw, config.level, kGzipWindow);
      case CodecId::kZstd: return zstd_encode(raw, config.level);
      case CodecId::kBlosc: return blosc_encode(config, raw, typesize);
    }
  } catch (const std::bad_alloc&) {
    return Status::out_of_memory("cannot allocate the output to encode " + std::to_string(raw.size()) + " bytes");
  }
  return Status::invalid("unknown codec");
}

}  // namespace dtask::formats
