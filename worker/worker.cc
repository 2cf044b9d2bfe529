#include "worker/worker.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/byte_size.h"
#include "common/http_server.h"
#include "common/large_buffer_pool.h"
#include "common/logging.h"
#include "common/memory_trim.h"
#include "common/process_memory.h"
#include "common/snapshot_slot.h"
#include "common/tcp_connection.h"
#include "worker/data_store.h"
#include "worker/executor.h"
#include "worker/worker_metrics.h"
#include "worker/worker_state.h"

namespace dtask::worker {

namespace {

/// An outgoing link to another worker's data port.
struct PeerLink {
  ConnectionPtr connection;  // null while connecting
  std::vector<msg::GetData> queued;
  std::unordered_set<std::uint64_t> in_flight;
};

/// Carries spill and unspill timings from the DataStore (made before the
/// worker, called on any thread) to the worker's io thread. The store holds
/// it weakly, so a late report after the worker is gone is dropped.
struct DiskIoRelay {
  std::function<void(msg::WorkerActivity)> deliver;  // set by the worker; run on its io thread
};

/// A peer or client connected to the data port.
struct ServedConnection {
  ConnectionPtr connection;
  bool greeted = false;  // its Handshake was accepted
};

struct FetchRequest {
  std::string address;
  std::vector<std::string> keys;
  double start_time = 0;  // wall clock, for the task stream's transfer bar
};

/// Threads for the DataStore's file I/O (spilling, reading back spilled values
/// for peers): two, so that reading a value back for a peer need not wait
/// behind a long spill.
constexpr int kDiskThreads = 2;
// Short tasks queue up to this many behind each executor thread (see
// WorkerState): enough for kQueuedSecondsPerThread of tasks of 2 us. At 64,
// a fan-out of no-op tasks (0.5 us each) emptied the queue in 30 us and the
// thread waited on the io thread for more, half idle (1M-task fan-out:
// 9.8-11.7 s -> 9.0-9.5 s). The cap bounds what an op measured too fast queues.
constexpr unsigned kMaxQueuedPerThread = 1024;
/// Instructions dropping at least this many values send their report before
/// the erases, instead of batching it at the end of the loop's turn.
constexpr std::size_t kDropsThatSendTheReportFirst = 1024;

/// A recycled chunk buffer unused this long is unmapped at the next heartbeat.
constexpr std::chrono::seconds kIdleBufferRelease{2};

/// Freed chunk buffers the process keeps for reuse: an eighth of the memory
/// limit (three 40 MB chunks under 1 GiB), at most 512 MiB; 256 MiB unlimited.
std::size_t buffer_pool_limit(std::uint64_t memory_limit) {
  constexpr std::uint64_t kMax = std::uint64_t{512} << 20;
  if (memory_limit == 0) return std::size_t{256} << 20;
  return static_cast<std::size_t>(std::min(memory_limit / 8, kMax));
}

}  // namespace

class Worker::Impl {
 public:
  Impl(asio::io_context& io, WorkerOptions options, const OpRegistry& registry, std::shared_ptr<spdlog::logger> logger,
       std::unique_ptr<asio::ip::tcp::acceptor> acceptor, TlsContextPtr tls, ConnectionPtr scheduler,
       std::unique_ptr<DataStore> store, std::shared_ptr<DiskIoRelay> disk_io, std::unique_ptr<HttpServer> http)
      : io_(io),
        options_(std::move(options)),
        logger_(std::move(logger)),
        acceptor_(std::move(acceptor)),
        tls_(std::move(tls)),
        scheduler_(std::move(scheduler)),
        heartbeat_timer_(io),
        memory_timer_(io),
        retire_timer_(io),
        reconnect_timer_(io),
        accept_retry_timer_(io),
        store_(std::move(store)),
        disk_pool_(kDiskThreads),
        disk_io_(std::move(disk_io)),
        http_(std::move(http)),
        state_(options_.nthreads, options_.resources, kMaxQueuedPerThread,
               std::chrono::duration<double>(options_.io_thread_task_limit).count()),
        executor_(options_.nthreads, registry, *store_, [this](TaskOutcome outcome) { queue_outcome(std::move(outcome)); }) {
    std::string host = options_.host.empty() ? scheduler_->local_host() : options_.host;
    data_address_ = advertised_address(*acceptor_, host, tls_ != nullptr);
    if (options_.name.empty()) options_.name = data_address_;
    disk_io_->deliver = [this](msg::WorkerActivity activity) { report_activity(activity); };
    if (http_) {
      http_->get("/metrics", [this](const HttpRequest&) { return metrics_response(); });
      http_->get("/health", [](const HttpRequest&) { return HttpResponse{200, "text/plain", "ok\n"}; });
    }
  }

