// dtask::Client: submit tasks and graphs to a dtask cluster and get results.
//
//   dtask::Client client;                          // starts a LocalCluster
//   dtask::Client remote("tcp://10.0.0.1:8786");   // or connects to one
//   auto f = client.submit<std::int64_t>("add", 1, 2);
//   std::int64_t three = f.result();
//
// All methods are thread-safe. Network I/O runs on the client's own thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dtask/security.h"
#include "dtask/status.h"
#include "dtask/value.h"
#include "dtask/delayed.h"
#include "dtask/future.h"
#include "dtask/local_cluster.h"

namespace dtask {

struct ClientOptions {
  /// Also bounds how long dashboard_link() waits for the scheduler's handshake reply.
  std::chrono::milliseconds connect_timeout{30000};
  std::string name = "client";
  std::string log_level = "warn";
  /// TLS for the scheduler and worker connections. Needed for a tls://
  /// address (and a bare one then uses TLS): `ca_file` verifies the servers,
  /// `cert_file`/`key_file` are this client's certificate for a cluster that
  /// requires one (mutual TLS).
  TlsOptions tls;
  /// The cluster's shared token (see read_auth_token_file), sent in every
  /// handshake; never logged.
  std::string auth_token;
  /// When a scheduler that keeps a journal (dtask-scheduler --journal) goes
  /// away, the client reconnects with back-off for this long, and its
  /// futures complete once the restarted scheduler has finished them. 0 (or
  /// a scheduler without a journal): pending futures fail at once.
  std::chrono::milliseconds reconnect_timeout{60000};
};

class Client {
 public:
  /// Starts a LocalCluster with default options and connects to it.
  /// Throws TaskError if the cluster cannot start.
  Client();
  explicit Client(LocalClusterOptions cluster_options, ClientOptions options = {});
  /// Connects to a running scheduler and waits for its handshake reply.
  /// Throws TaskError if it cannot or the scheduler refuses this client
  /// ("authentication failed: ...", a TLS error).
  explicit Client(const std::string& scheduler_address, ClientOptions options = {});
  /// The non-throwing form of the constructors above.
  static Result<std::unique_ptr<Client>> connect(const std::string& scheduler_address, ClientOptions options = {});
  /// Releases every future this client holds and disconnects (and stops its LocalCluster).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Runs op(args...) on a worker. Arguments are values, Futures or Delayed.
  template <typename T = Value, typename... A>
  Future<T> submit(const std::string& op, A&&... args) {
    return Future<T>(submit_task(op, SubmitOptions{}, {TaskArg(std::forward<A>(args))...}));
  }
  template <typename T = Value, typename... A>
  Future<T> submit(const SubmitOptions& options, const std::string& op, A&&... args) {
    return Future<T>(submit_task(op, options, {TaskArg(std::forward<A>(args))...}));
  }

  /// Submits a Delayed graph in one message and returns a future for its output.
  template <typename T = Value>
  Future<T> compute(const Delayed& graph, int priority = 0) {
    return Future<T>(compute_graph({graph}, priority).front());
  }
  std::vector<FutureBase> compute(const std::vector<Delayed>& graphs, int priority = 0) {
    return compute_graph(graphs, priority);
  }
  /// Like compute: results stay on the workers, held by the returned futures.
  template <typename T = Value>
  Future<T> persist(const Delayed& graph, int priority = 0) {
    return compute<T>(graph, priority);
  }

  /// Waits for every future and fetches the values, at most one request per worker.
  Result<std::vector<Value>> gather_values(const std::vector<FutureBase>& futures);
  /// Typed gather; throws TaskError if any task failed.
  template <typename T>
  std::vector<T> gather(const std::vector<Future<T>>& futures) {
    std::vector<FutureBase> bases(futures.begin(), futures.end());
    auto values = gather_values(bases);
    if (!values.ok()) throw TaskError(values.status());
    std::vector<T> out;
    out.reserve(values->size());
    for (const Value& v : *values) {
      auto converted = value_as<T>(v);
      if (!converted.ok()) throw TaskError(converted.status());
      out.push_back(std::move(converted).value());
    }
    return out;
  }

