#include "scheduler/scheduler_server.h"

#include <spdlog/spdlog.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include "common/cpu_clock.h"
#include "common/logging.h"
#include "common/memory_trim.h"
#include "common/message_codec.h"
#include "common/snapshot_slot.h"
#include "common/tcp_connection.h"
#include "scheduler/dashboard_json.h"
#include "scheduler/dashboard_server.h"
#include "scheduler/journal.h"
#include "scheduler/journal_replay.h"
#include "scheduler/retirement.h"
#include "scheduler/snapshot.h"

namespace dtask::scheduler {

namespace {

/// One accepted connection and what it turned out to be after its handshake.
struct Peer {
  enum class Role { kUnknown, kClient, kWorkerPending, kWorker, kRetired };
  ConnectionPtr connection;
  Role role = Role::kUnknown;
  std::string name;
  ClientState* client = nullptr;
  WorkerState* worker = nullptr;
  /// Keys this worker may drop, waiting (SchedulerServer's kFreeDelay at
  /// most) to travel ahead of the next message to it.
  std::vector<std::string> keys_to_free;
};

/// How long a worker's freed keys may wait for a message to travel with: a
/// submit-result loop's release then reaches the worker with its next task,
/// in one write, instead of in a write (and a wake-up) of its own.
constexpr std::chrono::milliseconds kFreeDelay{2};

}  // namespace

class SchedulerServer::Impl {
 public:
  Impl(asio::io_context& io, SchedulerOptions options, std::shared_ptr<spdlog::logger> logger,
       std::unique_ptr<asio::ip::tcp::acceptor> acceptor, TlsContextPtr tls)
      : io_(io),
        options_(std::move(options)),
        logger_(std::move(logger)),
        acceptor_(std::move(acceptor)),
        tls_(std::move(tls)),
        heartbeat_timer_(io),
        steal_timer_(io),
        free_timer_(io),
        snapshot_timer_(io),
        recovery_timer_(io),
        accept_retry_timer_(io),
        graph_(options_.graph, logger_),
        retirements_(graph_, retirement_effects(), options_.retire_timeout, logger_) {
    address_ = advertised_address(*acceptor_, options_.listen.host, tls_ != nullptr);
    count_codec_time();  // reported in scheduler_info's counters
    graph_.send_statuses_early([this](auto statuses) { send_statuses(statuses); });
  }

  // The HTTP threads read members of this object: they stop first.
  ~Impl() {
    if (dashboard_) dashboard_->stop();
  }

  /// Binds the dashboard's port unless it is turned off.
  Status open_dashboard() {
    if (http_address_disabled(options_.dashboard_address)) return Status::success();
    DashboardActions actions;
    actions.lookup = [this](const std::string& key) { return lookup_task(key); };
    actions.retire = [this](const std::vector<std::string>& names, std::size_t n) { return retire_from_http(names, n); };
    actions.retire_deadline = options_.retire_timeout + std::chrono::seconds(5);
    DTASK_ASSIGN_OR_RETURN(dashboard_,
                           DashboardServer::make(options_.dashboard_address, snapshots_, std::move(actions), logger_));
    if (options_.dashboard_requires_token) {
      if (options_.auth_token.empty()) {
        return Status::invalid("the dashboard can require the auth token only when one is given (--auth-token-file)");
      }
      dashboard_->require_token(options_.auth_token);
    }
    dashboard_url_ = dashboard_->url();
    return Status::success();
  }

  const std::string& address() const { return address_; }
  const std::string& dashboard_address() const { return dashboard_url_; }

