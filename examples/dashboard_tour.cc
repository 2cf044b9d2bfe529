// dashboard_tour: watching a computation. Every monitoring call of the client
// API once: Client::dashboard_link() (the scheduler's web dashboard, its JSON
// API and /metrics), and dtask::progress() in its forms. CI runs it.
#include <dtask/client.h>
#include <dtask/progress.h>

#include <cstdio>

int main() {
  // A local cluster serves its dashboard on a free port of 127.0.0.1
  // (LocalClusterOptions::dashboard_address); a dtask-scheduler daemon on :8787.
  dtask::Client client(dtask::LocalClusterOptions{.n_workers = 2});
  const std::string link = client.dashboard_link();
  std::printf("dashboard: %s  (JSON under %sapi/status, Prometheus at %smetrics)\n", link.c_str(), link.c_str(),
              link.c_str());
  if (link.empty()) return 1;

  // progress() on untyped futures: a bar on a terminal, a line every 5 s in a log.
  std::vector<dtask::Delayed> parts;
  for (int i = 0; i < 2000; ++i) parts.push_back(dtask::delayed("inc")(i));
  std::vector<dtask::FutureBase> futures = client.compute(parts);
  dtask::Status status = dtask::progress(futures);
  if (!status.ok()) return 1;

  // progress() on typed futures, forced to plain lines, with a label.
  std::vector<dtask::Future<double>> naps;
  for (int i = 0; i < 8; ++i) naps.push_back(client.submit<double>("sleep", 0.05, 1.0));
  status = dtask::progress(naps, {.tty = false, .line_interval = std::chrono::milliseconds(100), .label = "naps"});
  if (!status.ok()) return 1;

  // The same text progress() draws, for a program that reports its own way.
  std::printf("%s\n", dtask::format_progress({.done = 3, .failed = 0, .total = 4, .elapsed_seconds = 1.5}, false).c_str());
  return 0;
}
