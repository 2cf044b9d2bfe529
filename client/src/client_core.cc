#include "client/src/client_core.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <random>
#include <nlohmann/json.hpp>

#include "common/graph_parts.h"
#include "common/logging.h"
#include "common/message_codec.h"
#include "common/tcp_connection.h"

namespace dtask::internal {

namespace {
constexpr const char* kSchedulerPeer = "scheduler";
/// How long a dropped future's release may wait for a message to travel
/// with (Dask's client batches its stream the same way).
constexpr std::chrono::milliseconds kReleaseDelay{2};

/// What a key's reported outcome means for its futures, naming the key.
Status outcome_status(const msg::KeyStatus& status) {
  switch (status.state) {
    case KeyOutcome::kMemory: return Status::success();
    case KeyOutcome::kErred: {
      std::string where = status.failed_key == status.key ? "" : " (its dependency " + status.failed_key + " failed)";
      // No op: the scheduler refused the task itself (a redefined or unknown key); nothing raised.
      std::string what = status.op.empty() ? ": " : ": op '" + status.op + "' raised: ";
      return Status::task_error("task " + status.key + where + what + status.message);
    }
    case KeyOutcome::kCancelled: return Status::cancelled("task " + status.key + " was cancelled");
    case KeyOutcome::kLost: return Status::not_found("result of " + status.key + " was lost: " + status.message);
  }
  return Status::internal("task " + status.key + ": unknown outcome");
}

/// 128 random bits in hex: names this client to a scheduler across restarts.
std::string new_session_id() {
  std::random_device entropy;
  std::string id;
  for (int i = 0; i < 4; ++i) id += fmt::format("{:08x}", entropy());
  return id;
}
}  // namespace

void FutureState::finish_locked(Status why) {
  error = std::move(why);
  if (done) return;  // reported again (new holders): already handed out
  done = true;
  for (auto& [weak, index] : watchers) {
    if (auto queue = weak.lock()) queue->finished.push_back(index);
  }
  watchers.clear();
}

FutureState::~FutureState() {
  if (auto owner = core.lock()) owner->release(key);
}

ClientCore::ClientCore(std::unique_ptr<asio::io_context> io, std::shared_ptr<spdlog::logger> logger,
                       std::string address, TlsContextPtr tls, std::string auth_token)
    : io_(std::move(io)),
      logger_(std::move(logger)),
      address_(std::move(address)),
      tls_(std::move(tls)),
      auth_token_(std::move(auth_token)) {}

namespace {

/// Sends `message`, in the same write as `ahead` if there is one; a big
/// graph goes in parts (common/graph_parts.h).
void send_in_parts(Connection& connection, std::optional<EncodedFrame> ahead, Message message) {
  auto send = [&](const Message& one) {
    if (!ahead) return connection.send(one);
    connection.send_encoded(join_frames(std::move(*ahead), encode_frame(one)));
    ahead.reset();
  };
  auto* graph = std::get_if<msg::UpdateGraph>(&message);
  if (graph == nullptr) return send(message);
  for (msg::UpdateGraph& part : split_graph(std::move(*graph))) send(Message(std::move(part)));
}

}  // namespace

Result<std::shared_ptr<ClientCore>> ClientCore::connect(const std::string& address, const ClientOptions& options) {
  DTASK_ASSIGN_OR_RETURN(Address parsed, parse_address(address));
  DTASK_ASSIGN_OR_RETURN(auto logger, make_logger("client", options.log_level));
  DTASK_ASSIGN_OR_RETURN(TlsContextPtr tls, make_tls_context(options.tls, /*server=*/false));
  DTASK_ASSIGN_OR_RETURN(bool secure, use_tls(parsed, tls));
  if (secure) parsed.transport = Transport::kTls;
  auto io = std::make_unique<asio::io_context>(1);
  DTASK_ASSIGN_OR_RETURN(ConnectionPtr scheduler,
                         connect_tcp(*io, parsed, FrameLimits{}, logger, options.connect_timeout, tls));
  std::shared_ptr<ClientCore> core(
      new ClientCore(std::move(io), std::move(logger), parsed.to_string(), std::move(tls), options.auth_token));
  core->scheduler_parsed_ = parsed;
  core->name_ = options.name;
  core->session_ = new_session_id();
  core->reconnect_timeout_ = options.reconnect_timeout;
  core->result_timeout_ = options.result_timeout;
  core->request_timeout_ = options.request_timeout;
  core->start(std::move(scheduler), options);
  // A refusal (wrong token, untrusted certificate) is this call's error, not
  // a later surprise on the first future.
  Status greeted = core->await_handshake(options.connect_timeout);
  if (!greeted.ok()) {
    core->close();
    return greeted;
  }
  return core;
}

Status ClientCore::await_handshake(std::chrono::milliseconds timeout) {
  std::unique_lock lock(handshake_mutex_);
  if (!handshake_done_.wait_for(lock, timeout, [this] { return handshake_received_ || !handshake_error_.ok(); })) {
    return Status::timed_out("no handshake reply from scheduler " + address_ + " within " +
                             std::to_string(timeout.count()) + " ms");
  }
  return handshake_error_;
}

void ClientCore::start(ConnectionPtr scheduler, const ClientOptions&) {
  attach_scheduler(std::move(scheduler));
  thread_ = std::thread([io = io_.get()] {
    auto guard = asio::make_work_guard(*io);
    io->run();
  });
}

void ClientCore::attach_scheduler(ConnectionPtr connection) {
  {
    std::lock_guard lock(send_mutex_);
    scheduler_ = connection;
  }
  // Handlers hold weak references: the core may go while the io thread winds down.
  std::weak_ptr<ClientCore> weak = shared_from_this();
  connection->start(
      [weak](Message&& message) {
        if (auto self = weak.lock()) self->on_scheduler_message(std::move(message));
      },
      [weak, raw = connection.get()](const Status& why) {
        auto self = weak.lock();
        // A connection given up for a newer one says nothing about the scheduler.
        if (self && raw == self->scheduler_.get()) self->on_scheduler_closed(why);
      });
  connection->send(msg::Handshake{kProtocolVersion, PeerRole::kClient, name_, auth_token_, session_});
}

void ClientCore::reconnect(std::chrono::milliseconds delay) {
  auto timer = std::make_shared<asio::steady_timer>(*io_, delay);
  timer->async_wait([timer, delay, weak = weak_from_this()](const std::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed_) return;
    async_connect_tcp(
        *self->io_, self->scheduler_parsed_, self->limits_, self->logger_,
        [delay, weak](Result<ConnectionPtr> connection) {
          auto self = weak.lock();
          if (!self || self->closed_) return;
          if (connection.ok()) {
            self->logger_->warn("reconnected to scheduler {}", self->address_);
            self->attach_scheduler(*connection);
            return self->resume_session();
          }
          if (std::chrono::steady_clock::now() >= self->reconnect_deadline_) {
            return self->give_up_reconnecting(connection.status());
          }
          self->reconnect(std::min(delay * 2, std::chrono::milliseconds(5000)));
        },
        self->tls_);
  });
}

