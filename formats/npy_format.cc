#include "formats/npy_format.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>

#include "formats/dtype_descr.h"
#include "formats/file_io_internal.h"

namespace dtask::formats {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::size_t kV1Prefix = 10;  // magic, 2 version bytes, uint16 header length
constexpr std::size_t kV2Prefix = 12;  // ... uint32 header length
constexpr std::size_t kAlign = 64;     // NumPy aligns the data start to 64 bytes
// The most element data a file may hold: int64 offsets, less room for the
// longest header. A fixed bound (not "what fits after this header") means a
// shape one writer or reader accepts, every other accepts too, whatever the
// header's length or version.
constexpr std::int64_t kMaxBytes =
    std::numeric_limits<std::int64_t>::max() - static_cast<std::int64_t>(kMaxNpyHeaderBytes + kV2Prefix + kAlign);

std::string bad_header(std::string_view what, const std::string& detail) {
  return std::string(what) + ": not a valid .npy file: " + detail;
}

std::uint32_t read_le(std::string_view bytes, std::size_t offset, std::size_t width) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

/// The version's prefix size and the total header size (prefix + dict),
/// from the first bytes of the file.
struct Preamble {
  int major_version;
  std::size_t prefix;
  std::size_t total;
};

Result<Preamble> parse_preamble(std::string_view start, std::string_view what) {
  if (start.size() < kV1Prefix || start.substr(0, kMagic.size()) != kMagic) {
    return Status::invalid(bad_header(what, "missing the \\x93NUMPY magic"));
  }
  const int major = static_cast<unsigned char>(start[6]);
  const int minor = static_cast<unsigned char>(start[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return Status::invalid(bad_header(what, "unsupported format version " + std::to_string(major) + "." +
                                                std::to_string(minor) + " (dtask reads 1.0, 2.0 and 3.0)"));
  }
  const std::size_t prefix = major == 1 ? kV1Prefix : kV2Prefix;
  if (start.size() < prefix) return Status::invalid(bad_header(what, "truncated header"));
  const std::size_t length = read_le(start, 8, prefix - 8);
  if (length > kMaxNpyHeaderBytes) {
    return Status::invalid(bad_header(what, "header length " + std::to_string(length) + " exceeds the " +
                                                std::to_string(kMaxNpyHeaderBytes) + "-byte limit"));
  }
  return Preamble{major, prefix, prefix + length};
}

/// The Python literal NumPy writes as the header, e.g.
/// {'descr': '<f8', 'fortran_order': False, 'shape': (100, 20), }
/// Only the forms NumPy produces are accepted: string keys; string, bool or
/// integer-tuple values.
class HeaderDictParser {
 public:
  HeaderDictParser(std::string_view text, std::string_view what) : text_(text), what_(what) {}

  Status parse() {
    skip_space();
    if (!consume('{')) return error("expected '{'");
    while (true) {
      skip_space();
      if (consume('}')) break;
      std::string key;
      DTASK_RETURN_NOT_OK(parse_string(key));
      skip_space();
      if (!consume(':')) return error("expected ':' after '" + key + "'");
      skip_space();
      DTASK_RETURN_NOT_OK(parse_value(key));
      skip_space();
      if (consume('}')) break;
      if (!consume(',')) return error("expected ',' or '}'");
    }
    skip_space();
    if (pos_ != text_.size()) return error("unexpected text after the header dict");
    if (!descr_ || !fortran_order_ || !shape_) {
      return error("the header dict needs 'descr', 'fortran_order' and 'shape'");
    }
    return Status::success();
  }

  const std::string& descr() const { return *descr_; }
  bool fortran_order() const { return *fortran_order_; }
  const std::vector<std::int64_t>& shape() const { return *shape_; }

 private:
  Status error(const std::string& detail) const {
    return Status::invalid(bad_header(what_, detail + " at offset " + std::to_string(pos_) + " of the header"));
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  bool consume(char c) {
    if (peek() != c || at_end()) return false;
    ++pos_;
    return true;
  }
  bool consume_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }

  Status parse_string(std::string& out) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') return error("expected a quoted string");
    ++pos_;
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return error("unterminated string");
    out.assign(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return Status::success();
  }

  Status parse_value(const std::string& key) {
    if (key == "descr") {
      if (peek() == '[') return error("'descr' is a structured dtype; dtask reads plain numeric arrays");
      std::string descr;
      DTASK_RETURN_NOT_OK(parse_string(descr));
      descr_ = std::move(descr);
    } else if (key == "fortran_order") {
      if (consume_word("True")) {
        fortran_order_ = true;
      } else if (consume_word("False")) {
        fortran_order_ = false;
      } else {
        return error("'fortran_order' must be True or False");
      }
    } else if (key == "shape") {
      std::vector<std::int64_t> shape;
      DTASK_RETURN_NOT_OK(parse_tuple(shape));
      shape_ = std::move(shape);
    } else {
      return error("unexpected key '" + key + "'");
    }
    return Status::success();
  }

  // "()", "(3,)", "(3, 4)"; Python 2 era files may write "(3L, 4L)".
  Status parse_tuple(std::vector<std::int64_t>& out) {
    if (!consume('(')) return error("'shape' must be a tuple");
    while (true) {
      skip_space();
      if (consume(')')) return Status::success();
      std::int64_t value = 0;
      const char* first = text_.data() + pos_;
      const char* last = text_.data() + text_.size();
      auto [ptr, ec] = std::from_chars(first, last, value);
      if (ec == std::errc::result_out_of_range) return error("a 'shape' extent overflows int64");
      if (ec != std::errc() || ptr == first) return error("'shape' must hold integers");
      pos_ += static_cast<std::size_t>(ptr - first);
      consume('L');
      out.push_back(value);
      skip_space();
      if (consume(')')) return Status::success();
      if (!consume(',')) return error("expected ',' or ')' in 'shape'");
    }
  }

  std::string_view text_;
  std::string_view what_;
  std::size_t pos_ = 0;
  std::optional<std::string> descr_;
  std::optional<bool> fortran_order_;
  std::optional<std::vector<std::int64_t>> shape_;
};

Status check_shape(const std::vector<std::int64_t>& shape, DType dtype, std::string_view what) {
  for (std::int64_t extent : shape) {
    if (extent < 0) {
      return Status::invalid(std::string(what) + ": negative extent " + std::to_string(extent) + " in shape");
    }
  }
  std::int64_t elements = 0;
  if (!internal::checked_product(shape, kMaxBytes / static_cast<std::int64_t>(dtype_size(dtype)), elements)) {
    return Status::invalid(std::string(what) + ": shape is too large (its byte size overflows)");
  }
  return Status::success();
}

// A Fortran-ordered array with at most one extent above 1 has the same
// bytes as its C-ordered twin, so it is read as such.
bool layout_is_c_compatible(const std::vector<std::int64_t>& shape) {
  int long_axes = 0;
  for (std::int64_t extent : shape) long_axes += extent > 1 ? 1 : 0;
  return long_axes <= 1;
}

std::string shape_repr(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + (shape.size() == 1 ? ",)" : ")");
}

std::string row_range(std::int64_t begin, std::int64_t end) {
  return "rows [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

Status check_row_range(const NpyHeader& header, std::int64_t begin, std::int64_t end, const std::string& path) {
  if (begin < 0 || end < begin || end > header.rows()) {
    return Status::invalid(path + ": " + row_range(begin, end) + " out of range for an array of " +
                           std::to_string(header.rows()) + " rows");
  }
  return check_shape(header.shape, header.dtype, path);
}

// The file must hold everything the header promises: a shorter one was cut off.
Status check_file_length(int fd, const NpyHeader& header, const std::string& path) {
  DTASK_ASSIGN_OR_RETURN(std::uint64_t size, internal::file_size(fd, path));
  const std::uint64_t needed = header.data_offset + header.data_bytes();
  if (size < needed) {
    return Status::invalid(path + " is truncated: " + std::to_string(size) + " bytes, but its header needs " +
                           std::to_string(needed));
  }
  return Status::success();
}

std::vector<std::int64_t> rows_shape(const NpyHeader& header, std::int64_t n_rows) {
  if (header.shape.empty()) return {};
  std::vector<std::int64_t> shape = header.shape;
  shape[0] = n_rows;
  return shape;
}

}  // namespace

std::size_t NpyHeader::row_bytes() const {
  std::size_t bytes = dtype_size(dtype);
  for (std::size_t i = 1; i < shape.size(); ++i) bytes *= static_cast<std::size_t>(shape[i]);
  return bytes;
}

Result<NpyHeader> parse_npy_header(std::string_view file_start, std::string_view what) {
  DTASK_ASSIGN_OR_RETURN(Preamble preamble, parse_preamble(file_start, what));
  if (file_start.size() < preamble.total) {
    return Status::invalid(bad_header(what, "truncated header (" + std::to_string(file_start.size()) +
                                                " bytes, the header needs " + std::to_string(preamble.total) + ")"));
  }
  HeaderDictParser dict(file_start.substr(preamble.prefix, preamble.total - preamble.prefix), what);
  DTASK_RETURN_NOT_OK(dict.parse());
  DTASK_ASSIGN_OR_RETURN(DType dtype, dtype_from_descr(dict.descr(), what));
  if (dict.fortran_order() && !layout_is_c_compatible(dict.shape())) {
    return Status::invalid(std::string(what) +
                           " is Fortran-ordered; dtask reads C-order .npy files; save it with np.ascontiguousarray");
  }
  DTASK_RETURN_NOT_OK(check_shape(dict.shape(), dtype, what));
  // check_shape bounded the data by kMaxBytes, so data_offset + data_bytes() fits in int64.
  return NpyHeader{dtype, dict.shape(), preamble.total, preamble.major_version};
}

Result<NpyHeader> read_npy_header(const std::string& path) {
  DTASK_ASSIGN_OR_RETURN(internal::UniqueFd fd, internal::open_file(path, O_RDONLY));
  DTASK_ASSIGN_OR_RETURN(std::uint64_t size, internal::file_size(fd.get(), path));
  // The preamble says how long the header is; read that much, within the file.
  std::string start(static_cast<std::size_t>(std::min<std::uint64_t>(size, kV2Prefix)), '\0');
  DTASK_RETURN_NOT_OK(internal::pread_full(fd.get(), start.data(), start.size(), 0, path));
  DTASK_ASSIGN_OR_RETURN(Preamble preamble, parse_preamble(start, path));
  start.resize(static_cast<std::size_t>(std::min<std::uint64_t>(size, preamble.total)));
  DTASK_RETURN_NOT_OK(internal::pread_full(fd.get(), start.data(), start.size(), 0, path));
  DTASK_ASSIGN_OR_RETURN(NpyHeader header, parse_npy_header(start, path));
  DTASK_RETURN_NOT_OK(check_file_length(fd.get(), header, path));
  return header;
}

std::string make_npy_header(DType dtype, const std::vector<std::int64_t>& shape) {
  std::string dict =
      "{'descr': '" + dtype_descr(dtype) + "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  // Padding: spaces up to the 64-byte boundary, minus the final '\n'.
  auto padded_total = [&](std::size_t prefix) { return (prefix + dict.size() + 1 + kAlign - 1) / kAlign * kAlign; };
  std::size_t prefix = kV1Prefix;
  if (padded_total(kV1Prefix) - kV1Prefix > 0xffff) prefix = kV2Prefix;
  const std::size_t total = padded_total(prefix);
  const std::size_t length = total - prefix;

  std::string out(kMagic);
  out.push_back(static_cast<char>(prefix == kV1Prefix ? 1 : 2));
  out.push_back('\0');
  for (std::size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  out += dict;
  out.append(total - out.size() - 1, ' ');
  out.push_back('\n');
  return out;
}

Result<NDArray> read_npy_rows(const std::string& path, const NpyHeader& header, std::int64_t row_begin,
                              std::int64_t row_end) {
  DTASK_RETURN_NOT_OK(check_row_range(header, row_begin, row_end, path));
  DTASK_ASSIGN_OR_RETURN(internal::UniqueFd fd, internal::open_file(path, O_RDONLY));
  DTASK_RETURN_NOT_OK(check_file_length(fd.get(), header, path));

  const std::size_t bytes = static_cast<std::size_t>(row_end - row_begin) * header.row_bytes();
  const std::string what = path + " " + row_range(row_begin, row_end);
  DTASK_ASSIGN_OR_RETURN(std::shared_ptr<Buffer> buffer, internal::allocate_buffer(bytes, what));
  const std::uint64_t offset = header.data_offset + static_cast<std::uint64_t>(row_begin) * header.row_bytes();
  Status read = internal::pread_streaming(fd.get(), buffer->mutable_data(), bytes, offset, path);
  if (!read.ok()) return Status(read.code(), read.message() + " (" + row_range(row_begin, row_end) + ")");
  return NDArray{header.dtype, rows_shape(header, row_end - row_begin), std::move(buffer)};
}

Status create_npy(const std::string& path, DType dtype, const std::vector<std::int64_t>& shape) {
  DTASK_RETURN_NOT_OK(check_shape(shape, dtype, path));
  const std::string header_bytes = make_npy_header(dtype, shape);
  NpyHeader header{dtype, shape, header_bytes.size(), 1};
  DTASK_ASSIGN_OR_RETURN(internal::UniqueFd fd, internal::open_file(path, O_WRONLY | O_CREAT | O_TRUNC));
  DTASK_RETURN_NOT_OK(internal::pwrite_full(fd.get(), header_bytes.data(), header_bytes.size(), 0, path));
  // A sparse file of zeros: tasks then fill their own row ranges.
  if (::ftruncate(fd.get(), static_cast<off_t>(header.data_offset + header.data_bytes())) != 0) {
    return Status::io_error("cannot size " + path + ": " + internal::errno_text(errno));
  }
  return Status::success();
}

Status write_npy_rows(const std::string& path, const NpyHeader& header, std::int64_t row_begin,
                      const NDArray& rows) {
  const std::int64_t n_rows = header.shape.empty() ? 1 : rows.rows();
  const std::string what = path + " " + row_range(row_begin, row_begin + n_rows);
  if (rows.dtype != header.dtype) {
    return Status::invalid(what + ": cannot write " + std::string(dtype_name(rows.dtype)) + " rows into a " +
                           std::string(dtype_name(header.dtype)) + " file");
  }
  if (rows.shape != rows_shape(header, n_rows)) {
    return Status::invalid(what + ": rows of shape " + rows.describe() + " do not fit a file of shape " +
                           shape_repr(header.shape));
  }
  DTASK_RETURN_NOT_OK(check_row_range(header, row_begin, row_begin + n_rows, path));
  const std::size_t bytes = static_cast<std::size_t>(n_rows) * header.row_bytes();
  if (rows.nbytes() != bytes) return Status::invalid(what + ": the array holds " + std::to_string(rows.nbytes()) +
                                                     " bytes, its shape needs " + std::to_string(bytes));
  DTASK_ASSIGN_OR_RETURN(internal::UniqueFd fd, internal::open_file(path, O_WRONLY));
  DTASK_RETURN_NOT_OK(check_file_length(fd.get(), header, path));
  if (bytes == 0) return Status::success();
  const std::uint64_t offset = header.data_offset + static_cast<std::uint64_t>(row_begin) * header.row_bytes();
  return internal::pwrite_full(fd.get(), rows.buffer->data(), bytes, offset, path);
}

Status write_npy(const std::string& path, const NDArray& array) {
  DTASK_RETURN_NOT_OK(check_shape(array.shape, array.dtype, path));
  const std::size_t bytes = static_cast<std::size_t>(array.size()) * dtype_size(array.dtype);
  if (array.nbytes() != bytes) {
    return Status::invalid(path + ": the array holds " + std::to_string(array.nbytes()) + " bytes, its shape " +
                           array.describe() + " needs " + std::to_string(bytes));
  }
  const std::string header = make_npy_header(array.dtype, array.shape);
  const std::string_view data =
      bytes == 0 ? std::string_view() : std::string_view(reinterpret_cast<const char*>(array.buffer->data()), bytes);
  const std::array<std::string_view, 2> parts{header, data};
  return internal::write_file_atomic(path, parts);
}

}  // namespace dtask::formats
