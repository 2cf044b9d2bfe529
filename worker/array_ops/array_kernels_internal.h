// Shared helpers for the array ops: argument checks that name the op and the
// argument, dtype dispatch, and casts. Ops throw std::invalid_argument; the
// executor turns that into a task error carrying the op and key.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "dtask/value.h"

namespace dtask::array_ops {

inline void expect_arity(const std::vector<Value>& args, std::size_t n, const char* op) {
  if (args.size() != n) {
    throw std::invalid_argument(std::string("op '") + op + "' takes " + std::to_string(n) + " arguments, got " +
                                std::to_string(args.size()));
  }
}

template <typename T>
T arg(const std::vector<Value>& args, std::size_t i, const char* op) {
  if (i >= args.size()) throw std::invalid_argument(std::string("op '") + op + "' is missing argument " + std::to_string(i));
  auto converted = value_as<T>(args[i]);
  if (!converted.ok()) {
    throw std::invalid_argument(std::string("argument ") + std::to_string(i) + " of op '" + op +
                                "': " + converted.status().message());
  }
  return std::move(converted).value();
}

/// A list of int64 (shape, column selection, ...).
std::vector<std::int64_t> int_list(const Value& value, const char* what);
std::vector<std::int64_t> arg_ints(const std::vector<Value>& args, std::size_t i, const char* op);
/// The array inside `value`, or std::invalid_argument naming what it was.
const NDArray& as_array(const Value& value);
/// A numeric argument that may be an array (broadcast) or a number (scalar).
bool is_number(const Value& value);
double number(const Value& value);

/// Calls f(T{}) with T the C++ element type of `dtype` (bool for kBool).
template <typename F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    case DType::kInt32: return f(std::int32_t{});
    case DType::kInt64: return f(std::int64_t{});
    case DType::kInt8: return f(std::int8_t{});
    case DType::kUInt8: return f(std::uint8_t{});
    case DType::kBool: return f(bool{});
  }
  throw std::invalid_argument("unknown dtype");
}

/// The dtype of an element type, bool included.
template <typename T>
constexpr DType dtype_for() {
  if constexpr (std::is_same_v<T, bool>) {
    return DType::kBool;
  } else {
    return dtype_of<T>();
  }
}

/// A copy converted to `dtype` (the same array when it already has it).
NDArray cast(const NDArray& array, DType dtype);
inline DType promote(DType a, DType b) { return promote_types(a, b); }
inline bool is_float(DType dtype) { return is_floating(dtype); }

/// Rows [begin, end) and columns [col_begin, col_end) of a 1-d or 2-d array, copied.
NDArray copy_block(const NDArray& array, std::int64_t begin, std::int64_t end, std::int64_t col_begin,
                   std::int64_t col_end);
/// Stacks 1-d or 2-d arrays with equal trailing shape along rows.
NDArray concat_rows(const std::vector<NDArray>& parts);

}  // namespace dtask::array_ops