  /// Opens the journal and rebuilds what it records (before start()).
  Status open_journal() {
    if (options_.journal_directory.empty()) return Status::success();
    DTASK_ASSIGN_OR_RETURN(Journal::Opened opened,
                           Journal::open(options_.journal_directory, options_.journal_sync_interval, logger_));
    journal_ = std::move(opened.journal);
    compact_journal_at_ = options_.journal_compact_bytes;
    if (opened.torn_bytes > 0) {
      logger_->warn("journal {}: cut {} bytes of a record the last scheduler did not finish writing",
                    journal_->path(), opened.torn_bytes);
    }
    if (opened.records.empty()) {
      logger_->info("journal {}: new", journal_->path());
    } else {
      ReplaySummary summary = replay_journal(graph_, opened.records);
      logger_->info("journal {}: replayed {} records: {} tasks, {} clients to reconnect, {} results to get back "
                    "from workers",
                    journal_->path(), summary.records, summary.tasks, summary.clients, summary.held_results);
      compact_journal();  // what was replayed, without what is long forgotten
    }
    graph_.record_changes(true);
    return Status::success();
  }

  void start() {
    // Restored clients are dropped if they never come back, even when no
    // result had to be waited for (nothing connected yet: every client is restored).
    if (graph_.recovering() || graph_.client_count() > 0) start_recovery_timers();
    accept();
    check_heartbeats();
    if (options_.graph.work_stealing && options_.work_stealing_interval.count() > 0) steal_periodically();
    if (dashboard_) {
      publish_snapshot();
      dashboard_->start();
    }
  }

  void stop() {
    // Not posted: an HTTP thread may be waiting on the strand (a task
    // lookup), and the strand must not wait for it in turn.
    if (dashboard_) dashboard_->stop();
    asio::post(io_, [this] {
      stopped_ = true;
      std::error_code ignored;
      acceptor_->close(ignored);
      heartbeat_timer_.cancel();
      steal_timer_.cancel();
      free_timer_.cancel();
      snapshot_timer_.cancel();
      recovery_timer_.cancel();
      accept_retry_timer_.cancel();
      for (auto& [raw, peer] : peers_) peer->connection->close(Status::cancelled("scheduler shutting down"));
    });
  }

  bool wait_for_no_clients(std::chrono::milliseconds timeout) {
    std::unique_lock lock(clients_mutex_);
    return clients_changed_.wait_for(lock, timeout, [this] { return connected_clients_ == 0; });
  }

 private:
  /// Publishes client_peers_.size() to wait_for_no_clients.
  void count_clients() {
    {
      std::lock_guard lock(clients_mutex_);
      connected_clients_ = client_peers_.size();
    }
    clients_changed_.notify_all();
  }

  void accept() {
    acceptor_->async_accept([this](const std::error_code& ec, asio::ip::tcp::socket socket) {
      if (stopped_) return;
      if (ec) return accept_failed(ec);
      if (accept_failing_) logger_->info("accepting connections again");
      accept_failing_ = false;
      // With TLS the handshake runs first; a failed one is logged and costs that socket alone.
      accept_connection(std::move(socket), tls_, options_.limits, options_.handshake_timeout, logger_,
                        [this](ConnectionPtr connection) {
                          if (stopped_) return connection->close(Status::cancelled("scheduler shutting down"));
                          add_peer(std::move(connection));
                        });
      accept();
    });
  }

  /// Out of file descriptors (EMFILE), say: the pending connection keeps the
  /// listener readable, so accepting again at once would spin a core and
  /// flood the log. Wait a little, warn once per episode, and go on: closing
  /// connections (the handshake deadline among them) frees descriptors.
  void accept_failed(const std::error_code& ec) {
    if (!accept_failing_) {
      logger_->warn("accept failed: {}; retrying every {} ms until it succeeds", ec.message(),
                    kAcceptRetryDelay.count());
    }
    accept_failing_ = true;
    accept_retry_timer_.expires_after(kAcceptRetryDelay);
    accept_retry_timer_.async_wait([this](const std::error_code& timer_ec) {
      if (!timer_ec && !stopped_) accept();
    });
  }

  void add_peer(ConnectionPtr connection) {
    auto peer = std::make_unique<Peer>();
    peer->connection = connection;
    Peer* raw = peer.get();
    peers_.emplace(connection.get(), std::move(peer));
    connection->start([this, raw](Message&& message) { on_message(*raw, std::move(message)); },
                      [this, key = connection.get()](const Status& why) { on_close(key, why); });
  }

