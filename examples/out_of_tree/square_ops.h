// The op of the square_ops plugin, defined once: the plugin (square_ops.cc)
// registers it and the client (sum_of_squares.cc) submits it, so the two
// cannot disagree on its name or its signature.
#pragma once

#include <dtask/op_def.h>

#include <cstdint>

namespace oot {

/// square(x) = x * x.
inline constexpr dtask::OpDef<std::int64_t(std::int64_t)> kSquare{"oot.square"};

}  // namespace oot
