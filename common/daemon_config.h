// Every option of a daemon (dtask-scheduler, dtask-worker) from three places,
// as Dask's config does: the command line, `--config FILE` (YAML or JSON: a
// map from option names without their dashes to values, e.g.
// `nthreads: 4` or {"memory-limit": "2GiB"}), and environment variables
// named after the options (DTASK_WORKER_NTHREADS, DTASK_SCHEDULER_PORT).
//
// Precedence (CLI11's order): the command line, then the config file, then
// the environment, then the default. An unknown key, a value the option
// refuses, or an unreadable file is an error before anything starts; a
// config file's error names the file.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace dtask {

class DaemonConfig {
 public:
  /// Adds --config to `app` and an environment variable `env_prefix` + NAME
  /// (upper case, '-' as '_') to each of its long options. Call after the
  /// options are added.
  DaemonConfig(CLI::App& app, std::string program, std::string env_prefix);

  /// Parses as CLI11_PARSE does (--help prints and exits 0). Returns the exit
  /// code to leave with, or nothing to go on.
  std::optional<int> parse(int argc, char** argv);

  /// The environment variable an option reads: ("DTASK_WORKER_", "memory-limit") -> DTASK_WORKER_MEMORY_LIMIT.
  static std::string env_name(const std::string& prefix, const std::string& option);

 private:
  CLI::App& app_;
  std::string program_;
  CLI::Option* config_ = nullptr;
};

}  // namespace dtask
