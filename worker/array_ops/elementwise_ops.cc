// Elementwise ops on chunks, with broadcasting of scalars and row vectors:
//   elemwise(name, a, b)  a, b: arrays of one shape, an array and a number,
//                         or a 2-d array and a 1-d row vector (one per column)
//   unary(name, a)        neg, abs, exp, log, sqrt, square, sigmoid
//   astype(a, dtype)
#include <algorithm>
#include <cmath>
#include <cstring>

#include "worker/array_ops/array_kernels_internal.h"
#include "worker/array_ops/array_ops.h"

namespace dtask::array_ops {

namespace {

enum class Operand { kArray, kScalar, kRow };

/// How operand `b` lines up with a chunk of shape `shape`.
Operand classify(const NDArray& chunk, const NDArray& other) {
  if (other.shape == chunk.shape) return Operand::kArray;
  if (other.size() == 1) return Operand::kScalar;
  if (chunk.shape.size() == 2 && other.shape.size() == 1 && other.shape[0] == chunk.cols()) return Operand::kRow;
  throw std::invalid_argument("cannot broadcast " + other.describe() + " against " + chunk.describe());
}

template <typename T, typename R, typename F>
void apply_binary(const T* a, Operand a_kind, const T* b, Operand b_kind, R* out, std::int64_t rows,
                  std::int64_t cols, F f) {
  auto at = [cols](const T* p, Operand kind, std::int64_t r, std::int64_t c) {
    switch (kind) {
      case Operand::kArray: return p[r * cols + c];
      case Operand::kScalar: return p[0];
      case Operand::kRow: return p[c];
    }
    return p[0];
  };
  if (a_kind == Operand::kArray && b_kind == Operand::kArray) {
    for (std::int64_t i = 0; i < rows * cols; ++i) out[i] = static_cast<R>(f(a[i], b[i]));
    return;
  }
  if (a_kind == Operand::kArray && b_kind == Operand::kScalar) {
    const T s = b[0];
    for (std::int64_t i = 0; i < rows * cols; ++i) out[i] = static_cast<R>(f(a[i], s));
    return;
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) out[r * cols + c] = static_cast<R>(f(at(a, a_kind, r, c), at(b, b_kind, r, c)));
  }
}

bool is_comparison(const std::string& name) {
  return name == "lt" || name == "le" || name == "gt" || name == "ge" || name == "eq" || name == "ne";
}

/// Calls run(f) with f the arithmetic function `name` on T (a lambda, so
/// the per-element loop inlines it instead of calling through a pointer).
template <typename T, typename Run>
void with_arithmetic(const std::string& name, Run run) {
  if (name == "add") return run([](T x, T y) { return static_cast<T>(x + y); });
  if (name == "sub") return run([](T x, T y) { return static_cast<T>(x - y); });
  if (name == "mul") return run([](T x, T y) { return static_cast<T>(x * y); });
  if (name == "div") return run([](T x, T y) { return static_cast<T>(x / y); });
  if (name == "pow") return run([](T x, T y) { return static_cast<T>(std::pow(x, y)); });
  if (name == "maximum") return run([](T x, T y) { return x < y ? y : x; });
  if (name == "minimum") return run([](T x, T y) { return y < x ? y : x; });
  throw std::invalid_argument("unknown elementwise op '" + name + "'");
}

template <typename T, typename Run>
void with_comparison(const std::string& name, Run run) {
  if (name == "lt") return run([](T x, T y) { return x < y; });
  if (name == "le") return run([](T x, T y) { return x <= y; });
  if (name == "gt") return run([](T x, T y) { return x > y; });
  if (name == "ge") return run([](T x, T y) { return x >= y; });
  if (name == "eq") return run([](T x, T y) { return x == y; });
  return run([](T x, T y) { return x != y; });
}

/// A number as a one-element array of the other operand's dtype class.
NDArray scalar_array(double value, DType like) {
  DType dtype = is_float(like) || value != std::floor(value) ? (like == DType::kFloat32 ? DType::kFloat32 : DType::kFloat64)
                                                             : like;
  return cast(NDArray::from_vector<double>({value}), dtype);
}

Value binary(const std::string& name, const Value& a_value, const Value& b_value) {
  if (is_number(a_value) && is_number(b_value)) throw std::invalid_argument("elemwise needs at least one array");
  NDArray a = is_number(a_value) ? scalar_array(number(a_value), as_array(b_value).dtype)
                                 : as_array(a_value);
  NDArray b = is_number(b_value) ? scalar_array(number(b_value), a.dtype) : as_array(b_value);
  // The larger operand fixes the output shape.
  const NDArray& big = a.size() >= b.size() ? a : b;
  Operand a_kind = classify(big, a);
  Operand b_kind = classify(big, b);
  DType common = promote(a.dtype, b.dtype);
  if (name == "div" && !is_float(common)) common = DType::kFloat64;  // true division, as numpy
  a = cast(a, common);
  b = cast(b, common);
  bool compare = is_comparison(name);
  NDArray out = NDArray::uninitialized(compare ? DType::kBool : common, big.shape);
  std::int64_t rows = big.shape.empty() ? 1 : big.shape[0];
  std::int64_t cols = big.shape.size() == 2 ? big.shape[1] : 1;
  visit_dtype(common, [&](auto tag) {
    using T = decltype(tag);
    auto into = [&](auto* o) {
      return [&, o](auto f) { apply_binary(a.data<T>(), a_kind, b.data<T>(), b_kind, o, rows, cols, f); };
    };
    if (compare) {
      with_comparison<T>(name, into(out.mutable_data<bool>()));
    } else if constexpr (std::is_same_v<T, bool>) {
      // On bools, mul/minimum are logical and; the other arithmetic ops are logical or.
      bool conjunction = name == "mul" || name == "minimum";
      into(out.mutable_data<bool>())([conjunction](bool x, bool y) { return conjunction ? (x && y) : (x || y); });
    } else {
      with_arithmetic<T>(name, into(out.mutable_data<T>()));
    }
  });
  return out;
}

template <typename T>
T sigmoid(T x) {
  // Split by sign so exp never overflows.
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

Value unary(const std::string& name, const NDArray& input) {
  bool needs_float = name == "exp" || name == "log" || name == "sqrt" || name == "sigmoid";
  NDArray a = needs_float && !is_float(input.dtype) ? cast(input, DType::kFloat64) : input;
  if (a.dtype == DType::kBool) a = cast(a, DType::kInt64);
  NDArray out = NDArray::uninitialized(a.dtype, a.shape);
  visit_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      const T* x = a.data<T>();
      T* o = out.mutable_data<T>();
      std::int64_t n = a.size();
      if (name == "neg") {
        for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(-x[i]);
      } else if (name == "abs") {
        for (std::int64_t i = 0; i < n; ++i) o[i] = x[i] < 0 ? static_cast<T>(-x[i]) : x[i];
      } else if (name == "square") {
        for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(x[i] * x[i]);
      } else if (name == "exp") {
        for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(std::exp(x[i]));
      } else if (name == "log") {
        for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(std::log(x[i]));
      } else if (name == "sqrt") {
        for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(std::sqrt(x[i]));
      } else if (name == "sigmoid") {
        for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(sigmoid(x[i]));
      } else {
        throw std::invalid_argument("unknown elementwise function '" + name + "'");
      }
    }
  });
  return out;
}

}  // namespace

void register_elementwise_ops(OpRegistry& registry) {
  must_register(registry.add(ops::kElemwise, binary));
  must_register(registry.add(ops::kUnary, unary));
  must_register(registry.add(ops::kAsType, [](const NDArray& a, const std::string& dtype_name) {
    auto dtype = dtype_from_name(dtype_name);
    if (!dtype.ok()) throw std::invalid_argument(dtype.status().message());
    return cast(a, *dtype);
  }));
}

}  // namespace dtask::array_ops