  ~Impl() {
    if (http_) http_->stop();  // its threads read metrics_
    executor_.stop();
    alive_.reset();     // disk jobs finishing from here on post nothing back
    disk_pool_.join();  // before the store they use goes
  }

  const std::string& data_address() const { return data_address_; }
  const std::string& name() const { return options_.name; }
  std::string dashboard_address() const { return http_ ? http_->url(options_.host) : ""; }

  void start(std::function<void(const Status&)> on_stopped, std::function<void()> on_registered) {
    on_stopped_ = std::move(on_stopped);
    on_registered_ = std::move(on_registered);
    register_with_scheduler();
    accept();
    if (options_.memory_limit > 0) monitor_memory();
    if (http_) {
      publish_metrics();
      http_->start();
    }
  }

  void stop() {
    asio::post(io_, [this] { shutdown(Status::cancelled("worker stopping")); });
  }

  void retire(std::chrono::milliseconds timeout) {
    asio::post(io_, [this, timeout] {
      if (!registered_ || retiring_) return shutdown(Status::cancelled("worker stopping"));
      retiring_ = true;
      logger_->info("asking the scheduler to retire this worker (its unique results move elsewhere first)");
      scheduler_->send(msg::RetireWorkers{0, {}});
      // Should the scheduler never answer, leave anyway.
      retire_timer_.expires_after(timeout);
      retire_timer_.async_wait([this](const std::error_code& ec) {
        if (!ec) shutdown(Status::cancelled("worker stopping: the scheduler did not retire it in time"));
      });
    });
  }

 private:
  // ---- scheduler link --------------------------------------------------------

  /// Greets the scheduler on scheduler_ and registers, listing the results
  /// this worker holds (none at first; after a scheduler restart, what it kept).
  void register_with_scheduler() {
    scheduler_->start([this](Message&& message) { on_scheduler_message(std::move(message)); },
                      [this](const Status& why) { on_scheduler_lost(why); });
    scheduler_->send(msg::Handshake{kProtocolVersion, PeerRole::kWorker, options_.name, options_.auth_token});
    msg::RegisterWorker registration{options_.name, data_address_, options_.nthreads, options_.memory_limit,
                                     options_.resources, {}, options_.gpu};
    // Copies fetched for local tasks are not results this worker owns.
    registration.held = state_.held();
    scheduler_->send(registration);
  }

  /// A scheduler with a journal comes back: keep the results, wait for it.
  void on_scheduler_lost(const Status& why) {
    if (stopped_) return;
    if (!resumable_ || retiring_ || options_.reconnect_timeout.count() == 0) return shutdown(why);
    logger_->warn("lost the scheduler ({}); keeping {} results and reconnecting for up to {} s", why.message(),
                  store_->size(), options_.reconnect_timeout.count() / 1000.0);
    registered_ = false;
    heartbeat_timer_.cancel();
    forget_assignments();
    reconnect_deadline_ = std::chrono::steady_clock::now() + options_.reconnect_timeout;
    reconnect(std::chrono::milliseconds(100));
  }

  /// Tasks the old scheduler sent and that have not started are dropped: the
  /// restarted one hands out work again. Running ones finish; their results
  /// are reported with the rest when the worker re-registers.
  void forget_assignments() {
    apply(state_.scheduler_lost());
    report_ = {};
  }

  void reconnect(std::chrono::milliseconds delay) {
    reconnect_timer_.expires_after(delay);
    reconnect_timer_.async_wait([this, delay](const std::error_code& ec) {
      if (ec || stopped_) return;
      async_connect_tcp(
          io_, options_.scheduler, options_.limits, logger_,
          [this, delay](Result<ConnectionPtr> result) {
            if (stopped_) return;
            if (result.ok()) {
              logger_->info("reconnected to scheduler {}", options_.scheduler.to_string());
              scheduler_ = *result;
              return register_with_scheduler();
            }
            if (std::chrono::steady_clock::now() >= reconnect_deadline_) {
              return shutdown(Status::disconnected("could not reconnect to scheduler " +
                                                   options_.scheduler.to_string() + ": " + result.status().message()));
            }
            reconnect(std::min(delay * 2, std::chrono::milliseconds(5000)));  // back-off
          },
          tls_);
    });
  }

