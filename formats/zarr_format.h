// Zarr v2 directory stores: .zarray metadata, and chunk files read and
// written through the numcodecs compressors in codec.h. dtask arrays are
// chunked along rows, so read_zarr_rows assembles a block of rows from
// every column chunk it spans.
//
// Every function is thread-safe; concurrent writes of different chunks of
// one store are safe, and a chunk file is replaced atomically. Bad stores
// are Status errors naming the store, never exceptions or aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dtask/status.h"
#include "dtask/value.h"
#include "formats/codec.h"

namespace dtask::formats {

/// Chunks larger than this (uncompressed) are refused: Blosc cannot encode
/// them, and a worker should never hold one that big. Zarr's own guidance
/// is chunks of a few MiB to a few hundred MiB.
inline constexpr std::size_t kMaxZarrChunkBytes = std::size_t{1} << 30;

/// What a .zarray file says about a Zarr v2 array.
struct ZarrMetadata {
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> chunks;   // one extent per axis of shape
  DType dtype = DType::kFloat64;
  CodecConfig compressor;             // kNone for "compressor": null
  /// Value of elements in chunks never written; nullopt is JSON null, which
  /// dtask reads as 0. Integer dtypes convert it with clamping.
  std::optional<double> fill_value = 0.0;
  char order = 'C';
  std::string dimension_separator = ".";  // "/" for nested chunk directories
};

/// Checks that `meta` describes an array dtask can read and write: matching
/// ranks, non-negative shape, positive chunks of at most kMaxZarrChunkBytes,
/// C order, separator "." or "/". `what` names the store. Thread-safe.
Status validate_zarr_metadata(const ZarrMetadata& meta, std::string_view what);

/// Parses the JSON of a .zarray file. zarr_format must be 2, order 'C',
/// filters null (or empty), dtype one of the .npy descrs dtask reads.
/// Errors name `what` (the store). Thread-safe.
Result<ZarrMetadata> parse_zarr_metadata(std::string_view json, std::string_view what);

/// The .zarray JSON for `meta`, formatted as python zarr 2.13 writes it
/// (and readable by it). Thread-safe.
std::string zarr_metadata_json(const ZarrMetadata& meta);

/// Reads and parses `store_path`/.zarray. A store without one is NotFound.
Result<ZarrMetadata> read_zarr_metadata(const std::string& store_path);

/// The number of chunks along each axis (1 per axis for a 0-d array: none).
std::vector<std::int64_t> zarr_chunk_grid(const ZarrMetadata& meta);

/// The chunk's file name inside the store: "2.0", or "2/0" with separator
/// "/"; "0" for the single chunk of a 0-d array.
std::string zarr_chunk_key(const ZarrMetadata& meta, const std::vector<std::int64_t>& chunk_index);

/// Reads chunk `chunk_index`, clipped to the array's bounds (Zarr pads edge
/// chunks to the full chunk shape on disk). A chunk with no file reads as
/// fill_value. Corrupt or mis-sized chunk data is Invalid, naming the file.
Result<NDArray> read_zarr_chunk(const std::string& store, const ZarrMetadata& meta,
                                const std::vector<std::int64_t>& chunk_index);

/// Encodes and writes chunk `chunk_index`. `data` has the clipped shape
/// read_zarr_chunk returns (or the full chunk shape); edge chunks are padded
/// with fill_value to the full chunk shape, as Zarr expects. The file is
/// written to a temporary name and renamed into place.
Status write_zarr_chunk(const std::string& store, const ZarrMetadata& meta,
                        const std::vector<std::int64_t>& chunk_index, const NDArray& data);

/// Creates the store directory (and parents), writes .zarray, and an empty
/// .zattrs ("{}") unless one exists. Existing chunk files are left alone.
Status create_zarr(const std::string& store, const ZarrMetadata& meta);

/// Rows [row_begin, row_end) of the array as one array of shape
/// {row_end - row_begin, shape[1:]...}, assembled from every chunk the
/// range touches (usually one row of chunks across all column chunks).
/// For a 0-d array, rows [0, 1) give the scalar.
Result<NDArray> read_zarr_rows(const std::string& store, const ZarrMetadata& meta, std::int64_t row_begin,
                               std::int64_t row_end);

}  // namespace dtask::formats
