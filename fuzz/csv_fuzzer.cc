// libFuzzer target: numeric CSV. The input is
//
//   [options: 1 byte][chunk_rows - 1: 1 byte, mod 8][file contents]
//
// options bits 0-1 pick the delimiter (',', ';', '\t', '|'), bit 2 a header
// line, bit 3 reading column 0 only, bit 4 the last column first then
// column 0. The contents are written to a scratch file, scanned with
// scan_csv, and every chunk is parsed with read_csv_rows: the byte-range
// path each worker task takes. Invariants: the chunks cover the scanned
// rows; each parsed chunk has the shape its layout promised; and the parser
// never finds a different number of records than the scan did (the file
// did not change in between).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/csv_format.h"
#include "fuzz/fuzz_support_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dtask;
  using namespace dtask::formats;
  if (size < 2) return 0;
  static constexpr char kDelimiters[] = {',', ';', '\t', '|'};
  CsvOptions options;
  options.delimiter = kDelimiters[data[0] & 3];
  options.header = (data[0] & 4) != 0;
  const std::int64_t chunk_rows = 1 + data[1] % 8;
  const std::string_view contents(reinterpret_cast<const char*>(data + 2), size - 2);

  const std::string path = (fuzz::scratch_dir() / "table.csv").string();
  fuzz::write_file(path, contents);
  auto layout = scan_csv(path, options, chunk_rows);
  if (!layout.ok()) return 0;
  if (data[0] & 8) options.columns = {0};
  if (data[0] & 16) options.columns = {layout->columns - 1, 0};

  std::int64_t rows = 0;
  for (const CsvChunk& chunk : layout->chunks) {
    DTASK_FUZZ_CHECK(chunk.rows >= 1 && chunk.rows <= chunk_rows);
    DTASK_FUZZ_CHECK(chunk.byte_begin <= chunk.byte_end && chunk.byte_end <= contents.size());
    rows += chunk.rows;
    auto parsed = read_csv_rows(path, chunk, layout->columns, options);
    if (parsed.ok()) {
      const auto n_out = static_cast<std::int64_t>(options.columns.empty() ? layout->columns : options.columns.size());
      DTASK_FUZZ_CHECK(parsed->shape == (std::vector<std::int64_t>{chunk.rows, n_out}));
    } else {
      // Both "stale chunk" errors end so (field text only ever appears mid-message).
      DTASK_FUZZ_CHECK(!parsed.status().message().ends_with("(changed since it was scanned?)"));
    }
  }
  DTASK_FUZZ_CHECK(rows == layout->rows);
  return 0;
}