  /// Stores local values on workers (round robin) and returns futures to them.
  Result<std::vector<Future<Value>>> scatter(const std::vector<Value>& values);
  Future<Value> scatter(Value value);

  /// Cancels tasks: their futures finish as cancelled; results are released.
  void cancel(const std::vector<FutureBase>& futures);
  void cancel(const FutureBase& future) { cancel(std::vector<FutureBase>{future}); }

  /// Waits until every future is done (or `timeout`); the first failure, else OK.
  Status wait(const std::vector<FutureBase>& futures,
              std::chrono::milliseconds timeout = std::chrono::hours(24 * 365));
  /// Blocks until one of `futures` is done and returns its index.
  Result<std::size_t> wait_any(const std::vector<FutureBase>& futures,
                               std::chrono::milliseconds timeout = std::chrono::hours(24 * 365));

  /// The scheduler's state as JSON: task counts by state, workers, totals.
  Result<std::string> scheduler_info();
  /// Retires workers (names or addresses) gracefully: they get no new tasks,
  /// the results only they hold are copied to other workers, then they are
  /// removed (their running tasks move elsewhere) and shut down. Blocks until
  /// done; returns the names retired. Thread-safe.
  Result<std::vector<std::string>> retire_workers(const std::vector<std::string>& workers);
  /// The scheduler's web dashboard, e.g. "http://127.0.0.1:8787/" (its
  /// status page; /metrics and /api/* live under it). Empty when the
  /// scheduler was started with --dashboard-address none. Thread-safe.
  std::string dashboard_link() const;
  const std::string& scheduler_address() const;
  /// The LocalCluster this client started, or nullptr.
  LocalCluster* cluster() const { return cluster_.get(); }

 private:
  Client(std::unique_ptr<LocalCluster> cluster, std::shared_ptr<internal::ClientCore> core,
         std::chrono::milliseconds connect_timeout);
  FutureBase submit_task(const std::string& op, const SubmitOptions& options, std::vector<TaskArg> args);
  std::vector<FutureBase> compute_graph(const std::vector<Delayed>& graphs, int priority);

  std::unique_ptr<LocalCluster> cluster_;  // destroyed after core_ disconnects
  std::shared_ptr<internal::ClientCore> core_;
  std::chrono::milliseconds connect_timeout_{30000};
};

/// Yields futures in the order they finish: `for (auto& f : as_completed(client, futures))`.
template <typename T>
class AsCompleted {
 public:
  AsCompleted(Client& client, std::vector<Future<T>> futures) : client_(client), remaining_(std::move(futures)) {}
  /// The next future to finish, or nullopt when none remain.
  std::optional<Future<T>> next() {
    if (remaining_.empty()) return std::nullopt;
    std::vector<FutureBase> bases(remaining_.begin(), remaining_.end());
    auto index = client_.wait_any(bases);
    if (!index.ok()) throw TaskError(index.status());
    Future<T> done = remaining_[*index];
    remaining_.erase(remaining_.begin() + static_cast<std::ptrdiff_t>(*index));
    return done;
  }

  class Iterator {
   public:
    Iterator(AsCompleted* owner, std::optional<Future<T>> current) : owner_(owner), current_(std::move(current)) {}
    const Future<T>& operator*() const { return *current_; }
    Iterator& operator++() {
      current_ = owner_->next();
      return *this;
    }
    bool operator!=(const Iterator& other) const { return current_.has_value() != other.current_.has_value(); }

   private:
    AsCompleted* owner_;
    std::optional<Future<T>> current_;
  };
  Iterator begin() { return Iterator(this, next()); }
  Iterator end() { return Iterator(this, std::nullopt); }

 private:
  Client& client_;
  std::vector<Future<T>> remaining_;
};

template <typename T>
AsCompleted<T> as_completed(Client& client, std::vector<Future<T>> futures) {
  return AsCompleted<T>(client, std::move(futures));
}

}  // namespace dtask
