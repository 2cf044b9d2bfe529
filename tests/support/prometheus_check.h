// A checker for the Prometheus text exposition format (0.0.4), strict enough
// to catch what breaks a scraper: bad metric or label names, unescaped label
// values, a TYPE after its samples or twice, a family's samples split up,
// duplicate series, values that do not parse.
#pragma once

#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "dtask/status.h"

namespace dtask::testing {

/// Parsed samples: `name{a="x",b="y"}` (labels as written) -> value, for assertions.
using PrometheusSamples = std::map<std::string, double>;

namespace prometheus_internal {

inline bool name_ok(const std::string& name, bool colon_ok) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

inline bool value_ok(const std::string& text, double& value) {
  if (text == "NaN" || text == "+Inf" || text == "-Inf" || text == "Inf") return true;
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

/// Parses `{a="x",b="y"}` starting at `pos` (just after the name); advances pos.
inline Status parse_labels(const std::string& line, std::size_t& pos, std::string& canonical) {
  if (pos >= line.size() || line[pos] != '{') return Status::success();
  ++pos;
  std::set<std::string> names;
  canonical += '{';
  while (pos < line.size() && line[pos] != '}') {
    std::size_t eq = line.find('=', pos);
    if (eq == std::string::npos) return Status::invalid("label without '='");
    std::string name = line.substr(pos, eq - pos);
    if (!name_ok(name, false)) return Status::invalid("bad label name '" + name + "'");
    if (!names.insert(name).second) return Status::invalid("label '" + name + "' repeated");
    pos = eq + 1;
    if (pos >= line.size() || line[pos] != '"') return Status::invalid("label value not quoted");
    ++pos;
    std::string value;
    while (pos < line.size() && line[pos] != '"') {
      if (line[pos] == '\\') {
        if (pos + 1 >= line.size()) return Status::invalid("dangling escape");
        char next = line[pos + 1];
        if (next != '\\' && next != '"' && next != 'n') return Status::invalid(std::string("bad escape \\") + next);
        value += next == 'n' ? '\n' : next;
        pos += 2;
      } else {
        value += line[pos++];
      }
    }
    if (pos >= line.size()) return Status::invalid("unterminated label value");
    ++pos;  // closing quote
    canonical += name + "=\"" + value + "\",";
    if (pos < line.size() && line[pos] == ',') ++pos;
  }
  if (pos >= line.size()) return Status::invalid("unterminated label set");
  ++pos;  // '}'
  if (canonical.back() == ',') canonical.pop_back();
  canonical += '}';
  return Status::success();
}

}  // namespace prometheus_internal

/// Checks `text` line by line; the first violation names its line. On
/// success fills `samples` (when given).
inline Status check_prometheus_text(const std::string& text, PrometheusSamples* samples = nullptr) {
  using namespace prometheus_internal;
  std::map<std::string, std::string> types;
  std::set<std::string> helps, finished_families, series;
  std::string current_family;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  if (!text.empty() && text.back() != '\n') return Status::invalid("the last line has no newline");
  while (std::getline(in, line)) {
    ++number;
    auto fail = [&](const std::string& why) { return Status::invalid("line " + std::to_string(number) + ": " + why + ": " + line); };
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name, rest;
      words >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!name_ok(name, true)) return fail("bad metric name in " + keyword);
      if (keyword == "HELP") {
        if (!helps.insert(name).second) return fail("second HELP");
        for (std::size_t i = 0; i + 1 < line.size(); ++i) {
          if (line[i] == '\\' && line[i + 1] != '\\' && line[i + 1] != 'n') return fail("bad escape in HELP");
          if (line[i] == '\\') ++i;
        }
        continue;
      }
      words >> rest;
      if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" && rest != "untyped") {
        return fail("unknown type '" + rest + "'");
      }
      if (types.count(name)) return fail("second TYPE");
      if (finished_families.count(name) || current_family == name) return fail("TYPE after samples");
      types[name] = rest;
      continue;
    }
    std::size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') ++pos;
    std::string name = line.substr(0, pos);
    if (!name_ok(name, true)) return fail("bad metric name");
    std::string canonical = name;
    Status labels = parse_labels(line, pos, canonical);
    if (!labels.ok()) return fail(labels.message());
    if (pos >= line.size() || line[pos] != ' ') return fail("no space before the value");
    std::istringstream tail(line.substr(pos + 1));
    std::string value_text, timestamp, extra;
    tail >> value_text >> timestamp >> extra;
    double value = 0;
    if (!value_ok(value_text, value)) return fail("bad value '" + value_text + "'");
    if (!extra.empty()) return fail("trailing text");
    if (!timestamp.empty() && timestamp.find_first_not_of("-0123456789") != std::string::npos) return fail("bad timestamp");
    // The family is the typed name this sample belongs to (counters may add _total).
    std::string family = types.count(name) ? name : "";
    for (const char* suffix : {"_total", "_sum", "_count", "_bucket"}) {
      std::string s = suffix;
      if (family.empty() && name.size() > s.size() && name.ends_with(s) && types.count(name.substr(0, name.size() - s.size()))) {
        family = name.substr(0, name.size() - s.size());
      }
    }
    if (family.empty()) return fail("sample without a TYPE line");
    if (family != current_family) {
      if (finished_families.count(family)) return fail("samples of " + family + " are not contiguous");
      if (!current_family.empty()) finished_families.insert(current_family);
      current_family = family;
    }
    if (!series.insert(canonical).second) return fail("duplicate series");
    if (samples != nullptr) (*samples)[canonical] = value;
  }
  return Status::success();
}

}  // namespace dtask::testing
