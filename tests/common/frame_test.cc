// Framing and the message codec: every message kind round-trips with its
// bulk payloads intact and aligned, and malformed input of every sort (short,
// oversized, corrupted, inconsistent) is an Invalid status, never a crash.
#include "common/frame.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/message_codec.h"
#include "common/messages.h"
#include "dtask/value.h"

namespace dtask {
namespace {

using Bytes8 = std::vector<std::byte>;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// ---- sample content ------------------------------------------------------------

NDArray matrix() { return NDArray::from_vector<double>({1.5, -2, 3, 4e300, 5, -0.0}, {2, 3}); }

/// 28 bytes: the bulk slice needs padding before the next one.
NDArray odd_ints() { return NDArray::from_vector<std::int32_t>({1, -2, 3, 2147483647, -2147483647 - 1, 0, 7}); }

Bytes binary_blob() {
  static constexpr char kRaw[] = "\x00\x01 binary \xff\x00 tail";
  return Bytes::from_string(std::string_view(kRaw, sizeof(kRaw) - 1));
}

/// One of every kind of value, arrays of several dtypes and shapes included.
std::vector<Value> sample_values() {
  NDArray flags = NDArray::zeros(DType::kBool, {3});
  flags.mutable_data<std::uint8_t>()[1] = 1;
  NDArray bytes_array = NDArray::from_vector<std::uint8_t>({0, 128, 255});
  NDArray scalar = NDArray::zeros(DType::kInt64, {});
  scalar.mutable_data<std::int64_t>()[0] = -42;
  return {
      Value(),
      Value(true),
      Value(false),
      Value(std::numeric_limits<std::int64_t>::min()),
      Value(-0.25),
      Value(std::string("h\xc3\xa9llo, world")),
      Value(std::string()),
      Value(binary_blob()),
      Value(Bytes::from_string("")),
      Value(Bytes{}),  // no buffer at all: an empty slice on the wire
      Value(matrix()),
      Value(odd_ints()),
      Value(NDArray::zeros(DType::kFloat32, {0, 4})),
      Value(scalar),
      Value(flags),
      Value(bytes_array),
      Value(NDArray::from_vector<std::int8_t>({-128, 127})),
      Value(NDArray::from_vector<float>({0.5f, 1e-30f})),
      Value(ValueList{Value(1), Value(ValueList{Value("x"), Value(matrix()), Value(ValueList{})}),
                      Value(TaskRef{"dep-1"}), Value(binary_blob())}),
      Value(TaskRef{"another-key"}),
  };
}

/// A message of kind `kind` with every field set to something non-default.
Message sample_message(std::size_t kind) {
  switch (kind) {
    case 0: return msg::Handshake{kProtocolVersion, PeerRole::kWorker, "worker-7", "s3cret", "session-42"};
    case 1: return msg::HandshakeReply{false, "bad token", "scheduler-1", "http://h:1/", true};
    case 2: {
      msg::UpdateGraph m;
      msg::TaskDef a;
      a.key = "load-0";
      a.op = "load_chunk";
      a.args = sample_values();
      a.priority = {-3, 12, 99};
      a.resources = {{"GPU", 1}, {"MEM", 2.5e9}};
      a.workers = {"w1", "tcp://10.0.0.2:9000"};
      a.retries = 3;
      a.allow_other_workers = true;
      msg::TaskDef b;
      b.key = "sum";
      b.op = "sum";
      b.args = {Value(TaskRef{"load-0"}), Value(ValueList{Value(TaskRef{"load-0"}), Value(2.0)})};
      b.dependencies = {"load-0"};
      m.tasks = {a, b};
      m.wanted_keys = {"sum", "load-0"};
      return m;
    }
    case 3: return msg::KeysScattered{"tcp://w:1", {{"x", 800, "float64[100]"}, {"y", 0, "null"}}};
    case 4: return msg::ReleaseKeys{{"a", "b", std::string(300, 'k')}};
    case 5: return msg::CancelKeys{{"c"}};
    case 6: return msg::InfoRequest{0xfeedfacecafebeefull};
    case 7: return msg::InfoReply{7, R"({"tasks": 3, "workers": ["a"]})"};
    case 8: {
      msg::KeyStatusBatch m;
      m.statuses.push_back({"k1", KeyOutcome::kMemory, {"tcp://a:1", "tcp://b:2"}, "", "", "", 4096, "int64"});
      m.statuses.push_back({"k2", KeyOutcome::kErred, {}, "divide", "k0", "division by zero", 0, ""});
      m.statuses.push_back({"k3", KeyOutcome::kLost, {}, "", "k3", "lost", 0, ""});
      m.statuses.push_back({"k4", KeyOutcome::kCancelled, {}, "", "", "cancelled", 0, ""});
      return m;
    }
    case 9: return msg::RegisterWorker{"w9", "tcp://10.1.2.3:4567", 16, 64ull << 30, {{"GPU", 2}, {"SSD", 1}},
                                               {{"x-1", 800, "array"}, {"y-2", 8, "int64"}},
                                               msg::GpuDevice{3, "NVIDIA H200", 150ull << 30}};
    case 10: return msg::WorkerRegistered{250};
    case 11: {
      msg::ComputeTaskBatch m;
      msg::ComputeTask t;
      t.key = "train";
      t.op = "fit";
      t.args = sample_values();
      t.priority = {5, 1, 2};
      t.resources = {{"GPU", 1}};
      t.dependencies = {{"x", {0, 1}, 1 << 20}, {"y", {}, 0}};
      m.tasks = {t, msg::ComputeTask{}};
      m.holders = {"tcp://a:1", "tcp://b:1"};
      return m;
    }
    case 12: {
      msg::WorkerReport m;
      m.finished = {{"a", 80, "float64[10]", 1700000000.25, 1700000001.5}, {"b", 0, "null", 0, 0}};
      m.erred = {{"c", "explode", "boom: std::runtime_error"}};
      m.missing = {{"d", "a", "tcp://a:1", "fetch from tcp://a:1 failed"}};
      m.acquired = {{"a", 80}};
      return m;
    }
    case 13: return msg::Heartbeat{1ull << 40, 12345, 8, 99, 3ull << 30, 77, 5ull << 28, 1ull << 34, true};
    case 14: return msg::FreeKeys{{"x", "y"}};
    case 15: return msg::GetData{31, {"x", "y", "z"}};
    case 16: {
      msg::DataReply m;
      m.request_id = 31;
      std::vector<Value> values = sample_values();
      for (std::size_t i = 0; i < values.size(); ++i) m.values.push_back({"k" + std::to_string(i), true, values[i]});
      m.values.push_back({"missing", false, Value()});
      return m;
    }
    case 17: {
      msg::PutData m;
      m.request_id = 32;
      m.values = {{"matrix", true, Value(matrix())}, {"blob", true, Value(binary_blob())}};
      return m;
    }
    case 18: return msg::PutDataReply{32, false, "out of memory"};
    case 19: return msg::RetireWorkers{33, {"w1", "tcp://b:1"}};
    case 20: return msg::RetireWorkersReply{33, {"w1"}, "no worker named 'w9'"};
    case 21: return msg::AcquireReplicas{"tcp://a:1", {"x", "y"}};
    case 22: return msg::CloseWorker{"retired"};
    case 23: return msg::ResumeSession{{"sum-1", "x-(0, 1)"}};
    case 24: return msg::StealRequest{{{"inc-1", 7}, {"x-(0, 1)", 8}}};
    case 25: return msg::StealResponse{{{"inc-1", 7, true}, {"x-(0, 1)", 8, false}}};
  }
  ADD_FAILURE() << "no sample for kind " << kind;
  return msg::Heartbeat{};
}

/// Pointers to every Value a message carries, in encoding order.
std::vector<const Value*> values_in(const Message& message) {
  std::vector<const Value*> out;
  std::visit(Overloaded{
                 [&](const msg::UpdateGraph& m) {
                   for (const auto& t : m.tasks)
                     for (const auto& v : t.args) out.push_back(&v);
                 },
                 [&](const msg::ComputeTaskBatch& m) {
                   for (const auto& t : m.tasks)
                     for (const auto& v : t.args) out.push_back(&v);
                 },
                 [&](const msg::DataReply& m) {
                   for (const auto& kv : m.values) out.push_back(&kv.value);
                 },
                 [&](const msg::PutData& m) {
                   for (const auto& kv : m.values) out.push_back(&kv.value);
                 },
                 [](const auto&) {},
             },
             message);
  return out;
}

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kBulkAlignment == 0; }

/// Deep equality of a sent and a received value; received arrays and blobs
/// must also be 64-byte aligned.
void expect_same_value(const Value& sent, const Value& got, const std::string& where) {
  ASSERT_EQ(sent.variant().index(), got.variant().index()) << where << ": " << sent.type_name() << " became "
                                                           << got.type_name();
  std::visit(Overloaded{
                 [&](const std::monostate&) {},
                 [&](const bool& v) { EXPECT_EQ(v, got.get<bool>()) << where; },
                 [&](const std::int64_t& v) { EXPECT_EQ(v, got.get<std::int64_t>()) << where; },
                 [&](const double& v) {
                   double g = got.get<double>();
                   EXPECT_EQ(std::memcmp(&v, &g, sizeof v), 0) << where << ": " << v << " vs " << g;
                 },
                 [&](const std::string& v) { EXPECT_EQ(v, got.get<std::string>()) << where; },
                 [&](const Bytes& v) {
                   const Bytes& g = got.get<Bytes>();
                   EXPECT_EQ(v.view(), g.view()) << where;
                   ASSERT_NE(g.buffer, nullptr) << where;
                   EXPECT_TRUE(aligned(g.buffer->data())) << where;
                 },
                 [&](const NDArray& v) {
                   const NDArray& g = got.get<NDArray>();
                   EXPECT_EQ(v.dtype, g.dtype) << where;
                   EXPECT_EQ(v.shape, g.shape) << where;
                   ASSERT_EQ(v.nbytes(), g.nbytes()) << where;
                   EXPECT_EQ(std::memcmp(v.buffer->data(), g.buffer->data(), v.nbytes()), 0) << where;
                   EXPECT_TRUE(aligned(g.buffer->data())) << where << ": array data is not 64-byte aligned";
                 },
                 [&](const ValueList& v) {
                   const ValueList& g = got.get<ValueList>();
                   ASSERT_EQ(v.size(), g.size()) << where;
                   for (std::size_t i = 0; i < v.size(); ++i) {
                     expect_same_value(v[i], g[i], where + "[" + std::to_string(i) + "]");
                   }
                 },
                 [&](const TaskRef& v) { EXPECT_EQ(v, got.get<TaskRef>()) << where; },
             },
             sent.variant());
}

// ---- byte surgery -------------------------------------------------------------------

template <typename T>
void poke(Bytes8& frame, std::size_t offset, T value) {
  std::memcpy(frame.data() + offset, &value, sizeof(T));
}
template <typename T>
T peek(const Bytes8& frame, std::size_t offset) {
  T value;
  std::memcpy(&value, frame.data() + offset, sizeof(T));
  return value;
}

/// A bare header with the given fields and a valid magic and version.
Bytes8 make_header(std::uint8_t kind, std::uint32_t message_bytes, std::uint32_t bulk_count,
                   std::uint64_t bulk_bytes) {
  Bytes8 header(kFrameHeaderSize);
  poke<std::uint32_t>(header, 0, kFrameMagic);
  poke<std::uint8_t>(header, 4, kFrameVersion);
  poke<std::uint8_t>(header, 5, kind);
  poke<std::uint32_t>(header, 8, message_bytes);
  poke<std::uint32_t>(header, 12, bulk_count);
  poke<std::uint64_t>(header, 16, bulk_bytes);
  return header;
}

class FrameTest : public ::testing::Test {
 protected:
  static Bytes8 encode(const Message& message) { return flatten_frame(encode_frame(message)); }

