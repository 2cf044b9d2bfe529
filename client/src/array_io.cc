// dtask::Array sources and sinks: .npy, Zarr v2 and CSV files, local arrays.
// The client reads only headers (and, for CSV, record boundaries); every
// chunk is read or written by its own task on a worker. Paths are made
// absolute so that workers started elsewhere find the same file.
#include <cstring>
#include <filesystem>

#include "client/src/array_internal.h"
#include "dtask/client.h"
#include "formats/csv_format.h"
#include "formats/npy_format.h"
#include "formats/zarr_format.h"
#include "dtask/builtin_ops.h"

namespace dtask {

using namespace array_internal;

namespace {

template <typename T>
T value_or_fail(Result<T> result) {
  if (!result.ok()) fail(result.status().message());
  return std::move(result).value();
}

std::string absolute(const std::string& path) { return std::filesystem::absolute(path).lexically_normal().string(); }

void check_rank(const std::string& path, const std::vector<std::int64_t>& shape) {
  if (shape.empty() || shape.size() > 2) {
    fail(path + ": dtask arrays are 1-d or 2-d; this file holds a " + std::to_string(shape.size()) + "-d array");
  }
}

std::int64_t row_bytes(const std::vector<std::int64_t>& shape, DType dtype) {
  return (shape.size() == 2 ? shape[1] : 1) * static_cast<std::int64_t>(dtype_size(dtype));
}

/// Chunk i of a file-backed array: op(path, first_row, end_row).
Array row_range_reader(const OpDef<NDArray(std::string, std::int64_t, std::int64_t)>& op, const std::string& label, const std::string& path,
                       std::vector<std::int64_t> shape, DType dtype, ChunkGrid grid) {
  std::string name = new_name(label);
  std::vector<TaskArg> chunks;
  for (std::int64_t i = 0; i < grid.n_chunks(); ++i) {
    chunks.emplace_back(chunk_task_of(op, name, i, path, grid.offset(i), grid.offset(i) + grid.size(i)));
  }
  return Array::from_chunks(std::move(shape), dtype, std::move(grid), std::move(chunks), std::move(name));
}

/// Runs a graph of write tasks and checks that they wrote every row.
void run_writes(Client& client, const Array& array, const std::vector<Delayed>& writes, const std::string& path) {
  Delayed total = delayed(ops::kSum)(writes);
  std::int64_t written = client.compute<std::int64_t>(total).result();
  if (written != array.rows()) {
    throw TaskError(Status::io_error(path + ": wrote " + std::to_string(written) + " of " +
                                     std::to_string(array.rows()) + " rows"));
  }
}

formats::CodecConfig codec_for(const ZarrWriteOptions& options) {
  formats::CodecConfig codec;
  codec.level = options.level;
  codec.blosc_cname = options.blosc_cname;
  if (options.compressor == "none") {
    codec.id = formats::CodecId::kNone;
  } else if (options.compressor == "zlib") {
    codec.id = formats::CodecId::kZlib;
  } else if (options.compressor == "zstd") {
    codec.id = formats::CodecId::kZstd;
  } else if (options.compressor == "blosc") {
    codec.id = formats::CodecId::kBlosc;
  } else {
    fail("to_zarr: unknown compressor '" + options.compressor + "' (none, zlib, zstd, blosc)");
  }
  return codec;
}

}  // namespace

Array Array::from_npy(const std::string& path, std::int64_t chunk_rows) {
  std::string file = absolute(path);
  formats::NpyHeader header = value_or_fail(formats::read_npy_header(file));
  check_rank(file, header.shape);
  if (header.shape[0] == 0) fail(file + ": the array has no rows");
  if (chunk_rows <= 0) chunk_rows = ChunkGrid::auto_chunk_rows(header.shape[0], row_bytes(header.shape, header.dtype));
  return row_range_reader(ops::kReadNpy, "from_npy", file, header.shape, header.dtype,
                          ChunkGrid::regular(header.shape[0], chunk_rows));
}

Array Array::from_zarr(const std::string& path) {
  std::string store = absolute(path);
  formats::ZarrMetadata meta = value_or_fail(formats::read_zarr_metadata(store));
  check_rank(store, meta.shape);
  if (meta.shape[0] == 0) fail(store + ": the array has no rows");
  return row_range_reader(ops::kReadZarr, "from_zarr", store, meta.shape, meta.dtype,
                          ChunkGrid::regular(meta.shape[0], meta.chunks[0]));
}

Array Array::from_csv(const std::string& path, const CsvReadOptions& options) {
  std::string file = absolute(path);
  formats::CsvOptions csv{.delimiter = options.delimiter, .header = options.header, .columns = options.columns};
  // A fixed default: the row width is unknown until the scan, and 64 Ki rows
  // of a typical table are a few MiB.
  std::int64_t chunk_rows = options.chunk_rows > 0 ? options.chunk_rows : 65536;
  formats::CsvLayout layout = value_or_fail(formats::scan_csv(file, csv, chunk_rows));
  if (layout.rows == 0) fail(file + ": no data rows");
  std::int64_t cols = options.columns.empty() ? layout.columns : static_cast<std::int64_t>(options.columns.size());
  std::string name = new_name("from_csv");
  std::vector<TaskArg> chunks;
  std::vector<std::int64_t> sizes;
  for (std::size_t i = 0; i < layout.chunks.size(); ++i) {
    const formats::CsvChunk& c = layout.chunks[i];
    sizes.push_back(c.rows);
    chunks.emplace_back(chunk_task_of(ops::kReadCsv, name, static_cast<std::int64_t>(i), file,
                                      static_cast<std::int64_t>(c.byte_begin), static_cast<std::int64_t>(c.byte_end),
                                      c.first_line, c.rows, layout.columns, std::string(1, options.delimiter),
                                      int_list(options.columns)));
  }
  return from_chunks({layout.rows, cols}, DType::kFloat64, ChunkGrid(std::move(sizes)), std::move(chunks),
                     std::move(name));
}

Array Array::from_ndarray(Client& client, const NDArray& array, std::int64_t chunk_rows) {
  if (array.shape.size() > 2) fail("from_ndarray: dtask arrays are 0-d, 1-d or 2-d, got " + array.describe());
  std::int64_t rows = array.shape.empty() ? 1 : array.shape[0];
  if (rows == 0) fail("from_ndarray: " + array.describe() + " has no rows");
  if (chunk_rows <= 0) chunk_rows = ChunkGrid::auto_chunk_rows(rows, row_bytes(array.shape, array.dtype));
  ChunkGrid grid = ChunkGrid::regular(rows, array.shape.empty() ? 1 : chunk_rows);
  std::vector<Value> parts;
  std::size_t stride = static_cast<std::size_t>(row_bytes(array.shape, array.dtype));
  for (std::int64_t i = 0; i < grid.n_chunks(); ++i) {
    std::vector<std::int64_t> shape = array.shape;
    if (!shape.empty()) shape[0] = grid.size(i);
    NDArray part = NDArray::uninitialized(array.dtype, shape);
    std::memcpy(part.mutable_data<std::byte>(), array.data<std::byte>() + grid.offset(i) * stride, part.nbytes());
    parts.emplace_back(std::move(part));
  }
  auto futures = client.scatter(parts);
  if (!futures.ok()) throw TaskError(futures.status());
  std::vector<TaskArg> chunks(futures->begin(), futures->end());
  return from_chunks(array.shape, array.dtype, std::move(grid), std::move(chunks), new_name("from_ndarray"));
}

void Array::to_npy(Client& client, const std::string& path) const {
  require_plain(*this, "to_npy");
  std::string file = absolute(path);
  std::string name = new_name("to_npy");
  Delayed created = chunk_task_of(ops::kCreateNpy, name + "-create", 0, file, std::string(dtype_name(dtype())),
                                  int_list(shape()));
  std::vector<Delayed> writes;
  for (std::int64_t i = 0; i < n_chunks(); ++i) {
    writes.push_back(chunk_task_of(ops::kWriteNpyRows, name, i, created, chunks().offset(i), chunk(i)));
  }
  run_writes(client, *this, writes, file);
}

void Array::to_zarr(Client& client, const std::string& path, const ZarrWriteOptions& options) const {
  require_plain(*this, "to_zarr");
  if (ndim() == 0) fail("to_zarr: " + describe() + " is 0-d");
  // Zarr needs equal chunks (the last may be shorter).
  Array regular = chunks().is_regular() ? *this : rechunk(chunks().size(0));
  formats::ZarrMetadata meta;
  meta.shape = shape();
  meta.chunks = shape();
  meta.chunks[0] = regular.chunks().size(0);
  meta.dtype = dtype();
  meta.compressor = codec_for(options);
  std::string store = absolute(path);
  std::string name = new_name("to_zarr");
  Delayed created = chunk_task_of(ops::kCreateZarr, name + "-create", 0, store, formats::zarr_metadata_json(meta));
  std::vector<Delayed> writes;
  for (std::int64_t i = 0; i < regular.n_chunks(); ++i) {
    writes.push_back(chunk_task_of(ops::kWriteZarrRows, name, i, created, regular.chunks().offset(i), regular.chunk(i)));
  }
  run_writes(client, *this, writes, store);
}

}  // namespace dtask
