// dtask-adapt: grows and shrinks a pool of dtask workers to the scheduler's
// adaptive target, through commands the user gives (sbatch / scancel,
// kubectl scale, systemctl start / stop, ...). See --help and
// docs/deploying.md, "Adaptive scaling".
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "adapt/adapt_policy.h"
#include "common/duration.h"
#include "common/http_client.h"
#include "common/logging.h"
#include "dtask/security.h"

namespace {

std::atomic<bool> g_stop{false};
void request_stop(int) { g_stop = true; }

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Runs `command` with /bin/sh, `env` added to its environment; its exit code.
int run_command(const std::string& command, const std::vector<std::pair<std::string, std::string>>& env) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Observed {
  std::size_t target = 0;
  std::size_t workers = 0;
  std::size_t ready_tasks = 0;
};

dtask::Result<Observed> observe(const dtask::HttpClient& http, std::uint32_t threads_per_worker) {
  std::string path = "/api/v1/adaptive_target";
  if (threads_per_worker > 0) path += "?threads_per_worker=" + std::to_string(threads_per_worker);
  DTASK_ASSIGN_OR_RETURN(dtask::HttpReply reply, http.get(path));
  if (reply.status != 200) {
    return dtask::Status::io_error("GET " + path + ": HTTP " + std::to_string(reply.status) + ": " + reply.body);
  }
  nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (!doc.is_object() || !doc["target"].is_number_unsigned() || !doc["workers"].is_number_unsigned()) {
    return dtask::Status::io_error("GET " + path + ": not an adaptive target: " + reply.body);
  }
  return Observed{doc["target"].get<std::size_t>(), doc["workers"].get<std::size_t>(),
                  doc.value("ready_tasks", std::size_t{0})};
}

/// Asks the scheduler to retire `count` idle workers; their names.
dtask::Result<std::vector<std::string>> retire(const dtask::HttpClient& http, std::size_t count) {
  DTASK_ASSIGN_OR_RETURN(dtask::HttpReply reply,
                         http.post("/api/v1/retire_workers", nlohmann::json{{"n", count}}.dump()));
  if (reply.status != 200) {
    return dtask::Status::io_error("POST /api/v1/retire_workers: HTTP " + std::to_string(reply.status) + ": " +
                                   reply.body);
  }
  nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (!doc.is_object() || !doc["retired"].is_array()) {
    return dtask::Status::io_error("POST /api/v1/retire_workers: unexpected reply " + reply.body);
  }
  return doc["retired"].get<std::vector<std::string>>();
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : " ") + name;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dtask-adapt: keeps a pool of dtask workers at the scheduler's adaptive target (GET "
      "/api/v1/adaptive_target on its dashboard). To grow, it runs --scale-up with DTASK_ADAPT_COUNT set to "
      "the number of workers to add; to shrink, it asks the scheduler to retire that many idle workers (their "
      "unique results move first) and then runs --scale-down with DTASK_ADAPT_COUNT and DTASK_ADAPT_WORKERS "
      "(the retired workers' names, space-separated)."};
  std::string dashboard;
  std::string scale_up;
  std::string scale_down;
  dtask::adapt::AdaptPolicyOptions policy_options;
  std::string interval = "1s";
  std::string cooldown = "30s";
  std::string startup_timeout = "2m";
  std::uint32_t threads_per_worker = 0;
  std::string auth_token_file;
  std::string log_level = "info";
  app.add_option("--dashboard", dashboard, "The scheduler's dashboard, e.g. http://sched:8787/")
      ->envname("DTASK_ADAPT_DASHBOARD")
      ->required();
  app.add_option("--scale-up", scale_up, "Shell command that starts DTASK_ADAPT_COUNT more workers")
      ->envname("DTASK_ADAPT_SCALE_UP")
      ->required();
  app.add_option("--scale-down", scale_down,
                 "Shell command run after workers retired (DTASK_ADAPT_WORKERS: their names), e.g. to release "
                 "their jobs; the workers have already exited")
      ->envname("DTASK_ADAPT_SCALE_DOWN");
  app.add_option("--minimum", policy_options.minimum, "Never fewer workers than this")->capture_default_str();
  app.add_option("--maximum", policy_options.maximum, "Never more workers than this")->capture_default_str();
  app.add_option("--interval", interval, "How often to look at the target")->capture_default_str();
  app.add_option("--wait-count", policy_options.wait_count,
                 "Scale down only after this many observations in a row asked for fewer workers")
      ->capture_default_str();
  app.add_option("--cooldown", cooldown, "No scale-down this soon after a scale-up")->capture_default_str();
  app.add_option("--startup-timeout", startup_timeout,
                 "Workers launched and not joined after this long are no longer waited for")
      ->capture_default_str();
  app.add_option("--threads-per-worker", threads_per_worker,
                 "Threads of each worker the scale-up command starts (default: the connected workers' mean)");
  app.add_option("--auth-token-file", auth_token_file, "The cluster's token, for a dashboard that requires it");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "dtask-adapt: %s\n", message.c_str());
    return 2;
  };
  auto logger = dtask::make_logger("dtask-adapt", log_level);
  if (!logger.ok()) return fail(logger.status().message());
  auto every = dtask::parse_duration(interval);
  if (!every.ok()) return fail("--interval: " + every.status().message());
  auto cool = dtask::parse_duration(cooldown);
  if (!cool.ok()) return fail("--cooldown: " + cool.status().message());
  auto startup = dtask::parse_duration(startup_timeout);
  if (!startup.ok()) return fail("--startup-timeout: " + startup.status().message());
  policy_options.cooldown_seconds = std::chrono::duration<double>(*cool).count();
  policy_options.startup_timeout_seconds = std::chrono::duration<double>(*startup).count();
  auto policy = dtask::adapt::AdaptPolicy::make(policy_options);
  if (!policy.ok()) return fail(policy.status().message());
  std::string token;
  if (!auth_token_file.empty()) {
    auto read = dtask::read_auth_token_file(auth_token_file);
    if (!read.ok()) return fail("--auth-token-file: " + read.status().message());
    token = *read;
  }
  auto http = dtask::HttpClient::make(dashboard, token);
  if (!http.ok()) return fail("--dashboard: " + http.status().message());
  // A retirement answers once the workers are gone, after their results moved.
  http->set_read_timeout(std::chrono::seconds(60));

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  auto& log = **logger;
  log.info("adapting the pool of {} between {} and {} workers, every {}", dashboard, policy_options.minimum,
           policy_options.maximum, interval);
  bool reachable = true;
  while (!g_stop) {
    const double now = seconds_now();
    auto seen = observe(*http, threads_per_worker);
    if (!seen.ok()) {
      if (reachable) log.warn("{} (retrying every {})", seen.status().message(), interval);
      reachable = false;
    } else {
      if (!reachable) log.info("the dashboard answers again");
      reachable = true;
      dtask::adapt::ScaleDecision decision = policy->observe(seen->target, seen->workers, now);
      if (decision.kind == dtask::adapt::ScaleDecision::Kind::kUp) {
        log.info("scaling up by {} ({})", decision.count, decision.reason);
        const int rc = run_command(scale_up, {{"DTASK_ADAPT_COUNT", std::to_string(decision.count)},
                                              {"DTASK_ADAPT_DASHBOARD", dashboard}});
        if (rc != 0) log.warn("--scale-up exited with {}", rc);
        policy->launched(decision.count, now);
      } else if (decision.kind == dtask::adapt::ScaleDecision::Kind::kDown) {
        log.info("scaling down by {} ({})", decision.count, decision.reason);
        auto retired = retire(*http, decision.count);
        if (!retired.ok()) {
          log.warn("{}", retired.status().message());
        } else if (retired->empty()) {
          log.info("no worker could go now (none idle, or the others lack the memory for its results)");
        } else {
          log.info("retired {}", join(*retired));
          if (!scale_down.empty()) {
            const int rc = run_command(scale_down, {{"DTASK_ADAPT_COUNT", std::to_string(retired->size())},
                                                    {"DTASK_ADAPT_WORKERS", join(*retired)},
                                                    {"DTASK_ADAPT_DASHBOARD", dashboard}});
            if (rc != 0) log.warn("--scale-down exited with {}", rc);
          }
        }
      }
    }
    const auto wake = std::chrono::steady_clock::now() + *every;
    while (!g_stop && std::chrono::steady_clock::now() < wake) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  log.info("stopping; the workers keep running");
  return 0;
}
