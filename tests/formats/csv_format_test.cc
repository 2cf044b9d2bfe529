// Numeric CSV: the streaming scan (records, quotes, line endings, chunks)
// and chunk parsing (missing values, bad values with line and column,
// column selection), against real files.
#include "formats/csv_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/formats/temp_dir.h"

namespace dtask::formats {
namespace {

using testing::TempDir;
using testing::write_bytes;

class CsvTest : public ::testing::Test {
 protected:
  /// Writes `text` to a file named `name` and returns its path.
  std::string file(const std::string& text, const std::string& name = "data.csv") {
    const std::string path = dir_.file(name);
    write_bytes(path, text);
    return path;
  }

  /// scan_csv, then every chunk read and stacked: the whole file as rows.
  std::vector<std::vector<double>> read_all(const std::string& path, const CsvOptions& options = {},
                                            std::int64_t chunk_rows = 1000) {
    auto layout = scan_csv(path, options, chunk_rows);
    EXPECT_TRUE(layout.ok()) << layout.status().to_string();
    if (!layout.ok()) return {};
    std::vector<std::vector<double>> rows;
    for (const CsvChunk& chunk : layout->chunks) {
      auto array = read_csv_rows(path, chunk, layout->columns, options);
      EXPECT_TRUE(array.ok()) << array.status().to_string();
      if (!array.ok()) return {};
      EXPECT_EQ(array->dtype, DType::kFloat64);
      EXPECT_EQ(array->shape[0], chunk.rows);
      for (std::int64_t r = 0; r < array->shape[0]; ++r) {
        const double* row = array->data<double>() + r * array->shape[1];
        rows.emplace_back(row, row + array->shape[1]);
      }
    }
    EXPECT_EQ(static_cast<std::int64_t>(rows.size()), layout->rows);
    return rows;
  }

  /// The message of the first error reading `path` (scan or chunks).
  std::string first_error(const std::string& path, const CsvOptions& options = {}) {
    auto layout = scan_csv(path, options, 1000);
    if (!layout.ok()) return layout.status().message();
    for (const CsvChunk& chunk : layout->chunks) {
      auto array = read_csv_rows(path, chunk, layout->columns, options);
      if (!array.ok()) return array.status().message();
    }
    return "";
  }

  TempDir dir_;
};

using Rows = std::vector<std::vector<double>>;

// A plain file: rows, columns and values.
TEST_F(CsvTest, ReadsPlainNumbers) {
  const std::string path = file("1,2,3\n4.5,-5e-1,6e2\n");
  auto layout = scan_csv(path, {}, 10);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->rows, 2);
  EXPECT_EQ(layout->columns, 3);
  EXPECT_TRUE(layout->column_names.empty());
  EXPECT_EQ(read_all(path), (Rows{{1, 2, 3}, {4.5, -0.5, 600}}));
}

// The header names the columns and is not a data row.
TEST_F(CsvTest, HeaderNamesColumns) {
  const std::string path = file("x, \"y, in m\" ,z\n1,2,3\n");
  auto layout = scan_csv(path, CsvOptions{.header = true}, 10);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->column_names, (std::vector<std::string>{"x", "y, in m", "z"}));
  EXPECT_EQ(layout->rows, 1);
  EXPECT_EQ(layout->chunks.at(0).first_line, 2);
  EXPECT_EQ(read_all(path, CsvOptions{.header = true}), (Rows{{1, 2, 3}}));
  // Without the header option, the names are a bad first row.
  EXPECT_NE(first_error(path).find("cannot parse \"x\""), std::string::npos);
}

// Quoted fields may hold delimiters, escaped quotes and newlines; line
// numbers count physical lines.
TEST_F(CsvTest, QuotedFieldsWithDelimitersAndNewlines) {
  const std::string path = file(
      "id,comment,value\n"
      "1,\"hello, world\",\"1.5\"\n"
      "2,\"two\nline\",2.5\n"
      "3,\"say \"\"hi\"\"\", 3.5 \n"
      "4,\"\",abc\n",
      "quoted.csv");
  const CsvOptions options{.header = true, .columns = {0, 2}};
  auto layout = scan_csv(path, options, 2);
  ASSERT_TRUE(layout.ok()) << layout.status().to_string();
  EXPECT_EQ(layout->rows, 4);
  EXPECT_EQ(layout->columns, 3);
  ASSERT_EQ(layout->chunks.size(), 2u);
  EXPECT_EQ(layout->chunks[0].first_line, 2);
  EXPECT_EQ(layout->chunks[1].first_line, 5);  // the quoted newline takes a line
  auto first = read_csv_rows(path, layout->chunks[0], 3, options);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(std::vector<double>(first->data<double>(), first->data<double>() + 4), (std::vector<double>{1, 1.5, 2, 2.5}));
  auto second = read_csv_rows(path, layout->chunks[1], 3, options);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("quoted.csv line 6 column 3: cannot parse \"abc\" as a number"),
            std::string::npos)
      << second.status().message();
}

