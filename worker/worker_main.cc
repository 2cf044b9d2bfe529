// dtask-worker: runs tasks for a dtask-scheduler. See --help.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "common/byte_size.h"
#include "common/daemon_config.h"
#include "common/duration.h"
#include "common/logging.h"
#include "common/scheduler_file.h"
#include "dtask/security.h"
#include "worker/gpu_binding.h"
#include "worker/nanny.h"
#include "worker/op_registry.h"
#include "worker/worker.h"

namespace {

/// "GPU=1 MEM=2e9" or "GPU=1,MEM=2e9", as dask-worker --resources takes them.
dtask::Result<dtask::ResourceList> parse_resources(std::string text) {
  dtask::ResourceList out;
  for (char& c : text) {
    if (c == ',') c = ' ';
  }
  std::istringstream in(text);
  std::string item;
  while (in >> item) {
    auto eq = item.find('=');
    char* end = nullptr;
    double amount = eq == std::string::npos ? 0 : std::strtod(item.c_str() + eq + 1, &end);
    if (eq == std::string::npos || eq == 0 || end == item.c_str() + eq + 1 || *end != '\0' || amount < 0) {
      return dtask::Status::invalid("bad resource '" + item + "' (use NAME=AMOUNT, e.g. GPU=1)");
    }
    out.emplace_back(item.substr(0, eq), amount);
  }
  return out;
}

/// This program's command line without --nanny: what the nanny runs as its child.
std::vector<std::string> child_command_line(int argc, char** argv) {
  std::vector<std::string> out;
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  out.emplace_back(n > 0 ? std::string(self, static_cast<std::size_t>(n)) : std::string(argv[0]));
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) != "--nanny") out.emplace_back(argv[i]);
  }
  return out;
}

/// `base` moved by a uniform random amount in [-stagger, +stagger] (as
/// dask-worker's --lifetime-stagger), never below zero.
std::chrono::milliseconds staggered(std::chrono::milliseconds base, std::chrono::milliseconds stagger) {
  if (stagger.count() == 0) return base;
  std::random_device entropy;
  std::uniform_int_distribution<long long> spread(-stagger.count(), stagger.count());
  return std::chrono::milliseconds(std::max<long long>(0, base.count() + spread(entropy)));
}

