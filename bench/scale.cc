// dtask-bench-scale: one graph shape at one size on a running cluster, with
// the scheduler's and workers' memory before, at peak and after the graph is
// released. bench/scheduler_scale.sh runs it at 10k, 100k, 1M and 4M tasks on
// fresh daemons and prints the ratios.
//
// Shapes (--graph):
//   fanout     N `inc` tasks, then one `sum` over all of them (N+1 tasks)
//   realistic  a chunked-array reduction tree (N leaves, `sum` of 32 at a
//              time) next to a shuffle-like all-to-all between two layers of
//              1,000 tasks (each of the second layer reads every one of the
//              first), summed into one result; about N tasks in all
//   chain      N `inc` tasks, each reading the one before (per-hop latency)
//   roundtrip  N sequential submit("inc").result() calls (per-call latency)
//
// --pids: the scheduler's and workers' process ids (same machine), read from
// /proc for RSS: before the graph, the scheduler's peak (VmHWM) and, once the
// scheduler reports no tasks and the workers no results, after the release.
// Prints KEY=VALUE lines; bench/lib/cluster.sh's bench_value reads them.
#include <dtask/client.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "bench_client.h"

namespace {

using dtask::Delayed;
using dtask::bench::Clock;
using dtask::bench::seconds_since;

/// A /proc/PID/status field in bytes ("VmRSS", "VmHWM"); 0 when unreadable.
std::uint64_t proc_status_bytes(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(field.size() + 1));
    std::uint64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return 0;
}

/// User + system CPU seconds of a process so far (/proc/PID/stat); 0 when unreadable.
double proc_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "dtask-bench-scale: %s\n", message.c_str());
  std::exit(1);
}

void check_sum(std::int64_t got, std::int64_t expected) {
  if (got != expected) fail("wrong result " + std::to_string(got) + ", expected " + std::to_string(expected));
}

/// sum over `level` in groups of `fan_in` until one is left.
Delayed reduce_tree(std::vector<Delayed> level, std::size_t fan_in) {
  while (level.size() > 1) {
    std::vector<Delayed> next;
    next.reserve(level.size() / fan_in + 1);
    for (std::size_t i = 0; i < level.size(); i += fan_in) {
      std::size_t end = std::min(level.size(), i + fan_in);
      next.push_back(dtask::delayed("sum")(std::vector<Delayed>(level.begin() + i, level.begin() + end)));
    }
    level = std::move(next);
  }
  return level.front();
}

/// Tasks in the graph; the time from submit to result is the caller's.
std::int64_t run_fanout(dtask::Client& client, std::int64_t n) {
  std::vector<Delayed> parts;
  parts.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) parts.push_back(dtask::delayed("inc")(i));
  check_sum(client.compute<std::int64_t>(dtask::delayed("sum")(parts)).result(), n * (n - 1) / 2 + n);
  return n + 1;
}

std::int64_t run_realistic(dtask::Client& client, std::int64_t n) {
  constexpr std::int64_t kLayer = 1000;
  std::int64_t leaves = std::max<std::int64_t>(1, (n - 2 * kLayer) * 31 / 32);  // the tree adds ~1/31
  std::vector<Delayed> level;
  level.reserve(static_cast<std::size_t>(leaves));
  for (std::int64_t i = 0; i < leaves; ++i) level.push_back(dtask::delayed("inc")(i));
  Delayed tree = reduce_tree(std::move(level), 32);
  std::vector<Delayed> first, second;
  for (std::int64_t i = 0; i < kLayer; ++i) first.push_back(dtask::delayed("inc")(i));
  for (std::int64_t j = 0; j < kLayer; ++j) second.push_back(dtask::delayed("sum")(first));
  Delayed shuffle = reduce_tree(std::move(second), 32);
  std::int64_t layer_sum = kLayer * (kLayer + 1) / 2;  // sum of inc(i), i < kLayer
  std::int64_t expected = leaves * (leaves + 1) / 2 + kLayer * layer_sum;
  check_sum(client.compute<std::int64_t>(dtask::delayed("sum")(std::vector<Delayed>{tree, shuffle})).result(),
            expected);
  // Tasks: leaves, the tree's sums, two layers, the shuffle's sums, the root.
  std::int64_t tasks = leaves + 2 * kLayer + 1;
  for (std::int64_t width = leaves; width > 1; width = (width + 31) / 32) tasks += (width + 31) / 32;
  for (std::int64_t width = kLayer; width > 1; width = (width + 31) / 32) tasks += (width + 31) / 32;
  return tasks;
}

std::int64_t run_chain(dtask::Client& client, std::int64_t n) {
  Delayed last = dtask::delayed("inc")(std::int64_t{0});
  for (std::int64_t i = 1; i < n; ++i) last = dtask::delayed("inc")(last);
  check_sum(client.compute<std::int64_t>(last).result(), n);
  return n;
}

std::int64_t run_roundtrip(dtask::Client& client, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) check_sum(client.submit<std::int64_t>("inc", i).result(), i + 1);
  return n;
}

using Runner = std::int64_t (*)(dtask::Client&, std::int64_t);

Runner runner_for(const std::string& graph) {
  if (graph == "fanout") return run_fanout;
  if (graph == "realistic") return run_realistic;
  if (graph == "chain") return run_chain;
  if (graph == "roundtrip") return run_roundtrip;
  fail("unknown --graph " + graph + " (fanout, realistic, chain, roundtrip)");
}