  static Result<Message> decode(const Bytes8& frame, const FrameLimits& limits = {}) {
    return decode_frame(std::span<const std::byte>(frame.data(), frame.size()), limits);
  }

  static Result<FrameHeader> header_of(const Bytes8& frame, const FrameLimits& limits = {}) {
    return parse_frame_header(std::span<const std::byte>(frame.data(), std::min(frame.size(), kFrameHeaderSize)),
                              limits);
  }

  /// Expects `frame` to be rejected with a message containing `why`.
  static void expect_invalid(const Bytes8& frame, std::string_view why, const FrameLimits& limits = {}) {
    Result<Message> decoded = decode(frame, limits);
    ASSERT_FALSE(decoded.ok()) << "accepted a frame that should fail with '" << why << "'";
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalid) << decoded.status().to_string();
    EXPECT_NE(decoded.status().message().find(why), std::string::npos) << decoded.status().to_string();
  }

  /// The checks a decoded message must pass whatever bytes it came from:
  /// every array's payload matches its shape, and it encodes again.
  static void expect_well_formed(const Message& message) {
    ASSERT_LT(message.index(), kMessageKindCount);
    std::vector<const Value*> stack = values_in(message);
    while (!stack.empty()) {
      const Value* value = stack.back();
      stack.pop_back();
      if (value->is<NDArray>()) {
        const NDArray& array = value->get<NDArray>();
        ASSERT_NE(array.buffer, nullptr);
        EXPECT_EQ(array.nbytes(), static_cast<std::size_t>(array.size()) * dtype_size(array.dtype));
      } else if (value->is<ValueList>()) {
        for (const Value& item : value->get<ValueList>()) stack.push_back(&item);
      }
    }
    Result<Message> again = [&] {
      Bytes8 reencoded = encode(message);
      return decode(reencoded);
    }();
    EXPECT_TRUE(again.ok()) << again.status().to_string();
  }
};

