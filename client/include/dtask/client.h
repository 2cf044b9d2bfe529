// dtask::Client: submit tasks and graphs to a dtask cluster and get results.
//
//   dtask::Client client;                          // starts a LocalCluster
//   dtask::Client remote("tcp://10.0.0.1:8786");   // or connects to one
//   auto f = client.submit<std::int64_t>("add", 1, 2);
//   std::int64_t three = f.result();
//
// An op declared as a dtask::OpDef (dtask/op_def.h; the built-in ones are in
// dtask/builtin_ops.h) is submitted by its definition: the arguments are
// checked against its parameters when the call compiles, and the future has
// its result type:
//   dtask::Future<double> six = client.submit(dtask::ops::kMul, 2.0, 3);
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
#include "dtask/as_completed.h"
#include "dtask/delayed.h"
#include "dtask/future.h"
#include "dtask/local_cluster.h"

namespace dtask {

struct ClientOptions {
  /// Bounds connecting to the scheduler: the TCP connect, the TLS handshake
  /// and the scheduler's handshake reply (a server that accepts and says
  /// nothing fails the constructor with TimedOut). Also bounds how long
  /// dashboard_link() waits for that reply.
  std::chrono::milliseconds connect_timeout{30000};
  /// How long result(), value(), wait(), gather(), wait_any() and
  /// as_completed wait for tasks to finish when the call is given no timeout
  /// of its own (as Dask's `timeout=`). Tasks may rightly run for hours, so
  /// this is long; it is there so that nothing blocks forever.
  std::chrono::milliseconds result_timeout{std::chrono::hours(24)};
  /// Bounds each exchange with a worker or the scheduler inside a call: a
  /// fetch of finished results, a scatter's hand-over of its values,
  /// scheduler_info(), and connecting to a worker. A peer that accepts but
  /// never answers fails the call with TimedOut naming it.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(120)};
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
  /// Runs the op `def` defines: a call whose arity or argument types do not
  /// match the definition does not compile (a Delayed, a Future<Value> or a
  /// Value argument is checked by the worker when the task runs).
  template <typename Signature, typename... A>
  Future<typename OpDef<Signature>::Result> submit(const OpDef<Signature>& def, A&&... args) {
    return submit(SubmitOptions{}, def, std::forward<A>(args)...);
  }
  template <typename Signature, typename... A>
  Future<typename OpDef<Signature>::Result> submit(const SubmitOptions& options, const OpDef<Signature>& def,
                                                   A&&... args) {
    static_assert(internal::check_op_call<Signature, A...>());
    return Future<typename OpDef<Signature>::Result>(
        submit_task(std::string(def.name), options, {TaskArg(std::forward<A>(args))...}));
  }

  /// Runs op once per position of the input lists, all in one message, as
  /// Dask's `client.map`: `map<double>("add", xs, ys)` runs add(xs[i], ys[i])
  /// for every i and returns one future per call, in order. Items are what
  /// submit takes (values, Futures, Delayed); the lists are std::vector (or
  /// anything with size() and operator[]). Throws TaskError (Invalid) when
  /// the lists differ in length or `options.key` is set (each call gets its
  /// own key).
  template <typename T = Value, typename... Lists>
  std::vector<Future<T>> map(const std::string& op, const Lists&... inputs) {
    return map<T>(SubmitOptions{}, op, inputs...);
  }
  template <typename T = Value, typename First, typename... Rest>
  std::vector<Future<T>> map(const SubmitOptions& options, const std::string& op, const First& first,
                             const Rest&... rest) {
    const std::size_t n = first.size();
    if (!((rest.size() == n) && ...)) {
      throw TaskError(Status::invalid("map(\"" + op + "\"): the input lists differ in length"));
    }
    std::vector<std::vector<TaskArg>> calls(n);
    append_column(calls, first);
    (append_column(calls, rest), ...);
    return typed<T>(map_tasks(op, options, std::move(calls)));
  }
  /// map for an op defined by an OpDef: the lists' element types are checked
  /// against its parameters when the call compiles.
  template <typename Signature, typename... Lists>
  std::vector<Future<typename OpDef<Signature>::Result>> map(const OpDef<Signature>& def, const Lists&... inputs) {
    return map(SubmitOptions{}, def, inputs...);
  }
  template <typename Signature, typename... Lists>
  std::vector<Future<typename OpDef<Signature>::Result>> map(const SubmitOptions& options, const OpDef<Signature>& def,
                                                             const Lists&... inputs) {
    static_assert(internal::check_op_call<Signature, decltype(inputs[0])...>());
    return map<typename OpDef<Signature>::Result>(options, std::string(def.name), inputs...);
  }

