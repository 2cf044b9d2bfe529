#include "dtask/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace dtask {

namespace {

std::string format_rate(double per_second) {
  char buffer[32];
  if (per_second >= 1e6) {
    std::snprintf(buffer, sizeof(buffer), "%.1fM", per_second / 1e6);
  } else if (per_second >= 1e3) {
    std::snprintf(buffer, sizeof(buffer), "%.1fk", per_second / 1e3);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1f", per_second);
  }
  return buffer;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto total = static_cast<long long>(std::llround(seconds));
  char buffer[32];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", total / 60, total % 60);
  }
  return buffer;
}

/// Polls the futures still pending; `pending` shrinks as they finish, so a
/// long computation costs less per redraw as it goes.
void update(const std::vector<FutureBase>& futures, std::vector<std::size_t>& pending, ProgressCounts& counts,
            std::optional<Status>& first_failure, std::size_t& first_failure_index) {
  std::vector<std::size_t> still;
  still.reserve(pending.size());
  for (std::size_t i : pending) {
    if (!futures[i].done()) {
      still.push_back(i);
      continue;
    }
    ++counts.done;
    Status status = futures[i].wait(std::chrono::milliseconds(0));
    if (status.ok()) continue;
    ++counts.failed;
    if (!first_failure || i < first_failure_index) {
      first_failure = status;
      first_failure_index = i;
    }
  }
  pending.swap(still);
}

}  // namespace

std::string format_progress(const ProgressCounts& c, bool tty, int width) {
  double fraction = c.total == 0 ? 1.0 : static_cast<double>(c.done) / static_cast<double>(c.total);
  double rate = c.elapsed_seconds > 0 ? static_cast<double>(c.done) / c.elapsed_seconds : 0;
  double eta = c.done >= c.total ? 0 : rate > 0 ? static_cast<double>(c.total - c.done) / rate : NAN;
  char numbers[128];
  std::string failed = c.failed > 0 ? ", " + std::to_string(c.failed) + " failed" : "";
  if (!tty) {
    std::snprintf(numbers, sizeof(numbers), "%zu/%zu tasks done (%.0f%%)%s, %s tasks/s, ", c.done, c.total,
                  fraction * 100, failed.c_str(), format_rate(rate).c_str());
    return numbers + (c.done >= c.total ? "took " + format_duration(c.elapsed_seconds)
                                        : "ETA " + format_duration(eta));
  }
  int filled = static_cast<int>(std::floor(fraction * width));
  std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(std::max(0, width - filled)), '.') + "]";
  std::snprintf(numbers, sizeof(numbers), " %3.0f%% %zu/%zu%s | %s tasks/s | ", fraction * 100, c.done, c.total,
                failed.c_str(), format_rate(rate).c_str());
  return bar + numbers + (c.done >= c.total ? format_duration(c.elapsed_seconds) : "ETA " + format_duration(eta));
}

Status progress(const std::vector<FutureBase>& futures, const ProgressOptions& options) {
  const bool tty = options.tty.value_or(::isatty(::fileno(options.out)) == 1);
  const auto interval = tty ? options.tty_interval : options.line_interval;
  const std::string prefix = options.label.empty() ? "" : options.label + " ";
  const auto start = std::chrono::steady_clock::now();

  std::vector<std::size_t> pending(futures.size());
  for (std::size_t i = 0; i < futures.size(); ++i) pending[i] = i;
  ProgressCounts counts{0, 0, futures.size(), 0};
  std::optional<Status> first_failure;
  std::size_t first_failure_index = 0;
  auto next_line = start;  // plain mode: when the next line is due

  while (true) {
    update(futures, pending, counts, first_failure, first_failure_index);
    auto now = std::chrono::steady_clock::now();
    counts.elapsed_seconds = std::chrono::duration<double>(now - start).count();
    const bool finished = pending.empty();
    if (tty) {
      std::fprintf(options.out, "\r%s%s", prefix.c_str(), format_progress(counts, true, options.width).c_str());
      if (finished) std::fputc('\n', options.out);
    } else if (finished || now >= next_line) {
      std::fprintf(options.out, "%s%s\n", prefix.c_str(), format_progress(counts, false, options.width).c_str());
      next_line = now + interval;
    }
    std::fflush(options.out);
    if (finished) break;
    // Wake when the oldest pending future finishes or the redraw is due (a
    // wait on the futures' condition, not a sleep).
    (void)futures[pending.front()].wait(tty ? interval : std::min(interval, std::chrono::milliseconds(1000)));
  }
  return first_failure.value_or(Status::success());
}

}  // namespace dtask