  void on_scheduler_message(Message&& message) {
    if (auto* batch = std::get_if<msg::ComputeTaskBatch>(&message)) {
      on_compute(std::move(*batch));
    } else if (auto* free = std::get_if<msg::FreeKeys>(&message)) {
      on_free(free->keys);
    } else if (auto* acquire = std::get_if<msg::AcquireReplicas>(&message)) {
      on_acquire(std::move(*acquire));
    } else if (auto* steal = std::get_if<msg::StealRequest>(&message)) {
      on_steal(*steal);
    } else if (auto* close = std::get_if<msg::CloseWorker>(&message)) {
      logger_->info("the scheduler retired this worker: {}", close->reason);
      shutdown(Status::cancelled("retired: " + close->reason));
    } else if (auto* reply = std::get_if<msg::HandshakeReply>(&message)) {
      if (!reply->ok) return shutdown(Status::invalid("scheduler refused this worker: " + reply->error));
      resumable_ = reply->resumable;
    } else if (auto* registered = std::get_if<msg::WorkerRegistered>(&message)) {
      heartbeat_interval_ = std::chrono::milliseconds(registered->heartbeat_interval_ms);
      logger_->info("registered with scheduler {} as {}", options_.scheduler.to_string(), options_.name);
      registered_ = true;
      heartbeat();
      schedule_report();  // what finished while the scheduler was away
      if (on_registered_) std::exchange(on_registered_, nullptr)();
    } else {
      logger_->warn("ignoring unexpected {} from the scheduler", message_kind_name(message.index()));
    }
  }

  void on_compute(msg::ComputeTaskBatch batch) { apply(state_.compute(std::move(batch))); }

  /// Copies results a retiring worker holds alone (graceful retire).
  void on_acquire(const msg::AcquireReplicas& request) { apply(state_.acquire(request.holder, request.keys)); }

  /// Work stealing: the state machine gives up what has not started. The
  /// answer goes at once: a refusal may overtake the report of the task
  /// finishing, which the scheduler expects.
  void on_steal(const msg::StealRequest& request) { apply(state_.steal(request.items)); }

  void on_free(const std::vector<std::string>& keys) {
    keys_released_ += keys.size();
    apply(state_.free_keys(keys));
  }

  /// On an executor thread. Outcomes that arrive while the io thread is busy
  /// wait for the one drain already posted, so a burst of small tasks costs
  /// one wake-up of the io thread and one report frame, not one per task.
  void queue_outcome(TaskOutcome outcome) {
    bool first = false;
    {
      std::lock_guard lock(outcomes_mutex_);
      first = outcomes_.empty();
      outcomes_.push_back(std::move(outcome));
    }
    if (first) asio::post(io_, [this] { drain_outcomes(); });
  }

  void drain_outcomes() {
    std::vector<TaskOutcome> outcomes;
    {
      std::lock_guard lock(outcomes_mutex_);
      outcomes.swap(outcomes_);
    }
    for (const TaskOutcome& outcome : outcomes) {
      ++tasks_finished_;
      apply(state_.task_done(outcome));
    }
    // Every outcome at hand is in the report already: waiting a turn of the
    // loop would only add latency to each hop of a chain.
    flush_report();
  }

  /// Carries out what the state machine decided.
  void apply(Instructions instructions) {
    // A sum over a million inputs drops half a million fetched copies as it
    // finishes: its report goes first, not after those erases.
    const bool report_first = instructions.has_report() && instructions.drop.size() >= kDropsThatSendTheReportFirst;
    if (report_first) {
      queue_report(instructions.report);
      flush_report();
    }
    store_->erase_all(instructions.drop);
    for (FetchInstruction& fetch_keys : instructions.fetch) fetch(fetch_keys.holder, std::move(fetch_keys.keys));
    std::optional<ReadyTask> here;  // runs once the rest is carried out
    for (ReadyTask& task : instructions.execute) {
      if (task.on_io_thread && !running_here_ && !here) {
        here = std::move(task);
      } else {
        executor_.submit(std::move(task));
      }
    }
    for (const std::string& warning : instructions.warnings) logger_->warn("{}", warning);
    if (!instructions.steal_answers.empty()) {
      scheduler_->send(msg::StealResponse{std::move(instructions.steal_answers)});
    }
    if (!report_first && instructions.has_report()) {
      queue_report(instructions.report);
      schedule_report();
    }
    if (here) run_here(std::move(*here));
  }