void ClientCore::give_up_reconnecting(const Status& why) {
  logger_->error("could not reconnect to scheduler {}: {}", address_, why.message());
  {
    std::lock_guard lock(send_mutex_);
    reconnecting_ = false;
    outage_queue_.clear();
  }
  fail_pending("lost connection to scheduler " + address_ + " and could not reconnect within " +
               std::to_string(reconnect_timeout_.count() / 1000) + " s: " + why.message());
}

void ClientCore::resume_session() {
  msg::ResumeSession resume;
  {
    std::lock_guard lock(signal_->mutex);
    // Keys only: locking the states here could run a destructor under the mutex.
    for (const auto& [key, weak] : states_) {
      if (!weak.expired()) resume.keys.push_back(key);
    }
  }
  // Graphs first (the scheduler may have died before journaling some; the
  // rest it already knows), then what else was sent while away. The resume
  // goes last: it names every key still wanted, so it settles whatever order
  // the graphs and releases arrive in.
  std::lock_guard lock(send_mutex_);
  for (const auto& [id, retained] : retained_) send_in_parts(*scheduler_, std::nullopt, retained.graph);
  for (const Message& queued : outage_queue_) send_in_parts(*scheduler_, std::nullopt, queued);
  outage_queue_.clear();
  reconnecting_ = false;
  flush_releases_locked();
  scheduler_->send(resume);
}

