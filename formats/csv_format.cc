#include "formats/csv_format.h"

#include <fcntl.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include "formats/file_io_internal.h"

namespace dtask::formats {
namespace {

constexpr std::size_t kScanBlock = std::size_t{1} << 20;
constexpr std::size_t kMaxHeaderBytes = std::size_t{16} << 20;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string at_line(const std::string& path, std::int64_t line) { return path + " line " + std::to_string(line); }

Status check_options(const CsvOptions& options, const std::string& path) {
  const char d = options.delimiter;
  if (d == '"' || d == '\n' || d == '\r' || d == ' ' || d == '\0') {
    return Status::invalid(path + ": the delimiter cannot be a quote, space, newline or NUL");
  }
  return Status::success();
}

Status check_columns(const CsvOptions& options, std::int64_t n_columns, const std::string& path) {
  for (std::int64_t column : options.columns) {
    if (column < 0 || column >= n_columns) {
      return Status::invalid(path + ": column " + std::to_string(column) + " was selected, but the file has " +
                             std::to_string(n_columns) + " columns");
    }
  }
  return Status::success();
}

// ---- parsing records in memory ---------------------------------------------------------

/// One field of a record: a view of the input, or of `storage` when the
/// field was quoted with "" escapes.
struct Field {
  std::string_view raw;
  std::string storage;
  bool unescaped = false;
  bool quoted = false;
  std::int64_t line = 0;
  std::string_view text() const { return unescaped ? std::string_view(storage) : raw; }
};

/// Splits text into records and fields (RFC 4180 quoting, spaces trimmed
/// outside quotes), counting lines for error messages.
class RecordParser {
 public:
  RecordParser(std::string_view text, std::int64_t first_line, char delimiter, const std::string& path)
      : text_(text), line_(first_line), delimiter_(delimiter), path_(path) {}

  /// The next non-blank record into `fields` (resized to its field count);
  /// false once the text is used up.
  Result<bool> next(std::vector<Field>& fields) {
    while (pos_ < text_.size()) {
      record_line_ = line_;
      std::size_t count = 0;
      bool end_of_record = false;
      while (!end_of_record) {
        if (fields.size() <= count) fields.emplace_back();
        DTASK_RETURN_NOT_OK(parse_field(fields[count++], end_of_record));
      }
      fields.resize(count);
      const bool blank = count == 1 && !fields[0].quoted && fields[0].text().empty();
      if (!blank) return true;
    }
    return false;
  }

  std::int64_t record_line() const { return record_line_; }
  const std::string& path() const { return path_; }

 private:
  Status parse_field(Field& field, bool& end_of_record) {
    field.unescaped = false;
    field.quoted = false;
    while (pos_ < text_.size() && is_space(text_[pos_]) && text_[pos_] != delimiter_) ++pos_;
    field.line = line_;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      DTASK_RETURN_NOT_OK(parse_quoted(field));
    } else {
      const std::size_t begin = pos_;
      while (pos_ < text_.size() && text_[pos_] != delimiter_ && text_[pos_] != '\n') ++pos_;
      std::size_t end = pos_;
      while (end > begin && is_space(text_[end - 1])) --end;
      field.raw = text_.substr(begin, end - begin);
    }
    return finish_field(end_of_record);
  }

  Status parse_quoted(Field& field) {
    field.quoted = true;
    const std::int64_t open_line = line_;
    const std::size_t begin = ++pos_;
    while (true) {
      const std::size_t quote = text_.find('"', pos_);
      if (quote == std::string_view::npos) {
        return Status::invalid(at_line(path_, open_line) + ": unterminated quoted field");
      }
      count_lines(pos_, quote);
      if (quote + 1 < text_.size() && text_[quote + 1] == '"') {  // "" is an escaped quote
        if (!field.unescaped) field.storage.assign(text_.substr(begin, quote + 1 - begin));
        else field.storage.append(text_.substr(pos_, quote + 1 - pos_));
        field.unescaped = true;
        pos_ = quote + 2;
        continue;
      }
      if (field.unescaped) field.storage.append(text_.substr(pos_, quote - pos_));
      field.raw = text_.substr(begin, quote - begin);
      pos_ = quote + 1;
      return Status::success();
    }
  }

  // After a field: spaces, then a delimiter, a newline or the end of the text.
  Status finish_field(bool& end_of_record) {
    while (pos_ < text_.size() && is_space(text_[pos_]) && text_[pos_] != delimiter_) ++pos_;
    if (pos_ >= text_.size()) {
      end_of_record = true;
    } else if (text_[pos_] == delimiter_) {
      ++pos_;
    } else if (text_[pos_] == '\n') {
      ++pos_;
      ++line_;
      end_of_record = true;
    } else {
      return Status::invalid(at_line(path_, line_) + ": unexpected text after a closing quote");
    }
    return Status::success();
  }

