// Values, arrays and buffers, value_as conversions, and the two parsers of
// user input in common/: byte sizes and addresses.
#include "dtask/value.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/address.h"
#include "common/byte_size.h"
#include "common/duration.h"

namespace dtask {
namespace {

bool aligned64(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % Buffer::kAlignment == 0; }

// ---- Buffer -------------------------------------------------------------------------

// Buffers are 64-byte aligned at every size, zero included, and report the
// size asked for (not the rounded allocation).
TEST(BufferTest, AllocateIsAlignedAtEverySize) {
  for (std::size_t size : {0u, 1u, 7u, 63u, 64u, 65u, 1000u, 4096u, 1u << 20}) {
    auto buffer = Buffer::allocate(size);
    ASSERT_NE(buffer->data(), nullptr) << size;
    EXPECT_TRUE(aligned64(buffer->data())) << size;
    EXPECT_EQ(buffer->size(), size);
    if (size > 0) std::memset(buffer->mutable_data(), 0xab, size);  // the whole range is writable
  }
}

// copy_of copies the bytes into a new aligned buffer.
TEST(BufferTest, CopyOfCopies) {
  std::string text = "not aligned at all";
  auto buffer = Buffer::copy_of(text.data() + 1, text.size() - 1);
  EXPECT_TRUE(aligned64(buffer->data()));
  ASSERT_EQ(buffer->size(), text.size() - 1);
  EXPECT_EQ(std::memcmp(buffer->data(), text.data() + 1, buffer->size()), 0);
  text[1] = 'X';
  EXPECT_EQ(static_cast<char>(buffer->data()[0]), 'o') << "a copy, not a view";
  EXPECT_EQ(Buffer::copy_of(nullptr, 0)->size(), 0u);
}

// A slice views its parent's bytes and keeps the parent alive after every
// other reference is gone.
TEST(BufferTest, SliceKeepsItsParentAlive) {
  auto parent = Buffer::copy_of("0123456789", 10);
  std::weak_ptr<Buffer> watch = parent;
  auto slice = Buffer::slice(parent, parent->data() + 3, 4);
  parent.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(slice->data()), slice->size()), "3456");
  slice.reset();
  EXPECT_TRUE(watch.expired());
}

// ---- dtypes and NDArray ---------------------------------------------------------------

// Every dtype has a size and a NumPy name that parses back to it; an unknown
// name is Invalid.
TEST(NDArrayTest, DtypeNamesRoundTrip) {
  const std::size_t sizes[kDTypeCount] = {4, 8, 4, 8, 1, 1, 1};
  for (int i = 0; i < kDTypeCount; ++i) {
    DType dtype = static_cast<DType>(i);
    EXPECT_EQ(dtype_size(dtype), sizes[i]) << dtype_name(dtype);
    auto parsed = dtype_from_name(dtype_name(dtype));
    ASSERT_TRUE(parsed.ok()) << dtype_name(dtype);
    EXPECT_EQ(*parsed, dtype);
  }
  EXPECT_EQ(dtype_name(DType::kFloat64), "float64");
  EXPECT_EQ(dtype_name(DType::kBool), "bool");
  EXPECT_EQ(dtype_from_name("complex128").status().code(), StatusCode::kInvalid);
  EXPECT_FALSE(dtype_from_name("").ok());
}

// zeros() gives a zero-filled aligned array of the right size and shape.
TEST(NDArrayTest, ZerosHasShapeSizeAndAlignment) {
  NDArray array = NDArray::zeros(DType::kFloat32, {3, 5});
  EXPECT_EQ(array.size(), 15);
  EXPECT_EQ(array.nbytes(), 60u);
  EXPECT_EQ(array.rows(), 3);
  EXPECT_EQ(array.cols(), 5);
  EXPECT_TRUE(aligned64(array.data<float>()));
  for (int i = 0; i < 15; ++i) EXPECT_EQ(array.data<float>()[i], 0.0f);
  EXPECT_EQ(array.describe(), "float32[3, 5]");
}

// A scalar (empty shape) holds one element; a zero-length dimension holds none.
TEST(NDArrayTest, ScalarAndEmptyShapes) {
  NDArray scalar = NDArray::zeros(DType::kInt64, {});
  EXPECT_EQ(scalar.size(), 1);
  EXPECT_EQ(scalar.nbytes(), 8u);
  EXPECT_EQ(scalar.rows(), 1);
  EXPECT_EQ(scalar.cols(), 1);
  EXPECT_EQ(scalar.describe(), "int64[]");

  NDArray empty = NDArray::zeros(DType::kFloat64, {0, 7});
  EXPECT_EQ(empty.size(), 0);
  EXPECT_EQ(empty.nbytes(), 0u);
  ASSERT_NE(empty.buffer, nullptr);
  EXPECT_EQ(empty.describe(), "float64[0, 7]");
  EXPECT_EQ(NDArray{}.nbytes(), 0u) << "an array without a buffer holds no bytes";
}

