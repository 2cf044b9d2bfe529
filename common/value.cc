#include "dtask/value.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/check.h"
#include "common/large_buffer_pool.h"

namespace dtask {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kInt8: return 1;
    case DType::kUInt8: return 1;
    case DType::kBool: return 1;
  }
  DTASK_CHECK(false) << "unknown dtype " << static_cast<int>(dtype);
  return 0;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kBool: return "bool";
  }
  return "unknown";
}

Result<DType> dtype_from_name(std::string_view name) {
  for (int i = 0; i < kDTypeCount; ++i) {
    if (dtype_name(static_cast<DType>(i)) == name) return static_cast<DType>(i);
  }
  return Status::invalid("unknown dtype '" + std::string(name) + "'");
}

std::shared_ptr<Buffer> Buffer::allocate(std::size_t size) {
  if (size >= LargeBufferPool::kMinSize) return LargeBufferPool::instance().allocate(size);
  // Round up: aligned_alloc wants a multiple of the alignment, and a
  // zero-byte request must still give a distinct pointer.
  std::size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* memory = std::aligned_alloc(kAlignment, rounded);
  if (memory == nullptr) throw std::bad_alloc();
  std::shared_ptr<void> owner(memory, [](void* p) { std::free(p); });
  return std::make_shared<Buffer>(std::move(owner), static_cast<std::byte*>(memory), size);
}

std::shared_ptr<Buffer> Buffer::copy_of(const void* data, std::size_t size) {
  auto buffer = allocate(size);
  if (size > 0) std::memcpy(buffer->mutable_data(), data, size);
  return buffer;
}

std::shared_ptr<const Buffer> Buffer::slice(std::shared_ptr<const void> owner, const std::byte* data,
                                            std::size_t size) {
  return std::make_shared<const Buffer>(std::move(owner), const_cast<std::byte*>(data), size);
}

NDArray NDArray::zeros(DType dtype, std::vector<std::int64_t> shape) {
  NDArray array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  std::size_t bytes = static_cast<std::size_t>(array.size()) * dtype_size(dtype);
  auto buffer = Buffer::allocate(bytes);
  if (bytes > 0) std::memset(buffer->mutable_data(), 0, bytes);
  array.buffer = std::move(buffer);
  return array;
}

bool is_floating(DType dtype) { return dtype == DType::kFloat32 || dtype == DType::kFloat64; }

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::kFloat64 || b == DType::kFloat64) return DType::kFloat64;
  if (a == DType::kFloat32 || b == DType::kFloat32) {
    DType other = a == DType::kFloat32 ? b : a;
    bool narrow = other == DType::kBool || other == DType::kInt8 || other == DType::kUInt8;
    return narrow ? DType::kFloat32 : DType::kFloat64;
  }
  return DType::kInt64;
}

NDArray NDArray::uninitialized(DType dtype, std::vector<std::int64_t> shape) {
  NDArray array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.buffer = Buffer::allocate(static_cast<std::size_t>(array.size()) * dtype_size(dtype));
  return array;
}

std::int64_t NDArray::size() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string NDArray::describe() const {
  std::string out(dtype_name(dtype));
  out += "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

Bytes Bytes::from_string(std::string_view s) { return Bytes{Buffer::copy_of(s.data(), s.size())}; }

namespace {
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;
}  // namespace

std::size_t Value::nbytes() const {
  return std::visit(Overloaded{
                        [](const std::monostate&) -> std::size_t { return 0; },
                        [](const std::string& s) -> std::size_t { return s.size() + sizeof(std::string); },
                        [](const Bytes& b) -> std::size_t { return b.size(); },
                        [](const NDArray& a) -> std::size_t { return a.nbytes(); },
                        [](const ValueList& list) -> std::size_t {
                          std::size_t total = 0;
                          for (const Value& v : list) total += v.nbytes();
                          return total;
                        },
                        [](const TaskRef& r) -> std::size_t { return r.key.size(); },
                        [](const auto&) -> std::size_t { return 8; },
                    },
                    v_);
}

std::string Value::type_name() const {
  return std::visit(Overloaded{
                        [](const std::monostate&) -> std::string { return "null"; },
                        [](const bool&) -> std::string { return "bool"; },
                        [](const std::int64_t&) -> std::string { return "int64"; },
                        [](const double&) -> std::string { return "float64"; },
                        [](const std::string&) -> std::string { return "string"; },
                        [](const Bytes& b) -> std::string { return "bytes[" + std::to_string(b.size()) + "]"; },
                        [](const NDArray& a) -> std::string { return a.describe(); },
                        [](const ValueList& l) -> std::string { return "list[" + std::to_string(l.size()) + "]"; },
                        [](const TaskRef& r) -> std::string { return "ref(" + r.key + ")"; },
                    },
                    v_);
}

void Value::collect_task_refs(std::vector<std::string>& keys) const {
  if (const auto* ref = std::get_if<TaskRef>(&v_)) {
    keys.push_back(ref->key);
  } else if (const auto* list = std::get_if<ValueList>(&v_)) {
    for (const Value& v : *list) v.collect_task_refs(keys);
  }
}

namespace {
Status mismatch(const Value& value, const char* wanted) {
  return Status::invalid("expected a value of type " + std::string(wanted) + ", got " + value.type_name());
}
}  // namespace

template <>
Result<Value> value_as<Value>(const Value& value) {
  return value;
}
template <>
Result<bool> value_as<bool>(const Value& value) {
  if (value.is<bool>()) return value.get<bool>();
  return mismatch(value, "bool");
}
template <>
Result<std::int64_t> value_as<std::int64_t>(const Value& value) {
  if (value.is<std::int64_t>()) return value.get<std::int64_t>();
  if (value.is<bool>()) return static_cast<std::int64_t>(value.get<bool>());
  return mismatch(value, "int64");
}
template <>
Result<int> value_as<int>(const Value& value) {
  DTASK_ASSIGN_OR_RETURN(std::int64_t v, value_as<std::int64_t>(value));
  return static_cast<int>(v);
}
template <>
Result<double> value_as<double>(const Value& value) {
  if (value.is<double>()) return value.get<double>();
  if (value.is<std::int64_t>()) return static_cast<double>(value.get<std::int64_t>());
  return mismatch(value, "float64");
}
template <>
Result<float> value_as<float>(const Value& value) {
  DTASK_ASSIGN_OR_RETURN(double v, value_as<double>(value));
  return static_cast<float>(v);
}
template <>
Result<std::string> value_as<std::string>(const Value& value) {
  if (value.is<std::string>()) return value.get<std::string>();
  if (value.is<Bytes>()) return std::string(value.get<Bytes>().view());
  return mismatch(value, "string");
}
template <>
Result<Bytes> value_as<Bytes>(const Value& value) {
  if (value.is<Bytes>()) return value.get<Bytes>();
  return mismatch(value, "bytes");
}
template <>
Result<NDArray> value_as<NDArray>(const Value& value) {
  if (value.is<NDArray>()) return value.get<NDArray>();
  return mismatch(value, "array");
}
template <>
Result<ValueList> value_as<ValueList>(const Value& value) {
  if (value.is<ValueList>()) return value.get<ValueList>();
  return mismatch(value, "list");
}

}  // namespace dtask