/// Scheduler tasks and results held by workers, from scheduler_info.
std::pair<std::int64_t, std::int64_t> cluster_holdings(dtask::Client& client) {
  auto info = client.scheduler_info();
  if (!info.ok()) fail("scheduler_info: " + info.status().to_string());
  auto json = nlohmann::json::parse(*info);
  std::int64_t held = 0;
  for (const auto& worker : json["workers"]) held += worker["has_what"].get<std::int64_t>();
  return {json["tasks"].get<std::int64_t>(), held};
}

/// Waits (bounded) until the scheduler has forgotten every task and the workers hold nothing.
void wait_released(dtask::Client& client) {
  auto deadline = Clock::now() + std::chrono::seconds(120);
  for (;;) {
    auto [tasks, held] = cluster_holdings(client);
    if (tasks == 0 && held == 0) return;
    if (Clock::now() > deadline) {
      fail("after 120 s the scheduler still has " + std::to_string(tasks) + " tasks and the workers " +
           std::to_string(held) + " results");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// The scheduler's counters (GET scheduler_info "counters"), or an empty object.
nlohmann::json scheduler_counters(dtask::Client& client) {
  auto info = client.scheduler_info();
  if (!info.ok()) return nlohmann::json::object();
  auto json = nlohmann::json::parse(*info);
  return json.contains("counters") ? json["counters"] : nlohmann::json::object();
}

double counter(const nlohmann::json& counters, const char* name) {
  return counters.contains(name) ? counters[name].get<double>() : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dtask-bench-scale: one graph shape at one size on a running cluster, with its memory"};
  std::string scheduler;
  std::string graph = "fanout";
  std::int64_t tasks = 100000;
  unsigned workers = 2;
  std::vector<int> pids;
  app.add_option("--scheduler", scheduler, "Address of the running scheduler")->required();
  app.add_option("--graph", graph, "fanout, realistic, chain or roundtrip")->capture_default_str();
  app.add_option("--tasks", tasks, "Size of the graph (tasks, hops or calls)")->capture_default_str();
  app.add_option("--workers", workers, "Workers to wait for")->capture_default_str();
  app.add_option("--pids", pids, "Scheduler pid first, then the workers' (for RSS)");
  CLI11_PARSE(app, argc, argv);
  Runner run = runner_for(graph);

  auto client = dtask::bench::connect("dtask-bench-scale", scheduler, workers);
  std::vector<std::uint64_t> before;
  for (int pid : pids) before.push_back(proc_status_bytes(pid, "VmRSS"));
  nlohmann::json counters_before = scheduler_counters(*client);
  std::vector<double> cpu_before;
  for (int pid : pids) cpu_before.push_back(proc_cpu_seconds(pid));
  double client_cpu_before = proc_cpu_seconds(getpid());

  auto start = Clock::now();
  std::int64_t ran = run(*client, tasks);
  double seconds = seconds_since(start);

  nlohmann::json counters_after = scheduler_counters(*client);
  std::printf("graph=%s\ntasks=%lld\nseconds=%.3f\ntasks_per_s=%.0f\nus_per_task=%.2f\n", graph.c_str(),
              static_cast<long long>(ran), seconds, ran / seconds, 1e6 * seconds / ran);
  for (const char* name : {"transition_seconds", "decode_seconds", "encode_seconds"}) {
    double spent = counter(counters_after, name) - counter(counters_before, name);
    std::printf("sched_%s_us_per_task=%.2f\n", name, 1e6 * spent / ran);
  }
  // Where the CPU went: this client, the scheduler, the workers.
  std::printf("client_cpu_us_per_task=%.2f\n", 1e6 * (proc_cpu_seconds(getpid()) - client_cpu_before) / ran);
  for (std::size_t i = 0; i < pids.size(); ++i) {
    std::printf("%s_%zu_cpu_us_per_task=%.2f\n", i == 0 ? "sched" : "worker", i,
                1e6 * (proc_cpu_seconds(pids[i]) - cpu_before[i]) / ran);
  }
  if (pids.empty()) return 0;

  std::uint64_t peak = proc_status_bytes(pids[0], "VmHWM");
  std::printf("sched_rss_before_MiB=%.1f\nsched_peak_MiB=%.1f\nsched_bytes_per_task=%.0f\n", before[0] / 1048576.0,
              peak / 1048576.0, static_cast<double>(peak - std::min(peak, before[0])) / ran);
  wait_released(*client);
  // The daemons hand freed memory back on their next heartbeat
  // (common/memory_trim.h): watch RSS for a few seconds, keep the lowest.
  std::vector<std::uint64_t> after(pids.size(), std::numeric_limits<std::uint64_t>::max());
  auto settle = Clock::now() + std::chrono::seconds(5);
  do {
    for (std::size_t i = 0; i < pids.size(); ++i) after[i] = std::min(after[i], proc_status_bytes(pids[i], "VmRSS"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (Clock::now() < settle);
  double growth = -1e18;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    double delta = (static_cast<double>(after[i]) - static_cast<double>(before[i])) / 1048576.0;
    std::printf("%s_%zu_rss_before_MiB=%.1f\n%s_%zu_rss_after_MiB=%.1f\n", i == 0 ? "sched" : "worker", i,
                before[i] / 1048576.0, i == 0 ? "sched" : "worker", i, after[i] / 1048576.0);
    growth = std::max(growth, delta);
  }
  std::printf("rss_growth_MiB=%.1f\n", growth);
  return 0;
}
