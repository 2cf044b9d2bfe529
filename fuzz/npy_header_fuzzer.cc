// libFuzzer target: the start of a .npy file (magic, version 1/2/3, header
// length, the header dict). Whatever parses is then read back as a file
// with read_npy_header (which checks the file holds the data) and, when the
// data is small, read_npy_rows. Invariants: the data starts inside the
// header the input holds; make_npy_header of the parsed dtype and shape
// parses back to the same dtype and shape.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/npy_format.h"
#include "fuzz/fuzz_support_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dtask;
  using namespace dtask::formats;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto header = parse_npy_header(input, "fuzz.npy");
  if (!header.ok()) return 0;
  DTASK_FUZZ_CHECK(header->data_offset <= size);
  for (std::int64_t extent : header->shape) DTASK_FUZZ_CHECK(extent >= 0);

  auto remade = parse_npy_header(make_npy_header(header->dtype, header->shape), "remade.npy");
  DTASK_FUZZ_CHECK(remade.ok());
  DTASK_FUZZ_CHECK(remade->dtype == header->dtype && remade->shape == header->shape);
  DTASK_FUZZ_CHECK(remade->data_offset % 64 == 0);

  // The file path: the header again, the length check, and small row reads.
  const std::string path = (fuzz::scratch_dir() / "array.npy").string();
  fuzz::write_file(path, input);
  auto from_file = read_npy_header(path);
  if (!from_file.ok()) return 0;
  DTASK_FUZZ_CHECK(from_file->shape == header->shape && from_file->data_offset == header->data_offset);
  if (from_file->data_bytes() > (std::uint64_t{1} << 20)) return 0;
  const std::int64_t rows = from_file->rows();
  auto all = read_npy_rows(path, *from_file, 0, rows);
  DTASK_FUZZ_CHECK(all.ok());
  DTASK_FUZZ_CHECK(all->nbytes() == from_file->data_bytes());
  (void)read_npy_rows(path, *from_file, rows / 2, std::min<std::int64_t>(rows, rows / 2 + 1));
  (void)read_npy_rows(path, *from_file, rows, rows + 1);  // out of range: an error, not a read
  return 0;
}
