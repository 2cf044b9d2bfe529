// Writes the seed corpora of the fuzz targets: small valid inputs made with
// dtask's own encoders (frames of every message kind, .npy headers of
// versions 1-3, .zarray files with a chunk for every codec, a few CSVs).
// The output is committed under fuzz/corpus/<target>/; rerun this after a
// change to the wire format or a format writer:
//
//   build-fuzz/fuzz/make_fuzz_seeds fuzz/corpus
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "common/frame.h"
#include "common/message_codec.h"
#include "common/messages.h"
#include "dtask/value.h"
#include "formats/codec.h"
#include "formats/npy_format.h"
#include "formats/zarr_format.h"
#include "fuzz/fuzz_support_internal.h"

namespace dtask::fuzz {
namespace {

std::filesystem::path g_root;

void emit(const std::string& target, const std::string& name, std::string_view bytes) {
  std::filesystem::create_directories(g_root / target);
  write_file(g_root / target / name, bytes);
}

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// ---- messages ----------------------------------------------------------------------------

std::vector<Value> sample_values() {
  return {Value(),
          Value(true),
          Value(std::int64_t{-7}),
          Value(2.5),
          Value(std::string("text")),
          Value(Bytes::from_string("blob\x01\x02")),
          Value(NDArray::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3})),
          Value(NDArray::from_vector<std::int32_t>({1, -2, 3})),
          Value(ValueList{Value(std::int64_t{1}), Value(TaskRef{"dep"}), Value(ValueList{})}),
          Value(TaskRef{"other"})};
}

Message sample_message(std::size_t kind) {
  switch (kind) {
    case 0: return msg::Handshake{kProtocolVersion, PeerRole::kWorker, "w1", "token", "session"};
    case 1: return msg::HandshakeReply{true, "", "scheduler", "", true};
    case 2: {
      msg::TaskDef task{"load-0", "load", sample_values(), {"a", "b"}, {1, 2, 3}, {{"GPU", 1}}, {"w1"}, 2};
      return msg::UpdateGraph{{task, msg::TaskDef{"sum", "sum", {Value(TaskRef{"load-0"})}, {"load-0"}}}, {"sum"}};
    }
    case 3: return msg::KeysScattered{"w1", {{"x", 8, "int64"}, {"y", 48, "float64[2,3]"}}};
    case 4: return msg::ReleaseKeys{{"a", "b"}};
    case 5: return msg::CancelKeys{{"c"}};
    case 6: return msg::InfoRequest{42};
    case 7: return msg::InfoReply{42, "{\"workers\": []}"};
    case 8:
      return msg::KeyStatusBatch{{{"k", KeyOutcome::kMemory, {"w1"}, "", "", "", 8, "int64"},
                                  {"e", KeyOutcome::kErred, {}, "fail", "e", "boom", 0, ""}}};
    case 9: return msg::RegisterWorker{"w1", "tcp://127.0.0.1:9000", 2, 1 << 30, {{"GPU", 1}}, {{"x-1", 8, "int64"}},
                                       msg::GpuDevice{0, "NVIDIA H200", 150ull << 30}};
    case 10: return msg::WorkerRegistered{500};
    case 11: {
      msg::ComputeTask task{"t", "add", sample_values(), {0, 1, 2}, {{"MEM", 1e9}}, {{"d", {0}, 16}}};
      return msg::ComputeTaskBatch{{task}, {"w2"}};
    }
    case 12:
      return msg::WorkerReport{{{"t", 8, "int64", 1.0, 2.0}},
                               {{"u", "fail", "boom"}},
                               {},
                               {{"v", "t", "tcp://127.0.0.1:9001", "fetch failed"}},
                               {{"t", 8}}};
    case 13: return msg::Heartbeat{100, 2, 1, 3, 50, 1, 1 << 20, 1 << 30, true};
    case 14: return msg::FreeKeys{{"t"}};
    case 15: return msg::GetData{7, {"t", "u"}};
    case 16: {
      std::vector<msg::KeyValue> values{{"t", true, Value(NDArray::from_vector<float>({1, 2, 3}))},
                                        {"u", false, Value()}};
      return msg::DataReply{7, values};
    }
    case 17: return msg::PutData{8, {{"s", true, Value(Bytes::from_string("scattered"))}}};
    case 18: return msg::PutDataReply{8, true, ""};
    case 19: return msg::RetireWorkers{9, {"w1", "tcp://127.0.0.1:9001"}};
    case 20: return msg::RetireWorkersReply{9, {"w1"}, ""};
    case 21: return msg::AcquireReplicas{"tcp://127.0.0.1:9001", {"t", "u"}};
    case 22: return msg::CloseWorker{"retired"};
    case 23: return msg::ResumeSession{{"x-1", "y-2"}};
    case 24: return msg::StealRequest{{{"t", 1}, {"u", 2}}};
    case 25: return msg::StealResponse{{{"t", 1, true}, {"u", 2, false}}};
  }
  std::abort();
}