  /// A lone tiny task (WorkerState::runs_on_io_thread) runs on this thread:
  /// its round trip skips waking an executor thread and being woken by it.
  /// What it makes ready goes to the executor (running_here_), so one turn
  /// of the loop runs one such task at most.
  void run_here(ReadyTask task) {
    running_here_ = true;
    std::optional<TaskOutcome> outcome = executor_.run_here(task);
    if (!outcome) {
      executor_.submit(std::move(task));  // an input is on disk: read back off this thread
      running_here_ = false;
      return;
    }
    ++tasks_finished_;
    ++tasks_run_here_;
    if (store_->over_target()) spill_soon();
    apply(state_.task_done(*outcome));
    running_here_ = false;
    flush_report();  // at once, as drain_outcomes does
  }

  /// Adds `report` to the one the next flush_report() sends.
  void queue_report(msg::WorkerReport& report) {
    auto append = [](auto& to, auto& from) { to.insert(to.end(), std::make_move_iterator(from.begin()),
                                                     std::make_move_iterator(from.end())); };
    append(report_.finished, report.finished);
    append(report_.erred, report.erred);
    append(report_.missing, report.missing);
    append(report_.acquired, report.acquired);
  }

  /// Transfers and spills travel with the next report, for the task stream.
  void report_activity(msg::WorkerActivity activity) {
    report_.activity.push_back(activity);
    schedule_report();
  }

  /// Reports go out once per turn of the event loop, so completions that
  /// arrive together travel in one frame.
  void schedule_report() {
    if (report_scheduled_) return;
    report_scheduled_ = true;
    asio::post(io_, [this] {
      report_scheduled_ = false;
      flush_report();
    });
  }

  void flush_report() {
    if (stopped_ || !registered_ ||
        (report_.finished.empty() && report_.erred.empty() && report_.activity.empty() && report_.missing.empty() &&
         report_.acquired.empty())) {
      return;
    }
    scheduler_->send(Message(std::exchange(report_, {})));
  }

  // ---- file I/O off the io thread -------------------------------------------

  /// Runs `job` on a disk thread; `then` gets its result back on the io
  /// thread, unless the worker is gone by then.
  template <typename Job, typename Then>
  void on_disk(Job job, Then then) {
    asio::post(disk_pool_, [this, job = std::move(job), then = std::move(then),
                            alive = std::weak_ptr<bool>(alive_)]() mutable {
      auto result = job();
      asio::post(io_, [alive, then = std::move(then), result = std::move(result)]() mutable {
        if (alive.lock()) then(std::move(result));
      });
    });
  }

  /// Values put on the io thread (SpillOnPut::kLater) are spilled here, one
  /// pass at a time: puts during a pass ask for the next one.
  void spill_soon() {
    if (spill_requested_.exchange(true)) return;
    asio::post(disk_pool_, [this] {
      spill_requested_ = false;
      store_->spill_to_target();
    });
  }

  // ---- fetching from peers ---------------------------------------------------

  void fetch(const std::string& address, std::vector<std::string> keys) {
    std::uint64_t id = next_request_id_++;
    requests_[id] = FetchRequest{address, keys, wall_clock_seconds()};
    PeerLink& link = peers_[address];
    link.in_flight.insert(id);
    msg::GetData request{id, std::move(keys)};
    if (link.connection) {
      link.connection->send(request);
      return;
    }
    bool connecting = !link.queued.empty();
    link.queued.push_back(std::move(request));
    if (!connecting) connect_peer(address);
  }

  void connect_peer(const std::string& address) {
    auto parsed = parse_address(address);
    if (!parsed.ok()) return peer_failed(address, parsed.status());
    async_connect_tcp(
        io_, *parsed, options_.limits, logger_,
        [this, address](Result<ConnectionPtr> result) {
      if (stopped_) return;
      if (!result.ok()) return peer_failed(address, result.status());
      ConnectionPtr connection = *result;
      PeerLink& link = peers_[address];
      link.connection = connection;
      connection->start([this](Message&& message) { on_peer_message(std::move(message)); },
                        [this, address](const Status& why) { peer_failed(address, why); });
      connection->send(msg::Handshake{kProtocolVersion, PeerRole::kPeer, options_.name, options_.auth_token});
      for (msg::GetData& request : link.queued) connection->send(request);
      link.queued.clear();
        },
        tls_);
  }

