// CvResults: scikit-learn's cv_results_ as columns, and its CSV and JSON
// forms (what pandas.DataFrame(cv_results_).to_csv() and a list of records
// would hold).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/src/array_internal.h"
#include "dtask/client.h"
#include "dtask/ml/model_selection.h"

namespace dtask::ml {

namespace {

using Json = nlohmann::ordered_json;  // keeps scikit-learn's column order

Json param_json(const ParamValue& v) {
  return std::visit([](const auto& x) { return Json(x); }, v.variant());
}

/// A column's number as pandas writes it: ranks as integers, NaN empty.
std::string csv_number(const std::string& column, double v) {
  if (std::isnan(v)) return "";
  if (column.rfind("rank_", 0) == 0) return std::to_string(static_cast<long long>(v));
  return ml_core::python_float_repr(v);
}

/// A CSV field, quoted when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

/// {'C': 0.1, 'penalty': 'l1'}: the params column as pandas prints a dict.
std::string python_dict(const Params& params) {
  std::string out = "{";
  for (const auto& [name, value] : params) out += (out.size() > 1 ? ", '" : "'") + name + "': " + value.repr();
  return out + "}";
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!(out << text)) throw TaskError(Status::io_error("cannot write " + path));
}

/// The numeric columns before the param columns (fit and score times), then the rest, as scikit-learn orders them.
std::size_t time_columns(const std::vector<std::string>& columns) {
  std::size_t n = 0;
  while (n < columns.size() && columns[n].find("_time") != std::string::npos) ++n;
  return n;
}

}  // namespace

const std::vector<double>& CvResults::operator[](const std::string& column) const {
  auto it = values.find(column);
  if (it == values.end()) array_internal::fail("cv_results_ has no column '" + column + "'");
  return it->second;
}

std::vector<std::optional<ParamValue>> CvResults::param(const std::string& name) const {
  std::vector<std::optional<ParamValue>> out;
  for (const Params& p : params) {
    auto it = p.find(name);
    out.push_back(it == p.end() ? std::nullopt : std::optional<ParamValue>(it->second));
  }
  return out;
}

std::string CvResults::json() const {
  Json records = Json::array();
  const std::size_t split = time_columns(columns);
  for (std::size_t i = 0; i < params.size(); ++i) {
    Json record = Json::object();
    auto number = [&](const std::string& column) {
      double v = values.at(column)[i];
      record[column] = std::isnan(v) ? Json(nullptr)
                       : column.rfind("rank_", 0) == 0 ? Json(static_cast<long long>(v))
                                                        : Json(v);
    };
    for (std::size_t c = 0; c < split; ++c) number(columns[c]);
    for (const std::string& name : param_names) {
      auto it = params[i].find(name);
      record["param_" + name] = it == params[i].end() ? Json(nullptr) : param_json(it->second);
    }
    Json p = Json::object();
    for (const auto& [name, value] : params[i]) p[name] = param_json(value);
    record["params"] = p;
    for (std::size_t c = split; c < columns.size(); ++c) number(columns[c]);
    records.push_back(record);
  }
  return records.dump(1);
}

void CvResults::to_json(const std::string& path) const { write_file(path, json() + "\n"); }

void CvResults::to_csv(const std::string& path) const {
  const std::size_t split = time_columns(columns);
  std::string text = "";
  std::vector<std::string> header(columns.begin(), columns.begin() + static_cast<std::ptrdiff_t>(split));
  for (const std::string& name : param_names) header.push_back("param_" + name);
  header.push_back("params");
  header.insert(header.end(), columns.begin() + static_cast<std::ptrdiff_t>(split), columns.end());
  for (std::size_t h = 0; h < header.size(); ++h) text += (h ? "," : "") + csv_field(header[h]);
  text += "\n";
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::vector<std::string> row;
    for (std::size_t c = 0; c < split; ++c) row.push_back(csv_number(columns[c], values.at(columns[c])[i]));
    for (const std::string& name : param_names) {
      auto it = params[i].find(name);
      row.push_back(it == params[i].end() ? "" : it->second.is<std::string>() ? it->second.get<std::string>()
                                                                               : it->second.repr());
    }
    row.push_back(python_dict(params[i]));
    for (std::size_t c = split; c < columns.size(); ++c) row.push_back(csv_number(columns[c], values.at(columns[c])[i]));
    for (std::size_t f = 0; f < row.size(); ++f) text += (f ? "," : "") + csv_field(row[f]);
    text += "\n";
  }
  write_file(path, text);
}

}  // namespace dtask::ml