/// The message_fuzzer layout of an encoded frame.
std::string message_input(const std::vector<std::byte>& frame) {
  auto header = parse_frame_header(frame, FrameLimits{});
  DTASK_FUZZ_CHECK(header.ok());
  auto slices = parse_bulk_table(*header, std::span(frame).subspan(kFrameHeaderSize, header->body_bytes()));
  DTASK_FUZZ_CHECK(slices.ok());
  std::string out;
  out.push_back(static_cast<char>(header->kind));
  bool fits = slices->size() <= 8;
  for (std::uint64_t length : *slices) fits = fits && length <= 255;
  if (!fits) return {};
  out.push_back(static_cast<char>(slices->size()));
  for (std::uint64_t length : *slices) out.push_back(static_cast<char>(length));
  out += as_text(std::span(frame).subspan(kFrameHeaderSize, header->message_bytes));
  return out;
}

void messages() {
  for (std::size_t kind = 0; kind < kMessageKindCount; ++kind) {
    const std::vector<std::byte> frame = flatten_frame(encode_frame(sample_message(kind)));
    DTASK_FUZZ_CHECK(decode_frame(frame, FrameLimits{}).ok());
    emit("frame", message_kind_name(kind), as_text(frame));
    std::string input = message_input(frame);
    if (input.empty()) {  // too many or too long bulk slices for the layout: drop the values
      Message m = sample_message(kind);
      if (auto* g = std::get_if<msg::UpdateGraph>(&m)) g->tasks[0].args.resize(5);
      if (auto* c = std::get_if<msg::ComputeTaskBatch>(&m)) c->tasks[0].args.resize(5);
      input = message_input(flatten_frame(encode_frame(m)));
    }
    DTASK_FUZZ_CHECK(!input.empty());
    emit("message", message_kind_name(kind), input);
  }
}

// ---- .npy ------------------------------------------------------------------------------

/// The same dict under a version 2 or 3 preamble (a 4-byte length),
/// padded so the data still starts at a multiple of 64 bytes.
std::string with_version(const std::string& v1, int major) {
  const std::size_t length = static_cast<unsigned char>(v1[8]) | static_cast<unsigned char>(v1[9]) << 8;
  std::string dict = v1.substr(10, length);
  while (!dict.empty() && (dict.back() == ' ' || dict.back() == '\n')) dict.pop_back();
  const std::size_t total = (12 + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - 12 - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out = v1.substr(0, 6);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(dict.size() >> (8 * i) & 0xff));
  return out + dict;
}

void npy() {
  struct Case {
    const char* name;
    DType dtype;
    std::vector<std::int64_t> shape;
  };
  const Case cases[] = {{"f8_2x3", DType::kFloat64, {2, 3}}, {"f4_5", DType::kFloat32, {5}},
                        {"i8_scalar", DType::kInt64, {}},     {"u1_2x2x2", DType::kUInt8, {2, 2, 2}},
                        {"b1_0x4", DType::kBool, {0, 4}},    {"i4_3x1", DType::kInt32, {3, 1}},
                        {"i1_4", DType::kInt8, {4}}};
  for (const Case& c : cases) {
    const std::string header = formats::make_npy_header(c.dtype, c.shape);
    std::int64_t elements = 1;
    for (std::int64_t e : c.shape) elements *= e;
    const std::string data(static_cast<std::size_t>(elements) * dtype_size(c.dtype), '\x01');
    emit("npy_header", std::string("v1_") + c.name, header + data);
    for (int major : {2, 3}) {
      const std::string other = with_version(header, major);
      DTASK_FUZZ_CHECK(formats::parse_npy_header(other, "seed").ok());
      emit("npy_header", "v" + std::to_string(major) + "_" + c.name, other + data);
    }
  }
  // Forms other writers produce: Fortran order of a vector, Python 2 longs, double quotes.
  for (auto [name, dict] : {std::pair{"fortran_vector", "{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }"},
                            std::pair{"py2_longs", "{'descr': '<i8', 'fortran_order': False, 'shape': (2L, 1L), }"},
                            std::pair{"double_quotes", "{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (4,)}"}}) {
    std::string text = std::string(dict) + "\n";
    std::string out = "\x93NUMPY\x01";
    out.push_back('\0');
    out.push_back(static_cast<char>(text.size() & 0xff));
    out.push_back(static_cast<char>(text.size() >> 8));
    DTASK_FUZZ_CHECK(formats::parse_npy_header(out + text, "seed").ok());
    emit("npy_header", name, out + text + std::string(24, '\0'));
  }
}

