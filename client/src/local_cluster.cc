#include "dtask/local_cluster.h"

#include <spdlog/spdlog.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "common/byte_size.h"
#include "common/logging.h"
#include "scheduler/scheduler_server.h"
#include "worker/op_registry.h"
#include "worker/worker.h"

namespace dtask {

namespace {

/// How long stopping a LocalCluster waits for the scheduler to see its
/// clients go (its own has closed its connection by then; microseconds).
constexpr std::chrono::seconds kClientsGoneWait{2};

/// One daemon's event loop on its own thread.
struct Loop {
  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>(1);
  std::thread thread;
  void run() {
    thread = std::thread([io = io.get()] {
      auto guard = asio::make_work_guard(*io);
      io->run();
    });
  }
  void join() {
    asio::post(*io, [io = io.get()] { io->stop(); });
    if (thread.joinable()) thread.join();
  }
};

}  // namespace

class LocalCluster::Impl {
 public:
  ~Impl() {
    // The owning Client has closed its connection: once the scheduler has
    // taken that in, the results it held are released, and its workers
    // leave with nothing to lose (no warning). Bounded: another client may
    // still be connected.
    if (scheduler_) (void)scheduler_->wait_for_no_clients(kClientsGoneWait);
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      workers_[i]->stop();
      worker_loops_[i].join();
    }
    workers_.clear();  // before their io_contexts
    if (scheduler_) {
      scheduler_->stop();
      scheduler_loop_.join();
      scheduler_.reset();
    }
  }

  Status start(LocalClusterOptions options) {
    unsigned n = options.n_workers == 0 ? std::max(1u, std::thread::hardware_concurrency()) : options.n_workers;
    DTASK_ASSIGN_OR_RETURN(auto logger, make_logger("local-cluster", options.log_level));
    register_builtin_ops(registry_);
    (void)registry_.take_errors();
    if (options.register_ops) {
      options.register_ops(registry_);
      // As for a worker's plugin: a failed registration (a duplicate name) is an error, not a dropped op.
      std::vector<std::string> errors = registry_.take_errors();
      if (!errors.empty()) return Status::invalid("LocalClusterOptions::register_ops: " + errors.front());
    }

    scheduler::SchedulerOptions scheduler_options;
    scheduler_options.listen = Address{"127.0.0.1", 0};
    scheduler_options.graph.worker_saturation = options.worker_saturation;
    scheduler_options.graph.work_stealing = options.work_stealing;
    scheduler_options.dashboard_address = options.dashboard_address;
    scheduler_options.tls = options.tls;
    scheduler_options.auth_token = options.auth_token;
    DTASK_ASSIGN_OR_RETURN(scheduler_, scheduler::SchedulerServer::make(*scheduler_loop_.io, scheduler_options, logger));
    scheduler_->start();
    scheduler_loop_.run();
    DTASK_ASSIGN_OR_RETURN(Address address, parse_address(scheduler_->address()));

    std::uint64_t memory = options.memory_limit != 0 ? options.memory_limit : total_system_memory() / n;
    worker_loops_.resize(n);
    std::vector<std::future<void>> registered;
    for (unsigned i = 0; i < n; ++i) {
      worker::WorkerOptions worker_options;
      worker_options.scheduler = address;
      worker_options.host = "127.0.0.1";
      worker_options.name = "local-" + std::to_string(i);
      worker_options.nthreads = options.threads_per_worker;
      worker_options.memory_limit = memory;
      worker_options.workers_in_process = n;
      worker_options.local_directory = options.local_directory;
      worker_options.resources = options.resources;
      worker_options.tls = options.tls;
      worker_options.auth_token = options.auth_token;
      DTASK_ASSIGN_OR_RETURN(auto w, worker::Worker::make(*worker_loops_[i].io, worker_options, registry_, logger));
      auto promise = std::make_shared<std::promise<void>>();
      registered.push_back(promise->get_future());
      w->start([](const Status&) {}, [promise] { promise->set_value(); });
      worker_loops_[i].run();
      workers_.push_back(std::move(w));
    }
    // Tasks submitted right after start should find every worker there.
    for (auto& r : registered) {
      if (r.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        return Status::timed_out("local workers did not register with the scheduler");
      }
    }
    return Status::success();
  }

  OpRegistry registry_;  // outlives the workers that use it
  Loop scheduler_loop_;
  std::unique_ptr<scheduler::SchedulerServer> scheduler_;
  std::vector<Loop> worker_loops_;
  std::vector<std::unique_ptr<worker::Worker>> workers_;
  std::string address_;
};

Result<std::unique_ptr<LocalCluster>> LocalCluster::start(LocalClusterOptions options) {
  auto impl = std::make_unique<Impl>();
  DTASK_RETURN_NOT_OK(impl->start(std::move(options)));
  impl->address_ = impl->scheduler_->address();
  return std::unique_ptr<LocalCluster>(new LocalCluster(std::move(impl)));
}

LocalCluster::LocalCluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalCluster::~LocalCluster() = default;
const std::string& LocalCluster::scheduler_address() const { return impl_->address_; }
std::string LocalCluster::dashboard_address() const { return impl_->scheduler_->dashboard_address(); }

std::vector<std::string> LocalCluster::worker_addresses() const {
  std::vector<std::string> out;
  for (const auto& w : impl_->workers_) out.push_back(w->data_address());
  return out;
}

std::vector<std::string> LocalCluster::worker_names() const {
  std::vector<std::string> out;
  for (const auto& w : impl_->workers_) out.push_back(w->name());
  return out;
}

}  // namespace dtask
