// Reductions as three ops, so that the client can build a tree of any fan-in:
//   reduce_part(kind, all, chunk, row_offset) -> partial   (per chunk)
//   reduce_combine(kind, [partials])          -> partial   (tree levels)
//   reduce_final(kind, ddof, partial)         -> array     (the root)
// `all` reduces every element (a 0-d result); otherwise rows are reduced
// (one value per column). reduce_rows(kind, ddof, chunk) reduces each row of
// a 2-d chunk (axis 1) in one blockwise step.
//
// Partials: sum, min, max -> the array itself; mean, var, std -> [count,
// mean, M2] combined with Chan et al.'s parallel update (stable, unlike
// sum-of-squares); argmin, argmax -> [values, global row indices].
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "worker/array_ops/array_kernels_internal.h"
#include "worker/array_ops/array_ops.h"

namespace dtask::array_ops {

namespace {

enum class Kind { kSum, kMin, kMax, kMean, kVar, kStd, kArgmin, kArgmax };

Kind parse_kind(const std::string& name) {
  if (name == "sum") return Kind::kSum;
  if (name == "min") return Kind::kMin;
  if (name == "max") return Kind::kMax;
  if (name == "mean") return Kind::kMean;
  if (name == "var") return Kind::kVar;
  if (name == "std") return Kind::kStd;
  if (name == "argmin") return Kind::kArgmin;
  if (name == "argmax") return Kind::kArgmax;
  throw std::invalid_argument("unknown reduction '" + name + "'");
}

bool is_moment(Kind kind) { return kind == Kind::kMean || kind == Kind::kVar || kind == Kind::kStd; }
bool is_arg(Kind kind) { return kind == Kind::kArgmin || kind == Kind::kArgmax; }

/// Rows x columns of a chunk seen as a matrix; `all` folds it into one column.
struct Layout {
  std::int64_t rows;
  std::int64_t cols;
  std::vector<std::int64_t> out_shape;
};

Layout layout_of(const NDArray& chunk, bool all) {
  if (chunk.shape.empty()) return {1, 1, {}};
  if (all || chunk.shape.size() == 1) return {chunk.size(), 1, {}};
  return {chunk.rows(), chunk.cols(), {chunk.cols()}};
}

DType sum_dtype(DType dtype) { return is_float(dtype) ? dtype : DType::kInt64; }

NDArray column_sums(const NDArray& chunk, const Layout& lay) {
  NDArray out = NDArray::zeros(sum_dtype(chunk.dtype), lay.out_shape);
  visit_dtype(chunk.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
    std::vector<Acc> acc(static_cast<std::size_t>(lay.cols), Acc(0));
    const T* x = chunk.data<T>();
    if (lay.cols == 1) {
      // One column (a total, or a 1-d array): eight independent partial sums,
      // so the adds pipeline and vectorise instead of waiting on one another.
      Acc lanes[8] = {};
      std::int64_t r = 0;
      for (; r + 8 <= lay.rows; r += 8) {
        for (int l = 0; l < 8; ++l) lanes[l] += static_cast<Acc>(x[r + l]);
      }
      for (; r < lay.rows; ++r) lanes[0] += static_cast<Acc>(x[r]);
      for (Acc lane : lanes) acc[0] += lane;
    } else {
      for (std::int64_t r = 0; r < lay.rows; ++r) {
        for (std::int64_t c = 0; c < lay.cols; ++c) acc[c] += static_cast<Acc>(x[r * lay.cols + c]);
      }
    }
    visit_dtype(out.dtype, [&](auto out_tag) {
      using O = decltype(out_tag);
      for (std::int64_t c = 0; c < lay.cols; ++c) out.mutable_data<O>()[c] = static_cast<O>(acc[c]);
    });
  });
  return out;
}

NDArray column_extreme(const NDArray& chunk, const Layout& lay, bool want_max) {
  if (lay.rows == 0) throw std::invalid_argument("zero-size array to reduction operation which has no identity");
  NDArray out = NDArray::uninitialized(chunk.dtype, lay.out_shape);
  visit_dtype(chunk.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* x = chunk.data<T>();
    T* o = out.mutable_data<T>();
    for (std::int64_t c = 0; c < lay.cols; ++c) o[c] = x[c];
    for (std::int64_t r = 1; r < lay.rows; ++r) {
      for (std::int64_t c = 0; c < lay.cols; ++c) {
        T v = x[r * lay.cols + c];
        if (want_max ? (o[c] < v) : (v < o[c])) o[c] = v;
      }
    }
  });
  return out;
}