// Empty fields and the usual missing-value spellings read as NaN.
TEST_F(CsvTest, MissingValuesAreNaN) {
  const std::string path = file("1,,NA\nNaN,nan,null\n\"\",N/A,NULL\nNone, ,2\n");
  Rows rows = read_all(path);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0][0], 1.0);
  EXPECT_EQ(rows[3][2], 2.0);
  int nans = 0;
  for (const auto& row : rows) {
    for (double v : row) nans += std::isnan(v) ? 1 : 0;
  }
  EXPECT_EQ(nans, 10);
}

// The number forms Python's float() reads are accepted.
TEST_F(CsvTest, NumberForms) {
  Rows rows = read_all(file("+5,.5,5.,-0,1e400,-inf,inf,1E3,  7  \n"));
  ASSERT_EQ(rows.size(), 1u);
  const std::vector<double>& r = rows[0];
  EXPECT_EQ(r[0], 5.0);
  EXPECT_EQ(r[1], 0.5);
  EXPECT_EQ(r[2], 5.0);
  EXPECT_TRUE(r[3] == 0.0 && std::signbit(r[3]));
  EXPECT_EQ(r[4], HUGE_VAL);
  EXPECT_EQ(r[5], -HUGE_VAL);
  EXPECT_EQ(r[6], HUGE_VAL);
  EXPECT_EQ(r[7], 1000.0);
  EXPECT_EQ(r[8], 7.0);
}

// A bad value names the file, line and 1-based column.
TEST_F(CsvTest, BadNumbersNameLineAndColumn) {
  std::string text;
  for (int i = 1; i < 17; ++i) text += std::to_string(i) + ",0,0\n";
  text += "17,0,abc\n18,0,0\n";
  const std::string path = file(text);
  EXPECT_NE(first_error(path).find("data.csv line 17 column 3: cannot parse \"abc\" as a number"), std::string::npos)
      << first_error(path);
  for (const char* bad : {"0x10", "1.2.3", "1e", "--1", "+-1", "12abc", "\"1\"x"}) {
    const std::string one = file(std::string("1,") + bad + "\n", "bad.csv");
    EXPECT_NE(first_error(one).find("bad.csv line 1"), std::string::npos) << bad << ": " << first_error(one);
  }
}

// A record with the wrong number of fields names its line, in the scan and
// in a chunk read.
TEST_F(CsvTest, RaggedRowsNameTheLine) {
  const std::string path = file("1,2,3\n4,5,6\n7,8\n");
  auto layout = scan_csv(path, {}, 10);
  ASSERT_FALSE(layout.ok());
  EXPECT_NE(layout.status().message().find("data.csv line 3: 2 fields, expected 3"), std::string::npos)
      << layout.status().message();
  auto rows = read_csv_rows(path, CsvChunk{0, 16, 1, 3}, 3, {});
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("data.csv line 3: 2 fields, expected 3"), std::string::npos)
      << rows.status().message();
}

// CRLF line endings, a last line without newline, blank lines (in the
// middle and trailing) and a UTF-8 byte-order mark.
TEST_F(CsvTest, LineEndingsAndBlankLines) {
  EXPECT_EQ(read_all(file("1,2\r\n3,4\r\n")), (Rows{{1, 2}, {3, 4}}));
  EXPECT_EQ(read_all(file("1,2\n3,4")), (Rows{{1, 2}, {3, 4}}));
  EXPECT_EQ(read_all(file("1,2\n\n3,4\n\n  \n\r\n")), (Rows{{1, 2}, {3, 4}}));
  EXPECT_EQ(read_all(file("\xEF\xBB\xBFx,y\r\n1,2\r\n"), CsvOptions{.header = true}), (Rows{{1, 2}}));
  auto layout = scan_csv(file("\xEF\xBB\xBFx,y\n1,2\n"), CsvOptions{.header = true}, 5);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->column_names[0], "x");
  auto blank_first = scan_csv(file("\n\n1,2\n"), {}, 5);
  ASSERT_TRUE(blank_first.ok());
  EXPECT_EQ(blank_first->chunks.at(0).first_line, 3);
}

