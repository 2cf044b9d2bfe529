// Matrix products on chunks, always in float64, with Eigen (the only Eigen
// translation unit among the array ops: it is slow to compile).
//   crossprod(a, b)     a^T b for one row block: the per-chunk term of A.T @ B
//                       (summed by reduce_combine "sum"); X^T X when a is b
//   matmul_block(a, w)  a @ w for one row block and a small w
#include "common/eigen_view.h"
#include "worker/array_ops/array_kernels_internal.h"
#include "worker/array_ops/array_ops.h"

namespace dtask::array_ops {

namespace {

NDArray as_float64(const NDArray& array, const char* op) {
  if (array.shape.empty() || array.shape.size() > 2) {
    throw std::invalid_argument(std::string(op) + " needs 1-d or 2-d arrays, got " + array.describe());
  }
  return cast(array, DType::kFloat64);
}

/// The shape of x^T y given the ranks of x and y: a 1-d operand drops its axis.
std::vector<std::int64_t> crossprod_shape(const NDArray& a, const NDArray& b) {
  std::vector<std::int64_t> shape;
  if (a.shape.size() == 2) shape.push_back(a.cols());
  if (b.shape.size() == 2) shape.push_back(b.cols());
  return shape;
}

NDArray crossprod(const NDArray& a_in, const NDArray& b_in) {
  if (a_in.rows() != b_in.rows()) {
    throw std::invalid_argument("crossprod: row blocks differ: " + a_in.describe() + " and " + b_in.describe());
  }
  bool same = a_in.buffer == b_in.buffer && a_in.shape == b_in.shape && a_in.dtype == b_in.dtype;
  NDArray a = as_float64(a_in, "crossprod");
  NDArray b = same ? a : as_float64(b_in, "crossprod");
  auto x = eigen_view<double>(a);
  auto y = eigen_view<double>(b);
  RowMajorMatrix<double> product(x.cols(), y.cols());
  if (same) {
    // X^T X is symmetric: a rank update computes half of it, about twice as fast.
    product.setZero();
    product.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
    product.triangularView<Eigen::StrictlyUpper>() = product.transpose();
  } else {
    product.noalias() = x.transpose() * y;
  }
  NDArray out = NDArray::uninitialized(DType::kFloat64, crossprod_shape(a_in, b_in));
  std::copy(product.data(), product.data() + product.size(), out.mutable_data<double>());
  return out;
}

NDArray matmul_block(const NDArray& a_in, const NDArray& w_in) {
  NDArray a = as_float64(a_in, "matmul_block");
  NDArray w = as_float64(w_in, "matmul_block");
  if (a.cols() != w.rows() || (a.shape.size() == 1 && w.rows() != 1)) {
    throw std::invalid_argument("matmul: shapes " + a_in.describe() + " and " + w_in.describe() + " do not align");
  }
  std::vector<std::int64_t> shape{a.rows()};
  if (w.shape.size() == 2) shape.push_back(w.cols());
  NDArray out = NDArray::uninitialized(DType::kFloat64, shape);
  Eigen::Map<RowMajorMatrix<double>> result(out.mutable_data<double>(), a.rows(), w.cols());
  result.noalias() = eigen_view<double>(a) * eigen_view<double>(w);
  return out;
}

}  // namespace

void register_linalg_ops(OpRegistry& registry) {
  must_register(registry.add(ops::kCrossprod, crossprod));
  must_register(
      registry.add(ops::kMatmulBlock, matmul_block));
}

}  // namespace dtask::array_ops
