#include "worker/array_ops/array_kernels_internal.h"

#include <cstring>

namespace dtask::array_ops {

std::vector<std::int64_t> int_list(const Value& value, const char* what) {
  if (!value.is<ValueList>()) throw std::invalid_argument(std::string(what) + ": expected a list of integers");
  std::vector<std::int64_t> out;
  for (const Value& item : value.get<ValueList>()) {
    if (!item.is<std::int64_t>()) throw std::invalid_argument(std::string(what) + ": expected integers, got " + item.type_name());
    out.push_back(item.get<std::int64_t>());
  }
  return out;
}

std::vector<std::int64_t> arg_ints(const std::vector<Value>& args, std::size_t i, const char* op) {
  if (i >= args.size()) throw std::invalid_argument(std::string("op '") + op + "' is missing argument " + std::to_string(i));
  return int_list(args[i], (std::string("argument ") + std::to_string(i) + " of op '" + op + "'").c_str());
}

const NDArray& as_array(const Value& value) {
  if (!value.is<NDArray>()) throw std::invalid_argument("expected an array, got " + value.type_name());
  return value.get<NDArray>();
}

bool is_number(const Value& value) { return value.is<double>() || value.is<std::int64_t>() || value.is<bool>(); }

double number(const Value& value) {
  if (value.is<double>()) return value.get<double>();
  if (value.is<std::int64_t>()) return static_cast<double>(value.get<std::int64_t>());
  if (value.is<bool>()) return value.get<bool>() ? 1.0 : 0.0;
  throw std::invalid_argument("expected a number, got " + value.type_name());
}

NDArray cast(const NDArray& array, DType dtype) {
  if (array.dtype == dtype) return array;
  NDArray out = NDArray::uninitialized(dtype, array.shape);
  visit_dtype(array.dtype, [&](auto from) {
    using From = decltype(from);
    visit_dtype(dtype, [&](auto to) {
      using To = decltype(to);
      const From* in = array.data<From>();
      To* o = out.mutable_data<To>();
      for (std::int64_t i = 0; i < array.size(); ++i) o[i] = static_cast<To>(in[i]);
    });
  });
  return out;
}

NDArray copy_block(const NDArray& array, std::int64_t begin, std::int64_t end, std::int64_t col_begin,
                   std::int64_t col_end) {
  if (array.shape.empty() || array.shape.size() > 2) {
    throw std::invalid_argument("expected a 1-d or 2-d array, got " + array.describe());
  }
  if (begin < 0 || end > array.rows() || begin > end) {
    throw std::invalid_argument("rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside " +
                                array.describe());
  }
  std::size_t item = dtype_size(array.dtype);
  if (array.shape.size() == 1) {
    NDArray out = NDArray::uninitialized(array.dtype, {end - begin});
    std::memcpy(out.mutable_data<std::byte>(), array.data<std::byte>() + begin * item, (end - begin) * item);
    return out;
  }
  if (col_begin < 0 || col_end > array.cols() || col_begin > col_end) {
    throw std::invalid_argument("columns [" + std::to_string(col_begin) + ", " + std::to_string(col_end) +
                                ") outside " + array.describe());
  }
  std::int64_t width = col_end - col_begin;
  NDArray out = NDArray::uninitialized(array.dtype, {end - begin, width});
  const std::byte* in = array.data<std::byte>();
  std::byte* o = out.mutable_data<std::byte>();
  std::size_t row_bytes = array.cols() * item;
  if (width == array.cols()) {
    std::memcpy(o, in + begin * row_bytes, (end - begin) * row_bytes);
    return out;
  }
  for (std::int64_t r = begin; r < end; ++r) {
    std::memcpy(o + (r - begin) * width * item, in + r * row_bytes + col_begin * item, width * item);
  }
  return out;
}

NDArray concat_rows(const std::vector<NDArray>& parts) {
  if (parts.empty()) throw std::invalid_argument("nothing to concatenate");
  const NDArray& first = parts.front();
  std::vector<std::int64_t> shape = first.shape;
  if (shape.empty()) throw std::invalid_argument("cannot concatenate 0-d arrays");
  shape[0] = 0;
  for (const NDArray& part : parts) {
    if (part.dtype != first.dtype || part.shape.size() != first.shape.size() ||
        !std::equal(part.shape.begin() + 1, part.shape.end(), first.shape.begin() + 1)) {
      throw std::invalid_argument("cannot concatenate " + part.describe() + " to " + first.describe());
    }
    shape[0] += part.shape[0];
  }
  NDArray out = NDArray::uninitialized(first.dtype, std::move(shape));
  std::byte* o = out.mutable_data<std::byte>();
  for (const NDArray& part : parts) {
    std::memcpy(o, part.data<std::byte>(), part.nbytes());
    o += part.nbytes();
  }
  return out;
}

}  // namespace dtask::array_ops
