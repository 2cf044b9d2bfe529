#include "formats/dtype_descr.h"

#include <array>

namespace dtask::formats {
namespace {

struct DescrEntry {
  std::string_view code;  // descr without its byte-order character
  DType dtype;
};

constexpr std::array<DescrEntry, kDTypeCount> kDescrs{{
    {"f4", DType::kFloat32},
    {"f8", DType::kFloat64},
    {"i4", DType::kInt32},
    {"i8", DType::kInt64},
    {"i1", DType::kInt8},
    {"u1", DType::kUInt8},
    {"b1", DType::kBool},
}};

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

Result<DType> dtype_from_descr(std::string_view descr, std::string_view what) {
  const std::string where = std::string(what) + ": dtype " + quoted(descr);
  if (descr.size() < 2) return Status::invalid(where + " is not a NumPy type string");
  const char order = descr[0];
  const std::string_view code = descr.substr(1);
  if (order == '>') {
    return Status::invalid(where + " is big-endian; dtask reads little-endian data (convert it with "
                                   "arr.astype(arr.dtype.newbyteorder('<')))");
  }
  if (order != '<' && order != '=' && order != '|') {
    return Status::invalid(where + " has no byte-order character ('<', '=' or '|')");
  }
  for (const DescrEntry& entry : kDescrs) {
    if (entry.code != code) continue;
    // '|' means "byte order not applicable": only one-byte types may use it.
    if (order == '|' && dtype_size(entry.dtype) != 1) break;
    return entry.dtype;
  }
  return Status::invalid(where + " is not supported; dtask reads float32, float64, int32, int64, int8, "
                                 "uint8 and bool");
}

std::string dtype_descr(DType dtype) {
  for (const DescrEntry& entry : kDescrs) {
    if (entry.dtype == dtype) return (dtype_size(dtype) == 1 ? "|" : "<") + std::string(entry.code);
  }
  return "?";
}

}  // namespace dtask::formats