  void count_lines(std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) line_ += text_[i] == '\n' ? 1 : 0;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::int64_t line_;
  std::int64_t record_line_ = 0;
  char delimiter_;
  const std::string& path_;
};

bool is_missing(std::string_view s) {
  static constexpr std::array<std::string_view, 8> kMissing{"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"};
  for (std::string_view m : kMissing) {
    if (s == m) return true;
  }
  return false;
}

/// A number in the forms Python's float() reads (a leading '+', "inf",
/// "1e400" as infinity); nullopt when `s` is not one.
std::optional<double> parse_number(std::string_view s) {
  if (is_missing(s)) return std::numeric_limits<double>::quiet_NaN();
  std::string_view digits = s;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
  double value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value, std::chars_format::general);
  if (ptr != end) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return std::strtod(std::string(digits).c_str(), nullptr);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

/// The bytes of `chunk`, after checking that it fits the file and that its
/// row count is plausible for its length. Each field takes at least a byte
/// or a delimiter, so a real chunk has at most about 2 * length fields:
/// anything more is a stale or made-up chunk, refused before it can size a
/// huge allocation.
Result<std::string> read_chunk_text(const std::string& path, const CsvChunk& chunk, std::int64_t n_out,
                                    const std::string& what) {
  DTASK_ASSIGN_OR_RETURN(internal::UniqueFd fd, internal::open_file(path, O_RDONLY));
  DTASK_ASSIGN_OR_RETURN(std::uint64_t size, internal::file_size(fd.get(), path));
  const std::uint64_t length = chunk.byte_end - chunk.byte_begin;
  const auto rows = static_cast<std::uint64_t>(chunk.rows);
  if (chunk.byte_end > size || rows > length + 1 || rows > (2 * length + 2) / static_cast<std::uint64_t>(n_out)) {
    return Status::invalid(what + ": the chunk does not match the file (changed since it was scanned?)");
  }
  std::string text;
  try {
    text.resize(static_cast<std::size_t>(length));
  } catch (const std::bad_alloc&) {
    return Status::out_of_memory(what + ": cannot allocate " + std::to_string(length) + " bytes");
  }
  DTASK_RETURN_NOT_OK(internal::pread_full(fd.get(), text.data(), text.size(), chunk.byte_begin, path));
  return text;
}

/// Parses exactly `rows` records from `parser` into `values` (row-major,
/// the selected columns only).
Status parse_rows(RecordParser& parser, std::int64_t n_columns, const CsvOptions& options, std::int64_t rows,
                  const std::string& what, double* values) {
  const auto n_out = static_cast<std::int64_t>(options.columns.empty() ? n_columns : options.columns.size());
  const std::string stale = what + ": its bytes hold a different number of records (changed since it was scanned?)";
  std::vector<Field> fields;
  std::int64_t row = 0;
  while (true) {
    DTASK_ASSIGN_OR_RETURN(bool more, parser.next(fields));
    if (!more) break;
    if (static_cast<std::int64_t>(fields.size()) != n_columns) {
      return Status::invalid(at_line(parser.path(), parser.record_line()) + ": " + std::to_string(fields.size()) +
                             " fields, expected " + std::to_string(n_columns));
    }
    if (row == rows) return Status::invalid(stale);
    for (std::int64_t k = 0; k < n_out; ++k) {
      const std::int64_t column = options.columns.empty() ? k : options.columns[static_cast<std::size_t>(k)];
      const Field& field = fields[static_cast<std::size_t>(column)];
      std::optional<double> value = parse_number(field.text());
      if (!value) {
        return Status::invalid(at_line(parser.path(), field.line) + " column " + std::to_string(column + 1) +
                               ": cannot parse \"" + std::string(field.text().substr(0, 100)) + "\" as a number");
      }
      values[row * n_out + k] = *value;
    }
    ++row;
  }
  return row == rows ? Status::success() : Status::invalid(stale);
}

// ---- the streaming scan ----------------------------------------------------------------

/// Feeds the file through a quote-aware record splitter, one block at a time.
class CsvScanner {
 public:
  CsvScanner(const std::string& path, const CsvOptions& options, std::int64_t chunk_rows)
      : path_(path), options_(options), chunk_rows_(chunk_rows), need_header_(options.header) {}