ClientCore::~ClientCore() { close(); }

void ClientCore::close() {
  if (closed_.exchange(true)) return;
  {
    std::lock_guard lock(requests_mutex_);
    for (auto& [address, connection] : data_connections_) connection->close(Status::cancelled("client closing"));
    data_connections_.clear();
  }
  ConnectionPtr scheduler;
  {
    std::lock_guard lock(send_mutex_);
    scheduler = scheduler_;
  }
  if (scheduler) scheduler->close(Status::cancelled("client closing"));
  // Let the close frames go out, then stop the loop.
  asio::post(*io_, [io = io_.get()] { io->stop(); });
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // the last Future died on the io thread itself
    } else {
      thread_.join();
    }
  }
  fail_pending("client closed before the task finished");
}

void ClientCore::fail_pending(const std::string& why) {
  std::vector<std::shared_ptr<FutureState>> touched;  // see on_scheduler_message
  std::lock_guard lock(signal_->mutex);
  for (auto& [key, weak] : states_) {
    if (auto state = weak.lock(); state && !state->done) {
      touched.push_back(state);
      state->finish_locked(Status::disconnected(key + ": " + why));
    }
  }
  signal_->changed.notify_all();
}

std::shared_ptr<FutureState> ClientCore::state_for(const std::string& key) {
  std::lock_guard lock(signal_->mutex);
  auto& slot = states_[key];
  if (auto existing = slot.lock()) return existing;
  auto state = std::make_shared<FutureState>();
  state->key = key;
  state->core = weak_from_this();
  state->signal = signal_;
  if (closed_) {
    state->done = true;
    state->error = Status::disconnected("client is closed");
  }
  slot = state;
  return state;
}

void ClientCore::send(Message message) {
  std::lock_guard lock(send_mutex_);
  const auto* graph = std::get_if<msg::UpdateGraph>(&message);
  if (graph != nullptr && resumable_) retain_locked(*graph);
  if (reconnecting_) {
    if (graph == nullptr || !resumable_) outage_queue_.push_back(std::move(message));  // retained graphs go anyway
    return;
  }
  // Releases go first, and in the same write: one wake-up of the scheduler.
  std::optional<EncodedFrame> releases;
  if (!pending_releases_.empty()) {
    releases = encode_frame(msg::ReleaseKeys{std::exchange(pending_releases_, {})});
  }
  send_in_parts(*scheduler_, std::move(releases), std::move(message));
}

void ClientCore::send_graph(std::vector<std::string> wanted_keys,
                            const std::function<void(const GraphPartSink&)>& produce) {
  std::lock_guard graph_lock(graph_mutex_);
  bool whole;
  {
    std::lock_guard lock(send_mutex_);
    whole = resumable_;
  }
  if (whole) {
    msg::UpdateGraph graph;
    produce([&](std::vector<msg::TaskDef> tasks) {
      graph.tasks.insert(graph.tasks.end(), std::make_move_iterator(tasks.begin()), std::make_move_iterator(tasks.end()));
    });
    graph.wanted_keys = std::move(wanted_keys);
    return send(Message(std::move(graph)));
  }
  // Each part is held until the next is made: the last one, which brings
  // the wanted keys, is known only when the producer returns.
  std::optional<msg::UpdateGraph> held;
  try {
    produce([&](std::vector<msg::TaskDef> tasks) {
      if (held) send(Message(std::move(*held)));
      held.emplace();
      held->tasks = std::move(tasks);
      held->more = true;
    });
  } catch (...) {
    // Out of memory half way: an empty last part, wanting nothing, lets the
    // scheduler release the parts already sent instead of joining them to
    // the next graph.
    send(Message(msg::UpdateGraph{}));
    throw;
  }
  if (!held) held.emplace();
  held->more = false;
  held->wanted_keys = std::move(wanted_keys);
  send(Message(std::move(*held)));
}

