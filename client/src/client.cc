#include "dtask/client.h"

#include <atomic>

#include "client/src/client_core.h"
#include "client/src/deadline.h"
#include "client/src/graph_order.h"
#include "common/graph_parts.h"

namespace dtask {

namespace {
std::uint64_t next_generation() {
  static std::atomic<std::uint64_t> generation{1};
  return generation.fetch_add(1);
}

template <typename T>
T or_throw(Result<T> result) {
  if (!result.ok()) throw TaskError(result.status());
  return std::move(result).value();
}
}  // namespace

Client::Client() : Client(LocalClusterOptions{}) {}

Client::Client(LocalClusterOptions cluster_options, ClientOptions options)
    : connect_timeout_(options.connect_timeout) {
  if (!options.tls.enabled()) options.tls = cluster_options.tls;
  if (options.auth_token.empty()) options.auth_token = cluster_options.auth_token;
  cluster_ = or_throw(LocalCluster::start(std::move(cluster_options)));
  core_ = or_throw(internal::ClientCore::connect(cluster_->scheduler_address(), options));
}

Client::Client(const std::string& scheduler_address, ClientOptions options)
    : core_(or_throw(internal::ClientCore::connect(scheduler_address, options))),
      connect_timeout_(options.connect_timeout) {}

Client::Client(std::unique_ptr<LocalCluster> cluster, std::shared_ptr<internal::ClientCore> core,
               std::chrono::milliseconds connect_timeout)
    : cluster_(std::move(cluster)), core_(std::move(core)), connect_timeout_(connect_timeout) {}

Result<std::unique_ptr<Client>> Client::connect(const std::string& scheduler_address, ClientOptions options) {
  DTASK_ASSIGN_OR_RETURN(auto core, internal::ClientCore::connect(scheduler_address, options));
  return std::unique_ptr<Client>(new Client(nullptr, std::move(core), options.connect_timeout));
}

Client::~Client() {
  core_->close();
  core_.reset();
  cluster_.reset();
}

const std::string& Client::scheduler_address() const { return core_->scheduler_address(); }

std::string Client::dashboard_link() const {
  // The handshake reply arrives right after connecting; this waits only when
  // called at once.
  Result<std::string> address = core_->dashboard_address(connect_timeout_);
  return address.ok() ? *address : std::string();
}

FutureBase Client::submit_task(const std::string& op, const SubmitOptions& options, std::vector<TaskArg> args) {
  Delayed task = DelayedOp(op, options).make(std::move(args));
  return compute_graph({task}, options.priority).front();
}

std::vector<FutureBase> Client::map_tasks(const std::string& op, const SubmitOptions& options,
                                          std::vector<std::vector<TaskArg>> calls) {
  if (!options.key.empty()) {
    throw TaskError(Status::invalid("map(\"" + op + "\"): SubmitOptions::key '" + options.key +
                                    "' would name every call; map gives each call its own key"));
  }
  const DelayedOp task(op, options);
  std::vector<Delayed> graphs;
  graphs.reserve(calls.size());
  for (std::vector<TaskArg>& args : calls) graphs.push_back(task.make(std::move(args)));
  return compute_graph(graphs, options.priority);
}

std::vector<FutureBase> Client::compute_graph(const std::vector<Delayed>& graphs, int priority) {
  std::vector<FutureBase> futures;
  std::vector<std::string> wanted;
  futures.reserve(graphs.size());
  wanted.reserve(graphs.size());
  for (const Delayed& output : graphs) {
    futures.push_back(FutureBase(core_->state_for(output.key())));
    wanted.push_back(output.key());
  }
  const std::uint64_t generation = next_generation();
  // Part by part: a graph of millions of tasks is on its way, and running,
  // while the rest of it is still being made.
  core_->send_graph(std::move(wanted), [&](const internal::ClientCore::GraphPartSink& part) {
    internal::order_graph_in_parts(graphs, priority, generation, kTasksPerGraphPart, part);
  });
  return futures;
}

std::chrono::milliseconds Client::result_timeout() const { return core_->result_timeout(); }

Result<std::vector<Value>> Client::gather_values(const std::vector<FutureBase>& futures) {
  return gather_values(futures, core_->result_timeout());
}

Result<std::vector<Value>> Client::gather_values(const std::vector<FutureBase>& futures,
                                                 std::chrono::milliseconds timeout) {
  const internal::Deadline deadline = internal::Deadline::in(timeout);
  std::vector<std::shared_ptr<internal::FutureState>> states;
  states.reserve(futures.size());
  for (std::size_t i = 0; i < futures.size(); ++i) {
    if (!futures[i].valid()) return Status::invalid("gather of an empty future (index " + std::to_string(i) + ")");
    Status done = core_->wait_done(*futures[i].state_, deadline);
    if (done.code() == StatusCode::kTimedOut) {
      std::size_t pending = 0;
      for (const FutureBase& future : futures) pending += future.done() ? 0 : 1;
      return Status::timed_out("gather of " + std::to_string(futures.size()) + " futures timed out with " +
                               std::to_string(pending) + " not finished: " + done.message());
    }
    DTASK_RETURN_NOT_OK(done);
    states.push_back(futures[i].state_);
  }
  return core_->fetch(states, deadline.capped(core_->request_timeout()));
}

Result<std::vector<Future<Value>>> Client::scatter(const std::vector<Value>& values) {
  return scatter(values, core_->request_timeout());
}

Result<std::vector<Future<Value>>> Client::scatter(const std::vector<Value>& values,
                                                   std::chrono::milliseconds timeout) {
  const internal::Deadline deadline = internal::Deadline::in(timeout);
  DTASK_ASSIGN_OR_RETURN(auto workers, core_->worker_addresses(deadline));
  if (workers.empty()) return Status::not_found("no workers to scatter data to");
  // Round robin: one PutData per worker with its share of the values.
  std::vector<std::vector<msg::KeyValue>> shares(workers.size());
  std::vector<Future<Value>> futures;
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string key = internal::unique_key("scatter");
    shares[i % workers.size()].push_back({key, true, values[i]});
    futures.emplace_back(FutureBase(core_->state_for(key)));
  }
  for (std::size_t w = 0; w < workers.size(); ++w) {
    if (shares[w].empty()) continue;
    msg::KeysScattered scattered{workers[w], {}};
    for (const msg::KeyValue& item : shares[w]) {
      scattered.keys.push_back({item.key, item.value.nbytes(), item.value.type_name()});
    }
    DTASK_RETURN_NOT_OK(core_->put_data(workers[w], std::move(shares[w]), deadline));
    core_->send(scattered);
  }
  return futures;
}