  Status feed(std::string_view block, std::uint64_t block_offset) {
    for (std::size_t i = 0; i < block.size(); ++i) {
      const char c = block[i];
      if (need_header_) {
        if (header_text_.size() >= kMaxHeaderBytes) {
          return Status::invalid(path_ + ": the header line is longer than 16 MiB");
        }
        header_text_.push_back(c);
      }
      if (in_quotes_) {
        if (c == '"') {
          in_quotes_ = false;
          just_closed_ = true;
        } else if (c == '\n') {
          ++line_;
        }
        continue;
      }
      // As in RecordParser: a quote opens a quoted field only at the field's
      // start (after spaces) or right after a closing quote (the "" escape).
      const bool opens = c == '"' && (field_start_ || just_closed_);
      just_closed_ = false;
      if (opens) {
        in_quotes_ = true;
        if (field_start_) quote_line_ = line_;
        field_start_ = false;
        has_content_ = true;
      } else if (c == options_.delimiter) {
        ++fields_;
        field_start_ = true;
        has_content_ = true;
      } else if (c == '\n') {
        DTASK_RETURN_NOT_OK(end_record(block_offset + i + 1));
        ++line_;
        record_line_ = line_;
        field_start_ = true;
      } else if (!is_space(c)) {
        field_start_ = false;
        has_content_ = true;
      }
    }
    return Status::success();
  }

  Result<CsvLayout> finish(std::uint64_t file_size) {
    if (in_quotes_) return Status::invalid(at_line(path_, quote_line_) + ": unterminated quoted field");
    DTASK_RETURN_NOT_OK(end_record(file_size));
    DTASK_RETURN_NOT_OK(check_columns(options_, layout_.columns, path_));
    return std::move(layout_);
  }

  void start_at(std::uint64_t offset) { record_begin_ = offset; }

 private:
  Status end_record(std::uint64_t record_end) {
    const bool blank = !has_content_;
    const std::uint64_t begin = record_begin_;
    const std::int64_t fields = fields_;
    record_begin_ = record_end;
    fields_ = 1;
    has_content_ = false;
    if (blank) {
      header_text_.clear();
      return Status::success();
    }
    if (need_header_) return take_header(fields);
    if (layout_.columns == 0) layout_.columns = fields;
    if (fields != layout_.columns) {
      return Status::invalid(at_line(path_, record_line_) + ": " + std::to_string(fields) + " fields, expected " +
                             std::to_string(layout_.columns));
    }
    if (layout_.chunks.empty() || layout_.chunks.back().rows == chunk_rows_) {
      layout_.chunks.push_back(CsvChunk{begin, record_end, record_line_, 0});
    }
    CsvChunk& chunk = layout_.chunks.back();
    chunk.byte_end = record_end;
    ++chunk.rows;
    ++layout_.rows;
    return Status::success();
  }

  Status take_header(std::int64_t fields) {
    need_header_ = false;
    layout_.columns = fields;
    RecordParser parser(header_text_, record_line_, options_.delimiter, path_);
    std::vector<Field> names;
    DTASK_ASSIGN_OR_RETURN(bool found, parser.next(names));
    for (std::size_t i = 0; found && i < names.size(); ++i) layout_.column_names.emplace_back(names[i].text());
    header_text_ = std::string();
    return Status::success();
  }

  const std::string& path_;
  const CsvOptions& options_;
  std::int64_t chunk_rows_;
  bool need_header_;
  std::string header_text_;  // the bytes of the header record while it is read
  bool in_quotes_ = false;
  bool just_closed_ = false;  // the previous byte closed a quoted field
  bool field_start_ = true;   // only spaces seen since the field began
  bool has_content_ = false;
  std::int64_t fields_ = 1;
  std::int64_t line_ = 1;
  std::int64_t record_line_ = 1;
  std::int64_t quote_line_ = 1;
  std::uint64_t record_begin_ = 0;
  CsvLayout layout_;
};

// ---- writing -------------------------------------------------------------------------

template <typename T>
void append_number(std::string& out, T value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(value)) {
      out += "NaN";
      return;
    }
    if (std::isinf(value)) {
      out += value > 0 ? "inf" : "-inf";
      return;
    }
  }
  std::array<char, 64> buffer;
  auto [ptr, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), ptr);
}

void append_element(std::string& out, const NDArray& array, std::int64_t i) {
  switch (array.dtype) {
    case DType::kFloat32: append_number(out, array.data<float>()[i]); break;
    case DType::kFloat64: append_number(out, array.data<double>()[i]); break;
    case DType::kInt32: append_number(out, array.data<std::int32_t>()[i]); break;
    case DType::kInt64: append_number(out, array.data<std::int64_t>()[i]); break;
    case DType::kInt8: append_number(out, static_cast<int>(array.data<std::int8_t>()[i])); break;
    case DType::kUInt8:
    case DType::kBool: append_number(out, static_cast<int>(array.data<std::uint8_t>()[i])); break;
  }
}