void ClientCore::retain_locked(const msg::UpdateGraph& graph) {
  const std::uint64_t id = next_retained_++;
  RetainedGraph& retained = retained_[id];
  retained.graph = graph;
  for (const std::string& key : graph.wanted_keys) {
    auto [it, inserted] = retained_key_.try_emplace(key, id);
    if (!inserted) {
      settle_locked(key);  // the newer graph covers it
      retained_key_[key] = id;
    }
    ++retained.pending;
  }
  if (retained.pending == 0) retained_.erase(id);
}

void ClientCore::settle_locked(const std::string& key) {
  auto it = retained_key_.find(key);
  if (it == retained_key_.end()) return;
  auto graph = retained_.find(it->second);
  retained_key_.erase(it);
  if (graph != retained_.end() && --graph->second.pending == 0) retained_.erase(graph);
}

void ClientCore::release(const std::string& key) {
  // A key submitted again while its old state was dying has a new live
  // state: the old one's release would then reach the scheduler after the
  // new graph and drop the result the new futures wait for. The scheduler
  // counts one want per client, so the new state keeps the old want, and
  // its own release sends this one. Checked and queued under both locks
  // (signal_->mutex, then send_mutex_): a graph sent after the check finds
  // the release queued ahead of it.
  std::lock_guard lock(signal_->mutex);
  auto it = states_.find(key);
  if (it != states_.end()) {
    if (!it->second.expired()) return;
    states_.erase(it);
  }
  std::lock_guard send_lock(send_mutex_);
  settle_locked(key);
  pending_releases_.push_back(key);
  // Releases travel in batches, with the next message to the scheduler or
  // kReleaseDelay after the first: dropping 100k futures is one message,
  // and a submit(...).result() loop sends each release with its next graph
  // in one write, not in a write of its own that the scheduler wakes for.
  if (release_flush_armed_ || closed_) return;
  release_flush_armed_ = true;
  asio::post(*io_, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    auto timer = std::make_shared<asio::steady_timer>(*self->io_, kReleaseDelay);
    timer->async_wait([timer, weak](const std::error_code&) {
      if (auto self = weak.lock()) {
        std::lock_guard lock(self->send_mutex_);
        self->release_flush_armed_ = false;
        self->flush_releases_locked();
      }
    });
  });
}

void ClientCore::flush_releases_locked() {
  if (pending_releases_.empty() || reconnecting_) return;
  scheduler_->send(msg::ReleaseKeys{std::move(pending_releases_)});
  pending_releases_.clear();
}

void ClientCore::on_scheduler_message(Message&& message) {
  if (auto* batch = std::get_if<msg::KeyStatusBatch>(&message)) {
    // Declared before the lock: a state whose futures were all dropped
    // meanwhile dies here, and its destructor must not run under the lock.
    std::vector<std::shared_ptr<FutureState>> touched;
    std::lock_guard lock(signal_->mutex);
    for (msg::KeyStatus& status : batch->statuses) {
      auto it = states_.find(status.key);
      if (it == states_.end()) continue;
      auto state = it->second.lock();
      if (!state) continue;
      touched.push_back(state);
      state->who_has = std::move(status.who_has);
      ++state->statuses;
      if (status.value) state->value = std::move(status.value);
      state->finish_locked(outcome_status(status));
    }
    signal_->changed.notify_all();
    if (resumable_) {
      std::lock_guard send_lock(send_mutex_);  // order: signal_->mutex, then send_mutex_
      for (const msg::KeyStatus& status : batch->statuses) settle_locked(status.key);
    }
  } else if (auto* reply = std::get_if<msg::InfoReply>(&message)) {
    answer(reply->request_id, Message(std::move(*reply)));
  } else if (auto* retired = std::get_if<msg::RetireWorkersReply>(&message)) {
    answer(retired->request_id, Message(std::move(*retired)));
  } else if (auto* hello = std::get_if<msg::HandshakeReply>(&message)) {
    resumable_ = hello->resumable;
    {
      std::lock_guard lock(handshake_mutex_);
      if (handshake_received_ && !hello->ok) {
        // Refused on a reconnect (its old connection is not closed there
        // yet): closing retries with back-off.
        logger_->warn("scheduler {} refused the reconnect: {}", address_, hello->error);
        scheduler_->close(Status::invalid(hello->error));
        return;
      }
      if (hello->ok) {
        handshake_received_ = true;
        dashboard_address_ = hello->dashboard_address;
      } else if (handshake_error_.ok()) {
        handshake_error_ = Status::invalid("scheduler " + address_ + " refused this client: " + hello->error);
      }
    }
    handshake_done_.notify_all();
    if (!hello->ok) scheduler_->close(Status::invalid(hello->error));
  }
}

