// The ops of the example plugin (example_ops.cc), each defined once: the
// plugin registers these definitions and clients submit them, so a name, an
// argument order or a type cannot differ between the two sides.
//
//   #include "example_ops.h"
//   dtask::Future<std::int64_t> f = client.submit(example::kSquare, 12);   // 144
//
// Header only, and only dtask/op_def.h: a client program includes it
// without the worker's registration API.
#pragma once

#include <dtask/op_def.h>

#include <cstdint>

namespace example {

/// square(x) = x * x.
inline constexpr dtask::OpDef<std::int64_t(std::int64_t)> kSquare{"example.square"};
/// hypot(a, b) = sqrt(a^2 + b^2).
inline constexpr dtask::OpDef<double(double, double)> kHypot{"example.hypot"};
/// scale(array, factor): a float64 array times a number.
inline constexpr dtask::OpDef<dtask::NDArray(dtask::NDArray, double)> kScale{"example.scale"};

}  // namespace example
