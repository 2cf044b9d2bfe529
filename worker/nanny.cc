#include "worker/nanny.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/process_memory.h"

extern char** environ;

namespace dtask::worker {

namespace {

std::atomic<int> g_stop_signal{0};  // set by the signal handler only

void on_stop_signal(int signal) { g_stop_signal.store(signal); }

/// Starts the child; -1 on failure (logged).
pid_t spawn_child(const std::vector<std::string>& argv, spdlog::logger& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    log.error("nanny: cannot start {}: {}", argv[0], std::strerror(rc));
    return -1;
  }
  return pid;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

/// Forwards SIGTERM to the child and reaps it (SIGKILL after 10 s).
void stop_child(pid_t child) {
  ::kill(child, SIGTERM);
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(child, nullptr, WNOHANG) == child) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

/// Sleeps up to `duration`, returning early on a stop signal.
void interruptible_sleep(std::chrono::milliseconds duration) {
  auto deadline = std::chrono::steady_clock::now() + duration;
  while (g_stop_signal.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

int run_nanny(const NannyOptions& options, const std::shared_ptr<spdlog::logger>& logger) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  const auto terminate_bytes =
      static_cast<std::uint64_t>(options.terminate_fraction * static_cast<double>(options.memory_limit));
  std::chrono::milliseconds backoff = options.first_backoff;
  int restarts = 0;
  while (g_stop_signal.load() == 0) {
    const pid_t child = spawn_child(options.child_argv, *logger);
    if (child < 0) return 1;
    logger->info("nanny: worker pid {} started{}", child, restarts > 0 ? " (restart " + std::to_string(restarts) + ")" : "");
    const auto started = std::chrono::steady_clock::now();
    int status = 0;
    bool exited = false;
    while (!exited) {
      if (g_stop_signal.load() != 0) {
        logger->info("nanny: signal {} received, stopping worker pid {}", g_stop_signal.load(), child);
        stop_child(child);
        return 0;
      }
      pid_t done = waitpid(child, &status, WNOHANG);
      if (done == child) {
        exited = true;
        break;
      }
      if (terminate_bytes > 0) {
        std::uint64_t rss = process_rss_bytes(child);
        if (rss > terminate_bytes) {
          logger->warn("nanny: worker pid {} uses {} MiB, over {:.0f}% of its memory limit: killing it", child,
                       rss >> 20, 100 * options.terminate_fraction);
          ::kill(child, SIGKILL);
          waitpid(child, &status, 0);
          exited = true;
          break;
        }
      }
      std::this_thread::sleep_for(options.poll_interval);
    }
    // A worker that ran for a while starts again at once; one that keeps
    // dying quickly (a bad address, a crash at start) waits longer each time.
    if (std::chrono::steady_clock::now() - started >= options.stable_after) backoff = options.first_backoff;
    logger->warn("nanny: worker pid {} {}; restarting in {} ms", child, describe_exit(status), backoff.count());
    interruptible_sleep(backoff);
    backoff = std::min(options.max_backoff, backoff * 2);
    ++restarts;
  }
  return 0;
}

}  // namespace dtask::worker