  void on_close(Connection* key, const Status& why) {
    auto it = peers_.find(key);
    if (it == peers_.end()) return;
    std::unique_ptr<Peer> peer = std::move(it->second);
    peers_.erase(it);
    if (peer->client != nullptr) {
      logger_->info("client {} disconnected: {}", peer->name, why.message());
      if (journal_) journal_->append(JournalRecord::Kind::kClientGone, peer->client->session);
      client_peers_.erase(peer->client);
      count_clients();
      retirements_.client_gone(*peer->client);
      graph_.remove_client(peer->client);
    }
    if (peer->worker != nullptr) {
      worker_peers_.erase(peer->worker);
      retirements_.worker_gone(*peer->worker);
      // A retiring worker that leaves on its own has not died under its
      // tasks, nor has one the scheduler's own stop disconnects.
      graph_.remove_worker(peer->worker, why.message(), peer->worker->retiring || stopped_);
      retirements_.poll(Retirements::Clock::now());
    }
    flush();
  }

  /// How graceful retirements act on workers and clients.
  Retirements::Effects retirement_effects() {
    return {
        [this](WorkerState& target, msg::AcquireReplicas request) {
          if (Peer* peer = worker_peer(&target)) send_to_worker(*peer, encode_frame(request));
        },
        [this](WorkerState& worker, const std::string& reason) {
          Peer* peer = worker_peer(&worker);
          if (peer != nullptr) {
            worker_peers_.erase(&worker);
            peer->worker = nullptr;  // its connection closing must not remove it again
            peer->role = Peer::Role::kRetired;
            send_to_worker(*peer, encode_frame(msg::CloseWorker{reason}));
          }
          graph_.remove_worker(&worker, reason, /*graceful=*/true);
        },
        [this](ClientState& client, msg::RetireWorkersReply reply) {
          flush();  // the new holders of moved results reach the client before the reply
          auto it = client_peers_.find(&client);
          if (it != client_peers_.end()) it->second->connection->send(reply);
        }};
  }

  /// Protocol errors cost the offending connection, never the daemon.
  void drop(Peer& peer, const std::string& why) {
    logger_->warn("closing connection from {}: {}", peer.connection->peer(), why);
    peer.connection->close(Status::invalid(why));
  }

  void on_message(Peer& peer, Message&& message) {
    TimedSection timed(transition_history_);
    switch (peer.role) {
      case Peer::Role::kUnknown: on_handshake(peer, message); break;
      case Peer::Role::kWorkerPending: on_register(peer, message); break;
      case Peer::Role::kClient: on_client_message(peer, std::move(message)); break;
      case Peer::Role::kWorker: on_worker_message(peer, message); break;
      case Peer::Role::kRetired: break;  // it was told to close; late reports change nothing
    }
    // Before the flush: its encodes are counted apart.
    transition_seconds_ += 1e-9 * static_cast<double>(timed.elapsed_ns());
    flush();
  }

  SchedulerCpuCounters cpu_counters() const {
    const CodecCounters& codec = codec_counters();
    return {transition_seconds_, 1e-9 * static_cast<double>(codec.decode_ns.load(std::memory_order_relaxed)),
            1e-9 * static_cast<double>(codec.encode_ns.load(std::memory_order_relaxed))};
  }