Result<std::string> ClientCore::dashboard_address(std::chrono::milliseconds timeout) {
  std::unique_lock lock(handshake_mutex_);
  if (!handshake_done_.wait_for(lock, timeout,
                               [this] { return handshake_received_ || closed_ || !handshake_error_.ok(); })) {
    return Status::timed_out("no handshake reply from scheduler " + address_);
  }
  if (!handshake_error_.ok()) return handshake_error_;
  if (!handshake_received_) return Status::disconnected("client is closed");
  return dashboard_address_;
}

void ClientCore::on_scheduler_closed(const Status& why) {
  bool refused = false;  // connect() returns the reason: no need to log it too
  {
    std::lock_guard lock(handshake_mutex_);
    refused = !handshake_received_;
    if (!handshake_received_ && handshake_error_.ok()) {
      // Closed before greeting us: a TLS scheduler reading our plain frame,
      // or a TLS alert (our certificate refused) arriving after our side of
      // the TLS handshake had finished.
      std::string hint = !tls_ ? " (is it a TLS scheduler? then connect with tls:// and ClientOptions::tls)"
                         : why.message().find(" alert ") != std::string::npos
                             ? " (the scheduler refused this client's TLS certificate: ClientOptions::tls needs a "
                               "certificate and key signed by the cluster's CA)"
                             : " (the scheduler may have refused this client's TLS certificate: ClientOptions::tls "
                               "needs a certificate and key signed by the cluster's CA)";
      handshake_error_ = Status::disconnected("scheduler " + address_ + " closed the connection before answering the "
                                              "handshake: " + why.message() + hint);
    }
  }
  handshake_done_.notify_all();
  on_data_closed(kSchedulerPeer, why);  // info and retire requests in flight fail
  if (!closed_ && !refused && resumable_ && reconnect_timeout_.count() > 0) {
    // Its journal lets a restarted scheduler finish these futures.
    bool first_loss = false;
    {
      std::lock_guard lock(send_mutex_);
      first_loss = !std::exchange(reconnecting_, true);
    }
    if (first_loss) {
      logger_->warn("lost connection to scheduler {}: {}; reconnecting for up to {} s", address_, why.message(),
                    reconnect_timeout_.count() / 1000);
      reconnect_deadline_ = std::chrono::steady_clock::now() + reconnect_timeout_;
    } else if (std::chrono::steady_clock::now() >= reconnect_deadline_) {
      return give_up_reconnecting(why);  // it keeps refusing or dropping us
    }
    return reconnect(std::chrono::milliseconds(100));
  }
  if (!closed_ && !refused) logger_->error("lost connection to scheduler {}: {}", address_, why.message());
  fail_pending("lost connection to scheduler " + address_ + ": " + why.message());
}

Result<ConnectionPtr> ClientCore::data_connection(const std::string& address, const Deadline& deadline) {
  {
    std::lock_guard lock(requests_mutex_);
    auto it = data_connections_.find(address);
    if (it != data_connections_.end()) return it->second;
  }
  DTASK_ASSIGN_OR_RETURN(Address parsed, parse_address(address));
  // connect_tcp retries a refused connection until its timeout: a dead
  // holder must not cost more than 10 s before the next one is tried.
  const Deadline connect_by = deadline.capped(std::chrono::seconds(10));
  DTASK_ASSIGN_OR_RETURN(ConnectionPtr connection,
                         connect_tcp(*io_, parsed, limits_, logger_, connect_by.left(), tls_));
  std::weak_ptr<ClientCore> weak = weak_from_this();
  connection->start(
      [weak, address](Message&& message) {
        if (auto self = weak.lock()) self->on_data_message(address, std::move(message));
      },
      [weak, address](const Status& why) {
        if (auto self = weak.lock()) self->on_data_closed(address, why);
      });
  connection->send(msg::Handshake{kProtocolVersion, PeerRole::kClient, "client", auth_token_});
  std::lock_guard lock(requests_mutex_);
  auto [it, inserted] = data_connections_.emplace(address, connection);
  if (!inserted) connection->close(Status::cancelled("duplicate connection"));  // another thread won
  return it->second;
}