// Column selection picks, reorders and repeats columns; out of range is an error.
TEST_F(CsvTest, ColumnSelection) {
  const std::string path = file("1,2,3\n4,5,6\n");
  EXPECT_EQ(read_all(path, CsvOptions{.columns = {2, 0}}), (Rows{{3, 1}, {6, 4}}));
  EXPECT_EQ(read_all(path, CsvOptions{.columns = {1, 1}}), (Rows{{2, 2}, {5, 5}}));
  auto layout = scan_csv(path, CsvOptions{.columns = {3}}, 10);
  ASSERT_FALSE(layout.ok());
  EXPECT_NE(layout.status().message().find("column 3"), std::string::npos);
  EXPECT_FALSE(read_csv_rows(path, CsvChunk{0, 12, 1, 2}, 3, CsvOptions{.columns = {-1}}).ok());
}

// Chunks cut every chunk_rows records; their byte ranges tile the records
// and first_line follows the file.
TEST_F(CsvTest, ChunkBoundaries) {
  std::string text = "a,b\n";
  for (int i = 0; i < 10; ++i) text += std::to_string(i) + "," + std::to_string(i * i) + "\n";
  const std::string path = file(text);
  auto layout = scan_csv(path, CsvOptions{.header = true}, 3);
  ASSERT_TRUE(layout.ok());
  ASSERT_EQ(layout->chunks.size(), 4u);
  const std::vector<std::int64_t> sizes{3, 3, 3, 1};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(layout->chunks[i].rows, sizes[i]);
    EXPECT_EQ(layout->chunks[i].first_line, 2 + 3 * static_cast<std::int64_t>(i));
    if (i > 0) {
      EXPECT_EQ(layout->chunks[i].byte_begin, layout->chunks[i - 1].byte_end);
    }
  }
  EXPECT_EQ(layout->chunks[0].byte_begin, 4u);
  EXPECT_EQ(layout->chunks.back().byte_end, text.size());
  Rows rows = read_all(path, CsvOptions{.header = true}, 3);
  ASSERT_EQ(rows.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(rows[i], (std::vector<double>{double(i), double(i * i)}));
}

// A file bigger than one scan block, with quoted newlines throughout, scans
// and reads back the values write_csv wrote, exactly.
TEST_F(CsvTest, LargeFileRoundTripsThroughWriteCsv) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  const std::int64_t n = 60000;
  NDArray array = NDArray::zeros(DType::kFloat64, {n, 4});
  for (std::int64_t i = 0; i < n * 4; ++i) array.mutable_data<double>()[i] = normal(rng) * 1e3;
  array.mutable_data<double>()[5] = std::numeric_limits<double>::quiet_NaN();
  const std::string path = dir_.file("big.csv");
  ASSERT_TRUE(write_csv(path, array, {"a", "b,c", "d\"e", "f"}).ok());
  auto layout = scan_csv(path, CsvOptions{.header = true}, 7000);
  ASSERT_TRUE(layout.ok()) << layout.status().to_string();
  EXPECT_EQ(layout->rows, n);
  EXPECT_EQ(layout->chunks.size(), 9u);
  EXPECT_EQ(layout->column_names, (std::vector<std::string>{"a", "b,c", "d\"e", "f"}));
  Rows rows = read_all(path, CsvOptions{.header = true}, 7000);
  ASSERT_EQ(static_cast<std::int64_t>(rows.size()), n);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t c = 0; c < 4; ++c) {
      const double expected = array.data<double>()[i * 4 + c];
      if (std::isnan(expected)) {
        ASSERT_TRUE(std::isnan(rows[i][c]));
      } else {
        ASSERT_EQ(rows[i][c], expected) << i << "," << c;
      }
    }
  }
}

// Quoted newlines that straddle the scanner's 1 MiB blocks still count as one record.
TEST_F(CsvTest, QuotesAcrossScanBlocks) {
  const std::string record = "1,\"a\nb\nc\",2\n";
  std::string text;
  while (text.size() < (3u << 20) + 5) text += record;
  const std::string path = file(text);
  auto layout = scan_csv(path, CsvOptions{.columns = {0, 2}}, 50000);
  ASSERT_TRUE(layout.ok()) << layout.status().to_string();
  const std::int64_t records = static_cast<std::int64_t>(text.size() / record.size());
  EXPECT_EQ(layout->rows, records);
  EXPECT_EQ(layout->chunks.back().first_line, 1 + 3 * 50000 * (static_cast<std::int64_t>(layout->chunks.size()) - 1));
  auto last = read_csv_rows(path, layout->chunks.back(), 3, CsvOptions{.columns = {0, 2}});
  ASSERT_TRUE(last.ok()) << last.status().to_string();
  EXPECT_EQ(last->data<double>()[1], 2.0);
}