  void on_handshake(Peer& peer, const Message& message) {
    const auto* hello = std::get_if<msg::Handshake>(&message);
    if (hello == nullptr) return drop(peer, "expected a handshake first");
    if (hello->protocol_version != kProtocolVersion) {
      std::string why = "protocol version " + std::to_string(hello->protocol_version) + " not supported (scheduler speaks " +
                        std::to_string(kProtocolVersion) + ")";
      peer.connection->send(msg::HandshakeReply{false, why, options_.name});
      return drop(peer, why);
    }
    // Before anything else the peer says is acted on. The token is never logged.
    if (std::string refused = check_auth_token(hello->auth_token, options_.auth_token); !refused.empty()) {
      peer.connection->send(msg::HandshakeReply{false, refused, options_.name});
      return drop(peer, refused);
    }
    peer.name = hello->name.empty() ? peer.connection->peer() : hello->name;
    if (hello->role == PeerRole::kClient) {
      if (std::string refused = attach_client(peer, hello->session); !refused.empty()) {
        peer.connection->send(msg::HandshakeReply{false, refused, options_.name});
        return drop(peer, refused);
      }
    } else if (hello->role == PeerRole::kWorker) {
      peer.role = Peer::Role::kWorkerPending;
    } else {
      return drop(peer, "peers connect to workers, not to the scheduler");
    }
    // Only now may it send frames of full size, and the handshake deadline no longer applies.
    peer.connection->admit();
    // The dashboard's host as this peer reached us, when it listens on every interface.
    std::string dashboard = dashboard_ ? dashboard_->url(peer.connection->local_host()) : "";
    peer.connection->send(msg::HandshakeReply{true, "", options_.name, dashboard, journal_ != nullptr});
  }

  /// A client with a session a restored (or earlier) client had takes its
  /// place and its futures; any other gets a new ClientState. Returns why
  /// it is refused, or "".
  std::string attach_client(Peer& peer, const std::string& session) {
    ClientState* client = session.empty() ? nullptr : graph_.find_client(session);
    if (client != nullptr && client_peers_.count(client) > 0) {
      return "a client with session " + session + " is already connected";
    }
    peer.role = Peer::Role::kClient;
    peer.client = client != nullptr ? client : graph_.add_client(peer.name, session);
    peer.client->name = peer.name;
    client_peers_[peer.client] = &peer;
    count_clients();
    logger_->info("client {} {} from {}", peer.name, client != nullptr ? "reconnected" : "connected",
                  peer.connection->peer());
    return "";
  }

  void on_register(Peer& peer, const Message& message) {
    const auto* registration = std::get_if<msg::RegisterWorker>(&message);
    if (registration == nullptr) return drop(peer, "a worker must register after its handshake");
    auto worker = graph_.add_worker(*registration);
    if (!worker.ok()) {
      peer.connection->send(msg::HandshakeReply{false, worker.status().message(), options_.name});
      return drop(peer, worker.status().message());
    }
    peer.role = Peer::Role::kWorker;
    peer.worker = *worker;
    peer.worker->last_seen = wall_clock_seconds();
    peer.worker->last_heard = steady_seconds();
    worker_peers_[peer.worker] = &peer;
    peer.connection->send(msg::WorkerRegistered{heartbeat_interval_ms(graph_.workers().size())});
    logger_->info("worker {} registered: {} threads, data at {}", peer.worker->name, peer.worker->nthreads,
                  peer.worker->address);
  }

  void on_client_message(Peer& peer, Message&& message) {
    ClientState& client = *peer.client;
    if (journal_ && changes_client_state(message)) {
      journal_->append(JournalRecord::Kind::kClientInput, client.session, &message);  // before acting on it
    }
    if (auto* graph = std::get_if<msg::UpdateGraph>(&message)) {
      graph_.update_graph(client, std::move(*graph));
    } else if (auto* release = std::get_if<msg::ReleaseKeys>(&message)) {
      graph_.release_keys(client, release->keys);
    } else if (auto* cancel = std::get_if<msg::CancelKeys>(&message)) {
      graph_.cancel_keys(client, cancel->keys);
    } else if (auto* scattered = std::get_if<msg::KeysScattered>(&message)) {
      Status status = graph_.keys_scattered(client, *scattered);
      if (!status.ok()) logger_->warn("scatter from {}: {}", peer.name, status.message());
    } else if (auto* resume = std::get_if<msg::ResumeSession>(&message)) {
      graph_.resume_client(client, resume->keys);
    } else if (auto* retire = std::get_if<msg::RetireWorkers>(&message)) {
      Status started = retirements_.start(retire->workers, client, retire->request_id);
      if (!started.ok()) peer.connection->send(msg::RetireWorkersReply{retire->request_id, {}, started.message()});
    } else if (auto* info = std::get_if<msg::InfoRequest>(&message)) {
      peer.connection->send(msg::InfoReply{info->request_id, snapshot_json(graph_, address_, dashboard_url_, cpu_counters())});
    } else {
      drop(peer, std::string("unexpected ") + message_kind_name(message.index()) + " from a client");
    }
  }