Future<Value> Client::scatter(Value value) {
  return or_throw(scatter(std::vector<Value>{std::move(value)})).front();
}

void Client::cancel(const std::vector<FutureBase>& futures) {
  msg::CancelKeys cancel;
  for (const FutureBase& future : futures) cancel.keys.push_back(future.key());
  core_->send(cancel);
}

Status Client::wait(const std::vector<FutureBase>& futures) { return wait(futures, core_->result_timeout()); }

Status Client::wait(const std::vector<FutureBase>& futures, std::chrono::milliseconds timeout) {
  const internal::Deadline deadline = internal::Deadline::in(timeout);
  for (const FutureBase& future : futures) {
    if (!future.valid()) return Status::invalid("waiting on an empty future");
    DTASK_RETURN_NOT_OK(core_->wait_done(*future.state_, deadline));
  }
  return Status::success();
}

Result<std::size_t> Client::wait_any(const std::vector<FutureBase>& futures) {
  return wait_any(futures, core_->result_timeout());
}

Result<std::size_t> Client::wait_any(const std::vector<FutureBase>& futures, std::chrono::milliseconds timeout) {
  if (futures.empty()) return Status::invalid("wait_any on no futures");
  const internal::Deadline deadline = internal::Deadline::in(timeout);
  auto& signal = *core_->signal();
  std::unique_lock lock(signal.mutex);
  std::size_t found = 0;
  bool ok = signal.changed.wait_until(lock, deadline.at, [&] {
    for (std::size_t i = 0; i < futures.size(); ++i) {
      if (futures[i].state_ && futures[i].state_->done) {
        found = i;
        return true;
      }
    }
    return false;
  });
  if (!ok) {
    return Status::timed_out("none of " + std::to_string(futures.size()) + " futures (first " + futures.front().key() +
                             ") finished within " + deadline.describe());
  }
  return found;
}

Result<std::string> Client::scheduler_info() {
  return core_->info(internal::Deadline::in(core_->request_timeout()));
}
Result<std::vector<std::string>> Client::retire_workers(const std::vector<std::string>& workers) {
  return core_->retire_workers(workers);
}

}  // namespace dtask
