#include "client/src/ml/search_checkpoint_internal.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "client/src/array_internal.h"

namespace dtask::ml::internal {

namespace {

using Json = nlohmann::json;
using array_internal::fail;

constexpr const char* kFormat = "dtask-search-checkpoint-1";

/// NaN does not survive JSON: it is written as null and read back as NaN.
Json number(double v) { return std::isnan(v) ? Json(nullptr) : Json(v); }
double number(const Json& j) { return j.is_null() ? std::nan("") : j.get<double>(); }

Json numbers(const std::vector<double>& v) {
  Json out = Json::array();
  for (double x : v) out.push_back(number(x));
  return out;
}

std::vector<double> numbers(const Json& j) {
  std::vector<double> out;
  for (const Json& x : j) out.push_back(number(x));
  return out;
}

/// The file's whole lines; a last line without its newline (torn by a kill) is dropped.
std::vector<std::string> whole_lines(const std::string& path, std::uintmax_t& whole_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  std::vector<std::string> lines;
  std::size_t begin = 0;
  whole_bytes = 0;
  for (std::size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1) {
    lines.push_back(text.substr(begin, end - begin));
    whole_bytes = end + 1;
  }
  return lines;
}

}  // namespace

std::string fingerprint_of(const std::string& text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

SearchCheckpoint::SearchCheckpoint(const std::string& path, const std::string& fingerprint,
                                   const std::string& description)
    : path_(path) {
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0;
  if (exists) {
    std::uintmax_t whole_bytes = 0;
    std::vector<std::string> lines = whole_lines(path, whole_bytes);
    Json header;
    try {
      header = lines.empty() ? Json() : Json::parse(lines.front());
    } catch (const std::exception&) {
    }
    if (!header.is_object() || header.value("format", "") != kFormat) {
      fail("checkpoint " + path + " is not a dtask search checkpoint; remove it or choose another path");
    }
    if (header.value("fingerprint", "") != fingerprint) {
      fail("checkpoint " + path + " belongs to a different search (" + header.value("search", std::string("?")) +
           "), not to this one (" + description +
           "): the estimator, the candidates, the scoring, the data or the folds differ; remove it or choose another "
           "path");
    }
    for (std::size_t i = 1; i < lines.size(); ++i) {
      try {
        Json line = Json::parse(lines[i]);
        FitResult r{numbers(line.at("test")), numbers(line.at("train")), number(line.at("fit_time")),
                    number(line.at("score_time")), line.value("error", std::string())};
        done_[{line.at("candidate").get<std::int64_t>(), line.at("split").get<std::int64_t>()}] = r;
      } catch (const std::exception& e) {
        fail("checkpoint " + path + ", line " + std::to_string(i + 1) + " is damaged: " + e.what());
      }
    }
    std::filesystem::resize_file(path, whole_bytes, ec);  // cut a torn last line
    out_.open(path, std::ios::app | std::ios::binary);
  } else {
    out_.open(path, std::ios::trunc | std::ios::binary);
    out_ << Json{{"format", kFormat}, {"fingerprint", fingerprint}, {"search", description}}.dump() << '\n';
    out_.flush();
  }
  if (!out_) fail("cannot write the checkpoint " + path);
}

void SearchCheckpoint::append(std::int64_t candidate, std::int64_t split, const FitResult& r) {
  Json line = {{"candidate", candidate},       {"split", split},
               {"test", numbers(r.test)},      {"train", numbers(r.train)},
               {"fit_time", number(r.fit_time)}, {"score_time", number(r.score_time)}};
  if (!r.error.empty()) line["error"] = r.error;
  out_ << line.dump() << '\n';
  out_.flush();
  if (!out_) throw TaskError(Status::io_error("cannot append to the checkpoint " + path_));
}

}  // namespace dtask::ml::internal