  void on_worker_message(Peer& peer, const Message& message) {
    WorkerState& worker = *peer.worker;
    worker.last_seen = wall_clock_seconds();
    worker.last_heard = steady_seconds();
    if (const auto* report = std::get_if<msg::WorkerReport>(&message)) {
      graph_.worker_report(worker, *report);
      if (!report->acquired.empty() && !retirements_.empty()) retirements_.poll(Retirements::Clock::now());
    } else if (std::get_if<msg::RetireWorkers>(&message) != nullptr) {
      retirements_.start(worker);  // the worker got SIGTERM and asks to leave gracefully
    } else if (const auto* heartbeat = std::get_if<msg::Heartbeat>(&message)) {
      graph_.worker_heartbeat(worker, *heartbeat, worker.last_seen);
    } else if (const auto* answer = std::get_if<msg::StealResponse>(&message)) {
      graph_.steal_response(worker, *answer);
    } else {
      drop(peer, std::string("unexpected ") + message_kind_name(message.index()) + " from a worker");
    }
  }

  /// What the journal records of a client: whatever a replay must repeat.
  static bool changes_client_state(const Message& message) {
    return std::holds_alternative<msg::UpdateGraph>(message) || std::holds_alternative<msg::ReleaseKeys>(message) ||
           std::holds_alternative<msg::CancelKeys>(message) || std::holds_alternative<msg::KeysScattered>(message) ||
           std::holds_alternative<msg::ResumeSession>(message);
  }

  /// Journals what the last event changed, and writes it to the file before
  /// any peer hears of it.
  void journal_changes(Outbox& outbox) {
    for (auto& [holder, keys] : outbox.completed) {
      Message completed = msg::KeysScattered{holder, std::move(keys)};  // the compact "these keys are on that worker"
      journal_->append(JournalRecord::Kind::kCompleted, "", &completed);
    }
    if (!outbox.forgotten.empty()) {
      Message forgotten = msg::FreeKeys{std::move(outbox.forgotten)};
      journal_->append(JournalRecord::Kind::kForgotten, "", &forgotten);
    }
    for (const std::string& address : outbox.workers_gone) journal_->append(JournalRecord::Kind::kWorkerGone, address);
    (void)journal_->write();  // a failure is logged by the journal; scheduling goes on
    if (journal_->bytes() > compact_journal_at_) compact_journal();
  }

