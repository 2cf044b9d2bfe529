// Chunk reads and writes, run by the task that needs each chunk (never by
// the client). Readers re-read the file's small header each time so that a
// file changed under a running graph fails loudly instead of returning
// misaligned rows.
//   read_npy(path, row_begin, row_end)
//   read_zarr(path, row_begin, row_end)
//   read_csv(path, byte_begin, byte_end, first_line, rows, file_columns, delimiter, [columns])
//   create_npy(path, dtype, [shape]) -> path       write_npy_rows(path, row_begin, chunk) -> rows
//   create_zarr(path, zarray_json) -> path         write_zarr_rows(path, row_begin, chunk) -> rows
#include "dtask/builtin_ops.h"
#include "formats/csv_format.h"
#include "formats/npy_format.h"
#include "formats/zarr_format.h"
#include "worker/array_ops/array_kernels_internal.h"
#include "worker/array_ops/array_ops.h"

namespace dtask::array_ops {

namespace {

void check_row_range(const std::string& path, std::int64_t begin, std::int64_t end, std::int64_t rows) {
  if (begin < 0 || end < begin || end > rows) {
    throw std::invalid_argument(path + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                                ") outside the file's " + std::to_string(rows) + " rows (was it changed?)");
  }
}

NDArray read_npy(const std::string& path, std::int64_t begin, std::int64_t end) {
  formats::NpyHeader header = value_or_throw(formats::read_npy_header(path));
  check_row_range(path, begin, end, header.rows());
  return value_or_throw(formats::read_npy_rows(path, header, begin, end));
}

NDArray read_zarr(const std::string& path, std::int64_t begin, std::int64_t end) {
  formats::ZarrMetadata meta = value_or_throw(formats::read_zarr_metadata(path));
  check_row_range(path, begin, end, meta.shape.empty() ? 1 : meta.shape[0]);
  return value_or_throw(formats::read_zarr_rows(path, meta, begin, end));
}

NDArray read_csv(const std::string& path, std::int64_t byte_begin, std::int64_t byte_end, std::int64_t first_line,
                 std::int64_t rows, std::int64_t file_columns, const std::string& delimiter, const ValueList& columns) {
  formats::CsvChunk chunk;
  chunk.byte_begin = static_cast<std::uint64_t>(byte_begin);
  chunk.byte_end = static_cast<std::uint64_t>(byte_end);
  chunk.first_line = first_line;
  chunk.rows = rows;
  formats::CsvOptions options;
  if (delimiter.size() != 1) throw std::invalid_argument("read_csv: the delimiter must be one character");
  options.delimiter = delimiter[0];
  options.columns = int_list(Value(columns), "argument 7 of op 'read_csv'");
  return value_or_throw(formats::read_csv_rows(path, chunk, file_columns, options));
}

std::string create_npy(const std::string& path, const std::string& dtype, const std::vector<std::int64_t>& shape) {
  throw_if_error(formats::create_npy(path, value_or_throw(dtype_from_name(dtype)), shape));
  return path;
}

std::int64_t write_npy_rows(const std::string& path, std::int64_t row_begin, const NDArray& rows) {
  formats::NpyHeader header = value_or_throw(formats::read_npy_header(path));
  throw_if_error(formats::write_npy_rows(path, header, row_begin, rows));
  return rows.rows();
}

std::string create_zarr(const std::string& path, const std::string& zarray_json) {
  formats::ZarrMetadata meta = value_or_throw(formats::parse_zarr_metadata(zarray_json, path));
  throw_if_error(formats::create_zarr(path, meta));
  return path;
}

/// Writes one row block that lines up with a row of Zarr chunks: one file
/// per column chunk.
std::int64_t write_zarr_rows(const std::string& path, std::int64_t row_begin, const NDArray& block) {
  formats::ZarrMetadata meta = value_or_throw(formats::read_zarr_metadata(path));
  if (meta.shape.empty() || meta.chunks.empty() || row_begin % meta.chunks[0] != 0 ||
      (block.rows() != meta.chunks[0] && row_begin + block.rows() != meta.shape[0])) {
    throw std::invalid_argument(path + ": a block of " + block.describe() + " at row " + std::to_string(row_begin) +
                                " does not line up with the store's chunks");
  }
  std::int64_t chunk_row = row_begin / meta.chunks[0];
  if (meta.shape.size() == 1) {
    throw_if_error(formats::write_zarr_chunk(path, meta, {chunk_row}, block));
    return block.rows();
  }
  for (std::int64_t col = 0, j = 0; col < meta.shape[1]; col += meta.chunks[1], ++j) {
    NDArray part = copy_block(block, 0, block.rows(), col, std::min(meta.shape[1], col + meta.chunks[1]));
    throw_if_error(formats::write_zarr_chunk(path, meta, {chunk_row, j}, part));
  }
  return block.rows();
}

}  // namespace

void register_io_ops(OpRegistry& registry) {
  must_register(registry.add(ops::kReadNpy, read_npy));
  must_register(registry.add(ops::kReadZarr, read_zarr));
  must_register(registry.add(ops::kReadCsv, read_csv));
  must_register(registry.add(ops::kCreateNpy, [](const std::string& path, const std::string& dtype,
                                                 const ValueList& shape) {
    return create_npy(path, dtype, int_list(Value(shape), "argument 2 of op 'create_npy'"));
  }));
  must_register(registry.add(ops::kWriteNpyRows, write_npy_rows));
  must_register(registry.add(ops::kCreateZarr, create_zarr));
  must_register(registry.add(ops::kWriteZarrRows, write_zarr_rows));
}

}  // namespace dtask::array_ops
