// Asks Debian's Python stack (/usr/bin/python3 with numpy, scikit-learn,
// scipy) for the right answer in the same test run: the test passes a
// script, the script prints one JSON document on stdout, the test compares.
// Expected numbers are never pasted into a test.
//
//   if (!python_oracle::available("sklearn")) GTEST_SKIP() << python_oracle::skip_reason("sklearn");
//   nlohmann::json want = python_oracle::run(R"PY(
//   import json, sys, numpy as np
//   print(json.dumps(np.random.RandomState(0).permutation(10).tolist()))
//   )PY");
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace dtask::python_oracle {

inline constexpr const char* kPython = "/usr/bin/python3";

/// Whether /usr/bin/python3 can import every module in `modules` ("sklearn,scipy").
inline bool available(const std::string& modules) {
  std::string command = std::string(kPython) + " -c 'import " + modules + "' > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

inline std::string skip_reason(const std::string& modules) {
  return std::string(kPython) + " cannot import " + modules +
         " (bash deploy/install-deps.sh installs python3-sklearn, python3-numpy)";
}

/// Quotes one shell argument.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

/// Runs `script` with `args` (sys.argv[1:]) and parses its stdout as JSON.
/// Throws std::runtime_error with the script's stderr when it fails.
inline nlohmann::json run(const std::string& script, const std::vector<std::string>& args = {}) {
  static std::atomic<int> counter{0};
  auto base = std::filesystem::temp_directory_path() /
              ("dtask_oracle_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1)));
  std::string script_path = base.string() + ".py", out_path = base.string() + ".out",
              err_path = base.string() + ".err";
  std::ofstream(script_path) << script;
  std::string command = std::string(kPython) + " " + shell_quote(script_path);
  for (const auto& a : args) command += " " + shell_quote(a);
  command += " > " + shell_quote(out_path) + " 2> " + shell_quote(err_path);
  int rc = std::system(command.c_str());
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  std::string out = slurp(out_path), err = slurp(err_path);
  std::filesystem::remove(script_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  if (rc != 0) throw std::runtime_error("python oracle failed (status " + std::to_string(rc) + "):\n" + err);
  try {
    return nlohmann::json::parse(out);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("python oracle printed no JSON: ") + e.what() + "\nstdout:\n" + out +
                             "\nstderr:\n" + err);
  }
}

}  // namespace dtask::python_oracle