void append_name(std::string& out, const std::string& name) {
  if (name.find_first_of(",\"\n\r") == std::string::npos && name.find_first_of(" \t") != 0) {
    out += name;
    return;
  }
  out += '"';
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  out += '"';
}

}  // namespace

Result<CsvLayout> scan_csv(const std::string& path, const CsvOptions& options, std::int64_t chunk_rows) {
  DTASK_RETURN_NOT_OK(check_options(options, path));
  if (chunk_rows < 1) return Status::invalid(path + ": chunk_rows must be positive");
  DTASK_ASSIGN_OR_RETURN(internal::UniqueFd fd, internal::open_file(path, O_RDONLY));
  DTASK_ASSIGN_OR_RETURN(std::uint64_t size, internal::file_size(fd.get(), path));
  CsvScanner scanner(path, options, chunk_rows);
  std::string block;
  for (std::uint64_t offset = 0; offset < size;) {
    block.resize(static_cast<std::size_t>(std::min<std::uint64_t>(kScanBlock, size - offset)));
    DTASK_RETURN_NOT_OK(internal::pread_full(fd.get(), block.data(), block.size(), offset, path));
    std::string_view view = block;
    if (offset == 0 && view.substr(0, kBom.size()) == kBom) {
      view.remove_prefix(kBom.size());
      scanner.start_at(kBom.size());
    }
    DTASK_RETURN_NOT_OK(scanner.feed(view, offset + (block.size() - view.size())));
    offset += block.size();
  }
  return scanner.finish(size);
}

Result<NDArray> read_csv_rows(const std::string& path, const CsvChunk& chunk, std::int64_t n_columns_in_file,
                              const CsvOptions& options) {
  DTASK_RETURN_NOT_OK(check_options(options, path));
  DTASK_RETURN_NOT_OK(check_columns(options, n_columns_in_file, path));
  const std::string what = at_line(path, chunk.first_line) + " (a chunk of " + std::to_string(chunk.rows) + " rows)";
  if (n_columns_in_file < 1 || chunk.rows < 0 || chunk.byte_end < chunk.byte_begin) {
    return Status::invalid(what + ": bad chunk or column count");
  }
  const auto n_out = static_cast<std::int64_t>(options.columns.empty() ? n_columns_in_file : options.columns.size());
  DTASK_ASSIGN_OR_RETURN(std::string text, read_chunk_text(path, chunk, n_out, what));
  DTASK_ASSIGN_OR_RETURN(std::shared_ptr<Buffer> buffer,
                         internal::allocate_buffer(static_cast<std::size_t>(chunk.rows * n_out) * sizeof(double), what));
  NDArray out{DType::kFloat64, {chunk.rows, n_out}, std::move(buffer)};
  RecordParser parser(text, chunk.first_line, options.delimiter, path);
  DTASK_RETURN_NOT_OK(parse_rows(parser, n_columns_in_file, options, chunk.rows, what, out.mutable_data<double>()));
  return out;
}

Status write_csv(const std::string& path, const NDArray& array, const std::vector<std::string>& column_names) {
  if (array.shape.empty() || array.shape.size() > 2) {
    return Status::invalid(path + ": write_csv takes a 1-d or 2-d array, got " + array.describe());
  }
  const std::int64_t rows = array.shape[0];
  const std::int64_t cols = array.shape.size() == 2 ? array.shape[1] : 1;
  if (array.nbytes() != static_cast<std::size_t>(array.size()) * dtype_size(array.dtype)) {
    return Status::invalid(path + ": the array's buffer does not match its shape " + array.describe());
  }
  if (!column_names.empty() && static_cast<std::int64_t>(column_names.size()) != cols) {
    return Status::invalid(path + ": " + std::to_string(column_names.size()) + " column names for " +
                           std::to_string(cols) + " columns");
  }
  std::string out;
  for (std::size_t c = 0; c < column_names.size(); ++c) {
    if (c > 0) out += ',';
    append_name(out, column_names[c]);
  }
  if (!column_names.empty()) out += '\n';
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      if (c > 0) out += ',';
      append_element(out, array, r * cols + c);
    }
    out += '\n';
  }
  return internal::write_file_atomic(path, std::array<std::string_view, 1>{out});
}

}  // namespace dtask::formats
