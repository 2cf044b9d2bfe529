// The client's engine: its io thread, the scheduler connection, connections
// to workers for data, and the state behind every Future. Internal.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/address.h"
#include "common/connection.h"
#include "client/src/deadline.h"
#include "common/messages.h"
#include "dtask/client.h"

namespace asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace dtask::internal {

/// What every FutureState of one client shares: one lock and one signal, so
/// that waiting for any of many futures is a single condition wait.
struct FutureSignal {
  std::mutex mutex;
  std::condition_variable changed;
};

/// Where as_completed (CompletionOrder) learns that its futures finished:
/// each future's index is pushed here once, as its status arrives.
struct CompletionQueue {
  std::shared_ptr<FutureSignal> signal;
  std::weak_ptr<ClientCore> core;  // for ClientOptions::result_timeout
  // Guarded by signal->mutex.
  std::deque<std::size_t> finished;  // indexes done and not yet taken, in finishing order
  std::size_t remaining = 0;         // indexes not yet taken
};

struct FutureState {
  std::string key;
  std::weak_ptr<ClientCore> core;
  std::shared_ptr<FutureSignal> signal;
  // Guarded by signal->mutex.
  bool done = false;
  Status error;  // ok when the result is in memory
  std::vector<std::string> who_has;
  /// Statuses received for the key. A key submitted again while still held
  /// can first get the status the scheduler sent for the earlier
  /// submission, whose holder may since have freed it; fetch_from_workers
  /// waits for the next one.
  std::uint64_t statuses = 0;
  /// The result, when it was small and came with its status
  /// (msg::KeyStatus::value): result() then needs no fetch.
  std::optional<Value> value;
  /// Completion queues waiting for this future, with its index in each.
  std::vector<std::pair<std::weak_ptr<CompletionQueue>, std::size_t>> watchers;

  /// Marks it done (error: ok when in memory) and tells its watchers, once.
  /// Call with signal->mutex held; the caller notifies signal->changed.
  void finish_locked(Status why);

  ~FutureState();
};

class ClientCore : public std::enable_shared_from_this<ClientCore> {
 public:
  static Result<std::shared_ptr<ClientCore>> connect(const std::string& address, const ClientOptions& options);
  ~ClientCore();

  const std::string& scheduler_address() const { return address_; }
  const std::shared_ptr<FutureSignal>& signal() const { return signal_; }

  /// The live state for `key`, made if none exists. Register before sending
  /// anything that makes the scheduler report on the key.
  std::shared_ptr<FutureState> state_for(const std::string& key);
  /// Sends to the scheduler, after any releases queued before it.
  void send(Message message);
  /// Where send_graph's producer puts each run of tasks, in dependency order.
  using GraphPartSink = std::function<void(std::vector<msg::TaskDef>)>;
  /// Sends the graph `produce` makes, wanting `wanted_keys`. Each part goes
  /// as soon as it is made (msg::UpdateGraph::more), so the scheduler takes
  /// a big graph in, and runs its first tasks, while the rest is made. A
  /// resumable session keeps the whole graph instead, to send again after a
  /// reconnect, and sends it when it is complete. Graphs sent from several
  /// threads do not interleave: the scheduler joins parts until a last one.
  void send_graph(std::vector<std::string> wanted_keys, const std::function<void(const GraphPartSink&)>& produce);
  /// Called by ~FutureState: the last future for `key` is gone.
  void release(const std::string& key);

  /// ClientOptions::result_timeout and request_timeout.
  std::chrono::milliseconds result_timeout() const { return result_timeout_; }
  std::chrono::milliseconds request_timeout() const { return request_timeout_; }

  /// Waits until `state` is done or `deadline` passes (TimedOut naming the key).
  Status wait_done(const FutureState& state, const Deadline& deadline) const;
  /// The values (futures must be done): a small one came with its status
  /// (FutureState::value); the others are fetched from workers holding them;
  /// when a holder is gone, waits (bounded) for the scheduler to report new
  /// holders and retries. A worker that has not answered by `deadline`
  /// fails it with TimedOut naming the worker and a key.
  Result<std::vector<Value>> fetch(const std::vector<std::shared_ptr<FutureState>>& states, const Deadline& deadline);
  Status put_data(const std::string& worker, std::vector<msg::KeyValue> values, const Deadline& deadline);
  /// scheduler_info(); bounded by `deadline`.
  Result<std::string> info(const Deadline& deadline);
  /// Graceful retire (see Client::retire_workers); blocks until the scheduler answers.
  Result<std::vector<std::string>> retire_workers(const std::vector<std::string>& workers);
  /// The dashboard URL from the scheduler's handshake reply (waits for it up
  /// to `timeout`); empty when the scheduler serves no dashboard.
  Result<std::string> dashboard_address(std::chrono::milliseconds timeout);
  Result<std::vector<std::string>> worker_addresses(const Deadline& deadline);

  void close();

