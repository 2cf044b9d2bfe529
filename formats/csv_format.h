// Numeric CSV files: one streaming pass finds the records and cuts them
// into chunks of whole records (quoted newlines respected), then each chunk
// is parsed on its own into a float64 array, so tasks read a big CSV in
// parallel by byte range.
//
// Records end at '\n' outside quotes ("\r\n" works: the '\r' is trimmed);
// blank lines are skipped; a UTF-8 byte-order mark is ignored. Every
// function is thread-safe and reports bad input as Status, never throws.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/status.h"
#include "dtask/value.h"

namespace dtask::formats {

struct CsvOptions {
  char delimiter = ',';
  bool header = false;                // the first non-blank record names the columns
  std::vector<std::int64_t> columns;  // 0-based columns to read; empty: all
};

/// A run of whole records: bytes [byte_begin, byte_end) of the file.
struct CsvChunk {
  std::uint64_t byte_begin = 0;
  std::uint64_t byte_end = 0;
  std::int64_t first_line = 1;  // 1-based line of the chunk's first record, for error messages
  std::int64_t rows = 0;        // records in the chunk
};

/// What scan_csv learns about a file.
struct CsvLayout {
  std::int64_t rows = 0;                  // data records (the header excluded)
  std::int64_t columns = 0;               // fields per record in the file
  std::vector<std::string> column_names;  // the header's fields; empty without a header
  std::vector<CsvChunk> chunks;           // chunk_rows records each, the last one possibly fewer
};

/// One streaming pass over `path`: counts records, checks each has the same
/// number of fields, and cuts a chunk every `chunk_rows` records. Errors
/// name the file and line (an unterminated quote, a ragged record, a
/// selected column the file lacks).
Result<CsvLayout> scan_csv(const std::string& path, const CsvOptions& options, std::int64_t chunk_rows);

/// Parses the records of `chunk` into a float64 array of shape
/// {chunk.rows, selected columns}. Fields may be quoted ("1.5") and padded
/// with spaces; empty fields and NA, N/A, NaN, nan, null, NULL and None
/// read as NaN. A bad value is an error such as
/// `data.csv line 17 column 3: cannot parse "abc" as a number`.
Result<NDArray> read_csv_rows(const std::string& path, const CsvChunk& chunk, std::int64_t n_columns_in_file,
                              const CsvOptions& options);

/// Writes a 1-d (one column) or 2-d array of any dtype as CSV, with a header
/// line when `column_names` is not empty (it must then name every column).
/// Floats use the shortest text that reads back exactly; NaN is "NaN".
/// Replaces `path` atomically.
Status write_csv(const std::string& path, const NDArray& array, const std::vector<std::string>& column_names = {});

}  // namespace dtask::formats
