// NumPy .npy files (format versions 1.0, 2.0 and 3.0): header parsing and
// writing, and row-range reads and writes of C-ordered arrays, so that
// tasks can each load or fill their own block of rows of one file.
//
// Every function is thread-safe and reports bad files as Status (never
// throws, never aborts): these parsers read untrusted input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dtask/status.h"
#include "dtask/value.h"

namespace dtask::formats {

/// Headers longer than this are refused (NumPy writes a few hundred bytes).
inline constexpr std::size_t kMaxNpyHeaderBytes = std::size_t{1} << 20;

/// What a .npy header says about the array that follows it.
struct NpyHeader {
  DType dtype = DType::kFloat64;
  std::vector<std::int64_t> shape;  // empty for a 0-d array
  std::size_t data_offset = 0;      // where the element bytes start in the file
  int major_version = 1;

  /// Extent of the first axis; 1 for a 0-d array (one "row", the scalar).
  std::int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
  /// Bytes in one row: the product of the trailing extents times the item size.
  std::size_t row_bytes() const;
  /// Bytes of element data the file must hold after the header.
  std::uint64_t data_bytes() const { return static_cast<std::uint64_t>(rows()) * row_bytes(); }
};

/// Parses the header at the start of a .npy file. `file_start` must hold at
/// least the whole header (magic, version, length and dict); `what` names
/// the file in error messages. Rejects bad magic or version, headers over
/// kMaxNpyHeaderBytes, unsupported or big-endian dtypes, Fortran order and
/// negative or overflowing shapes. Thread-safe.
Result<NpyHeader> parse_npy_header(std::string_view file_start, std::string_view what);

/// Reads and parses the header of the .npy file at `path`, and checks that
/// the file is long enough for the data the header describes. Thread-safe.
Result<NpyHeader> read_npy_header(const std::string& path);

/// The header NumPy would write for a C-ordered array: version 1.0 (2.0 when
/// the dict does not fit in 64 KiB), space-padded and ending in '\n' so the
/// data starts at a multiple of 64 bytes. Thread-safe.
std::string make_npy_header(DType dtype, const std::vector<std::int64_t>& shape);

/// Reads rows [row_begin, row_end) of the file described by `header` into a
/// freshly allocated array of shape {row_end - row_begin, shape[1:]...}
/// (a 0-d file gives its scalar for rows [0, 1)). Uses pread into our own
/// buffer rather than mmap, so that the page cache does not count towards
/// the worker's resident memory. Thread-safe.
Result<NDArray> read_npy_rows(const std::string& path, const NpyHeader& header, std::int64_t row_begin,
                              std::int64_t row_end);

/// Creates (or truncates) `path` as a .npy file of `shape` whose data is all
/// zero bytes: writes the header and sizes the file with ftruncate, so that
/// tasks can then fill disjoint row ranges in parallel. Thread-safe.
Status create_npy(const std::string& path, DType dtype, const std::vector<std::int64_t>& shape);

/// Writes `rows` at row `row_begin` of an existing .npy file described by
/// `header`. The dtype and trailing extents of `rows` must match the header.
/// Concurrent calls on disjoint row ranges are safe.
Status write_npy_rows(const std::string& path, const NpyHeader& header, std::int64_t row_begin,
                      const NDArray& rows);

/// Writes `array` as a whole .npy file, atomically (temporary file + rename).
/// Thread-safe.
Status write_npy(const std::string& path, const NDArray& array);

}  // namespace dtask::formats
