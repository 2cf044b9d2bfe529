// Starts a dtask daemon (dtask-scheduler or dtask-worker) as a child process
// for end-to-end tests, reads the address it prints, and stops it again.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "dtask/status.h"

namespace dtask::testing {

class DaemonProcess {
 public:
  /// Spawns `binary args...` and waits (up to `timeout`) for its
  /// "... listening on tcp://HOST:PORT" line on stdout. An earlier
  /// "... dashboard at URL" or "... metrics at URL" line gives dashboard_address().
  /// `stderr_path`: a file that takes the daemon's stderr (its log), for
  /// tests that read what it logged; empty: the test's own stderr.
  static Result<DaemonProcess> start(const std::string& binary, const std::vector<std::string>& args,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(20),
                                     const std::string& stderr_path = {});
  DaemonProcess(DaemonProcess&& other) noexcept;
  DaemonProcess& operator=(DaemonProcess&& other) noexcept;
  ~DaemonProcess();

  const std::string& address() const { return address_; }
  /// "http://127.0.0.1:PORT/" (scheduler) or ".../metrics" (worker); empty if none was printed.
  const std::string& dashboard_address() const { return dashboard_address_; }
  pid_t pid() const { return pid_; }
  /// Sends `signal` and waits for the exit; returns the exit code (128+signal if killed).
  int stop(int signal = 15, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Waits for the process to exit by itself; its exit code, or -1 if it
  /// still runs after `timeout` (it is left running).
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running() const { return pid_ > 0; }

 private:
  DaemonProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string address_;
  std::string dashboard_address_;
};

/// Runs `binary args...` to completion; returns its exit code and stdout.
std::pair<int, std::string> run_command(const std::string& binary, const std::vector<std::string>& args);

/// Polls `condition` until it holds or `timeout` passes (a bounded wait on a
/// condition, never a fixed sleep).
template <typename F>
bool wait_until(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  return condition();
}

}  // namespace dtask::testing