  /// Submits a Delayed graph in one message and returns a future for its output.
  template <typename T = Value>
  Future<T> compute(const Delayed& graph, int priority = 0) {
    return Future<T>(compute_graph({graph}, priority).front());
  }
  /// Submits several graphs in one message (shared tasks run once); one
  /// future per graph, in order: untyped, or `compute<T>(graphs)` typed.
  std::vector<FutureBase> compute(const std::vector<Delayed>& graphs, int priority = 0) {
    return compute_graph(graphs, priority);
  }
  template <typename T>
  std::vector<Future<T>> compute(const std::vector<Delayed>& graphs, int priority = 0) {
    return typed<T>(compute_graph(graphs, priority));
  }
  /// Like compute: results stay on the workers, held by the returned futures.
  template <typename T = Value>
  Future<T> persist(const Delayed& graph, int priority = 0) {
    return compute<T>(graph, priority);
  }

  /// Waits for every future and fetches the values, at most one request per
  /// worker. TimedOut, naming a task not finished, once `timeout` (default:
  /// ClientOptions::result_timeout) passes; the fetch itself is bounded by
  /// what is left of it and by ClientOptions::request_timeout.
  Result<std::vector<Value>> gather_values(const std::vector<FutureBase>& futures);
  Result<std::vector<Value>> gather_values(const std::vector<FutureBase>& futures,
                                           std::chrono::milliseconds timeout);
  /// Typed gather; throws TaskError if any task failed or `timeout` passed.
  template <typename T>
  std::vector<T> gather(const std::vector<Future<T>>& futures) {
    return gather(futures, result_timeout());
  }
  template <typename T>
  std::vector<T> gather(const std::vector<Future<T>>& futures, std::chrono::milliseconds timeout) {
    std::vector<FutureBase> bases(futures.begin(), futures.end());
    auto values = gather_values(bases, timeout);
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

  /// Stores local values on workers (round robin) and returns futures to
  /// them. TimedOut, naming the worker, when the workers have not all taken
  /// their share within `timeout` (default: ClientOptions::request_timeout).
  Result<std::vector<Future<Value>>> scatter(const std::vector<Value>& values);
  Result<std::vector<Future<Value>>> scatter(const std::vector<Value>& values, std::chrono::milliseconds timeout);
  /// One value; throws TaskError on failure.
  Future<Value> scatter(Value value);

  /// Cancels tasks: their futures finish as cancelled; results are released.
  void cancel(const std::vector<FutureBase>& futures);
  void cancel(const FutureBase& future) { cancel(std::vector<FutureBase>{future}); }

  /// Waits until every future is done (or `timeout`, default
  /// ClientOptions::result_timeout); the first failure, else OK.
  Status wait(const std::vector<FutureBase>& futures);
  Status wait(const std::vector<FutureBase>& futures, std::chrono::milliseconds timeout);
  /// Blocks until one of `futures` is done and returns its index (TimedOut
  /// after `timeout`, default ClientOptions::result_timeout). Scans every
  /// future: to take many as they finish, use as_completed.
  Result<std::size_t> wait_any(const std::vector<FutureBase>& futures);
  Result<std::size_t> wait_any(const std::vector<FutureBase>& futures, std::chrono::milliseconds timeout);

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
  /// ClientOptions::result_timeout: what calls without a timeout wait for.
  std::chrono::milliseconds result_timeout() const;

 private:
  Client(std::unique_ptr<LocalCluster> cluster, std::shared_ptr<internal::ClientCore> core,
         std::chrono::milliseconds connect_timeout);
  FutureBase submit_task(const std::string& op, const SubmitOptions& options, std::vector<TaskArg> args);
  /// One task per entry of `calls` (its arguments), in one message.
  std::vector<FutureBase> map_tasks(const std::string& op, const SubmitOptions& options,
                                    std::vector<std::vector<TaskArg>> calls);
  template <typename List>
  static void append_column(std::vector<std::vector<TaskArg>>& calls, const List& list) {
    for (std::size_t i = 0; i < calls.size(); ++i) calls[i].emplace_back(list[i]);
  }
  template <typename T>
  static std::vector<Future<T>> typed(std::vector<FutureBase> bases) {
    std::vector<Future<T>> out;
    out.reserve(bases.size());
    for (FutureBase& base : bases) out.emplace_back(base);
    return out;
  }
  std::vector<FutureBase> compute_graph(const std::vector<Delayed>& graphs, int priority);

  friend class CompletionOrder;  // reads core_'s future signal

  std::unique_ptr<LocalCluster> cluster_;  // destroyed after core_ disconnects
  std::shared_ptr<internal::ClientCore> core_;
  std::chrono::milliseconds connect_timeout_{30000};
};

}  // namespace dtask