 private:
  /// One attempt of fetch(), from holders not in `skip`; names the worker
  /// that failed it, if one did (none for a timeout: there is no time left to retry).
  /// fetch() for results held only by workers, retried from other holders.
  Result<std::vector<Value>> fetch_from_workers(const std::vector<std::shared_ptr<FutureState>>& states,
                                                const Deadline& deadline);
  Result<std::vector<Value>> fetch_once(const std::vector<std::shared_ptr<FutureState>>& states,
                                        const std::set<std::string>& skip, std::string* failed_worker,
                                        const Deadline& deadline);
  ClientCore(std::unique_ptr<asio::io_context> io, std::shared_ptr<spdlog::logger> logger, std::string address,
             TlsContextPtr tls, std::string auth_token);
  /// Waits for the scheduler's handshake reply; its refusal (or the
  /// connection closing first) is the error.
  Status await_handshake(std::chrono::milliseconds timeout);
  void start(ConnectionPtr scheduler, const ClientOptions& options);
  void on_scheduler_message(Message&& message);
  void on_scheduler_closed(const Status& why);
  /// Starts `connection` as the scheduler link and greets the scheduler.
  void attach_scheduler(ConnectionPtr connection);
  /// After losing a scheduler that keeps a journal: retry after `delay`
  /// (doubling up to 5 s) until reconnect_deadline_.
  void reconnect(std::chrono::milliseconds delay);
  /// On the new connection: what was sent while disconnected, then the keys
  /// this client still holds futures for.
  void resume_session();
  /// Past reconnect_deadline_: pending futures fail with `why`.
  void give_up_reconnecting(const Status& why);
  /// Finishes every future still pending with a Disconnected error.
  void fail_pending(const std::string& why);
  void flush_releases_locked();
  /// The connection to a worker's data port, made (within `deadline`, 10 s at most) if none is open.
  Result<ConnectionPtr> data_connection(const std::string& address, const Deadline& deadline);
  void on_data_message(const std::string& address, Message&& message);
  void on_data_closed(const std::string& address, const Status& why);
  std::uint64_t next_request_id() { return next_request_id_.fetch_add(1); }
  /// Registers a request before it is sent; the reply (or the failure of the
  /// connection to `peer`) completes the returned future.
  std::future<Result<Message>> expect_reply(std::uint64_t request_id, const std::string& peer);
  /// Waits for the reply to `request_id` until `deadline`; past it the
  /// request is forgotten (a late reply is dropped) and `what` says what timed out.
  Result<Message> await_reply(std::uint64_t request_id, std::future<Result<Message>>& reply,
                              const Deadline& deadline, const std::string& what);
  /// Fulfils the promise of a request/reply exchange with the scheduler.
  void answer(std::uint64_t request_id, Message reply);

  std::unique_ptr<asio::io_context> io_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string address_;
  ConnectionPtr scheduler_;
  std::thread thread_;
  std::shared_ptr<FutureSignal> signal_ = std::make_shared<FutureSignal>();

  std::mutex graph_mutex_;  // held by send_graph while it sends one graph's parts
  std::mutex send_mutex_;   // orders releases before later messages
  std::vector<std::string> pending_releases_;
  bool release_flush_armed_ = false;  // under send_mutex_: a timer will send pending_releases_
  bool reconnecting_ = false;          // under send_mutex_: sends wait in outage_queue_
  std::vector<Message> outage_queue_;  // under send_mutex_
  // With a resumable scheduler, every graph sent is kept until each key it
  // wants is done or released: a graph the scheduler had not journaled when
  // it died is sent again on reconnect. Under send_mutex_.
  struct RetainedGraph {
    Message graph;
    std::size_t pending = 0;  // wanted keys not yet done or released
  };
  std::map<std::uint64_t, RetainedGraph> retained_;              // in send order
  std::unordered_map<std::string, std::uint64_t> retained_key_;  // wanted key -> its graph
  std::uint64_t next_retained_ = 0;
  void retain_locked(const msg::UpdateGraph& graph);
  /// `key` is done or released: its graph need not be sent again for it.
  void settle_locked(const std::string& key);
  std::unordered_map<std::string, std::weak_ptr<FutureState>> states_;  // under signal_->mutex

  std::mutex requests_mutex_;
  std::unordered_map<std::uint64_t, std::promise<Result<Message>>> requests_;
  std::unordered_map<std::uint64_t, std::string> request_peer_;
  std::unordered_map<std::string, ConnectionPtr> data_connections_;
  std::atomic<std::uint64_t> next_request_id_{1};
  std::atomic<bool> closed_{false};

  std::mutex handshake_mutex_;
  std::condition_variable handshake_done_;
  bool handshake_received_ = false;  // under handshake_mutex_
  std::string dashboard_address_;    // under handshake_mutex_
  Status handshake_error_;           // under handshake_mutex_: refused, or closed before the reply
  FrameLimits limits_;
  TlsContextPtr tls_;      // null: plain TCP
  std::string auth_token_;
  std::string name_;
  std::string session_;       // this client's id for life (Handshake.session)
  Address scheduler_parsed_;  // where to reconnect
  std::chrono::milliseconds reconnect_timeout_{0};
  std::chrono::milliseconds result_timeout_{std::chrono::hours(24)};
  std::chrono::milliseconds request_timeout_{std::chrono::seconds(120)};
  std::chrono::steady_clock::time_point reconnect_deadline_;  // io thread only
  std::atomic<bool> resumable_{false};  // the scheduler said it keeps a journal
};

}  // namespace dtask::internal