// ---- Zarr ------------------------------------------------------------------------------

void zarr() {
  using formats::CodecConfig;
  using formats::CodecId;
  struct Case {
    const char* name;
    CodecConfig codec;
    DType dtype;
    std::vector<std::int64_t> shape, chunks;
    std::string separator;
  };
  const Case cases[] = {
      {"none_f8", {}, DType::kFloat64, {4, 3}, {2, 3}, "."},
      {"zlib_i4", {.id = CodecId::kZlib, .level = 5}, DType::kInt32, {5}, {4}, "."},
      {"gzip_u1", {.id = CodecId::kGzip}, DType::kUInt8, {3, 3}, {2, 2}, "/"},
      {"zstd_f4", {.id = CodecId::kZstd, .level = 3}, DType::kFloat32, {6, 2}, {3, 2}, "."},
      {"blosc_lz4_i8", {.id = CodecId::kBlosc, .level = 5}, DType::kInt64, {8}, {8}, "."},
      {"blosc_zstd_bitshuffle", {.id = CodecId::kBlosc, .level = 3, .blosc_cname = "zstd", .blosc_shuffle = 2},
       DType::kFloat64, {2, 4}, {2, 4}, "."},
      {"blosc_blosclz_noshuffle", {.id = CodecId::kBlosc, .level = 1, .blosc_cname = "blosclz", .blosc_shuffle = 0},
       DType::kInt8, {16}, {16}, "."},
      {"scalar_b1", {}, DType::kBool, {}, {}, "."},
  };
  for (const Case& c : cases) {
    formats::ZarrMetadata meta;
    meta.shape = c.shape;
    meta.chunks = c.chunks;
    meta.dtype = c.dtype;
    meta.compressor = c.codec;
    meta.dimension_separator = c.separator;
    meta.fill_value = c.dtype == DType::kFloat64 ? std::numeric_limits<double>::quiet_NaN() : 1.0;
    std::int64_t elements = 1;
    for (std::int64_t e : c.chunks) elements *= e;
    std::vector<std::byte> raw(static_cast<std::size_t>(elements) * dtype_size(c.dtype));
    for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::byte>(i % 5);
    auto encoded = formats::encode(c.codec, raw, dtype_size(c.dtype));
    DTASK_FUZZ_CHECK(encoded.ok());
    std::string input = formats::zarr_metadata_json(meta);
    DTASK_FUZZ_CHECK(formats::parse_zarr_metadata(input, "seed").ok());
    input.push_back('\0');
    input += as_text(*encoded);
    emit("zarr", c.name, input);
  }
  // Metadata as python zarr 2.13 writes it, without a chunk (a missing chunk reads as fill_value).
  emit("zarr", "python_zarr_metadata",
       R"({"chunks": [100, 20], "compressor": {"blocksize": 0, "clevel": 5, "cname": "lz4", "id": "blosc",)"
       R"( "shuffle": 1}, "dimension_separator": ".", "dtype": "<f8", "fill_value": 0.0, "filters": null,)"
       R"( "order": "C", "shape": [1000, 20], "zarr_format": 2})");
}

// ---- CSV -------------------------------------------------------------------------------

void csv() {
  // First byte: options (bits 0-1 delimiter, 2 header, 3/4 column selections); second: chunk_rows - 1.
  emit("csv", "plain", std::string("\x00\x01", 2) + "1,2,3\n4.5,-6e3,NaN\n7,,inf\n");
  emit("csv", "header_quoted", std::string("\x04\x00", 2) + "a,\"b,c\",d\n\"1\", 2 ,3\r\n\n4,\"5\",NA\n");
  emit("csv", "semicolon_bom", std::string("\x01\x02", 2) + "\xEF\xBB\xBFx;y\n1;2\n3;4\n5;6\n");
  emit("csv", "tab_columns", std::string("\x0e\x03", 2) + "id\tvalue\n1\t0.5\n2\t1e400\n3\tN/A\n");
  emit("csv", "pipe_last_first", std::string("\x13\x07", 2) + "1|2\n3|4\n\"5\"|\"6\"\n");
  emit("csv", "escaped_quotes", std::string("\x04\x01", 2) + "\"a \"\"q\"\"\",b\n1,2\n");
}

}  // namespace
}  // namespace dtask::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  dtask::fuzz::g_root = argv[1];
  dtask::fuzz::messages();
  dtask::fuzz::npy();
  dtask::fuzz::zarr();
  dtask::fuzz::csv();
  return 0;
}
