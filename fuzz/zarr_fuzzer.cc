// libFuzzer target: Zarr v2 metadata and chunks. The input is
//
//   [.zarray JSON][NUL][one encoded chunk]
//
// (JSON text never holds a raw NUL). The JSON goes through
// parse_zarr_metadata (and parse_codec_config); when it describes small
// chunks (<= 256 KiB, the harness's limit) the chunk bytes are decoded
// through the compressor it names (none/zlib/gzip/zstd/blosc), then written
// as chunk 0 of a scratch store and read back with read_zarr_chunk and
// read_zarr_rows. Invariant: zarr_metadata_json of parsed metadata parses
// back to the same metadata.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/codec.h"
#include "formats/zarr_format.h"
#include "fuzz/fuzz_support_internal.h"

namespace {

constexpr std::uint64_t kMaxBytes = std::uint64_t{256} << 10;

/// Elements in `shape`, or UINT64_MAX when the product passes kMaxBytes.
std::uint64_t small_product(const std::vector<std::int64_t>& shape) {
  std::uint64_t n = 1;
  for (std::int64_t e : shape) {
    if (e < 0) return UINT64_MAX;
    n *= static_cast<std::uint64_t>(e);
    if (n > kMaxBytes) return UINT64_MAX;
  }
  return n;
}

bool same_fill(const std::optional<double>& a, const std::optional<double>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  return (std::isnan(*a) && std::isnan(*b)) || *a == *b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dtask;
  using namespace dtask::formats;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view json = input.substr(0, nul);
  const std::string_view chunk = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  (void)parse_codec_config(json, "fuzz-compressor");
  auto meta = parse_zarr_metadata(json, "fuzz.zarr");
  if (!meta.ok()) return 0;

  // What dtask writes, it reads back unchanged.
  auto reparsed = parse_zarr_metadata(zarr_metadata_json(*meta), "rewritten.zarr");
  DTASK_FUZZ_CHECK(reparsed.ok());
  DTASK_FUZZ_CHECK(reparsed->shape == meta->shape && reparsed->chunks == meta->chunks);
  DTASK_FUZZ_CHECK(reparsed->dtype == meta->dtype && reparsed->compressor == meta->compressor);
  DTASK_FUZZ_CHECK(reparsed->dimension_separator == meta->dimension_separator);
  if (meta->dtype == DType::kFloat32 || meta->dtype == DType::kFloat64) {
    DTASK_FUZZ_CHECK(same_fill(reparsed->fill_value, meta->fill_value));
  }

  const std::size_t itemsize = dtype_size(meta->dtype);
  const std::uint64_t chunk_elements = small_product(meta->chunks);
  if (chunk_elements == UINT64_MAX || chunk_elements * itemsize > kMaxBytes) return 0;
  const std::size_t chunk_bytes = chunk_elements * itemsize;
  auto decoded = decode(meta->compressor, std::as_bytes(std::span(chunk.data(), chunk.size())), chunk_bytes);
  if (decoded.ok()) DTASK_FUZZ_CHECK(decoded->size() == chunk_bytes);

  // The file path: chunk 0 of a fresh store, then the first rows.
  const std::filesystem::path store = fuzz::scratch_dir() / "store.zarr";
  std::error_code ec;
  std::filesystem::remove_all(store, ec);
  const std::vector<std::int64_t> first_chunk(meta->shape.size(), 0);
  const std::filesystem::path chunk_file = store / zarr_chunk_key(*meta, first_chunk);
  std::filesystem::create_directories(chunk_file.parent_path());
  fuzz::write_file(chunk_file, chunk);
  auto read = read_zarr_chunk(store.string(), *meta, first_chunk);
  if (read.ok()) DTASK_FUZZ_CHECK(read->nbytes() == small_product(read->shape) * itemsize);

  // Rows of the first row of chunks, when the result and the chunk count are small.
  std::vector<std::int64_t> rows_shape = meta->shape;
  const std::int64_t rows = meta->shape.empty() ? 1 : std::min(meta->shape[0], meta->chunks[0]);
  if (!rows_shape.empty()) rows_shape[0] = rows;
  std::uint64_t chunks_across = 1;
  for (std::size_t d = 1; d < meta->shape.size(); ++d) {
    chunks_across *= static_cast<std::uint64_t>(zarr_chunk_grid(*meta)[d]);
    if (chunks_across > 64) return 0;
  }
  const std::uint64_t out_elements = small_product(rows_shape);
  if (out_elements == UINT64_MAX || out_elements * itemsize > kMaxBytes) return 0;
  auto block = read_zarr_rows(store.string(), *meta, 0, rows);
  if (block.ok()) DTASK_FUZZ_CHECK(block->shape == rows_shape && block->nbytes() == out_elements * itemsize);
  (void)read_zarr_rows(store.string(), *meta, rows / 2, rows);
  return 0;
}