  void on_peer_message(Message&& message) {
    if (auto* reply = std::get_if<msg::DataReply>(&message)) {
      auto request = requests_.extract(reply->request_id);
      if (request.empty()) return;
      peers_[request.mapped().address].in_flight.erase(reply->request_id);
      std::uint64_t nbytes = 0;
      for (const msg::KeyValue& item : reply->values) nbytes += item.found ? item.value.nbytes() : 0;
      transfer_bytes_ += nbytes;
      ++transfers_;
      report_activity({ActivityKind::kTransfer, request.mapped().start_time, wall_clock_seconds(), nbytes});
      const std::string& holder = request.mapped().address;
      std::vector<FetchedCopy> arrived;
      arrived.reserve(reply->values.size());
      for (msg::KeyValue& item : reply->values) {
        if (!item.found) {
          apply(state_.fetch_failed(item.key, holder, "not found on " + holder));
          continue;
        }
        FetchedCopy& copy = arrived.emplace_back(FetchedCopy{std::move(item.key), item.value.nbytes(), item.value.type_name()});
        // A copy nothing here needs any more is not stored at all.
        if (state_.fetch_wanted(copy.key)) store_->put(copy.key, std::move(item.value), SpillOnPut::kLater);
      }
      apply(state_.fetched(std::move(arrived)));  // one event for the reply
      spill_soon();
    } else if (auto* hello = std::get_if<msg::HandshakeReply>(&message); hello && !hello->ok) {
      logger_->warn("peer refused the connection: {}", hello->error);
    }
  }

  void peer_failed(const std::string& address, const Status& why) {
    auto it = peers_.find(address);
    if (it == peers_.end()) return;
    PeerLink link = std::move(it->second);
    peers_.erase(it);
    for (std::uint64_t id : link.in_flight) {
      auto request = requests_.extract(id);
      if (request.empty()) continue;
      for (const std::string& key : request.mapped().keys) {
        apply(state_.fetch_failed(key, address, "fetch from " + address + " failed: " + why.message()));
      }
    }
  }

  // ---- data server: peers and clients fetch from here ------------------------

  void accept() {
    acceptor_->async_accept([this](const std::error_code& ec, asio::ip::tcp::socket socket) {
      if (stopped_) return;
      if (ec) return accept_failed(ec);
      if (accept_failing_) logger_->info("data port accepting connections again");
      accept_failing_ = false;
      accept_connection(std::move(socket), tls_, options_.limits, options_.handshake_timeout, logger_,
                        [this](ConnectionPtr connection) {
                          if (stopped_) return connection->close(Status::cancelled("worker stopping"));
                          serve(std::move(connection));
                        });
      accept();
    });
  }

