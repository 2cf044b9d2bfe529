// What the format round-trip tests (npy_format_test, zarr_format_test,
// python_interop_test) compare: every dtype the formats write, and an
// array's raw bytes.
#pragma once

#include <string>

#include "dtask/value.h"

namespace dtask::formats::testing {

/// Every dtype .npy and Zarr read and write.
inline constexpr DType kAllDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64,
                                       DType::kInt8,    DType::kUInt8,   DType::kBool};

/// The array's buffer as a string, for byte-exact comparisons.
inline std::string bytes_of(const NDArray& a) {
  return std::string(reinterpret_cast<const char*>(a.buffer->data()), a.nbytes());
}

}  // namespace dtask::formats::testing