// A quote inside an unquoted field is just text, to the scan and the parser
// alike: the bad value is reported where it is, rows are not merged.
TEST_F(CsvTest, StrayQuotesInsideFields) {
  const std::string path = file("1,ab\"c\n2,\"x\"\"y\"\n3,4\n");
  auto layout = scan_csv(path, {}, 10);
  ASSERT_TRUE(layout.ok()) << layout.status().to_string();
  EXPECT_EQ(layout->rows, 3);
  EXPECT_EQ(read_all(path, CsvOptions{.columns = {0}}), (Rows{{1}, {2}, {3}}));
  EXPECT_NE(first_error(path).find("data.csv line 1 column 2: cannot parse \"ab\"c\" as a number"),
            std::string::npos)
      << first_error(path);
}

// A tab-separated file reads with delimiter '\t'.
TEST_F(CsvTest, TabDelimiter) {
  EXPECT_EQ(read_all(file("1\t2\n 3 \t 4\n"), CsvOptions{.delimiter = '\t'}), (Rows{{1, 2}, {3, 4}}));
}

// An unterminated quote is an error naming the line it opened on.
TEST_F(CsvTest, UnterminatedQuote) {
  const std::string message = first_error(file("1,2\n3,\"4\n5,6\n"));
  EXPECT_NE(message.find("data.csv line 2: unterminated quoted field"), std::string::npos) << message;
}

// Empty and header-only files have no rows and no chunks.
TEST_F(CsvTest, EmptyFiles) {
  auto empty = scan_csv(file(""), {}, 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->rows, 0);
  EXPECT_EQ(empty->columns, 0);
  EXPECT_TRUE(empty->chunks.empty());
  auto header_only = scan_csv(file("a,b,c\n"), CsvOptions{.header = true}, 10);
  ASSERT_TRUE(header_only.ok());
  EXPECT_EQ(header_only->columns, 3);
  EXPECT_EQ(header_only->rows, 0);
  EXPECT_TRUE(header_only->chunks.empty());
}

// A chunk that no longer matches the file (or was made up) is an error,
// not a huge allocation or a wrong answer.
TEST_F(CsvTest, StaleChunksAreErrors) {
  const std::string path = file("1,2\n3,4\n5,6\n");
  auto layout = scan_csv(path, {}, 10);
  ASSERT_TRUE(layout.ok());
  CsvChunk chunk = layout->chunks.at(0);
  EXPECT_TRUE(read_csv_rows(path, chunk, 2, {}).ok());
  CsvChunk more = chunk;
  more.rows = 2;
  EXPECT_FALSE(read_csv_rows(path, more, 2, {}).ok());
  more.rows = 4;
  EXPECT_FALSE(read_csv_rows(path, more, 2, {}).ok());
  more.rows = std::int64_t{1} << 50;
  EXPECT_FALSE(read_csv_rows(path, more, 2, {}).ok());
  CsvChunk past_end = chunk;
  past_end.byte_end = 1000;
  EXPECT_FALSE(read_csv_rows(path, past_end, 2, {}).ok());
  file("1,2\n");
  EXPECT_FALSE(read_csv_rows(path, chunk, 2, {}).ok());
}

// Bad options and missing files are errors.
TEST_F(CsvTest, BadOptionsAndMissingFiles) {
  const std::string path = file("1,2\n");
  EXPECT_FALSE(scan_csv(path, {}, 0).ok());
  EXPECT_FALSE(scan_csv(path, CsvOptions{.delimiter = '"'}, 10).ok());
  auto missing = scan_csv(dir_.file("none.csv"), {}, 10);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// write_csv writes every dtype, 1-d arrays as one column, and checks its arguments.
TEST_F(CsvTest, WriteCsvDTypesAndChecks) {
  const std::string path = dir_.file("w.csv");
  ASSERT_TRUE(write_csv(path, NDArray::from_vector<std::int32_t>({-1, 2, 3, 4}, {2, 2})).ok());
  EXPECT_EQ(testing::read_bytes(path), "-1,2\n3,4\n");
  ASSERT_TRUE(write_csv(path, NDArray::from_vector<std::uint8_t>({7, 255})).ok());
  EXPECT_EQ(testing::read_bytes(path), "7\n255\n");
  ASSERT_TRUE(write_csv(path, NDArray::from_vector<float>({0.1f, -2.5f}), {"v"}).ok());
  EXPECT_EQ(testing::read_bytes(path), "v\n0.1\n-2.5\n");
  EXPECT_FALSE(write_csv(path, NDArray::from_vector<double>({1, 2}), {"a", "b"}).ok());
  EXPECT_FALSE(write_csv(path, NDArray::zeros(DType::kFloat64, {})).ok());
  EXPECT_FALSE(write_csv(path, NDArray::zeros(DType::kFloat64, {2, 2, 2})).ok());
}

}  // namespace
}  // namespace dtask::formats