  /// Rewrites the journal as a snapshot of the present state, so that it
  /// grows with what the scheduler holds, not with everything it ever ran.
  /// Costs O(tasks) on the strand; the threshold doubles the journal at
  /// least between two compactions, so the cost per event stays constant.
  void compact_journal() {
    const std::uint64_t before = journal_->bytes();
    const auto start = std::chrono::steady_clock::now();
    Status rewritten = journal_->rewrite(journal_snapshot(graph_));
    if (!rewritten.ok()) {
      logger_->error("{}; the journal keeps growing", rewritten.message());
    } else {
      logger_->info("journal compacted from {} to {} bytes in {:.1f} ms", before, journal_->bytes(),
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    compact_journal_at_ = std::max<std::uint64_t>(options_.journal_compact_bytes, 4 * journal_->bytes());
  }

  /// Sends what the last event produced: one frame per recipient.
  void flush() {
    Outbox outbox = graph_.take_outbox();
    if (journal_) journal_changes(outbox);
    // Compute orders are encoded straight from the TaskStates, with no
    // msg::ComputeTask in between; the other messages are moved into the
    // Message they are sent as. A copy would double a big batch's memory.
    for (auto& [worker, orders] : outbox.compute) {
      if (Peer* peer = worker_peer(worker)) send_to_worker(*peer, encode_compute_tasks(ComputeOrderSource(orders)));
    }
    for (auto& [worker, free] : outbox.free) {
      if (Peer* peer = worker_peer(worker)) free_later(*peer, std::move(free.keys));
    }
    for (auto& [worker, request] : outbox.steal) {
      if (Peer* peer = worker_peer(worker)) send_to_worker(*peer, encode_frame(Message(std::move(request))));
    }
    send_statuses(outbox.statuses);
  }

  void send_statuses(ClientStatuses& statuses) {
    for (auto& [client, batch] : statuses) {
      auto it = client_peers_.find(client);
      if (it != client_peers_.end()) it->second->connection->send(Message(std::move(batch)));
    }
  }

  /// The interval a worker joining a cluster of `workers` should report at:
  /// the configured one up to 10 workers, then longer (Dask's tiers), so the
  /// scheduler's heartbeat load stays about flat as the cluster grows.
  std::uint32_t heartbeat_interval_ms(std::size_t workers) const {
    const std::uint32_t base = options_.heartbeat_interval_ms;
    if (workers <= 10) return base;
    if (workers < 50) return 2 * base;
    if (workers < 200) return 4 * base;
    return static_cast<std::uint32_t>((workers / 200 + 1) * 4 * base);
  }

  /// Every message to a registered worker goes here, so that the keys it
  /// was told to free go ahead of it, in the same write: a key freed and
  /// then computed again is freed first.
  void send_to_worker(Peer& peer, EncodedFrame frame) {
    if (peer.keys_to_free.empty()) return peer.connection->send_encoded(std::move(frame));
    EncodedFrame free = encode_frame(Message(msg::FreeKeys{std::exchange(peer.keys_to_free, {})}));
    peer.connection->send_encoded(join_frames(std::move(free), std::move(frame)));
  }

  void free_later(Peer& peer, std::vector<std::string> keys) {
    if (peer.keys_to_free.empty()) {
      peer.keys_to_free = std::move(keys);
    } else {
      peer.keys_to_free.insert(peer.keys_to_free.end(), std::make_move_iterator(keys.begin()),
                               std::make_move_iterator(keys.end()));
    }
    if (free_timer_armed_) return;
    free_timer_armed_ = true;
    free_timer_.expires_after(kFreeDelay);
    free_timer_.async_wait([this](const std::error_code& ec) {
      free_timer_armed_ = false;
      if (ec || stopped_) return;
      for (auto& [worker, peer] : worker_peers_) {
        if (!peer->keys_to_free.empty()) {
          peer->connection->send(Message(msg::FreeKeys{std::exchange(peer->keys_to_free, {})}));
        }
      }
    });
  }

  Peer* worker_peer(WorkerState* worker) {
    auto it = worker_peers_.find(worker);
    return it == worker_peers_.end() ? nullptr : it->second;
  }

  /// A round of work stealing every work_stealing_interval; its requests go
  /// out at once. Counted as transition time, like any event.
  void steal_periodically() {
    steal_timer_.expires_after(options_.work_stealing_interval);
    steal_timer_.async_wait([this](const std::error_code& ec) {
      if (ec || stopped_) return;
      TimedSection timed(steal_history_);
      if (graph_.steal_round() > 0) flush();
      transition_seconds_ += 1e-9 * static_cast<double>(timed.elapsed_ns());
      steal_periodically();
    });
  }

  void check_heartbeats() {
    heartbeat_timer_.expires_after(std::chrono::milliseconds(options_.heartbeat_interval_ms));
    heartbeat_timer_.async_wait([this](const std::error_code& ec) {
      if (ec || stopped_) return;
      if (!retirements_.empty()) {
        retirements_.poll(Retirements::Clock::now());
        flush();
      }
      const double now = steady_seconds();
      for (auto& [worker, peer] : worker_peers_) {
        if (worker->silent_for(now, options_.worker_ttl_seconds)) {
          peer->connection->close(Status::timed_out("no heartbeat from worker " + worker->name + " for " +
                                                    std::to_string(options_.worker_ttl_seconds) + " s"));
        }
      }
      trim_memory();
      check_heartbeats();
    });
  }

  /// After a big graph is forgotten, hand its memory back (common/memory_trim.h).
  void trim_memory() {
    graph_.shrink_empty_tables();
    if (trimmer_.maybe_trim(graph_.count(TaskStatus::kForgotten))) {
      logger_->debug("returned freed memory to the system in {:.1f} ms", 1e3 * trimmer_.last_trim_seconds());
    }
  }

  // ---- restart -----------------------------------------------------------------

  /// A restarted scheduler waits recovery_timeout for the workers that held
  /// results, then recomputes the rest; restored clients that have not
  /// reconnected by client_resume_timeout are dropped.
  void start_recovery_timers() {
    recovery_timer_.expires_after(options_.recovery_timeout);
    recovery_timer_.async_wait([this](const std::error_code& ec) {
      if (ec || stopped_) return;
      if (graph_.recovering()) {
        logger_->warn("recovery: not every worker that held results came back within {} ms",
                      options_.recovery_timeout.count());
        graph_.end_recovery();
      }
      drop_unclaimed_clients_at(std::chrono::steady_clock::now() + options_.client_resume_timeout -
                                options_.recovery_timeout);
      flush();
    });
  }

  void drop_unclaimed_clients_at(std::chrono::steady_clock::time_point when) {
    recovery_timer_.expires_at(when);
    recovery_timer_.async_wait([this](const std::error_code& ec) {
      if (ec || stopped_) return;
      std::vector<ClientState*> unclaimed;
      for (ClientState* client : graph_.clients()) {
        if (client_peers_.count(client) == 0) unclaimed.push_back(client);
      }
      for (ClientState* client : unclaimed) {
        logger_->warn("client {} did not reconnect after the restart: dropping its futures", client->session);
        journal_->append(JournalRecord::Kind::kClientGone, client->session);
        graph_.remove_client(client);
      }
      flush();
    });
  }

  // ---- dashboard -------------------------------------------------------------

  /// Publishes a snapshot, then again every dashboard_interval. How late the
  /// timer fires is the event loop's latency, which /metrics reports.
  void publish_snapshot() {
    auto snapshot = build_dashboard_snapshot(graph_, options_.snapshot, history_, wall_clock_seconds());
    snapshot->scheduler_address = address_;
    snapshot->dashboard_address = dashboard_url_;
    snapshot->event_loop_latency = latency_;
    snapshot->event_loop_latency_max = std::exchange(latency_max_, 0.0);
    snapshots_.publish(std::move(snapshot));
    auto due = std::chrono::steady_clock::now() + options_.dashboard_interval;
    snapshot_timer_.expires_at(due);
    snapshot_timer_.async_wait([this, due](const std::error_code& ec) {
      if (ec || stopped_) return;
      latency_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - due).count();
      latency_max_ = std::max(latency_max_, latency_);
      publish_snapshot();
    });
  }

  /// Runs on an HTTP thread; the retirement runs on the strand. With `n`,
  /// the workers are chosen there, from the live state, so that a worker
  /// given work since the caller looked is never closed.
  std::future<Result<std::vector<std::string>>> retire_from_http(const std::vector<std::string>& names, std::size_t n) {
    auto promise = std::make_shared<std::promise<Result<std::vector<std::string>>>>();
    auto answer = promise->get_future();
    asio::post(io_, [this, names, n, promise] {
      std::vector<std::string> chosen = names;
      if (n > 0) {
        for (const WorkerLoad& w : workers_to_close(worker_loads(graph_), n)) chosen.push_back(w.address);
      }
      if (chosen.empty()) return promise->set_value(std::vector<std::string>{});
      Status started = retirements_.start(chosen, [promise](std::vector<std::string> retired) {
        promise->set_value(std::move(retired));
      });
      if (!started.ok()) promise->set_value(started);
      flush();  // the copies the retirement asked for
    });
    return answer;
  }

  /// Runs on an HTTP thread; the lookup itself runs on the strand.
  std::future<std::optional<std::string>> lookup_task(const std::string& key) {
    auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
    auto answer = promise->get_future();
    asio::post(io_, [this, key, promise] {
      const TaskState* task = graph_.find(key);
      promise->set_value(task ? std::optional<std::string>(task_detail_json(*task)) : std::nullopt);
    });
    return answer;
  }

  asio::io_context& io_;
  SchedulerOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  TlsContextPtr tls_;  // null: plain TCP
  asio::steady_timer heartbeat_timer_;
  asio::steady_timer steal_timer_;
  asio::steady_timer free_timer_;  // sends keys_to_free that found no message to travel with
  bool free_timer_armed_ = false;
  asio::steady_timer snapshot_timer_;
  asio::steady_timer recovery_timer_;
  std::unique_ptr<Journal> journal_;  // null without --journal
  std::uint64_t compact_journal_at_ = 0;  // set when the journal opens
  asio::steady_timer accept_retry_timer_;
  bool accept_failing_ = false;  // warned about a failing accept; waiting to succeed again
  GraphState graph_;
  Retirements retirements_;
  SnapshotSlot<DashboardSnapshot> snapshots_;
  SnapshotHistory history_;
  double latency_ = 0;
  double latency_max_ = 0;
  std::unique_ptr<DashboardServer> dashboard_;  // after what its threads read: it stops first
  std::string dashboard_url_;
  std::string address_;
  bool stopped_ = false;
  double transition_seconds_ = 0;
  SectionHistory transition_history_;  // of on_message's sections (TimedSection)
  SectionHistory steal_history_;
  MemoryTrimmer trimmer_;  // in on_message, for SchedulerCpuCounters
  std::unordered_map<Connection*, std::unique_ptr<Peer>> peers_;
  std::unordered_map<WorkerState*, Peer*> worker_peers_;
  std::unordered_map<ClientState*, Peer*> client_peers_;

  // How many clients are connected, for threads outside the loop.
  std::mutex clients_mutex_;
  std::condition_variable clients_changed_;
  std::size_t connected_clients_ = 0;  // under clients_mutex_
};

Result<std::unique_ptr<SchedulerServer>> SchedulerServer::make(asio::io_context& io, SchedulerOptions options,
                                                               std::shared_ptr<spdlog::logger> logger) {
  DTASK_ASSIGN_OR_RETURN(TlsContextPtr tls, make_tls_context(options.tls, /*server=*/true));
  DTASK_ASSIGN_OR_RETURN(auto acceptor, listen_tcp(io, options.listen));
  auto impl = std::make_unique<Impl>(io, std::move(options), std::move(logger), std::move(acceptor), std::move(tls));
  DTASK_RETURN_NOT_OK(impl->open_journal());
  DTASK_RETURN_NOT_OK(impl->open_dashboard());
  return std::unique_ptr<SchedulerServer>(new SchedulerServer(std::move(impl)));
}

SchedulerServer::SchedulerServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SchedulerServer::~SchedulerServer() = default;
std::string SchedulerServer::address() const { return impl_->address(); }
std::string SchedulerServer::dashboard_address() const { return impl_->dashboard_address(); }
void SchedulerServer::start() { impl_->start(); }
void SchedulerServer::stop() { impl_->stop(); }
bool SchedulerServer::wait_for_no_clients(std::chrono::milliseconds timeout) {
  return impl_->wait_for_no_clients(timeout);
}

}  // namespace dtask::scheduler