int fail(const std::string& message) {
  std::fprintf(stderr, "dtask-worker: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dtask;
  CLI::App app{"dtask-worker: runs tasks for a dtask-scheduler"};
  std::string scheduler_address;
  worker::WorkerOptions options;
  options.nthreads = std::max(1u, std::thread::hardware_concurrency());
  std::string memory_limit = "auto";
  std::string resources;
  std::vector<std::string> plugins;
  std::string log_level = "info";
  std::string dashboard_address = "none";
  int port = 0;
  std::string scheduler_file;
  double scheduler_file_timeout = 60;
  auto* address_option = app.add_option("scheduler", scheduler_address, "Scheduler address, e.g. tcp://10.0.0.1:8786");
  auto* file_option = app.add_option("--scheduler-file", scheduler_file,
                                     "Read the scheduler's address from this file (dtask-scheduler --scheduler-file), "
                                     "waiting for it to appear");
  address_option->excludes(file_option);
  app.add_option("--scheduler-file-timeout", scheduler_file_timeout, "Seconds to wait for --scheduler-file")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--nthreads", options.nthreads, "Threads running tasks")->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--memory-limit", memory_limit,
                 "Bytes this worker may use, e.g. 2GiB; auto: this machine's memory; 0: unlimited")
      ->capture_default_str();
  app.add_option("--memory-target-fraction", options.memory_policy.target,
                 "Spill least recently used results while results in RAM exceed this fraction of the limit (0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--memory-spill-fraction", options.memory_policy.spill,
                 "Spill while process memory (RSS) exceeds this fraction of the limit, down to the target (0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--memory-pause-fraction", options.memory_policy.pause,
                 "Start no new tasks while process memory exceeds this fraction of the limit (0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--name", options.name, "Worker name (default: its address)");
  app.add_option("--resources", resources, "Abstract resources tasks may require, e.g. \"GPU=1 MEM=16e9\"");
  std::string device;
  auto* device_option = app.add_option("--device", device,
                 "Bind this worker to one GPU (needs --resources GPU=...): CUDA_VISIBLE_DEVICES is set to that "
                 "device before any CUDA call, so it is device 0 inside the worker; when CUDA_VISIBLE_DEVICES is "
                 "already set, N counts among the devices it lists. The device shows in the scheduler's worker info")
      ->type_name("N");
  app.add_option("--plugin", plugins, "Shared library exporting dtask_register_ops() (repeatable)");
  app.add_option("--host", options.host, "Interface for the data port (default: all, advertising the IP that reaches the scheduler)");
  app.add_option("--port", port, "Data port (0: any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
  app.add_option("--local-directory", options.local_directory,
                 "Where this worker makes its own directory for spilled data, removed when it stops "
                 "(default: the system's temporary directory)");
  app.add_option("--dashboard-address", dashboard_address,
                 "Where this worker serves /metrics: HOST:PORT, :PORT for all interfaces, port 0 for any free "
                 "port; none (the default) for no HTTP server")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")->capture_default_str();
  std::string auth_token_file;
  app.add_option("--tls-cert", options.tls.cert_file,
                 "PEM certificate (chain) this worker presents to the scheduler, peers and clients; turns on TLS");
  app.add_option("--tls-key", options.tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-ca", options.tls.ca_file,
                 "PEM CA certificate(s): the scheduler, peers and clients must present a certificate it signed");
  app.add_option("--auth-token-file", auth_token_file,
                 "File holding the cluster's shared token: sent to the scheduler and peers, required from "
                 "peers and clients fetching data");
  double reconnect_timeout = 60;
  app.add_option("--reconnect-timeout", reconnect_timeout,
                 "Seconds to keep results and reconnect when a scheduler that keeps a journal (--journal) is lost; "
                 "0: stop at once")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  double handshake_timeout = 10;
  app.add_option("--handshake-timeout", handshake_timeout,
                 "Seconds a new data-port connection has to complete its handshake (TLS, then dtask's) before "
                 "it is closed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  double io_thread_task_limit_us = 50;
  app.add_option("--io-thread-task-limit", io_thread_task_limit_us,
                 "Microseconds: a task handed over alone, of an op whose recent runs here all took less, runs on "
                 "the network thread instead of waking a task thread (a submit().result() round trip wakes two "
                 "threads fewer); an op that once ran 20x this long there never does again. 0: never")
      ->check(CLI::Range(0.0, 10000.0))
      ->capture_default_str();
  std::string lifetime;
  std::string lifetime_stagger = "0s";
  app.add_option("--lifetime", lifetime,
                 "Retire gracefully after this long, e.g. 55m (results only it holds move to other workers first): "
                 "set it below a batch job's walltime. Under --nanny a fresh worker then takes its place");
  app.add_option("--lifetime-stagger", lifetime_stagger,
                 "Random spread of --lifetime, +- this much, so a pool's workers do not all leave at once")
      ->capture_default_str();
  bool nanny = false;
  app.add_flag("--nanny", nanny,
               "Run the worker under a supervisor process that restarts it when it dies or passes 95% of "
               "--memory-limit");
  DaemonConfig config(app, "dtask-worker", "DTASK_WORKER_");
  if (auto exit_code = config.parse(argc, argv)) return *exit_code;

  auto logger = make_logger("worker", log_level);
  if (!logger.ok()) return fail(logger.status().message());
  // Options that need no I/O are checked first: a bad one fails at once,
  // not after waiting for a scheduler file.
  auto resource_list = parse_resources(resources);
  if (!resource_list.ok()) return fail("--resources: " + resource_list.status().message());
  std::optional<std::uint32_t> device_index;
  if (device_option->count() > 0) {  // given, even as "" (which is refused)
    auto index = worker::parse_device_option(device, *resource_list);
    if (!index.ok()) return fail(index.status().message());
    auto visible = worker::cuda_visible_devices_for(*index, std::getenv("CUDA_VISIBLE_DEVICES"));
    if (!visible.ok()) return fail(visible.status().message());
    device_index = *index;
  }
  if (scheduler_address.empty() && scheduler_file.empty()) {
    return fail("give the scheduler's address or --scheduler-file (see --help)");
  }
  if (!scheduler_file.empty()) {
    auto from_file = read_scheduler_file(
        scheduler_file, std::chrono::milliseconds(std::llround(scheduler_file_timeout * 1000)));
    if (!from_file.ok()) return fail("--scheduler-file: " + from_file.status().message());
    scheduler_address = *from_file;
  }
  auto scheduler = parse_address(scheduler_address);
  if (!scheduler.ok()) return fail(scheduler.status().message());
  auto limit = parse_byte_size(memory_limit);
  if (!limit.ok()) return fail("--memory-limit: " + limit.status().message());
  if (!auth_token_file.empty()) {
    auto token = read_auth_token_file(auth_token_file);
    if (!token.ok()) return fail("--auth-token-file: " + token.status().message());
    options.auth_token = *token;
  }
  std::optional<std::chrono::milliseconds> retire_after;
  if (!lifetime.empty()) {
    auto base = parse_duration(lifetime);
    if (!base.ok()) return fail("--lifetime: " + base.status().message());
    auto stagger = parse_duration(lifetime_stagger);
    if (!stagger.ok()) return fail("--lifetime-stagger: " + stagger.status().message());
    retire_after = staggered(*base, *stagger);
  }
  if (nanny) {  // the child binds the GPU: it gets the same --device
    worker::NannyOptions nanny_options;
    nanny_options.child_argv = child_command_line(argc, argv);
    nanny_options.memory_limit = *limit;
    return worker::run_nanny(nanny_options, *logger);
  }
  options.scheduler = *scheduler;
  options.memory_limit = *limit;
  options.resources = *resource_list;
  if (device_index) {
    // Before anything in this process calls CUDA: the runtime reads
    // CUDA_VISIBLE_DEVICES once, at its first call.
    auto binding = worker::bind_to_gpu(*device_index);
    if (!binding.ok()) return fail(binding.status().message());
    options.gpu = binding->device;
    if (binding->no_device.empty()) {
      (*logger)->info("bound to GPU {} (CUDA_VISIBLE_DEVICES={}): {}, {} GiB", binding->device.index,
                      binding->visible_devices, binding->device.name, binding->device.memory >> 30);
    } else {
      (*logger)->info("bound to GPU {} (CUDA_VISIBLE_DEVICES={}); its name and memory are unknown: {}",
                      binding->device.index, binding->visible_devices, binding->no_device);
    }
  }
  options.port = static_cast<std::uint16_t>(port);
  options.dashboard_address = dashboard_address;
  options.reconnect_timeout = std::chrono::milliseconds(static_cast<long long>(reconnect_timeout * 1000));
  options.handshake_timeout = std::chrono::milliseconds(std::llround(handshake_timeout * 1000));
  options.io_thread_task_limit = std::chrono::microseconds(std::llround(io_thread_task_limit_us));

  OpRegistry registry;
  register_builtin_ops(registry);
  for (const std::string& plugin : plugins) {
    Status loaded = load_plugin(registry, plugin);
    if (!loaded.ok()) return fail(loaded.message());
    (*logger)->info("loaded plugin {}", plugin);
  }

  asio::io_context io(1);
  auto made = worker::Worker::make(io, options, registry, *logger);
  if (!made.ok()) {
    std::fprintf(stderr, "dtask-worker: %s\n", made.status().message().c_str());
    return 1;
  }
  worker::Worker& w = **made;
  int exit_code = 0;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  // SIGTERM or SIGINT: leave gracefully (the scheduler first copies the
  // results only this worker holds); a second signal stops at once.
  std::function<void(const std::error_code&, int)> on_signal = [&](const std::error_code& ec, int signal) {
    if (ec) return;
    (*logger)->info("signal {} received, retiring", signal);
    w.retire(std::chrono::seconds(40));
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  asio::steady_timer lifetime_timer(io);
  if (retire_after) {
    (*logger)->info("lifetime: retiring in {:.1f} s", static_cast<double>(retire_after->count()) / 1000);
    lifetime_timer.expires_after(*retire_after);
    lifetime_timer.async_wait([&](const std::error_code& ec) {
      if (ec) return;
      (*logger)->info("lifetime reached, retiring");
      w.retire(std::chrono::seconds(40));
    });
  }
  w.start([&](const Status& why) {
    if (why.code() != StatusCode::kCancelled) exit_code = 1;
    signals.cancel();
    lifetime_timer.cancel();
    io.stop();
  });
  // Tests and scripts read these lines to learn the bound ports (metrics first).
  if (!w.dashboard_address().empty()) {
    std::printf("dtask-worker %s metrics at %smetrics\n", w.name().c_str(), w.dashboard_address().c_str());
  }
  std::printf("dtask-worker %s listening on %s\n", w.name().c_str(), w.data_address().c_str());
  std::fflush(stdout);
  io.run();
  return exit_code;
}
