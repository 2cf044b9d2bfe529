#include "formats/zarr_format.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "formats/codec_json_internal.h"
#include "formats/dtype_descr.h"
#include "formats/file_io_internal.h"

namespace dtask::formats {
namespace {

using nlohmann::json;
using Index = std::vector<std::int64_t>;

constexpr std::uint64_t kMaxMetadataBytes = std::uint64_t{1} << 20;

std::string in_zarray(std::string_view what) { return " in " + std::string(what) + "/.zarray"; }

std::string index_text(const Index& index) {
  std::string out = "(";
  for (std::size_t i = 0; i < index.size(); ++i) out += (i ? ", " : "") + std::to_string(index[i]);
  return out + ")";
}

// ---- metadata ------------------------------------------------------------------------

Status parse_extents(const json& root, const char* key, std::int64_t min, std::string_view what, Index& out) {
  auto it = root.find(key);
  if (it == root.end() || !it->is_array()) {
    return Status::invalid("'" + std::string(key) + "'" + in_zarray(what) + " must be a list of integers");
  }
  for (const json& extent : *it) {
    if (!extent.is_number_integer() || extent.get<std::int64_t>() < min) {
      return Status::invalid("'" + std::string(key) + "'" + in_zarray(what) + " must hold integers >= " +
                             std::to_string(min) + ", got " + extent.dump());
    }
    out.push_back(extent.get<std::int64_t>());
  }
  return Status::success();
}

Result<std::optional<double>> parse_fill_value(const json& value, std::string_view what) {
  if (value.is_null()) return std::optional<double>();
  if (value.is_boolean()) return std::optional<double>(value.get<bool>() ? 1.0 : 0.0);
  if (value.is_number()) return std::optional<double>(value.get<double>());
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "NaN") return std::optional<double>(std::numeric_limits<double>::quiet_NaN());
    if (text == "Infinity") return std::optional<double>(std::numeric_limits<double>::infinity());
    if (text == "-Infinity") return std::optional<double>(-std::numeric_limits<double>::infinity());
  }
  return Status::invalid("'fill_value' " + value.dump() + in_zarray(what) +
                         " is not supported (dtask reads numbers, booleans, \"NaN\", \"Infinity\" and null)");
}

Status parse_layout(const json& root, std::string_view what, ZarrMetadata& meta) {
  auto order = root.find("order");
  if (order != root.end() && *order == "F") {
    return Status::invalid(std::string(what) + " is Fortran-ordered (order 'F'); dtask reads C-order Zarr arrays; "
                                               "rewrite it with order='C'");
  }
  if (order == root.end() || *order != "C") return Status::invalid("'order'" + in_zarray(what) + " must be \"C\"");
  meta.order = 'C';
  auto filters = root.find("filters");
  if (filters != root.end() && !filters->is_null() && !(filters->is_array() && filters->empty())) {
    return Status::invalid("'filters' " + filters->dump() + in_zarray(what) +
                           " are not supported; dtask reads arrays stored with filters=None");
  }
  auto separator = root.find("dimension_separator");
  if (separator != root.end() && !separator->is_null()) {
    if (*separator != "." && *separator != "/") {
      return Status::invalid("'dimension_separator'" + in_zarray(what) + " must be \".\" or \"/\"");
    }
    meta.dimension_separator = separator->get<std::string>();
  }
  return Status::success();
}