  /// Out of file descriptors (EMFILE), say: the pending connection keeps the
  /// listener readable, so accepting again at once would spin a core. Wait a
  /// little, warn once per episode, and go on: closing connections (the
  /// handshake deadline among them) frees descriptors.
  void accept_failed(const std::error_code& ec) {
    if (!accept_failing_) {
      logger_->warn("data port accept failed: {}; retrying every {} ms until it succeeds", ec.message(),
                    kAcceptRetryDelay.count());
    }
    accept_failing_ = true;
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](const std::error_code& timer_ec) {
      if (!timer_ec && !stopped_) accept();
    });
  }

  void serve(ConnectionPtr connection) {
    Connection* raw = connection.get();
    served_.emplace(raw, ServedConnection{connection, false});
    connection->start([this, raw](Message&& message) { on_data_request(*raw, std::move(message)); },
                      [this, raw](const Status&) { served_.erase(raw); });
  }

  /// A peer or client must greet first: its Handshake carries the protocol
  /// version and, when this worker has one, the auth token.
  void on_data_request(Connection& connection, Message&& message) {
    auto served = served_.find(&connection);
    if (served == served_.end()) return;
    if (!served->second.greeted) {
      const auto* hello = std::get_if<msg::Handshake>(&message);
      std::string refused;
      if (hello == nullptr) {
        refused = "expected a handshake first";
      } else if (hello->protocol_version != kProtocolVersion) {
        refused = "protocol version mismatch";
      } else {
        refused = check_auth_token(hello->auth_token, options_.auth_token);
      }
      if (!refused.empty()) {
        logger_->warn("closing data connection from {}: {}", connection.peer(), refused);
        connection.send(msg::HandshakeReply{false, refused, options_.name});
        connection.close(Status::invalid(refused));
        return;
      }
      served->second.greeted = true;
      // Only now may it send frames of full size (PutData), and the handshake deadline no longer applies.
      connection.admit();
      connection.send(msg::HandshakeReply{true, "", options_.name});
      return;
    }
    if (auto* request = std::get_if<msg::GetData>(&message)) {
      serve_get(served->second.connection, std::move(*request));
    } else if (auto* put = std::get_if<msg::PutData>(&message)) {
      for (msg::KeyValue& item : put->values) {
        const std::uint64_t value_bytes = item.value.nbytes();
        std::string type_name = item.value.type_name();
        store_->put(item.key, std::move(item.value), SpillOnPut::kLater);
        apply(state_.data_put(item.key, value_bytes, std::move(type_name)));
      }
      // Answered once the store is back under its target, as when put() spilled
      // inline: a client scattering more than fits then waits for the disk.
      on_disk([this] { store_->spill_to_target(); return true; },
              [connection = served->second.connection, id = put->request_id](bool) {
                connection->send(msg::PutDataReply{id, true, ""});
              });
    } else {
      logger_->warn("closing data connection from {}: unexpected {}", connection.peer(),
                    message_kind_name(message.index()));
      connection.close(Status::invalid("unexpected message"));
    }
  }

  /// Values in RAM are answered at once; a request naming a spilled value is
  /// answered from a disk thread, which reads it back (Connection::send is
  /// thread-safe), so the io thread never waits on a file.
  void serve_get(const ConnectionPtr& connection, msg::GetData request) {
    msg::DataReply reply{request.request_id, {}};
    reply.values.reserve(request.keys.size());
    for (const std::string& key : request.keys) {  // not moved: a spilled key hands the whole request on
      bool spilled = false;
      auto value = store_->get_in_memory(key, &spilled);
      if (spilled) {
        asio::post(disk_pool_, [this, connection, request = std::move(request)]() mutable {
          msg::DataReply from_disk{request.request_id, {}};
          from_disk.values.reserve(request.keys.size());
          for (std::string& wanted : request.keys) {
            auto read = store_->get(wanted);
            from_disk.values.push_back({std::move(wanted), read.has_value(), read ? std::move(*read) : Value()});
          }
          connection->send(Message(std::move(from_disk)));
        });
        return;
      }
      reply.values.push_back({key, value.has_value(), value ? std::move(*value) : Value()});
    }
    connection->send(Message(std::move(reply)));  // moved: a copy of a big reply doubles its memory
  }

  // ---- lifecycle -------------------------------------------------------------

  void heartbeat() {
    if (stopped_) return;
    send_heartbeat();
    // Results dropped leave glibc holding their memory, and emptied tables
    // their slots. Tasks run do not count towards a trim: while a graph runs,
    // what its tasks freed is asked for again, and each page handed back
    // would be faulted in anew (docs/design.md, memory per task).
    state_.shrink_empty_tables();
    store_->shrink_if_empty();
    if (trimmer_.maybe_trim(keys_released_)) {
      logger_->debug("returned freed memory to the system in {:.1f} ms", 1e3 * trimmer_.last_trim_seconds());
    }
    heartbeat_timer_.expires_after(heartbeat_interval_);
    heartbeat_timer_.async_wait([this](const std::error_code& ec) {
      if (!ec) heartbeat();
    });
  }

  // ---- /metrics ----------------------------------------------------------------

  /// Runs on the io thread (at start and with every heartbeat).
  void publish_metrics() {
    DataStoreStats stats = store_->stats();
    auto m = std::make_shared<WorkerMetrics>();
    m->name = options_.name;
    m->nthreads = options_.nthreads;
    m->executing = executor_.executing();
    m->ready = static_cast<std::uint32_t>(state_.not_started());
    m->stored_keys = stats.keys;
    m->managed_bytes = stats.managed_bytes;
    m->spilled_bytes = stats.spilled_bytes;
    m->spilled_keys = stats.spilled_keys;
    m->spills = stats.spills;
    m->unspills = stats.unspills;
    m->process_memory = process_rss_bytes() / options_.workers_in_process;
    m->memory_limit = options_.memory_limit;
    m->paused = paused_;
    m->tasks_finished = tasks_finished_;
    m->tasks_run_on_io_thread = tasks_run_here_;
    m->transfer_bytes = transfer_bytes_;
    m->transfers = transfers_;
    metrics_.publish(std::move(m));
  }

  /// Runs on an HTTP thread.
  HttpResponse metrics_response() const {
    auto metrics = metrics_.get();
    if (!metrics) return {503, "text/plain", "starting\n"};
    return {200, "text/plain; version=0.0.4; charset=utf-8", worker_metrics_text(*metrics)};
  }

  void send_heartbeat() {
    // Recycled chunk buffers nobody reused lately go back to the OS, so an
    // idle worker's RSS falls to what it holds.
    LargeBufferPool::instance().release_idle(kIdleBufferRelease);
    if (http_) publish_metrics();
    DataStoreStats stats = store_->stats();
    msg::Heartbeat beat;
    beat.managed_bytes = stats.managed_bytes;
    beat.stored_keys = stats.keys;
    beat.executing = executor_.executing();
    beat.ready_tasks = static_cast<std::uint32_t>(state_.not_started());
    beat.spilled_bytes = stats.spilled_bytes;
    beat.spilled_keys = stats.spilled_keys;
    beat.process_memory = process_rss_bytes() / options_.workers_in_process;
    beat.memory_limit = options_.memory_limit;
    beat.paused = paused_;
    scheduler_->send(beat);
  }

  /// Every memory_monitor_interval: spill while process memory is above the
  /// spill threshold, and pause or resume around the pause one. The check
  /// (which may write spill files for seconds) runs on a disk thread; its
  /// verdict comes back here, and the next check is armed only then.
  void monitor_memory() {
    if (stopped_) return;
    on_disk([this] { return store_->check_process_memory(); },
            [this](MemoryCheck check) {
              if (stopped_) return;
              memory_checked(check);
              memory_timer_.expires_after(options_.memory_monitor_interval);
              memory_timer_.async_wait([this](const std::error_code& ec) {
                if (!ec) monitor_memory();
              });
            });
  }

  void memory_checked(const MemoryCheck& check) {
    if (check.unmanaged_over_pause && !warned_unmanaged_) {
      logger_->warn("process memory {} is above the pause threshold of the {} limit, but no result is left to "
                    "spill: the excess is unmanaged memory, so the worker keeps running tasks",
                    format_byte_size(check.process_memory), format_byte_size(options_.memory_limit));
    }
    warned_unmanaged_ = check.unmanaged_over_pause;
    if (check.pause == paused_) return;
    paused_ = check.pause;
    apply(state_.set_paused(paused_));
    const MemoryPolicy& policy = store_->policy();
    if (paused_) {
      logger_->warn("paused: process memory {} is above {:.0f}% of the {} limit; no new tasks start",
                    format_byte_size(check.process_memory), policy.pause * 100, format_byte_size(options_.memory_limit));
    } else {
      logger_->info("resumed: process memory {} is below {:.0f}% of the {} limit",
                    format_byte_size(check.process_memory), policy.pause * 100, format_byte_size(options_.memory_limit));
    }
    // The scheduler hears of it now, not at the next heartbeat.
    if (registered_) send_heartbeat();
  }

  void shutdown(const Status& why) {
    if (stopped_) return;
    stopped_ = true;
    if (why.code() != StatusCode::kCancelled) logger_->error("worker stopping: {}", why.message());
    std::error_code ignored;
    acceptor_->close(ignored);
    heartbeat_timer_.cancel();
    memory_timer_.cancel();
    retire_timer_.cancel();
    reconnect_timer_.cancel();
    accept_retry_timer_.cancel();
    scheduler_->close(why);
    for (auto& [address, link] : peers_) {
      if (link.connection) link.connection->close(Status::cancelled("worker stopping"));
    }
    for (auto& [raw, served] : served_) served.connection->close(Status::cancelled("worker stopping"));
    executor_.stop();
    disk_pool_.stop();  // queued disk jobs are dropped; one running finishes (joined when the worker goes)
    if (on_stopped_) {
      auto callback = std::move(on_stopped_);
      callback(why);
    }
  }

  asio::io_context& io_;
  WorkerOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  TlsContextPtr tls_;  // null: plain TCP
  ConnectionPtr scheduler_;
  asio::steady_timer heartbeat_timer_;
  asio::steady_timer memory_timer_;
  asio::steady_timer retire_timer_;
  asio::steady_timer reconnect_timer_;
  std::chrono::steady_clock::time_point reconnect_deadline_;
  bool resumable_ = false;  // the scheduler keeps a journal: reconnect when it is lost
  asio::steady_timer accept_retry_timer_;
  bool accept_failing_ = false;  // warned about a failing accept; waiting to succeed again
  std::chrono::milliseconds heartbeat_interval_{1000};
  std::string data_address_;
  std::function<void(const Status&)> on_stopped_;
  std::function<void()> on_registered_;
  bool stopped_ = false;
  bool registered_ = false;
  bool retiring_ = false;  // asked the scheduler to retire it (SIGTERM)
  bool paused_ = false;  // as last told to the state machine
  bool warned_unmanaged_ = false;  // the unmanaged-memory warning is logged once per episode

  std::unique_ptr<DataStore> store_;  // removes its spill directory when the worker goes
  // Spills and read-backs of spilled values: after store_, so it is joined first.
  asio::thread_pool disk_pool_;
  std::atomic<bool> spill_requested_{false};  // a spill_to_target pass is queued
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // disk jobs post back only while it is set
  std::shared_ptr<DiskIoRelay> disk_io_;
  std::unique_ptr<HttpServer> http_;  // null without --dashboard-address
  SnapshotSlot<WorkerMetrics> metrics_;
  std::uint64_t tasks_finished_ = 0;
  std::uint64_t tasks_run_here_ = 0;  // of those, run on the io thread
  bool running_here_ = false;         // in run_here()
  std::uint64_t keys_released_ = 0;  // by the scheduler (FreeKeys), for trimmer_
  MemoryTrimmer trimmer_;
  std::uint64_t transfer_bytes_ = 0;
  std::uint64_t transfers_ = 0;
  std::mutex outcomes_mutex_;
  std::vector<TaskOutcome> outcomes_;  // finished on executor threads, not yet seen by state_
  WorkerState state_;  // every key this worker knows, and what it is doing with it
  std::unordered_map<std::string, PeerLink> peers_;
  std::unordered_map<std::uint64_t, FetchRequest> requests_;
  std::unordered_map<Connection*, ServedConnection> served_;
  std::uint64_t next_request_id_ = 1;
  msg::WorkerReport report_;
  bool report_scheduled_ = false;

  Executor executor_;  // last: its threads use the members above
};

