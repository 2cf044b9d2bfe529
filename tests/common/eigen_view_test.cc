#include "common/eigen_view.h"

#include <gtest/gtest.h>

namespace dtask {
namespace {

// An Eigen view reads the array's own bytes: no copy, C order kept.
TEST(EigenViewTest, ViewsArrayBytesInPlace) {
  NDArray array = NDArray::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto m = eigen_view<double>(array);
  EXPECT_EQ(m.data(), array.data<double>());
  EXPECT_EQ(m.rows(), 2);
  EXPECT_EQ(m.cols(), 3);
  EXPECT_EQ(m(1, 0), 4.0);
  EXPECT_EQ(m.colwise().sum()(2), 9.0);
}

// Writing through a mutable view changes the array.
TEST(EigenViewTest, MutableViewWritesThrough) {
  NDArray array = NDArray::zeros(DType::kFloat32, {4});
  eigen_mutable_view<float>(array).setConstant(2.5f);
  EXPECT_EQ(array.data<float>()[3], 2.5f);
}

// A dtype mismatch names the array it was given.
TEST(EigenViewTest, WrongDtypeIsAClearError) {
  NDArray array = NDArray::zeros(DType::kInt32, {2, 2});
  try {
    eigen_view<double>(array);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("int32[2, 2]"), std::string::npos);
  }
}

}  // namespace
}  // namespace dtask