// from_vector copies values into a 1-d array, or into the shape given.
TEST(NDArrayTest, FromVectorCopiesValues) {
  std::vector<std::int32_t> values = {5, -6, 7, -8, 9, -10};
  NDArray flat = NDArray::from_vector(values);
  EXPECT_EQ(flat.dtype, DType::kInt32);
  EXPECT_EQ(flat.shape, std::vector<std::int64_t>{6});
  NDArray shaped = NDArray::from_vector(values, {2, 3});
  EXPECT_EQ(shaped.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(shaped.rows(), 2);
  EXPECT_EQ(shaped.cols(), 3);
  values[0] = 0;
  for (const NDArray* array : {&flat, &shaped}) {
    EXPECT_EQ(array->data<std::int32_t>()[0], 5);
    EXPECT_EQ(array->data<std::int32_t>()[5], -10);
  }
  EXPECT_EQ(NDArray::from_vector<double>({1.0}).dtype, DType::kFloat64);
  EXPECT_EQ(NDArray::from_vector<std::uint8_t>({1}).dtype, DType::kUInt8);
}

// ---- Value ---------------------------------------------------------------------------------

// C++ literals land in the alternatives Python would use: every integer
// type becomes int64, float becomes double, C strings become strings.
TEST(ValueTest, ConstructorsPickTheExpectedAlternative) {
  EXPECT_TRUE(Value().is_null());
  EXPECT_TRUE(Value(true).is<bool>());
  EXPECT_TRUE(Value(3).is<std::int64_t>());
  EXPECT_TRUE(Value(3L).is<std::int64_t>());
  EXPECT_TRUE(Value(3LL).is<std::int64_t>());
  EXPECT_TRUE(Value(3U).is<std::int64_t>());
  EXPECT_TRUE(Value(3UL).is<std::int64_t>());
  EXPECT_TRUE(Value(2.5f).is<double>());
  EXPECT_EQ(Value(2.5f).get<double>(), 2.5);
  EXPECT_TRUE(Value("text").is<std::string>());
  EXPECT_TRUE(Value(TaskRef{"k"}).is<TaskRef>());
  EXPECT_TRUE(Value(ValueList{}).is<ValueList>());
}

// type_name describes every alternative for status output.
TEST(ValueTest, TypeNames) {
  EXPECT_EQ(Value().type_name(), "null");
  EXPECT_EQ(Value(false).type_name(), "bool");
  EXPECT_EQ(Value(1).type_name(), "int64");
  EXPECT_EQ(Value(1.0).type_name(), "float64");
  EXPECT_EQ(Value("s").type_name(), "string");
  EXPECT_EQ(Value(Bytes::from_string("abc")).type_name(), "bytes[3]");
  EXPECT_EQ(Value(NDArray::zeros(DType::kFloat64, {100, 20})).type_name(), "float64[100, 20]");
  EXPECT_EQ(Value(ValueList{1, 2, 3}).type_name(), "list[3]");
  EXPECT_EQ(Value(TaskRef{"x"}).type_name(), "ref(x)");
}

// nbytes counts array and blob payloads, lists summed over their items.
TEST(ValueTest, NbytesCountsPayloads) {
  EXPECT_EQ(Value().nbytes(), 0u);
  EXPECT_EQ(Value(7).nbytes(), 8u);
  EXPECT_EQ(Value(NDArray::zeros(DType::kFloat64, {10, 10})).nbytes(), 800u);
  EXPECT_EQ(Value(Bytes::from_string("12345")).nbytes(), 5u);
  Value list(ValueList{Value(NDArray::zeros(DType::kInt8, {16})), Value(Bytes::from_string("abcd"))});
  EXPECT_EQ(list.nbytes(), 20u);
}

// Copies of a value share array bytes instead of copying them.
TEST(ValueTest, CopiesShareArrayBytes) {
  Value original(NDArray::zeros(DType::kFloat64, {1000}));
  Value copy = original;
  EXPECT_EQ(copy.get<NDArray>().buffer->data(), original.get<NDArray>().buffer->data());
  ValueList list = {original, original};
  EXPECT_EQ(list[1].get<NDArray>().buffer.get(), original.get<NDArray>().buffer.get());
}

// collect_task_refs finds references at any depth of nested lists, in order.
TEST(ValueTest, CollectTaskRefsWalksNestedLists) {
  Value args(ValueList{Value(TaskRef{"a"}), Value(1),
                       Value(ValueList{Value("b"), Value(ValueList{Value(TaskRef{"c"})}), Value(TaskRef{"d"})})});
  std::vector<std::string> keys = {"existing"};
  args.collect_task_refs(keys);
  EXPECT_EQ(keys, (std::vector<std::string>{"existing", "a", "c", "d"}));
  keys.clear();
  Value("not a ref").collect_task_refs(keys);
  EXPECT_TRUE(keys.empty());
}

// Bytes view their contents, embedded zeros included; empty Bytes view nothing.
TEST(ValueTest, BytesViewContents) {
  Bytes blob = Bytes::from_string(std::string_view("a\0b", 3));
  EXPECT_EQ(blob.size(), 3u);
  EXPECT_EQ(blob.view(), std::string_view("a\0b", 3));
  EXPECT_EQ(Bytes{}.size(), 0u);
  EXPECT_TRUE(Bytes{}.view().empty());
}

// ---- value_as ------------------------------------------------------------------------------

// Exact matches convert to themselves.
TEST(ValueAsTest, ExactTypesConvert) {
  EXPECT_EQ(*value_as<bool>(Value(true)), true);
  EXPECT_EQ(*value_as<std::int64_t>(Value(-5)), -5);
  EXPECT_EQ(*value_as<int>(Value(42)), 42);
  EXPECT_EQ(*value_as<double>(Value(0.5)), 0.5);
  EXPECT_EQ(*value_as<float>(Value(0.5)), 0.5f);
  EXPECT_EQ(*value_as<std::string>(Value("hi")), "hi");
  EXPECT_EQ(value_as<Bytes>(Value(Bytes::from_string("raw")))->view(), "raw");
  EXPECT_EQ(value_as<NDArray>(Value(NDArray::zeros(DType::kInt32, {4})))->size(), 4);
  EXPECT_EQ(value_as<ValueList>(Value(ValueList{1, 2}))->size(), 2u);
  EXPECT_TRUE(value_as<Value>(Value(TaskRef{"k"}))->is<TaskRef>());
}

// Integers widen to double (and float), bools to integers, and Bytes read as strings.
TEST(ValueAsTest, WideningConversions) {
  EXPECT_EQ(*value_as<double>(Value(3)), 3.0);
  EXPECT_EQ(*value_as<float>(Value(3)), 3.0f);
  EXPECT_EQ(*value_as<std::int64_t>(Value(true)), 1);
  EXPECT_EQ(*value_as<int>(Value(false)), 0);
  EXPECT_EQ(*value_as<std::string>(Value(Bytes::from_string("blob"))), "blob");
}

// Anything else is Invalid, with a message naming both types; nothing narrows.
TEST(ValueAsTest, MismatchesAreInvalidAndNamed) {
  auto narrowing = value_as<std::int64_t>(Value(2.5));
  ASSERT_FALSE(narrowing.ok());
  EXPECT_EQ(narrowing.status().code(), StatusCode::kInvalid);
  EXPECT_NE(narrowing.status().message().find("int64"), std::string::npos) << narrowing.status().to_string();
  EXPECT_NE(narrowing.status().message().find("float64"), std::string::npos) << narrowing.status().to_string();

  EXPECT_FALSE(value_as<bool>(Value(1)).ok()) << "ints are not bools";
  EXPECT_FALSE(value_as<double>(Value("1.0")).ok());
  EXPECT_FALSE(value_as<std::string>(Value(1)).ok());
  EXPECT_FALSE(value_as<Bytes>(Value("text")).ok()) << "strings are not blobs";
  EXPECT_FALSE(value_as<NDArray>(Value(ValueList{1.0, 2.0})).ok());
  EXPECT_FALSE(value_as<ValueList>(Value()).ok());
  EXPECT_FALSE(value_as<int>(Value()).ok());
  auto array_as_double = value_as<double>(Value(NDArray::zeros(DType::kFloat64, {2, 2})));
  ASSERT_FALSE(array_as_double.ok());
  EXPECT_NE(array_as_double.status().message().find("float64[2, 2]"), std::string::npos);
}

// ---- byte sizes ----------------------------------------------------------------------------

// Decimal and binary units, with or without a space, in any case, and plain numbers.
TEST(ByteSizeTest, ParsesUnits) {
  struct Case {
    const char* text;
    std::uint64_t bytes;
  };
  for (const Case& c : std::initializer_list<Case>{{"0", 0},
                                                   {"1000000", 1000000},
                                                   {"1e9", 1000000000},
                                                   {"10B", 10},
                                                   {"10 b", 10},
                                                   {"1.5kB", 1500},
                                                   {"512MB", 512000000},
                                                   {"4GB", 4000000000},
                                                   {"2TB", 2000000000000},
                                                   {"1KiB", 1024},
                                                   {"512 MiB", 512ull << 20},
                                                   {"2GiB", 2ull << 30},
                                                   {"2gib", 2ull << 30},
                                                   {"0.5GiB", 1ull << 29},
                                                   {"1TiB", 1ull << 40}}) {
    auto parsed = parse_byte_size(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().to_string();
    EXPECT_EQ(*parsed, c.bytes) << c.text;
  }
}

// "auto" is this machine's memory, divided among `share` processes.
TEST(ByteSizeTest, AutoIsSystemMemoryShared) {
  std::uint64_t total = total_system_memory();
  ASSERT_GT(total, 0u);
  EXPECT_EQ(*parse_byte_size("auto"), total);
  EXPECT_EQ(*parse_byte_size("auto", 4), total / 4);
  EXPECT_EQ(*parse_byte_size("auto", 0), total) << "a share of 0 must not divide by zero";
}

// Garbage, negative, non-finite and unknown units are Invalid, naming the input.
// Durations as --lifetime takes them: units summed, a bare number is seconds.
TEST(DurationTest, ParsesUnitsAndRejectsTheRest) {
  using std::chrono::milliseconds;
  EXPECT_EQ(*parse_duration("55m"), milliseconds(55 * 60'000));
  EXPECT_EQ(*parse_duration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(*parse_duration("90"), milliseconds(90'000));
  EXPECT_EQ(*parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*parse_duration("1.5s"), milliseconds(1'500));
  EXPECT_EQ(*parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(*parse_duration("0s"), milliseconds(0));
  for (const char* bad : {"", "soon", "-5m", "5 m", "5x", "1h30", "m", "nan", "inf"}) {
    auto parsed = parse_duration(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.status().message().find("duration"), std::string::npos) << bad;
    }
  }
}

TEST(ByteSizeTest, RejectsBadInput) {
  for (const char* text : {"", "GiB", "abc", "-1", "-5GB", "nan", "inf", "5 XB", "5 GiBs", "12 bytes", "1,000"}) {
    auto parsed = parse_byte_size(text);
    ASSERT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << *parsed;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalid);
    EXPECT_NE(parsed.status().message().find(text), std::string::npos) << parsed.status().to_string();
  }
}

// format_byte_size picks the largest binary unit, two decimals past bytes.
TEST(ByteSizeTest, Formats) {
  EXPECT_EQ(format_byte_size(0), "0 B");
  EXPECT_EQ(format_byte_size(1023), "1023 B");
  EXPECT_EQ(format_byte_size(1024), "1.00 KiB");
  EXPECT_EQ(format_byte_size(1536), "1.50 KiB");
  EXPECT_EQ(format_byte_size(3ull << 30), "3.00 GiB");
  EXPECT_EQ(format_byte_size(5ull << 50), "5120.00 TiB") << "TiB is the largest unit";
}

// ---- addresses -----------------------------------------------------------------------------

// tcp://host:port, host:port and [v6]:port parse; to_string writes tcp:// form
// and brackets IPv6 hosts.
TEST(AddressTest, ParsesHostAndPort) {
  auto full = parse_address("tcp://10.0.0.5:8786");
  ASSERT_TRUE(full.ok()) << full.status().to_string();
  EXPECT_EQ(full->host, "10.0.0.5");
  EXPECT_EQ(full->port, 8786);
  EXPECT_EQ(full->to_string(), "tcp://10.0.0.5:8786");

  auto bare = parse_address("127.0.0.1:0");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->host, "127.0.0.1");
  EXPECT_EQ(bare->port, 0) << "port 0 means any";

  auto named = parse_address("scheduler.internal:65535");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->host, "scheduler.internal");
  EXPECT_EQ(named->port, 65535);

  auto v6 = parse_address("tcp://[::1]:8786");
  ASSERT_TRUE(v6.ok()) << v6.status().to_string();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8786);
  EXPECT_EQ(v6->to_string(), "tcp://[::1]:8786");
  EXPECT_EQ(parse_address(v6->to_string())->host, "::1") << "to_string parses back";

  auto any_host = parse_address(":9000");
  ASSERT_TRUE(any_host.ok());
  EXPECT_EQ(any_host->host, "0.0.0.0");
}

// No port, a bad port, or another scheme is Invalid, naming the input.
TEST(AddressTest, RejectsBadAddresses) {
  for (const char* text :
       {"localhost", "tcp://localhost", "host:", "host:http", "host:65536", "host:-1", "host:80x", "udp://host:1",
        "inproc://x:1", ""}) {
    auto parsed = parse_address(text);
    ASSERT_FALSE(parsed.ok()) << "'" << text << "' parsed as " << parsed->to_string();
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalid);
  }
  EXPECT_NE(parse_address("udp://host:1").status().message().find("udp://host:1"), std::string::npos);
}

}  // namespace
}  // namespace dtask