Result<std::unique_ptr<Worker>> Worker::make(asio::io_context& io, WorkerOptions options, const OpRegistry& registry,
                                             std::shared_ptr<spdlog::logger> logger) {
  // glibc raises its mmap threshold after a large block is freed (up to 32 MiB),
  // so later chunk-sized buffers come from the heap and stay there when freed:
  // RSS would never fall after a spill or a release, and the memory monitor
  // would spill and pause on memory nobody holds. Fixing the threshold turns
  // off that adjustment: every buffer of 1 MiB or more is its own mapping,
  // returned to the OS by free(). Process-wide, so every worker in a process
  // (LocalCluster) gets it from here.
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  LargeBufferPool::instance().set_limit(buffer_pool_limit(options.memory_limit));
  DataStoreOptions store_options;
  store_options.memory_limit = options.memory_limit;
  store_options.policy = options.memory_policy;
  store_options.local_directory = options.local_directory;
  store_options.logger = logger;
  if (options.workers_in_process == 0) return Status::invalid("workers_in_process must be at least 1");
  if (options.workers_in_process > 1) {
    store_options.process_memory = [n = options.workers_in_process] { return process_rss_bytes() / n; };
  }
  auto disk_io = std::make_shared<DiskIoRelay>();
  store_options.on_disk_io = [&io, relay = std::weak_ptr<DiskIoRelay>(disk_io)](bool spill, double start,
                                                                               double stop, std::uint64_t nbytes) {
    msg::WorkerActivity activity{spill ? ActivityKind::kSpill : ActivityKind::kUnspill, start, stop, nbytes};
    asio::post(io, [relay, activity] {
      if (auto target = relay.lock(); target && target->deliver) target->deliver(activity);
    });
  };
  std::unique_ptr<HttpServer> http;
  if (!http_address_disabled(options.dashboard_address)) {
    DTASK_ASSIGN_OR_RETURN(http, HttpServer::make(options.dashboard_address, logger));
  }
  // The data port is a server too, so a TLS worker needs a certificate.
  DTASK_ASSIGN_OR_RETURN(TlsContextPtr tls, make_tls_context(options.tls, /*server=*/true));
  DTASK_ASSIGN_OR_RETURN(std::unique_ptr<DataStore> store, DataStore::make(std::move(store_options)));
  Address listen{options.host.empty() ? "0.0.0.0" : options.host, options.port};
  DTASK_ASSIGN_OR_RETURN(auto acceptor, listen_tcp(io, listen));
  DTASK_ASSIGN_OR_RETURN(ConnectionPtr scheduler,
                         connect_tcp(io, options.scheduler, options.limits, logger, options.connect_timeout, tls));
  auto impl = std::make_unique<Impl>(io, std::move(options), registry, std::move(logger), std::move(acceptor),
                                     std::move(tls), std::move(scheduler), std::move(store), std::move(disk_io),
                                     std::move(http));
  return std::unique_ptr<Worker>(new Worker(std::move(impl)));
}

Worker::Worker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Worker::~Worker() = default;
const std::string& Worker::data_address() const { return impl_->data_address(); }
const std::string& Worker::name() const { return impl_->name(); }
std::string Worker::dashboard_address() const { return impl_->dashboard_address(); }
void Worker::start(std::function<void(const Status&)> on_stopped, std::function<void()> on_registered) {
  impl_->start(std::move(on_stopped), std::move(on_registered));
}
void Worker::stop() { impl_->stop(); }
void Worker::retire(std::chrono::milliseconds timeout) { impl_->retire(timeout); }

}  // namespace dtask::worker
