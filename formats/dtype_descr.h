// NumPy array-protocol type strings ("<f8", "|u1", ...): how .npy headers
// and Zarr v2 .zarray files name an element type.
#pragma once

#include <string>
#include <string_view>

#include "dtask/status.h"
#include "dtask/value.h"

namespace dtask::formats {

/// The dtype a descr names. Accepts '<' or '=' (little-endian; dtask only
/// runs on little-endian hosts) and, for one-byte types, '|' as well.
/// Big-endian and other types are Invalid, naming `what` (a file or store)
/// and the descr. Thread-safe.
Result<DType> dtype_from_descr(std::string_view descr, std::string_view what);

/// The descr NumPy writes for `dtype`: "<f8", "|b1", ... Thread-safe.
std::string dtype_descr(DType dtype);

}  // namespace dtask::formats