Result<ZarrMetadata> metadata_from_json(const json& root, std::string_view what) {
  if (!root.is_object()) return Status::invalid(std::string(what) + "/.zarray is not a JSON object");
  auto format = root.find("zarr_format");
  if (format == root.end() || *format != 2) {
    const std::string seen = format == root.end() ? "missing" : format->dump();
    return Status::invalid(std::string(what) + ": zarr_format is " + seen + "; dtask reads Zarr v2 arrays");
  }
  ZarrMetadata meta;
  DTASK_RETURN_NOT_OK(parse_extents(root, "shape", 0, what, meta.shape));
  DTASK_RETURN_NOT_OK(parse_extents(root, "chunks", 1, what, meta.chunks));
  auto dtype = root.find("dtype");
  if (dtype == root.end() || !dtype->is_string()) {
    return Status::invalid("'dtype'" + in_zarray(what) + " must be a type string such as \"<f8\" "
                           "(structured dtypes are not supported)");
  }
  DTASK_ASSIGN_OR_RETURN(meta.dtype, dtype_from_descr(dtype->get<std::string>(), what));
  auto compressor = root.find("compressor");
  DTASK_ASSIGN_OR_RETURN(meta.compressor,
                         internal::codec_from_json(compressor == root.end() ? json(nullptr) : *compressor, what));
  auto fill = root.find("fill_value");
  DTASK_ASSIGN_OR_RETURN(meta.fill_value, parse_fill_value(fill == root.end() ? json(nullptr) : *fill, what));
  DTASK_RETURN_NOT_OK(parse_layout(root, what, meta));
  DTASK_RETURN_NOT_OK(validate_zarr_metadata(meta, what));
  return meta;
}

