// Values that move between tasks: scalars, strings, byte blobs, dense n-d
// arrays and lists of these. Array and blob bytes live in reference-counted
// Buffers so that the store, the executor and the network share them without
// copying (a received frame's bulk section is sliced, never copied).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dtask/status.h"

namespace dtask {

enum class DType : std::uint8_t { kFloat32 = 0, kFloat64, kInt32, kInt64, kInt8, kUInt8, kBool };
inline constexpr int kDTypeCount = 7;

std::size_t dtype_size(DType dtype);
/// NumPy's name: "float64", "int32", "bool", ...
std::string_view dtype_name(DType dtype);
Result<DType> dtype_from_name(std::string_view name);
bool is_floating(DType dtype);
/// numpy's result type for arithmetic on two dtypes, simplified: equal
/// dtypes stay; two integer kinds give int64; float64, or a wide int with
/// float32, gives float64; float32 with bool/int8/uint8 stays float32.
DType promote_types(DType a, DType b);

/// The C++ element type of each dtype (bool is stored as one byte).
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::kInt32; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<std::int8_t>() { return DType::kInt8; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::kUInt8; }

/// An immutable-once-shared run of bytes, 64-byte aligned when allocated here.
/// Slices keep their parent alive. Thread-safe to read once published.
class Buffer {
 public:
  static constexpr std::size_t kAlignment = 64;
  /// Uninitialised bytes; fill them before sharing.
  static std::shared_ptr<Buffer> allocate(std::size_t size);
  static std::shared_ptr<Buffer> copy_of(const void* data, std::size_t size);
  /// A view of `size` bytes at `data`, kept valid by `owner`.
  static std::shared_ptr<const Buffer> slice(std::shared_ptr<const void> owner, const std::byte* data,
                                             std::size_t size);

  const std::byte* data() const { return data_; }
  std::byte* mutable_data() { return data_; }
  std::size_t size() const { return size_; }

  Buffer(std::shared_ptr<const void> owner, std::byte* data, std::size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}

 private:
  std::shared_ptr<const void> owner_;
  std::byte* data_;
  std::size_t size_;
};

/// A dense, C-ordered n-d array: dtype + shape + contiguous bytes.
struct NDArray {
  DType dtype = DType::kFloat64;
  std::vector<std::int64_t> shape;
  std::shared_ptr<const Buffer> buffer;

  /// A zero-filled array; write through mutable_data() before sharing it.
  static NDArray zeros(DType dtype, std::vector<std::int64_t> shape);
  /// An array with uninitialised bytes, for kernels that write every element.
  static NDArray uninitialized(DType dtype, std::vector<std::int64_t> shape);
  /// Copies `values` into a new 1-d or shaped array.
  template <typename T>
  static NDArray from_vector(const std::vector<T>& values, std::vector<std::int64_t> shape = {});

  std::int64_t size() const;  // number of elements
  std::size_t nbytes() const { return buffer ? buffer->size() : 0; }
  std::int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  std::int64_t cols() const { return shape.size() < 2 ? 1 : shape[1]; }

  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(buffer->data());
  }
  /// Only for arrays this code just allocated and has not shared yet.
  template <typename T>
  T* mutable_data() {
    return reinterpret_cast<T*>(const_cast<std::byte*>(buffer->data()));
  }
  /// "float64[1000, 20]"
  std::string describe() const;
};

/// Opaque bytes (a serialised model, a pickled blob, ...).
struct Bytes {
  std::shared_ptr<const Buffer> buffer;
  std::size_t size() const { return buffer ? buffer->size() : 0; }
  std::string_view view() const {
    return buffer ? std::string_view(reinterpret_cast<const char*>(buffer->data()), buffer->size())
                  : std::string_view();
  }
  static Bytes from_string(std::string_view s);
};

/// The result of another task, named by key. Appears only in task arguments;
/// the worker replaces it with the dependency's value before the op runs.
struct TaskRef {
  std::string key;
  bool operator==(const TaskRef&) const = default;
};

class Value;
using ValueList = std::vector<Value>;

/// Any value a task takes or returns. Copies share array and blob bytes.
class Value {
 public:
  using Variant = std::variant<std::monostate, bool, std::int64_t, double, std::string, Bytes, NDArray,
                               ValueList, TaskRef>;

  Value() = default;
  Value(bool v) : v_(v) {}  // NOLINT: values convert implicitly, like Python's
  Value(int v) : v_(static_cast<std::int64_t>(v)) {}  // NOLINT
  Value(long v) : v_(static_cast<std::int64_t>(v)) {}  // NOLINT
  Value(long long v) : v_(static_cast<std::int64_t>(v)) {}  // NOLINT
  Value(unsigned v) : v_(static_cast<std::int64_t>(v)) {}  // NOLINT
  Value(unsigned long v) : v_(static_cast<std::int64_t>(v)) {}  // NOLINT
  Value(double v) : v_(v) {}  // NOLINT
  Value(float v) : v_(static_cast<double>(v)) {}  // NOLINT
  Value(const char* v) : v_(std::string(v)) {}  // NOLINT
  Value(std::string v) : v_(std::move(v)) {}  // NOLINT
  Value(Bytes v) : v_(std::move(v)) {}  // NOLINT
  Value(NDArray v) : v_(std::move(v)) {}  // NOLINT
  Value(ValueList v) : v_(std::move(v)) {}  // NOLINT
  Value(TaskRef v) : v_(std::move(v)) {}  // NOLINT

  const Variant& variant() const { return v_; }
  Variant& variant() { return v_; }

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  template <typename T>
  bool is() const {
    return std::holds_alternative<T>(v_);
  }
  template <typename T>
  const T& get() const {
    return std::get<T>(v_);
  }

  /// Bytes this value holds, for memory accounting (shared bytes counted once per value).
  std::size_t nbytes() const;
  /// A short type name for status output: "int64", "float64[100, 20]", "list[3]".
  std::string type_name() const;
  /// Appends the keys of every TaskRef inside this value (lists included).
  void collect_task_refs(std::vector<std::string>& keys) const;

 private:
  Variant v_;
};

/// Conversions from a Value to the C++ type a Future<T> or an op asks for.
/// Integers widen to double; anything else mismatched is an Invalid status.
template <typename T>
Result<T> value_as(const Value& value);
template <> Result<Value> value_as<Value>(const Value& value);
template <> Result<bool> value_as<bool>(const Value& value);
template <> Result<std::int64_t> value_as<std::int64_t>(const Value& value);
template <> Result<int> value_as<int>(const Value& value);
template <> Result<double> value_as<double>(const Value& value);
template <> Result<float> value_as<float>(const Value& value);
template <> Result<std::string> value_as<std::string>(const Value& value);
template <> Result<Bytes> value_as<Bytes>(const Value& value);
template <> Result<NDArray> value_as<NDArray>(const Value& value);
template <> Result<ValueList> value_as<ValueList>(const Value& value);

template <typename T>
NDArray NDArray::from_vector(const std::vector<T>& values, std::vector<std::int64_t> shape) {
  if (shape.empty()) shape = {static_cast<std::int64_t>(values.size())};
  NDArray array = zeros(dtype_of<T>(), std::move(shape));
  std::copy(values.begin(), values.end(), array.mutable_data<T>());
  return array;
}

}  // namespace dtask