/// [count, mean, M2] of each column, two passes over the chunk.
Value column_moments(const NDArray& chunk, const Layout& lay) {
  NDArray x = cast(chunk, DType::kFloat64);
  NDArray mean = NDArray::zeros(DType::kFloat64, lay.out_shape);
  NDArray m2 = NDArray::zeros(DType::kFloat64, lay.out_shape);
  const double* in = x.data<double>();
  double* mu = mean.mutable_data<double>();
  double* s2 = m2.mutable_data<double>();
  for (std::int64_t r = 0; r < lay.rows; ++r) {
    for (std::int64_t c = 0; c < lay.cols; ++c) mu[c] += in[r * lay.cols + c];
  }
  for (std::int64_t c = 0; c < lay.cols; ++c) mu[c] = lay.rows ? mu[c] / static_cast<double>(lay.rows) : 0.0;
  for (std::int64_t r = 0; r < lay.rows; ++r) {
    for (std::int64_t c = 0; c < lay.cols; ++c) {
      double d = in[r * lay.cols + c] - mu[c];
      s2[c] += d * d;
    }
  }
  return ValueList{Value(static_cast<double>(lay.rows)), Value(mean), Value(m2)};
}

/// [values, indices] of the first extreme per column; indices are global rows.
Value column_arg_extreme(const NDArray& chunk, const Layout& lay, bool want_max, std::int64_t row_offset) {
  if (lay.rows == 0) throw std::invalid_argument("attempt to get argmin/argmax of an empty sequence");
  NDArray x = cast(chunk, DType::kFloat64);
  NDArray values = NDArray::uninitialized(DType::kFloat64, lay.out_shape);
  NDArray index = NDArray::zeros(DType::kInt64, lay.out_shape);
  const double* in = x.data<double>();
  double* v = values.mutable_data<double>();
  std::int64_t* idx = index.mutable_data<std::int64_t>();
  for (std::int64_t c = 0; c < lay.cols; ++c) v[c] = in[c];
  for (std::int64_t r = 1; r < lay.rows; ++r) {
    for (std::int64_t c = 0; c < lay.cols; ++c) {
      double value = in[r * lay.cols + c];
      // NaN wins, as in numpy: once a NaN is found it stays.
      if (std::isnan(v[c])) continue;
      if (std::isnan(value) || (want_max ? value > v[c] : value < v[c])) {
        v[c] = value;
        idx[c] = r;
      }
    }
  }
  for (std::int64_t c = 0; c < lay.cols; ++c) idx[c] += row_offset;
  return ValueList{Value(values), Value(index)};
}

Value reduce_part(Kind kind, bool all, const NDArray& chunk, std::int64_t row_offset) {
  Layout lay = layout_of(chunk, all);
  switch (kind) {
    case Kind::kSum: return column_sums(chunk, lay);
    case Kind::kMin: return column_extreme(chunk, lay, false);
    case Kind::kMax: return column_extreme(chunk, lay, true);
    case Kind::kArgmin: return column_arg_extreme(chunk, lay, false, row_offset);
    case Kind::kArgmax: return column_arg_extreme(chunk, lay, true, row_offset);
    default: return column_moments(chunk, lay);
  }
}

NDArray partial_array(const Value& partial, std::size_t index) {
  if (!partial.is<ValueList>()) throw std::invalid_argument("malformed reduction partial: " + partial.type_name());
  const ValueList& list = partial.get<ValueList>();
  if (index >= list.size() || !list[index].is<NDArray>()) {
    throw std::invalid_argument("malformed reduction partial: " + partial.type_name());
  }
  return list[index].get<NDArray>();
}

/// Elementwise f(acc, next) over arrays of one shape and dtype.
NDArray fold_arrays(const ValueList& partials, bool want_max, bool add) {
  const NDArray& acc = as_array(partials.at(0));
  NDArray out = NDArray::uninitialized(acc.dtype, acc.shape);
  std::memcpy(out.mutable_data<std::byte>(), acc.data<std::byte>(), acc.nbytes());
  for (std::size_t i = 1; i < partials.size(); ++i) {
    NDArray next = as_array(partials[i]);
    if (next.shape != out.shape || next.dtype != out.dtype) {
      throw std::invalid_argument("cannot combine " + next.describe() + " with " + out.describe());
    }
    visit_dtype(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      T* o = out.mutable_data<T>();
      const T* x = next.data<T>();
      for (std::int64_t j = 0; j < out.size(); ++j) {
        if (add) {
          o[j] = static_cast<T>(o[j] + x[j]);
        } else if (want_max ? (o[j] < x[j]) : (x[j] < o[j])) {
          o[j] = x[j];
        }
      }
    });
  }
  return out;
}

Value combine_moments(const ValueList& partials) {
  double n = 0;
  NDArray mean = NDArray::zeros(DType::kFloat64, partial_array(partials.at(0), 1).shape);
  NDArray m2 = NDArray::zeros(DType::kFloat64, mean.shape);
  double* mu = mean.mutable_data<double>();
  double* s2 = m2.mutable_data<double>();
  for (const Value& partial : partials) {
    double nb = number(partial.get<ValueList>().at(0));
    NDArray mb = partial_array(partial, 1);
    NDArray sb = partial_array(partial, 2);
    if (mb.shape != mean.shape) throw std::invalid_argument("cannot combine " + mb.describe() + " with " + mean.describe());
    if (nb == 0) continue;
    double total = n + nb;
    for (std::int64_t j = 0; j < mean.size(); ++j) {
      double delta = mb.data<double>()[j] - mu[j];
      mu[j] += delta * nb / total;
      s2[j] += sb.data<double>()[j] + delta * delta * n * nb / total;
    }
    n = total;
  }
  return ValueList{Value(n), Value(mean), Value(m2)};
}

