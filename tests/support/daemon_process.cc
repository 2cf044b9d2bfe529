#include "tests/support/daemon_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

extern char** environ;

namespace dtask::testing {

namespace {

Result<std::pair<pid_t, int>> spawn(const std::string& binary, const std::vector<std::string>& args,
                                    const std::string& stderr_path = {}) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return Status::io_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  if (!stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    return Status::io_error("cannot start " + binary + ": " + std::strerror(rc));
  }
  return std::make_pair(pid, pipe_fds[0]);
}

/// The "http..." URL that follows `marker` up to the end of its line.
std::string url_after(const std::string& output, const std::string& marker) {
  auto at = output.find(marker);
  if (at == std::string::npos) return "";
  auto start = at + 4;  // past " at "
  return output.substr(start, output.find('\n', start) - start);
}

}  // namespace

Result<DaemonProcess> DaemonProcess::start(const std::string& binary, const std::vector<std::string>& args,
                                           std::chrono::milliseconds timeout, const std::string& stderr_path) {
  DTASK_ASSIGN_OR_RETURN(auto spawned, spawn(binary, args, stderr_path));
  DaemonProcess process;
  process.pid_ = spawned.first;
  process.stdout_fd_ = spawned.second;
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::timed_out(binary + " printed no address in time; output: " + output);
    pollfd pfd{process.stdout_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[512];
    ssize_t n = read(process.stdout_fd_, buffer, sizeof(buffer));
    if (n <= 0) return Status::io_error(binary + " exited before listening; output: " + output);
    output.append(buffer, static_cast<std::size_t>(n));
    auto marker = output.find("listening on ");
    auto newline = marker == std::string::npos ? std::string::npos : output.find('\n', marker);
    if (newline != std::string::npos) {
      process.address_ = output.substr(marker + 13, newline - marker - 13);
      process.dashboard_address_ = url_after(output, " at http");
      return process;
    }
  }
}

DaemonProcess::DaemonProcess(DaemonProcess&& other) noexcept { *this = std::move(other); }

DaemonProcess& DaemonProcess::operator=(DaemonProcess&& other) noexcept {
  std::swap(pid_, other.pid_);
  std::swap(stdout_fd_, other.stdout_fd_);
  std::swap(address_, other.address_);
  std::swap(dashboard_address_, other.dashboard_address_);
  return *this;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) stop(SIGKILL);
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

int DaemonProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::pair<int, std::string> run_command(const std::string& binary, const std::vector<std::string>& args) {
  auto spawned = spawn(binary, args);
  if (!spawned.ok()) return {-1, spawned.status().message()};
  std::string output;
  char buffer[4096];
  ssize_t n;
  while ((n = read(spawned->second, buffer, sizeof(buffer))) > 0) output.append(buffer, static_cast<std::size_t>(n));
  close(spawned->second);
  int status = 0;
  waitpid(spawned->first, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output};
}

}  // namespace dtask::testing