template <typename T>
T clamp_to(double v) {
  if (std::isnan(v)) return T{0};
  const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  const double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (v <= lo) return std::numeric_limits<T>::lowest();
  if (v >= hi) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

json fill_value_json(const ZarrMetadata& meta) {
  if (!meta.fill_value) return nullptr;
  const double v = *meta.fill_value;
  switch (meta.dtype) {
    case DType::kFloat32:
    case DType::kFloat64:
      if (std::isnan(v)) return "NaN";
      if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
      return v;
    case DType::kBool: return v != 0;
    // Integers: the value fill_elements actually stores.
    case DType::kInt32: return clamp_to<std::int32_t>(v);
    case DType::kInt64: return clamp_to<std::int64_t>(v);
    case DType::kInt8: return clamp_to<std::int8_t>(v);
    case DType::kUInt8: return clamp_to<std::uint8_t>(v);
  }
  return nullptr;
}

// ---- element fill and box copies -----------------------------------------------------

template <typename T>
void fill_as(std::byte* data, std::size_t n, T value) {
  std::fill_n(reinterpret_cast<T*>(data), n, value);
}

/// Sets `n` elements to the fill value (0 when it is null).
void fill_elements(DType dtype, std::optional<double> fill, std::byte* data, std::size_t n) {
  const double v = fill.value_or(0.0);
  if (v == 0.0 && !std::signbit(v)) {
    std::memset(data, 0, n * dtype_size(dtype));
    return;
  }
  switch (dtype) {
    case DType::kFloat32: fill_as(data, n, static_cast<float>(v)); break;
    case DType::kFloat64: fill_as(data, n, v); break;
    case DType::kInt32: fill_as(data, n, clamp_to<std::int32_t>(v)); break;
    case DType::kInt64: fill_as(data, n, clamp_to<std::int64_t>(v)); break;
    case DType::kInt8: fill_as(data, n, clamp_to<std::int8_t>(v)); break;
    case DType::kUInt8: fill_as(data, n, clamp_to<std::uint8_t>(v)); break;
    case DType::kBool: fill_as(data, n, static_cast<std::uint8_t>(v != 0 ? 1 : 0)); break;
  }
}

/// Byte strides of a C-ordered array of `shape`.
Index byte_strides(const Index& shape, std::size_t itemsize) {
  Index strides(shape.size());
  std::int64_t stride = static_cast<std::int64_t>(itemsize);
  for (std::size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

/// One side of a box copy: a C-ordered array and the box's corner in it.
struct BoxSide {
  const Index& shape;
  const Index& origin;
};

/// Copies the box of `extent` at src.origin in `src` to dst.origin in
/// `dst`, one contiguous innermost run at a time.
void copy_box(const std::byte* src, BoxSide src_side, std::byte* dst, BoxSide dst_side, const Index& extent,
              std::size_t itemsize) {
  const std::size_t ndim = extent.size();
  if (ndim == 0) {
    std::memcpy(dst, src, itemsize);
    return;
  }
  if (std::any_of(extent.begin(), extent.end(), [](std::int64_t e) { return e == 0; })) return;
  const Index src_strides = byte_strides(src_side.shape, itemsize);
  const Index dst_strides = byte_strides(dst_side.shape, itemsize);
  std::int64_t src_offset = 0, dst_offset = 0;
  for (std::size_t d = 0; d < ndim; ++d) {
    src_offset += src_side.origin[d] * src_strides[d];
    dst_offset += dst_side.origin[d] * dst_strides[d];
  }
  const std::size_t run = static_cast<std::size_t>(extent[ndim - 1]) * itemsize;
  Index counter(ndim, 0);  // odometer over all axes but the last
  while (true) {
    std::memcpy(dst + dst_offset, src + src_offset, run);
    std::size_t d = ndim - 1;
    while (d-- > 0) {
      src_offset += src_strides[d];
      dst_offset += dst_strides[d];
      if (++counter[d] < extent[d]) break;
      src_offset -= counter[d] * src_strides[d];
      dst_offset -= counter[d] * dst_strides[d];
      counter[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) return;
  }
}

// ---- chunks ------------------------------------------------------------------------

std::size_t elements_of(const Index& shape) {
  std::size_t n = 1;
  for (std::int64_t e : shape) n *= static_cast<std::size_t>(e);
  return n;
}

Status check_chunk_index(const ZarrMetadata& meta, const Index& chunk_index, std::string_view what) {
  const Index grid = zarr_chunk_grid(meta);
  bool ok = chunk_index.size() == meta.shape.size();
  for (std::size_t d = 0; ok && d < grid.size(); ++d) ok = chunk_index[d] >= 0 && chunk_index[d] < grid[d];
  if (!ok) {
    return Status::invalid(std::string(what) + ": chunk " + index_text(chunk_index) +
                           " is outside the chunk grid " + index_text(grid));
  }
  return Status::success();
}

/// The chunk's shape once clipped to the array's bounds.
Index clipped_shape(const ZarrMetadata& meta, const Index& chunk_index) {
  Index shape(meta.chunks.size());
  for (std::size_t d = 0; d < shape.size(); ++d) {
    shape[d] = std::min(meta.chunks[d], meta.shape[d] - chunk_index[d] * meta.chunks[d]);
  }
  return shape;
}

std::string chunk_path(const std::string& store, const ZarrMetadata& meta, const Index& chunk_index) {
  return store + "/" + zarr_chunk_key(meta, chunk_index);
}

Result<NDArray> filled_array(const ZarrMetadata& meta, Index shape, const std::string& what) {
  const std::size_t n = elements_of(shape);
  DTASK_ASSIGN_OR_RETURN(std::shared_ptr<Buffer> buffer,
                         internal::allocate_buffer(n * dtype_size(meta.dtype), what));
  fill_elements(meta.dtype, meta.fill_value, buffer->mutable_data(), n);
  return NDArray{meta.dtype, std::move(shape), std::move(buffer)};
}

/// The whole chunk as stored, padded edges included; fill_value if absent.
Result<NDArray> read_full_chunk(const std::string& path, const ZarrMetadata& meta) {
  const std::size_t bytes = elements_of(meta.chunks) * dtype_size(meta.dtype);
  auto encoded = internal::read_whole_file(path, max_encoded_size(bytes));
  if (!encoded.ok() && encoded.status().code() == StatusCode::kNotFound) {
    return filled_array(meta, meta.chunks, path);
  }
  if (!encoded.ok()) return encoded.status();
  DTASK_ASSIGN_OR_RETURN(std::shared_ptr<Buffer> buffer, internal::allocate_buffer(bytes, path));
  DTASK_RETURN_NOT_OK(decode_into(meta.compressor, std::as_bytes(std::span(*encoded)),
                                  std::span(buffer->mutable_data(), bytes), path));
  return NDArray{meta.dtype, meta.chunks, std::move(buffer)};
}

Status check_array(const NDArray& data, const ZarrMetadata& meta, const std::string& what) {
  if (data.dtype != meta.dtype) {
    return Status::invalid(what + ": cannot write " + data.describe() + " into a " +
                           std::string(dtype_name(meta.dtype)) + " array");
  }
  if (data.nbytes() != elements_of(data.shape) * dtype_size(data.dtype)) {
    return Status::invalid(what + ": the array's buffer does not match its shape " + data.describe());
  }
  return Status::success();
}

/// Rows [begin, end) of a row-chunk `row_chunk`, copied from every chunk along
/// the other axes into `out` (rows counted from `begin`).
Status copy_row_chunk(const std::string& store, const ZarrMetadata& meta, std::int64_t row_chunk,
                      std::int64_t begin, std::int64_t end, NDArray& out) {
  const Index grid = zarr_chunk_grid(meta);
  const std::size_t ndim = meta.shape.size();
  const std::size_t itemsize = dtype_size(meta.dtype);
  auto* out_data = const_cast<std::byte*>(out.buffer->data());
  Index index(ndim, 0);
  index[0] = row_chunk;
  while (true) {
    DTASK_ASSIGN_OR_RETURN(NDArray chunk, read_zarr_chunk(store, meta, index));
    const std::int64_t chunk_row0 = row_chunk * meta.chunks[0];
    const std::int64_t lo = std::max(begin, chunk_row0);
    const std::int64_t hi = std::min(end, chunk_row0 + chunk.shape[0]);
    Index src_origin(ndim, 0), dst_origin(ndim, 0), extent = chunk.shape;
    src_origin[0] = lo - chunk_row0;
    dst_origin[0] = lo - begin;
    extent[0] = hi - lo;
    for (std::size_t d = 1; d < ndim; ++d) dst_origin[d] = index[d] * meta.chunks[d];
    copy_box(chunk.buffer->data(), {chunk.shape, src_origin}, out_data, {out.shape, dst_origin}, extent, itemsize);
    // Next chunk along the trailing axes (an odometer that leaves axis 0 alone).
    std::size_t d = ndim;
    while (--d > 0) {
      if (++index[d] < grid[d]) break;
      index[d] = 0;
    }
    if (d == 0) return Status::success();
  }
}

}  // namespace

Status validate_zarr_metadata(const ZarrMetadata& meta, std::string_view what) {
  const std::string where(what);
  if (meta.chunks.size() != meta.shape.size()) {
    return Status::invalid(where + ": 'chunks' " + index_text(meta.chunks) + " and 'shape' " +
                           index_text(meta.shape) + " have different ranks");
  }
  if (meta.order != 'C') return Status::invalid(where + ": order must be 'C'");
  if (meta.dimension_separator != "." && meta.dimension_separator != "/") {
    return Status::invalid(where + ": dimension_separator must be \".\" or \"/\"");
  }
  const auto itemsize = static_cast<std::int64_t>(dtype_size(meta.dtype));
  std::int64_t elements = 0;
  if (!internal::checked_product(meta.shape, std::numeric_limits<std::int64_t>::max() / itemsize, elements)) {
    return Status::invalid(where + ": shape " + index_text(meta.shape) + " is negative or too large");
  }
  for (std::int64_t c : meta.chunks) {
    if (c < 1) return Status::invalid(where + ": chunk extents must be positive, got " + index_text(meta.chunks));
  }
  if (!internal::checked_product(meta.chunks, static_cast<std::int64_t>(kMaxZarrChunkBytes) / itemsize, elements)) {
    return Status::invalid(where + ": chunks " + index_text(meta.chunks) + " of " +
                           std::string(dtype_name(meta.dtype)) + " exceed dtask's " +
                           std::to_string(kMaxZarrChunkBytes >> 20) + " MiB chunk limit; rechunk the array");
  }
  return Status::success();
}

Result<ZarrMetadata> parse_zarr_metadata(std::string_view json_text, std::string_view what) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Status::invalid(std::string(what) + "/.zarray is not valid JSON");
  return metadata_from_json(root, what);
}

std::string zarr_metadata_json(const ZarrMetadata& meta) {
  json root = {
      {"zarr_format", 2},
      {"shape", meta.shape},
      {"chunks", meta.chunks},
      {"dtype", dtype_descr(meta.dtype)},
      {"compressor", internal::codec_to_json(meta.compressor)},
      {"fill_value", fill_value_json(meta)},
      {"order", std::string(1, meta.order)},
      {"filters", nullptr},
  };
  // zarr 2.13 omits the default separator; older readers do not know the key.
  if (meta.dimension_separator != ".") root["dimension_separator"] = meta.dimension_separator;
  return root.dump(4);
}

Result<ZarrMetadata> read_zarr_metadata(const std::string& store_path) {
  auto text = internal::read_whole_file(store_path + "/.zarray", kMaxMetadataBytes);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) {
    return Status::not_found(store_path + " is not a Zarr v2 array (it has no .zarray file)");
  }
  if (!text.ok()) return text.status();
  return parse_zarr_metadata(*text, store_path);
}

std::vector<std::int64_t> zarr_chunk_grid(const ZarrMetadata& meta) {
  Index grid(meta.shape.size());
  for (std::size_t d = 0; d < grid.size(); ++d) {
    // Not (shape + chunks - 1) / chunks: that overflows for extents near INT64_MAX.
    const std::int64_t s = meta.shape[d], c = meta.chunks[d];
    grid[d] = c > 0 && s > 0 ? s / c + (s % c != 0 ? 1 : 0) : 0;
  }
  return grid;
}

std::string zarr_chunk_key(const ZarrMetadata& meta, const std::vector<std::int64_t>& chunk_index) {
  if (chunk_index.empty()) return "0";
  std::string key;
  for (std::size_t d = 0; d < chunk_index.size(); ++d) {
    if (d > 0) key += meta.dimension_separator;
    key += std::to_string(chunk_index[d]);
  }
  return key;
}

Result<NDArray> read_zarr_chunk(const std::string& store, const ZarrMetadata& meta,
                                const std::vector<std::int64_t>& chunk_index) {
  DTASK_RETURN_NOT_OK(validate_zarr_metadata(meta, store));
  DTASK_RETURN_NOT_OK(check_chunk_index(meta, chunk_index, store));
  const std::string path = chunk_path(store, meta, chunk_index);
  DTASK_ASSIGN_OR_RETURN(NDArray full, read_full_chunk(path, meta));
  Index shape = clipped_shape(meta, chunk_index);
  if (shape == full.shape) return full;
  DTASK_ASSIGN_OR_RETURN(std::shared_ptr<Buffer> buffer,
                         internal::allocate_buffer(elements_of(shape) * dtype_size(meta.dtype), path));
  const Index origin(shape.size(), 0);
  copy_box(full.buffer->data(), {full.shape, origin}, buffer->mutable_data(), {shape, origin}, shape,
           dtype_size(meta.dtype));
  return NDArray{meta.dtype, std::move(shape), std::move(buffer)};
}

Status write_zarr_chunk(const std::string& store, const ZarrMetadata& meta,
                        const std::vector<std::int64_t>& chunk_index, const NDArray& data) {
  DTASK_RETURN_NOT_OK(validate_zarr_metadata(meta, store));
  DTASK_RETURN_NOT_OK(check_chunk_index(meta, chunk_index, store));
  const std::string path = chunk_path(store, meta, chunk_index);
  DTASK_RETURN_NOT_OK(check_array(data, meta, path));
  const Index shape = clipped_shape(meta, chunk_index);
  if (data.shape != shape && data.shape != meta.chunks) {
    return Status::invalid(path + ": chunk data " + data.describe() + " does not have the chunk's shape " +
                           index_text(shape));
  }
  NDArray full = data;
  if (data.shape != meta.chunks) {  // an edge chunk: pad with fill_value to the stored shape
    DTASK_ASSIGN_OR_RETURN(full, filled_array(meta, meta.chunks, path));
    const Index origin(shape.size(), 0);
    copy_box(data.buffer->data(), {data.shape, origin}, const_cast<std::byte*>(full.buffer->data()),
             {full.shape, origin}, shape, dtype_size(meta.dtype));
  }
  const auto raw = std::span(full.buffer->data(), full.nbytes());
  DTASK_ASSIGN_OR_RETURN(std::vector<std::byte> encoded, encode(meta.compressor, raw, dtype_size(meta.dtype)));
  if (meta.dimension_separator == "/") {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (ec) return Status::io_error("cannot create the directory for " + path + ": " + ec.message());
  }
  const std::array<std::string_view, 1> parts{
      std::string_view(reinterpret_cast<const char*>(encoded.data()), encoded.size())};
  return internal::write_file_atomic(path, parts);
}

Status create_zarr(const std::string& store, const ZarrMetadata& meta) {
  DTASK_RETURN_NOT_OK(validate_zarr_metadata(meta, store));
  std::error_code ec;
  std::filesystem::create_directories(store, ec);
  if (ec) return Status::io_error("cannot create " + store + ": " + ec.message());
  const std::string metadata = zarr_metadata_json(meta);
  DTASK_RETURN_NOT_OK(internal::write_file_atomic(store + "/.zarray", std::array<std::string_view, 1>{metadata}));
  if (std::filesystem::exists(store + "/.zattrs", ec)) return Status::success();
  return internal::write_file_atomic(store + "/.zattrs", std::array<std::string_view, 1>{"{}"});
}

Result<NDArray> read_zarr_rows(const std::string& store, const ZarrMetadata& meta, std::int64_t row_begin,
                               std::int64_t row_end) {
  DTASK_RETURN_NOT_OK(validate_zarr_metadata(meta, store));
  const std::int64_t n_rows = meta.shape.empty() ? 1 : meta.shape[0];
  const std::string what = store + " rows [" + std::to_string(row_begin) + ", " + std::to_string(row_end) + ")";
  if (row_begin < 0 || row_end < row_begin || row_end > n_rows) {
    return Status::invalid(what + " out of range for an array of " + std::to_string(n_rows) + " rows");
  }
  if (meta.shape.empty()) return read_zarr_chunk(store, meta, {});
  const std::int64_t first = row_begin / meta.chunks[0];
  const std::int64_t last = row_end == row_begin ? first - 1 : (row_end - 1) / meta.chunks[0];
  const Index grid = zarr_chunk_grid(meta);
  // The usual case, one whole chunk: hand it back without a copy.
  if (first == last && std::all_of(grid.begin() + 1, grid.end(), [](std::int64_t g) { return g == 1; }) &&
      row_begin == first * meta.chunks[0] && row_end - row_begin == std::min(n_rows - row_begin, meta.chunks[0])) {
    Index index(meta.shape.size(), 0);
    index[0] = first;
    return read_zarr_chunk(store, meta, index);
  }
  Index shape = meta.shape;
  shape[0] = row_end - row_begin;
  DTASK_ASSIGN_OR_RETURN(std::shared_ptr<Buffer> buffer,
                         internal::allocate_buffer(elements_of(shape) * dtype_size(meta.dtype), what));
  NDArray out{meta.dtype, std::move(shape), std::move(buffer)};
  if (elements_of(out.shape) == 0) return out;  // no rows, or an empty trailing axis: no chunks to read
  for (std::int64_t row_chunk = first; row_chunk <= last; ++row_chunk) {
    DTASK_RETURN_NOT_OK(copy_row_chunk(store, meta, row_chunk, row_begin, row_end, out));
  }
  return out;
}

}  // namespace dtask::formats