void ClientCore::on_data_message(const std::string& address, Message&& message) {
  std::uint64_t id = 0;
  if (const auto* reply = std::get_if<msg::DataReply>(&message)) {
    id = reply->request_id;
  } else if (const auto* put = std::get_if<msg::PutDataReply>(&message)) {
    id = put->request_id;
  } else if (const auto* hello = std::get_if<msg::HandshakeReply>(&message); hello && !hello->ok) {
    // Requests waiting on this worker fail with its reason, not just "closed".
    return on_data_closed(address, Status::invalid("worker " + address + " refused this client: " + hello->error));
  } else {
    return;  // accepted handshakes
  }
  std::lock_guard lock(requests_mutex_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  it->second.set_value(std::move(message));
  requests_.erase(it);
  request_peer_.erase(id);
  (void)address;
}

void ClientCore::on_data_closed(const std::string& address, const Status& why) {
  std::lock_guard lock(requests_mutex_);
  if (address != kSchedulerPeer) data_connections_.erase(address);
  for (auto it = request_peer_.begin(); it != request_peer_.end();) {
    if (it->second == address) {
      auto request = requests_.find(it->first);
      if (request != requests_.end()) {
        request->second.set_value(Status::disconnected("connection to " + address + " closed: " + why.message()));
        requests_.erase(request);
      }
      it = request_peer_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<Message> ClientCore::await_reply(std::uint64_t request_id, std::future<Result<Message>>& reply,
                                        const Deadline& deadline, const std::string& what) {
  if (reply.wait_until(deadline.at) == std::future_status::ready) return reply.get();
  {
    std::lock_guard lock(requests_mutex_);
    if (requests_.erase(request_id) == 0) return reply.get();  // answered just now
    request_peer_.erase(request_id);
  }
  return Status::timed_out(what + " within " + deadline.describe());
}

std::future<Result<Message>> ClientCore::expect_reply(std::uint64_t request_id, const std::string& peer) {
  std::promise<Result<Message>> promise;
  std::future<Result<Message>> reply = promise.get_future();
  std::lock_guard lock(requests_mutex_);
  request_peer_[request_id] = peer;
  requests_.emplace(request_id, std::move(promise));
  return reply;
}

Status ClientCore::wait_done(const FutureState& state, const Deadline& deadline) const {
  std::unique_lock lock(state.signal->mutex);
  if (!state.signal->changed.wait_until(lock, deadline.at, [&] { return state.done; })) {
    return Status::timed_out("task " + state.key + " did not finish within " + deadline.describe() +
                             " (still waiting for its dependencies, queued, running, or no worker can run it)");
  }
  return state.error;
}

Result<std::vector<Value>> ClientCore::fetch(const std::vector<std::shared_ptr<FutureState>>& states,
                                             const Deadline& deadline) {
  // Small results came with their status: only the others are fetched.
  std::vector<Value> values(states.size());
  std::vector<std::size_t> elsewhere;
  {
    std::lock_guard lock(signal_->mutex);
    for (std::size_t i = 0; i < states.size(); ++i) {
      if (!states[i]->error.ok()) return states[i]->error;
      if (states[i]->value) {
        values[i] = *states[i]->value;
      } else {
        elsewhere.push_back(i);
      }
    }
  }
  if (elsewhere.empty()) return values;
  if (elsewhere.size() == states.size()) return fetch_from_workers(states, deadline);
  std::vector<std::shared_ptr<FutureState>> remote;
  for (std::size_t i : elsewhere) remote.push_back(states[i]);
  DTASK_ASSIGN_OR_RETURN(std::vector<Value> fetched, fetch_from_workers(remote, deadline));
  for (std::size_t j = 0; j < elsewhere.size(); ++j) values[elsewhere[j]] = std::move(fetched[j]);
  return values;
}

Result<std::vector<Value>> ClientCore::fetch_from_workers(const std::vector<std::shared_ptr<FutureState>>& states,
                                                          const Deadline& deadline) {
  // A holder can die between the scheduler's report and our request. The
  // scheduler then recomputes what only it held (or moves a copy) and
  // reports the key again with its new holders: wait for that, and retry.
  // A holder can also have freed the key: a key submitted again while held
  // may first hear the status sent for the earlier submission, and then
  // its release frees it and the scheduler computes it anew. The next
  // status names the holders of that result (perhaps the worker that said
  // it had none) or brings a small one along.
  constexpr int kAttempts = 5;
  constexpr auto kNewHolderWait = std::chrono::seconds(120);
  std::set<std::string> failed;  // holders that failed a request: skipped until a new status
  for (int attempt = 1;; ++attempt) {
    std::vector<std::uint64_t> statuses_seen;
    {
      std::lock_guard lock(signal_->mutex);
      for (const auto& state : states) statuses_seen.push_back(state->statuses);
    }
    std::string failed_worker;
    Result<std::vector<Value>> values = fetch_once(states, failed, &failed_worker, deadline);
    if (values.ok() || failed_worker.empty() || attempt == kAttempts) return values;
    failed.insert(failed_worker);
    logger_->info("fetch from {} failed ({}); retrying from other holders", failed_worker,
                  values.status().to_string());
    std::unique_lock lock(signal_->mutex);
    bool new_status = false;
    const bool held = signal_->changed.wait_until(lock, deadline.capped(kNewHolderWait).at, [&] {
      bool all_held = true;
      for (std::size_t i = 0; i < states.size(); ++i) {
        const FutureState& state = *states[i];
        if (!state.error.ok()) return true;
        if (state.statuses != statuses_seen[i]) new_status = true;
        const bool alive = state.value.has_value() ||
                           std::any_of(state.who_has.begin(), state.who_has.end(),
                                       [&](const std::string& w) { return failed.count(w) == 0; });
        all_held = all_held && alive;
      }
      return all_held || new_status;
    });
    if (!held) return values;
    if (new_status) failed.clear();  // the scheduler's word on the holders is newer than our failures
  }
}

Result<std::vector<Value>> ClientCore::fetch_once(const std::vector<std::shared_ptr<FutureState>>& states,
                                                  const std::set<std::string>& skip, std::string* failed_worker,
                                                  const Deadline& deadline) {
  // Group the keys by a worker holding each, then one request per worker;
  // a small result that came with a later status needs none.
  std::vector<Value> values(states.size());
  std::unordered_map<std::string, std::vector<std::size_t>> by_worker;
  {
    std::lock_guard lock(signal_->mutex);
    for (std::size_t i = 0; i < states.size(); ++i) {
      if (!states[i]->error.ok()) return states[i]->error;
      if (states[i]->value) {
        values[i] = *states[i]->value;
        continue;
      }
      std::vector<std::string> holders;
      for (const std::string& w : states[i]->who_has) {
        if (skip.count(w) == 0) holders.push_back(w);
      }
      if (holders.empty()) return Status::not_found("no worker holds " + states[i]->key);
      by_worker[holders[i % holders.size()]].push_back(i);
    }
  }
  struct Pending {
    std::string address;
    std::vector<std::size_t>* indexes;
    std::uint64_t request_id;
    std::future<Result<Message>> reply;
  };
  std::vector<Pending> replies;
  for (auto& [address, indexes] : by_worker) {
    Result<ConnectionPtr> connection = data_connection(address, deadline);
    if (!connection.ok()) {
      *failed_worker = address;
      return connection.status();
    }
    msg::GetData request{next_request_id(), {}};
    for (std::size_t i : indexes) request.keys.push_back(states[i]->key);
    replies.push_back({address, &indexes, request.request_id, expect_reply(request.request_id, address)});
    (*connection)->send(request);
  }
  Status first_failure;
  for (Pending& pending : replies) {
    const std::string& first_key = states[pending.indexes->front()]->key;
    const std::string what = "fetching " + first_key +
                             (pending.indexes->size() > 1 ? " (and " + std::to_string(pending.indexes->size() - 1) +
                                                                " more keys)" : "") +
                             ": worker " + pending.address + " did not answer";
    // Every reply is awaited or forgotten: none is left pending.
    Result<Message> reply = await_reply(pending.request_id, pending.reply, deadline, what);
    if (!first_failure.ok()) continue;
    if (!reply.ok()) {
      if (reply.status().code() != StatusCode::kTimedOut) *failed_worker = pending.address;
      first_failure = reply.status();
      continue;
    }
    auto& data = std::get<msg::DataReply>(*reply);
    if (data.values.size() != pending.indexes->size()) {
      return Status::internal("worker answered the wrong number of keys");
    }
    for (std::size_t j = 0; j < pending.indexes->size(); ++j) {
      if (!data.values[j].found) {
        *failed_worker = pending.address;
        first_failure = Status::not_found("worker no longer holds " + data.values[j].key);
        break;
      }
      values[(*pending.indexes)[j]] = std::move(data.values[j].value);
    }
  }
  if (!first_failure.ok()) return first_failure;
  return values;
}

Status ClientCore::put_data(const std::string& worker, std::vector<msg::KeyValue> values, const Deadline& deadline) {
  DTASK_ASSIGN_OR_RETURN(ConnectionPtr connection, data_connection(worker, deadline));
  const std::string what = "scattering " + std::to_string(values.size()) + " values (first " +
                           (values.empty() ? std::string() : values.front().key) + "): worker " + worker +
                           " did not take them";
  msg::PutData request{next_request_id(), std::move(values)};
  std::future<Result<Message>> reply = expect_reply(request.request_id, worker);
  connection->send(request);
  DTASK_ASSIGN_OR_RETURN(Message message, await_reply(request.request_id, reply, deadline, what));
  const auto& put = std::get<msg::PutDataReply>(message);
  if (!put.ok) return Status::io_error("worker " + worker + " refused the data: " + put.error);
  return Status::success();
}

void ClientCore::answer(std::uint64_t request_id, Message reply) {
  std::lock_guard lock(requests_mutex_);
  auto it = requests_.find(request_id);
  if (it != requests_.end()) {
    it->second.set_value(std::move(reply));
    requests_.erase(it);
    request_peer_.erase(request_id);
  }
}

Result<std::vector<std::string>> ClientCore::retire_workers(const std::vector<std::string>& workers) {
  msg::RetireWorkers request{next_request_id(), workers};
  std::future<Result<Message>> reply = expect_reply(request.request_id, kSchedulerPeer);
  send(request);
  // Retiring moves data, so it gets as long as a task would, not a request's time.
  DTASK_ASSIGN_OR_RETURN(Message message, await_reply(request.request_id, reply, Deadline::in(result_timeout_),
                                                      "retire_workers: scheduler " + address_ + " did not answer"));
  auto& answer = std::get<msg::RetireWorkersReply>(message);
  if (!answer.error.empty()) return Status::invalid("retire_workers: " + answer.error);
  return std::move(answer.retired);
}

Result<std::string> ClientCore::info(const Deadline& deadline) {
  msg::InfoRequest request{next_request_id()};
  std::future<Result<Message>> reply = expect_reply(request.request_id, kSchedulerPeer);
  send(request);
  DTASK_ASSIGN_OR_RETURN(Message message, await_reply(request.request_id, reply, deadline,
                                                      "scheduler_info: scheduler " + address_ + " did not answer"));
  return std::get<msg::InfoReply>(message).json;
}

Result<std::vector<std::string>> ClientCore::worker_addresses(const Deadline& deadline) {
  DTASK_ASSIGN_OR_RETURN(std::string json, info(deadline));
  std::vector<std::string> out;
  nlohmann::json parsed = nlohmann::json::parse(json);  // must outlive the loop
  for (const auto& worker : parsed.at("workers")) {
    out.push_back(worker.at("address").get<std::string>());
  }
  return out;
}

}  // namespace dtask::internal