// ---- round trips ---------------------------------------------------------------------

class FrameRoundTripTest : public FrameTest, public ::testing::WithParamInterface<std::size_t> {};

// Every message kind survives encode -> flatten -> decode: same kind, same
// fields (re-encoding gives identical bytes), same values with array and blob
// bytes intact and 64-byte aligned.
TEST_P(FrameRoundTripTest, EveryKindRoundTrips) {
  const std::size_t kind = GetParam();
  Message sent = sample_message(kind);
  ASSERT_EQ(sent.index(), kind);
  EncodedFrame encoded = encode_frame(sent);
  Bytes8 frame = flatten_frame(encoded);
  ASSERT_EQ(frame.size(), encoded.total_bytes);

  Result<FrameHeader> header = header_of(frame);
  ASSERT_TRUE(header.ok()) << header.status().to_string();
  EXPECT_EQ(header->kind, kind);
  EXPECT_EQ(header->message_bytes % 8, 0u);
  EXPECT_EQ(header->bulk_bytes % kBulkAlignment, 0u);
  EXPECT_EQ(kFrameHeaderSize + header->body_bytes() + header->bulk_bytes, frame.size());

  Result<Message> got = decode(frame);
  ASSERT_TRUE(got.ok()) << message_kind_name(kind) << ": " << got.status().to_string();
  ASSERT_EQ(got->index(), kind) << message_kind_name(got->index());
  EXPECT_EQ(encode(*got), frame) << message_kind_name(kind) << " lost or changed a field on the way";

  std::vector<const Value*> sent_values = values_in(sent);
  std::vector<const Value*> got_values = values_in(*got);
  ASSERT_EQ(sent_values.size(), got_values.size());
  for (std::size_t i = 0; i < sent_values.size(); ++i) {
    expect_same_value(*sent_values[i], *got_values[i], std::string(message_kind_name(kind)) + " value " +
                                                           std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, FrameRoundTripTest, ::testing::Range<std::size_t>(0, kMessageKindCount),
                         [](const auto& info) { return std::string(message_kind_name(info.param)); });

// Every alternative of Message has a sample above (a new kind needs one).
TEST_F(FrameTest, SamplesCoverEveryKind) {
  EXPECT_EQ(kMessageKindCount, 26u);
  EXPECT_STREQ(message_kind_name(kMessageKindCount), "Unknown");
}

// Decoding the way a connection does (header, then an aligned body, then
// the bulk section in its own allocation) gives the same message, with every
// value slicing that one bulk allocation at aligned offsets.
TEST_F(FrameTest, StreamedDecodeSlicesOneAlignedBulkAllocation) {
  Message sent = sample_message(16);  // DataReply: one value of every kind
  Bytes8 frame = encode(sent);
  Result<FrameHeader> header = header_of(frame);
  ASSERT_TRUE(header.ok()) << header.status().to_string();

  auto body = Buffer::copy_of(frame.data() + kFrameHeaderSize, header->body_bytes());
  auto bulk = Buffer::copy_of(frame.data() + kFrameHeaderSize + header->body_bytes(), header->bulk_bytes);
  std::span<const std::byte> body_span(body->data(), body->size());
  auto slices = parse_bulk_table(*header, body_span);
  ASSERT_TRUE(slices.ok()) << slices.status().to_string();
  EXPECT_EQ(slices->size(), header->bulk_count);

  Result<Message> got = decode_frame_body(*header, body_span, bulk, *slices);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  const auto& reply = std::get<msg::DataReply>(*got);
  const auto& original = std::get<msg::DataReply>(sent);
  ASSERT_EQ(reply.values.size(), original.values.size());
  for (std::size_t i = 0; i < reply.values.size(); ++i) {
    EXPECT_EQ(reply.values[i].key, original.values[i].key);
    EXPECT_EQ(reply.values[i].found, original.values[i].found);
    expect_same_value(original.values[i].value, reply.values[i].value, reply.values[i].key);
    if (reply.values[i].value.is<NDArray>()) {
      const std::byte* data = reply.values[i].value.get<NDArray>().buffer->data();
      EXPECT_GE(data, bulk->data());
      EXPECT_LE(data, bulk->data() + bulk->size()) << "array bytes were copied out of the bulk section";
    }
  }
}

// ---- task arguments that name dependencies -------------------------------------

/// `n` dependency keys as long as real ones (a 32-hex-digit token each).
std::vector<std::string> long_keys(std::size_t n) {
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < n; ++i) keys.push_back("inc-0123456789abcdef0123456789abcdef-" + std::to_string(i));
  return keys;
}

/// A task over `deps` whose one argument lists TaskRefs to `refs`.
msg::TaskDef task_over(const std::vector<std::string>& deps, const std::vector<std::string>& refs) {
  msg::TaskDef task;
  task.key = "sum-1";
  task.op = "sum";
  ValueList list;
  for (const std::string& key : refs) list.push_back(Value(TaskRef{key}));
  if (!refs.empty()) task.args.push_back(Value(std::move(list)));
  task.dependencies = deps;
  return task;
}

std::vector<std::string> refs_in(const msg::TaskDef& task) {
  std::vector<std::string> out;
  for (const Value& item : task.args.at(0).get<ValueList>()) out.push_back(item.get<TaskRef>().key);
  return out;
}

// TaskRefs to a task's dependencies come back as the same keys, in order or
// not, named twice, or next to a key that is no dependency; in an
// UpdateGraph and in a ComputeTaskBatch.
TEST_F(FrameTest, ArgumentsNamingDependenciesRoundTrip) {
  const std::vector<std::string> few = {"a", "b", "c"};
  std::vector<std::string> many = long_keys(100);
  std::vector<std::string> many_refs(many.rbegin(), many.rend());  // past the scanned few: the table
  many_refs.push_back(many[7]);
  many_refs.push_back("not-a-dependency");
  for (const auto& [deps, refs] : {std::pair{few, std::vector<std::string>{"c", "a", "a", "b", "elsewhere", "c"}},
                                   std::pair{many, many_refs}}) {
    Result<Message> graph = decode(encode(msg::UpdateGraph{{task_over(deps, refs)}, {"sum-1"}}));
    ASSERT_TRUE(graph.ok()) << graph.status().to_string();
    const msg::TaskDef& got = std::get<msg::UpdateGraph>(*graph).tasks.at(0);
    EXPECT_EQ(got.dependencies, deps);
    EXPECT_EQ(refs_in(got), refs);

    msg::ComputeTask compute{"sum-1", "sum", task_over(deps, refs).args, {}, {}, {}, false};
    for (const std::string& key : deps) compute.dependencies.push_back({key, {0}, 8});
    Result<Message> batch = decode(encode(msg::ComputeTaskBatch{{compute}, {"tcp://127.0.0.1:1"}}));
    ASSERT_TRUE(batch.ok()) << batch.status().to_string();
    const msg::ComputeTask& task = std::get<msg::ComputeTaskBatch>(*batch).tasks.at(0);
    std::vector<std::string> got_refs;
    for (const Value& item : task.args.at(0).get<ValueList>()) got_refs.push_back(item.get<TaskRef>().key);
    EXPECT_EQ(got_refs, refs);
  }
}

// A sum over 10,000 inputs names each input once on the wire: an argument
// costs its Value struct (24 bytes), not the key's 48 bytes of text on top.
TEST_F(FrameTest, ArgumentsNamingDependenciesAddNoKeyBytes) {
  const std::vector<std::string> keys = long_keys(10000);
  const std::size_t bare = encode(msg::UpdateGraph{{task_over(keys, {})}, {}}).size();
  const std::size_t with_args = encode(msg::UpdateGraph{{task_over(keys, keys)}, {}}).size();
  EXPECT_LT(with_args - bare, keys.size() * 32) << "bytes per argument: " << (with_args - bare) / keys.size();
}

// ---- a batch's holders, and big messages in one segment -----------------------

/// A ComputeTaskBatch of one sum over `keys`, input i held by holder i % 2
/// (none at all when `with_holders` is false).
msg::ComputeTaskBatch sum_batch(const std::vector<std::string>& keys, bool with_holders) {
  msg::ComputeTask sum{"sum-1", "sum", task_over(keys, keys).args, {}, {}, {}, false};
  for (std::size_t i = 0; i < keys.size(); ++i) {
    msg::HolderIndices who_has;
    if (with_holders) who_has.push_back(static_cast<std::uint32_t>(i % 2));
    sum.dependencies.push_back({keys[i], std::move(who_has), 8});
  }
  msg::ComputeTaskBatch batch{{std::move(sum)}, {}};
  if (with_holders) batch.holders = {"tcp://192.168.100.101:40001", "tcp://192.168.100.102:40002"};
  return batch;
}

// A sum over 10,000 inputs on two workers names each worker's address once:
// an input's holder costs one word (an index), not a list of addresses.
TEST_F(FrameTest, HoldersTravelOncePerBatch) {
  const std::vector<std::string> keys = long_keys(10000);
  const msg::ComputeTaskBatch batch = sum_batch(keys, true);
  const std::size_t with_holders = encode(batch).size();
  const std::size_t bare = encode(sum_batch(keys, false)).size();
  EXPECT_LE(with_holders - bare, keys.size() * 8 + 128) << "bytes per holder: " << (with_holders - bare) / keys.size();

  Result<Message> decoded = decode(encode(batch));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  const auto& got = std::get<msg::ComputeTaskBatch>(*decoded);
  EXPECT_EQ(got.holders, batch.holders);
  ASSERT_EQ(got.tasks.at(0).dependencies.size(), keys.size());
  for (std::size_t i : {std::size_t{0}, std::size_t{1}, keys.size() - 1}) {
    EXPECT_EQ(got.holders_of(got.tasks[0].dependencies[i]), std::vector<std::string>{batch.holders[i % 2]}) << i;
  }
}

/// Segments of an encoded frame (the Cap'n Proto segment table follows the header).
std::uint32_t segments_of(const std::vector<std::byte>& frame) {
  std::uint32_t count_minus_one = 0;
  std::memcpy(&count_minus_one, frame.data() + kFrameHeaderSize, sizeof(count_minus_one));
  return count_minus_one + 1;
}

// The messages that grow with a graph are built in one segment, so their
// items need no far pointers (a landing pad each, and a locked lookup as the
// reader follows it). Small messages keep the usual small first segment.
TEST_F(FrameTest, MessagesThatGrowWithTheGraphAreOneSegment) {
  const std::vector<std::string> keys = long_keys(20000);
  EXPECT_EQ(segments_of(encode(sum_batch(keys, true))), 1u) << "a ComputeTaskBatch over 20,000 inputs";
  msg::UpdateGraph graph;
  for (const std::string& key : keys) graph.tasks.push_back({key, "inc", {Value(1)}, {}, {}, {}, {}, 0, false});
  graph.tasks.push_back(task_over(keys, keys));
  graph.wanted_keys = {"sum-1"};
  EXPECT_EQ(segments_of(encode(graph)), 1u) << "an UpdateGraph of 20,001 tasks";
  EXPECT_EQ(segments_of(encode(msg::FreeKeys{keys})), 1u) << "a FreeKeys of 20,000 keys";
  EXPECT_LT(encode(msg::FreeKeys{{"x"}}).size(), 1024u) << "a small message is sent at its own size";
}

// RegisterWorker's GPU is optional: absent stays absent (CPU workers, and
// workers older than the field), and a device known by index alone (no CUDA,
// or no device found) still arrives as a device.
TEST_F(FrameTest, RegisterWorkerGpuIsOptional) {
  msg::RegisterWorker cpu{"cpu", "tcp://10.0.0.1:1", 2, 0, {}, {}, std::nullopt};
  Result<Message> got = decode(encode(cpu));
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_FALSE(std::get<msg::RegisterWorker>(*got).gpu.has_value());

  msg::RegisterWorker bound{"gpu", "tcp://10.0.0.1:2", 1, 0, {{"GPU", 1}}, {}, msg::GpuDevice{0, "", 0}};
  got = decode(encode(bound));
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  const auto& gpu = std::get<msg::RegisterWorker>(*got).gpu;
  ASSERT_TRUE(gpu.has_value());
  EXPECT_EQ(*gpu, (msg::GpuDevice{0, "", 0}));

  const Message sample_frame = sample_message(9);
  const msg::RegisterWorker& sample = std::get<msg::RegisterWorker>(sample_frame);
  got = decode(encode(sample));
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(std::get<msg::RegisterWorker>(*got).gpu, sample.gpu);
}

// A body that is not 8-byte aligned is refused (Cap'n Proto reads words).
TEST_F(FrameTest, UnalignedBodyIsRefused) {
  Bytes8 frame = encode(sample_message(13));
  Result<FrameHeader> header = header_of(frame);
  ASSERT_TRUE(header.ok());
  auto storage = Buffer::allocate(header->body_bytes() + 8);
  std::memcpy(storage->mutable_data() + 4, frame.data() + kFrameHeaderSize, header->body_bytes());
  std::span<const std::byte> body(storage->data() + 4, header->body_bytes());
  Result<Message> got = decode_frame_body(*header, body, Buffer::allocate(0), {});
  EXPECT_FALSE(got.ok());
}

// Large arrays keep every byte through a frame.
TEST_F(FrameTest, LargeArraySurvivesByteForByte) {
  std::vector<double> values(1 << 16);
  std::mt19937_64 rng(7);
  for (double& v : values) v = std::bit_cast<double>((rng() & ~(0x7ffull << 52)) | (0x3ffull << 52));
  NDArray array = NDArray::from_vector(values, {256, 256});
  Bytes8 frame = encode(msg::PutData{1, {{"big", true, Value(array)}}});
  Result<Message> got = decode(frame);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  const NDArray& back = std::get<msg::PutData>(*got).values.at(0).value.get<NDArray>();
  EXPECT_EQ(back.shape, (std::vector<std::int64_t>{256, 256}));
  ASSERT_EQ(back.nbytes(), values.size() * sizeof(double));
  EXPECT_EQ(std::memcmp(back.data<double>(), values.data(), back.nbytes()), 0);
  EXPECT_TRUE(aligned(back.data<double>()));
}

// ---- truncation ---------------------------------------------------------------------

// Every proper prefix of a frame (with a message, a bulk table and padded
// bulk slices) is rejected, never read past its end.
TEST_F(FrameTest, EveryPrefixOfAFrameIsRejected) {
  Bytes8 frame = encode(msg::PutData{5, {{"a", true, Value(odd_ints())}, {"b", true, Value(binary_blob())}}});
  ASSERT_GT(frame.size(), kFrameHeaderSize + 128);
  ASSERT_TRUE(decode(frame).ok());
  for (std::size_t length = 0; length < frame.size(); ++length) {
    // A heap copy of exactly `length` bytes, so a read past the end is a
    // real overrun for the sanitizers.
    Bytes8 prefix(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(length));
    Result<Message> got = decode(prefix);
    ASSERT_FALSE(got.ok()) << "a " << length << "-byte prefix of a " << frame.size() << "-byte frame decoded";
    EXPECT_EQ(got.status().code(), StatusCode::kInvalid);
  }
}

// A body shorter or longer than the header says is refused by the bulk table parser.
TEST_F(FrameTest, BulkTableParserRefusesWrongBodyLength) {
  Bytes8 frame = encode(msg::PutData{5, {{"a", true, Value(matrix())}}});
  Result<FrameHeader> header = header_of(frame);
  ASSERT_TRUE(header.ok());
  Bytes8 body(frame.begin() + kFrameHeaderSize,
              frame.begin() + static_cast<std::ptrdiff_t>(kFrameHeaderSize + header->body_bytes()));
  EXPECT_TRUE(parse_bulk_table(*header, body).ok());
  EXPECT_FALSE(parse_bulk_table(*header, std::span<const std::byte>(body).first(body.size() - 8)).ok());
  body.resize(body.size() + 8);
  EXPECT_FALSE(parse_bulk_table(*header, body).ok());
}

// ---- limits --------------------------------------------------------------------------

// Oversized message and bulk sections, and too many slices, are refused by
// parse_frame_header from the 24 header bytes alone, before any allocation;
// sizes at the limits pass.
TEST_F(FrameTest, OversizedFramesAreRefusedFromTheHeaderAlone) {
  const FrameLimits limits{1024, 4096, 16};
  EXPECT_TRUE(header_of(make_header(2, 1024, 16, 4096), limits).ok());

  Result<FrameHeader> big_message = header_of(make_header(2, 1024 + 8, 0, 0), limits);
  ASSERT_FALSE(big_message.ok());
  EXPECT_NE(big_message.status().message().find("exceeds"), std::string::npos);

  Result<FrameHeader> big_bulk = header_of(make_header(2, 64, 1, 4096 + 64), limits);
  ASSERT_FALSE(big_bulk.ok());
  EXPECT_NE(big_bulk.status().message().find("exceeds"), std::string::npos);

  EXPECT_FALSE(header_of(make_header(2, 64, 17, 64), limits).ok()) << "too many bulk slices";
}

// With the default limits a header claiming gigabytes is refused as too
// large, not as truncated: the claim is checked before anything is read.
TEST_F(FrameTest, DefaultLimitsRefuseHugeClaimsBeforeReadingTheBody) {
  expect_invalid(make_header(2, 0xFFFFFFF8u, 0, 0), "exceeds");
  expect_invalid(make_header(16, 64, 1, 1ull << 40), "exceeds");
  expect_invalid(make_header(16, 64, 0xFFFFFFFFu, 64), "bulk slices");
  expect_invalid(make_header(16, 64, 1, std::numeric_limits<std::uint64_t>::max() & ~63ull), "exceeds");
}

// The limits a daemon reads an unadmitted peer under take a real handshake
// (a long name and token included) but refuse anything larger and any bulk,
// so a stranger cannot make the daemon allocate what the full limits allow.
TEST_F(FrameTest, HandshakeLimitsTakeAHandshakeAndNothingLarger) {
  msg::Handshake hello{kProtocolVersion, PeerRole::kWorker, std::string(1024, 'w'), std::string(4096, 't')};
  ASSERT_TRUE(decode(encode(hello), kHandshakeFrameLimits).ok());
  EXPECT_FALSE(header_of(make_header(0, (64 << 10) + 8, 0, 0), kHandshakeFrameLimits).ok());
  EXPECT_FALSE(header_of(make_header(0, 64, 1, 64), kHandshakeFrameLimits).ok()) << "bulk before a handshake";
  EXPECT_TRUE(header_of(make_header(0, (64 << 10) + 8, 0, 0)).ok()) << "the full limits take it";
}

// Message lengths that are zero or not whole words, and an unpadded bulk
// section, are refused.
TEST_F(FrameTest, MisshapenLengthsAreRefused) {
  expect_invalid(make_header(2, 0, 0, 0), "multiple of 8");
  expect_invalid(make_header(2, 12, 0, 0), "multiple of 8");
  expect_invalid(make_header(2, 64, 1, 100), "not padded");
}

// ---- garbage ---------------------------------------------------------------------------

// A wrong magic, an unknown version and an unknown kind are each refused
// with a message naming the problem.
TEST_F(FrameTest, BadMagicVersionAndKindAreRefused) {
  Bytes8 good = encode(sample_message(13));
  ASSERT_TRUE(decode(good).ok());

  Bytes8 frame = good;
  frame[0] = std::byte{'H'};  // an HTTP client, say
  expect_invalid(frame, "magic");

  frame = good;
  poke<std::uint8_t>(frame, 4, kFrameVersion + 1);
  expect_invalid(frame, "version");

  for (unsigned kind : {static_cast<unsigned>(kMessageKindCount), 200u, 255u}) {
    frame = good;
    poke<std::uint8_t>(frame, 5, static_cast<std::uint8_t>(kind));
    expect_invalid(frame, "unknown message kind");
  }
}

// A header whose kind names a different message than the body holds is
// refused, for every pair of kinds.
TEST_F(FrameTest, HeaderKindMustMatchTheMessage) {
  for (std::size_t kind = 0; kind < kMessageKindCount; ++kind) {
    Bytes8 good = encode(sample_message(kind));
    for (std::size_t other = 0; other < kMessageKindCount; ++other) {
      if (other == kind) continue;
      Bytes8 frame = good;
      poke<std::uint8_t>(frame, 5, static_cast<std::uint8_t>(other));
      expect_invalid(frame, "does not match");
    }
  }
}

// An array whose shape disagrees with its payload size is refused, as are
// negative and overflowing dimensions.
TEST_F(FrameTest, ArrayShapeMustMatchPayload) {
  NDArray short_payload;
  short_payload.dtype = DType::kFloat64;
  short_payload.shape = {3};
  short_payload.buffer = Buffer::allocate(16);  // 2 doubles, not 3
  expect_invalid(encode(msg::PutData{1, {{"a", true, Value(short_payload)}}}), "expects 24 bytes");

  NDArray long_payload = short_payload;
  long_payload.buffer = Buffer::allocate(32);
  expect_invalid(encode(msg::DataReply{1, {{"a", true, Value(ValueList{Value(long_payload)})}}}), "expects");

  NDArray negative = short_payload;
  negative.shape = {-2, -1};
  expect_invalid(encode(msg::PutData{1, {{"a", true, Value(negative)}}}), "negative");

  NDArray overflowing = short_payload;
  overflowing.shape = {1ll << 40, 1ll << 40};
  expect_invalid(encode(msg::PutData{1, {{"a", true, Value(overflowing)}}}), "overflows");
}

// A value naming a bulk slice the frame does not have is refused.
TEST_F(FrameTest, BulkIndexOutOfRangeIsRefused) {
  for (const Value& value : {Value(binary_blob()), Value(matrix()), Value(ValueList{Value(odd_ints())})}) {
    Bytes8 good = encode(msg::PutData{1, {{"a", true, value}}});
    Result<FrameHeader> header = header_of(good);
    ASSERT_TRUE(header.ok());
    ASSERT_EQ(header->bulk_count, 1u);
    // Keep the message, drop the bulk table and section: slice 0 of 0.
    Bytes8 frame(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(kFrameHeaderSize + header->message_bytes));
    poke<std::uint32_t>(frame, 12, 0);
    poke<std::uint64_t>(frame, 16, 0);
    expect_invalid(frame, "bulk slice 0 of 0");
  }
}

// A bulk table whose slices overrun, or do not fill, the bulk section is refused.
TEST_F(FrameTest, InconsistentBulkTableIsRefused) {
  Bytes8 good = encode(msg::PutData{1, {{"a", true, Value(matrix())}, {"b", true, Value(odd_ints())}}});
  Result<FrameHeader> header = header_of(good);
  ASSERT_TRUE(header.ok());
  ASSERT_EQ(header->bulk_count, 2u);
  const std::size_t table = kFrameHeaderSize + header->message_bytes;

  Bytes8 frame = good;
  poke<std::uint64_t>(frame, table, header->bulk_bytes + 1);
  expect_invalid(frame, "longer than the bulk section");

  frame = good;
  poke<std::uint64_t>(frame, table, 128);  // 48 -> 128: the second slice no longer fits
  expect_invalid(frame, "overrun");

  frame = good;
  poke<std::uint64_t>(frame, table + 8, 0);  // 28 -> 0: 64 bytes left over
  expect_invalid(frame, "do not fill");
}

// Trailing words after the Cap'n Proto message inside its declared length are refused.
TEST_F(FrameTest, TrailingWordsInsideTheMessageAreRefused) {
  Bytes8 good = encode(sample_message(13));
  Result<FrameHeader> header = header_of(good);
  ASSERT_TRUE(header.ok());
  ASSERT_EQ(header->bulk_count, 0u);
  Bytes8 frame = good;
  frame.insert(frame.begin() + static_cast<std::ptrdiff_t>(kFrameHeaderSize + header->message_bytes), 8,
               std::byte{0});
  poke<std::uint32_t>(frame, 8, header->message_bytes + 8);
  expect_invalid(frame, "trailing");
}

// Thousands of seeded random mutations of a valid frame (body bytes, whole
// words, bulk table entries, the kind) never crash: each decodes to an error
// or to a well-formed message.
TEST_F(FrameTest, RandomMutationsNeverCrash) {
  const Bytes8 good = encode(sample_message(2));  // UpdateGraph: nested lists, arrays, blobs
  Result<FrameHeader> header = header_of(good);
  ASSERT_TRUE(header.ok());
  const std::size_t body_end = kFrameHeaderSize + header->message_bytes;
  std::mt19937 rng(20240611);
  auto pick = [&rng](std::size_t lo, std::size_t hi) {  // [lo, hi)
    return std::uniform_int_distribution<std::size_t>(lo, hi - 1)(rng);
  };
  int accepted = 0;
  int rejected = 0;
  for (int round = 0; round < 4000; ++round) {
    Bytes8 frame = good;
    const int mutations = 1 + static_cast<int>(pick(0, 4));
    for (int m = 0; m < mutations; ++m) {
      switch (pick(0, 6)) {
        case 0:  // random bytes in the message
          frame[pick(kFrameHeaderSize, body_end)] = static_cast<std::byte>(rng());
          break;
        case 1:  // a bit flip anywhere after the header
          frame[pick(kFrameHeaderSize, frame.size())] ^= static_cast<std::byte>(1u << pick(0, 8));
          break;
        case 2:  // a whole random word: corrupt Cap'n Proto pointers
          poke<std::uint64_t>(frame, kFrameHeaderSize + 8 * pick(0, header->message_bytes / 8),
                              (static_cast<std::uint64_t>(rng()) << 32) | rng());
          break;
        case 3:  // a small integer into a word: plausible list sizes and offsets
          poke<std::uint32_t>(frame, kFrameHeaderSize + 4 * pick(0, header->message_bytes / 4),
                              static_cast<std::uint32_t>(pick(0, 1u << 20)));
          break;
        case 4:  // a bulk table entry
          if (header->bulk_count > 0) {
            poke<std::uint64_t>(frame, body_end + 8 * pick(0, header->bulk_count), pick(0, header->bulk_bytes * 2));
          }
          break;
        case 5:  // another kind in the header
          poke<std::uint8_t>(frame, 5, static_cast<std::uint8_t>(pick(0, kMessageKindCount)));
          break;
      }
    }
    Result<Message> got = decode(frame);
    if (got.ok()) {
      ++accepted;
      expect_well_formed(*got);
    } else {
      ++rejected;
      EXPECT_EQ(got.status().code(), StatusCode::kInvalid) << got.status().to_string();
    }
    if (HasFailure()) break;  // one failing mutation is enough to report
  }
  EXPECT_GT(rejected, 0);
  RecordProperty("accepted", accepted);
  RecordProperty("rejected", rejected);
}

// Random garbage after a valid header of every kind never crashes.
TEST_F(FrameTest, RandomBodiesBehindValidHeadersNeverCrash) {
  std::mt19937 rng(99);
  for (int round = 0; round < 2000; ++round) {
    const std::uint32_t words = 1 + rng() % 64;
    const std::uint8_t kind = static_cast<std::uint8_t>(rng() % kMessageKindCount);
    const std::uint32_t slices = rng() % 3;
    std::uint64_t bulk_bytes = 0;
    std::vector<std::uint64_t> lengths;
    for (std::uint32_t i = 0; i < slices; ++i) {
      lengths.push_back(rng() % 200);
      bulk_bytes += pad_to_bulk_alignment(lengths.back());
    }
    Bytes8 frame = make_header(kind, words * 8, slices, bulk_bytes);
    for (std::uint32_t i = 0; i < words * 2; ++i) {
      std::uint32_t r = rng();
      const auto* p = reinterpret_cast<const std::byte*>(&r);
      frame.insert(frame.end(), p, p + 4);
    }
    // A plausible segment table now and then, so decoding gets past it.
    if (round % 2 == 0) {
      poke<std::uint32_t>(frame, kFrameHeaderSize, 0);
      poke<std::uint32_t>(frame, kFrameHeaderSize + 4, words - 1);
    }
    for (std::uint64_t length : lengths) {
      const auto* p = reinterpret_cast<const std::byte*>(&length);
      frame.insert(frame.end(), p, p + 8);
    }
    frame.resize(frame.size() + bulk_bytes, std::byte{0x5a});
    Result<Message> got = decode(frame);
    if (got.ok()) {
      expect_well_formed(*got);
    } else {
      EXPECT_EQ(got.status().code(), StatusCode::kInvalid) << got.status().to_string();
    }
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace dtask
