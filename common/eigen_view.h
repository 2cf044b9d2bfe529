// Eigen views over NDArray bytes, without copying. Include only in the few
// translation units that do numerics: Eigen is heavy to compile.
//
//   dtask::NDArray x = ...;                        // float64 [rows, cols], C order
//   auto m = dtask::eigen_view<double>(x);          // Eigen::Map, row-major
//   Eigen::VectorXd column_sums = m.colwise().sum();
#pragma once

#include <Eigen/Core>
#include <stdexcept>
#include <string>

#include "dtask/value.h"

namespace dtask {

template <typename T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A read-only matrix view of a 1-d (as a column) or 2-d array of element
/// type T. Throws std::invalid_argument naming the array on a dtype or rank
/// mismatch (ops run inside the worker's exception boundary).
template <typename T>
Eigen::Map<const RowMajorMatrix<T>, Eigen::Aligned64> eigen_view(const NDArray& array) {
  if (array.dtype != dtype_of<T>()) {
    throw std::invalid_argument("expected a " + std::string(dtype_name(dtype_of<T>())) + " array, got " +
                                array.describe());
  }
  if (array.shape.size() > 2) throw std::invalid_argument("expected a 1-d or 2-d array, got " + array.describe());
  return Eigen::Map<const RowMajorMatrix<T>, Eigen::Aligned64>(array.data<T>(), array.rows(), array.cols());
}

/// A writable view of an array this code just allocated (NDArray::zeros).
template <typename T>
Eigen::Map<RowMajorMatrix<T>, Eigen::Aligned64> eigen_mutable_view(NDArray& array) {
  if (array.dtype != dtype_of<T>() || array.shape.size() > 2) {
    throw std::invalid_argument("cannot view " + array.describe() + " as a matrix of this type");
  }
  return Eigen::Map<RowMajorMatrix<T>, Eigen::Aligned64>(array.mutable_data<T>(), array.rows(), array.cols());
}

}  // namespace dtask