Value combine_arg(const ValueList& partials, bool want_max) {
  NDArray values = cast(partial_array(partials.at(0), 0), DType::kFloat64);
  NDArray best = NDArray::uninitialized(DType::kFloat64, values.shape);
  NDArray index = NDArray::uninitialized(DType::kInt64, values.shape);
  std::memcpy(best.mutable_data<double>(), values.data<double>(), values.nbytes());
  std::memcpy(index.mutable_data<std::int64_t>(), partial_array(partials[0], 1).data<std::int64_t>(), index.nbytes());
  for (std::size_t i = 1; i < partials.size(); ++i) {
    NDArray v = partial_array(partials[i], 0);
    NDArray idx = partial_array(partials[i], 1);
    for (std::int64_t j = 0; j < best.size(); ++j) {
      double current = best.data<double>()[j];
      double value = v.data<double>()[j];
      if (std::isnan(current)) continue;
      // Partials arrive in row order, so ties keep the earlier (lower) index.
      if (std::isnan(value) || (want_max ? value > current : value < current)) {
        best.mutable_data<double>()[j] = value;
        index.mutable_data<std::int64_t>()[j] = idx.data<std::int64_t>()[j];
      }
    }
  }
  return ValueList{Value(best), Value(index)};
}

Value reduce_combine(Kind kind, const ValueList& partials) {
  if (partials.empty()) throw std::invalid_argument("reduce_combine needs at least one partial");
  switch (kind) {
    case Kind::kSum: return fold_arrays(partials, false, true);
    case Kind::kMin: return fold_arrays(partials, false, false);
    case Kind::kMax: return fold_arrays(partials, true, false);
    case Kind::kArgmin: return combine_arg(partials, false);
    case Kind::kArgmax: return combine_arg(partials, true);
    default: return combine_moments(partials);
  }
}

NDArray reduce_final(Kind kind, std::int64_t ddof, const Value& partial) {
  if (!is_moment(kind) && !is_arg(kind)) return as_array(partial);
  if (is_arg(kind)) return partial_array(partial, 1);
  double n = number(partial.get<ValueList>().at(0));
  NDArray mean = partial_array(partial, 1);
  if (kind == Kind::kMean) {
    if (n == 0) std::fill_n(mean.mutable_data<double>(), mean.size(), std::numeric_limits<double>::quiet_NaN());
    return mean;
  }
  NDArray m2 = partial_array(partial, 2);
  NDArray out = NDArray::uninitialized(DType::kFloat64, m2.shape);
  double denominator = n - static_cast<double>(ddof);
  for (std::int64_t j = 0; j < out.size(); ++j) {
    double var = denominator > 0 ? m2.data<double>()[j] / denominator : std::numeric_limits<double>::quiet_NaN();
    out.mutable_data<double>()[j] = kind == Kind::kStd ? std::sqrt(var) : var;
  }
  return out;
}

/// Axis-1 reduction of a 2-d chunk: each row on its own.
NDArray reduce_rows(Kind kind, std::int64_t ddof, const NDArray& chunk) {
  if (chunk.shape.size() != 2) throw std::invalid_argument("axis 1 needs a 2-d array, got " + chunk.describe());
  DType out_dtype = is_moment(kind) ? DType::kFloat64 : is_arg(kind) ? DType::kInt64
                                                      : kind == Kind::kSum ? sum_dtype(chunk.dtype) : chunk.dtype;
  NDArray out = NDArray::uninitialized(out_dtype, {chunk.rows()});
  std::size_t out_item = dtype_size(out_dtype);
  for (std::int64_t r = 0; r < chunk.rows(); ++r) {
    NDArray row = copy_block(chunk, r, r + 1, 0, chunk.cols());
    row.shape = {chunk.cols()};
    NDArray value = reduce_final(kind, ddof, reduce_part(kind, true, row, 0));
    value = cast(value, out_dtype);
    std::memcpy(out.mutable_data<std::byte>() + r * out_item, value.data<std::byte>(), out_item);
  }
  return out;
}

}  // namespace

void register_reduction_ops(OpRegistry& registry) {
  must_register(registry.add(ops::kReducePart, [](const std::string& kind, bool all, const NDArray& chunk,
                                                   std::int64_t row_offset) {
    return reduce_part(parse_kind(kind), all, chunk, row_offset);
  }));
  must_register(registry.add(ops::kReduceCombine, [](const std::string& kind, const ValueList& partials) {
    return reduce_combine(parse_kind(kind), partials);
  }));
  must_register(registry.add(ops::kReduceFinal, [](const std::string& kind, std::int64_t ddof, const Value& partial) {
    return reduce_final(parse_kind(kind), ddof, partial);
  }));
  must_register(registry.add(ops::kReduceRows, [](const std::string& kind, std::int64_t ddof, const NDArray& chunk) {
    return reduce_rows(parse_kind(kind), ddof, chunk);
  }));
}

}  // namespace dtask::array_ops
