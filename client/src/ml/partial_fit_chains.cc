// Replicated partial_fit chains: round by round, step by step across the
// replicas (so the window never lets one replica starve the others), with
// at most max_in_flight tasks per replica submitted ahead of the oldest.
// With several replicas, replica r reads its chunks and fits them on worker
// r: placement follows a chunk's bytes, so unpinned replicas hopped to
// wherever their chunks happened to be read and often queued on one worker
// while the other idled. The pin is loose (allow_other_workers): when that
// worker dies the replica carries on elsewhere.
#include "client/src/ml/partial_fit_chains_internal.h"

#include <deque>
#include <iostream>
#include <random>

#include "client/src/array_internal.h"
#include "client/src/cluster_workers.h"
#include "client/src/ml/chunk_passes_internal.h"
#include "client/src/ml/estimator_internal.h"
#include "dtask/client.h"
#include "dtask/collective.h"
#include "ml_core/random_state.h"
#include "dtask/builtin_ops.h"

namespace dtask::ml::internal {

using array_internal::fail;

namespace {

void check_plan(const ChainPlan& p) {
  auto at_least = [&](const char* name, std::int64_t v, std::int64_t min) {
    if (v < min) fail(p.what + ": " + name + " must be >= " + std::to_string(min) + ", got " + std::to_string(v));
  };
  at_least("epochs", p.epochs, 1);
  at_least("max_in_flight", p.max_in_flight, 1);
  at_least("sync_every", p.sync_every, 0);
  at_least("n_replicas", p.replicas, 1);
  at_least("fan_in", p.fan_in, 2);
  if (p.random_state > 0xFFFFFFFFLL) fail(p.what + ": random_state must be < 2**32");
}

void check_shapes(const std::string& what, const Array& X, const Array& y) {
  if (!X.valid() || !y.valid()) fail(what + ".fit: X and y must be non-empty Arrays");
  if (X.ndim() != 2) fail(what + ".fit: X must be 2-d, got " + X.describe());
  if (y.ndim() != 1 || y.rows() != X.rows()) fail(what + ".fit: y " + y.describe() + " does not match X " + X.describe());
  if (X.rows() < 1 || X.n_chunks() < 1) fail(what + ".fit: X has no rows");
}

std::vector<std::string> worker_addresses(Client& client) {
  std::vector<std::string> addresses;
  for (const ::dtask::internal::ClusterWorker& worker : ::dtask::internal::cluster_workers(client)) addresses.push_back(worker.address);
  return addresses;
}

SubmitOptions preferring(const std::string& worker) {
  return SubmitOptions{.workers = {worker}, .allow_other_workers = true};
}

/// `chunk`'s task made to run on `worker` (by preference), when it is a task
/// of its own, such as a file read, that has no dependencies; anything else
/// (a persisted future, a task with inputs) is returned as it is.
TaskArg read_on(const TaskArg& chunk, const std::string& worker) {
  if (chunk.delayed_deps().size() != 1 || !chunk.future_deps().empty()) return chunk;
  const dtask::internal::DelayedNode& node = *chunk.delayed_deps().front().node();
  if (!node.delayed_deps.empty() || !node.future_deps.empty()) return chunk;
  SubmitOptions options = node.options;
  options.workers = {worker};
  options.allow_other_workers = true;
  options.key.clear();  // a new task: the original may be used elsewhere, unpinned
  return TaskArg(DelayedOp(node.op, options).make(std::vector<TaskArg>(node.args.begin(), node.args.end())));
}

/// The serialised model a finished chain's last task returned.
std::string model_of(const FutureBase& last) {
  Result<Value> value = last.value();
  if (!value.ok()) throw TaskError(value.status());
  auto bytes = value_as<Bytes>(*value);
  if (!bytes.ok()) throw TaskError(bytes.status());
  return std::string(bytes->view());
}

/// Waits for the oldest tasks until at most `limit` are unfinished; a failed one throws.
void wait_down_to(std::deque<FutureBase>& in_flight, std::size_t limit) {
  while (in_flight.size() > limit) {
    Status status = in_flight.front().wait();
    if (!status.ok()) throw TaskError(status);
    in_flight.pop_front();
  }
}

/// A generator's chunk, checked on the client before it is sent anywhere.
void check_generated(const std::string& what, std::int64_t index, const XyChunk& chunk) {
  const std::string where = what + ": generator chunk " + std::to_string(index);
  if (!chunk.X.buffer || chunk.X.shape.size() != 2) {
    fail(where + ": X must be a 2-d array, got " + (chunk.X.buffer ? chunk.X.describe() : std::string("none")));
  }
  if (!chunk.y.buffer || chunk.y.shape.size() != 1 || chunk.y.rows() != chunk.X.rows()) {
    fail(where + ": y " + (chunk.y.buffer ? chunk.y.describe() : std::string("none")) + " does not match X " +
         chunk.X.describe());
  }
  if (chunk.X.rows() < 1) fail(where + ": X has no rows");
}

std::vector<std::int64_t> epoch_order(const ChainPlan& plan, ml_core::RandomState& rng, std::int64_t n_chunks) {
  if (plan.shuffle_blocks) return rng.permutation(n_chunks);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n_chunks));
  for (std::int64_t i = 0; i < n_chunks; ++i) order[i] = i;
  return order;
}

}  // namespace

ChainResult run_partial_fit_chains(Client& client, const ChainPlan& plan, const std::string& start_model,
                                   bool start_fitted, const Array& X, const Array& y,
                                   const std::vector<double>& classes) {
  check_plan(plan);
  check_shapes(plan.what, X, y);
  const Array y_chunks = y.chunks() == X.chunks() ? y : y.rechunk(X.chunks());
  const std::int64_t n_chunks = X.n_chunks();
  const std::int64_t p = plan.replicas;
  const std::int64_t per_round = plan.sync_every > 0 ? p * plan.sync_every : n_chunks;

  std::random_device entropy;
  ml_core::RandomState rng(plan.random_state >= 0 ? static_cast<std::uint32_t>(plan.random_state) : entropy());
  const NDArray all_classes = float64_array(classes, {static_cast<std::int64_t>(classes.size())});
  const NDArray no_classes = float64_array({}, {0});
  FutureBase average;  // the model every replica starts the round from (invalid: start_model)
  bool fitted = start_fitted;
  std::deque<FutureBase> in_flight;
  ChainResult result;
  // One replica: no pin, so its chunk reads spread over every worker.
  const std::vector<std::string> workers = p > 1 ? worker_addresses(client) : std::vector<std::string>{};

  for (std::int64_t epoch = 0; epoch < plan.epochs; ++epoch) {
    const std::vector<std::int64_t> order = epoch_order(plan, rng, n_chunks);
    for (std::int64_t round_begin = 0; round_begin < n_chunks; round_begin += per_round) {
      const std::int64_t round_end = std::min(n_chunks, round_begin + per_round);
      const std::int64_t active = std::min(p, round_end - round_begin);  // replicas with a chunk this round
      std::vector<TaskArg> tip(static_cast<std::size_t>(active),
                               average.valid() ? TaskArg(average) : TaskArg(Value(Bytes::from_string(start_model))));
      std::vector<FutureBase> tips(static_cast<std::size_t>(active));
      // Step by step across the replicas: chunk j of the round goes to replica j mod p.
      for (std::int64_t j = round_begin; j < round_end; ++j) {
        const auto r = static_cast<std::size_t>((j - round_begin) % p);
        const std::int64_t chunk = order[static_cast<std::size_t>(j)];
        const bool first_of_replica = !fitted && j - round_begin < p;
        const NDArray& classes_arg = first_of_replica ? all_classes : no_classes;
        FutureBase next;
        if (workers.empty()) {
          next = client.submit(ops::kSgdPartialFit, tip[r], X.chunk(chunk), y_chunks.chunk(chunk), classes_arg);
        } else {
          const std::string& worker = workers[r % workers.size()];
          next = client.submit(preferring(worker), ops::kSgdPartialFit, tip[r], read_on(X.chunk(chunk), worker),
                                      read_on(y_chunks.chunk(chunk), worker), classes_arg);
        }
        tip[r] = next;
        tips[r] = next;
        in_flight.push_back(next);
        ++result.partial_fit_calls;
        wait_down_to(in_flight, static_cast<std::size_t>(p * plan.max_in_flight));
      }
      fitted = true;
      average = tree_allreduce(client, tips, ops::kSgdAverage, plan.fan_in);
      ++result.rounds;
    }
    if (plan.verbose) {
      std::cerr << "[" << plan.what << "] epoch " << epoch + 1 << "/" << plan.epochs << ": " << n_chunks << " chunks, "
                << result.partial_fit_calls << " partial_fit calls, " << result.rounds << " rounds\n";
    }
  }
  result.model = model_of(average);
  return result;
}

ChainResult run_generator_chain(Client& client, const ChainPlan& plan, const std::string& start_model,
                                bool start_fitted, const ChunkGenerator& chunks, const std::vector<double>& classes) {
  check_plan(plan);
  const NDArray all_classes = float64_array(classes, {static_cast<std::int64_t>(classes.size())});
  const NDArray no_classes = float64_array({}, {0});
  TaskArg tip = Value(Bytes::from_string(start_model));
  FutureBase last;
  // Each entry: a fit and the chunk index it fits, so that a failure names the chunk.
  std::deque<FutureBase> in_flight;
  std::deque<std::int64_t> in_flight_chunks;
  ChainResult result;
  auto wait_for_room = [&](std::size_t limit) {
    try {
      while (in_flight.size() > limit) {
        wait_down_to(in_flight, in_flight.size() - 1);
        in_flight_chunks.pop_front();
      }
    } catch (const TaskError& e) {
      throw TaskError(Status(e.status().code(), plan.what + ": generator chunk " +
                                                    std::to_string(in_flight_chunks.front()) + ": " +
                                                    e.status().message()));
    }
  };
  for (std::int64_t index = 0;; ++index) {
    // At most max_in_flight chunks on the cluster: the next one is made only when there is room.
    wait_for_room(static_cast<std::size_t>(plan.max_in_flight - 1));
    std::optional<XyChunk> chunk = chunks();
    if (!chunk) break;
    check_generated(plan.what, index, *chunk);
    Future<Value> X = client.scatter(Value(std::move(chunk->X)));
    Future<Value> y = client.scatter(Value(std::move(chunk->y)));
    const bool first = !start_fitted && index == 0;
    last = client.submit(ops::kSgdPartialFit, tip, X, y, first ? all_classes : no_classes);
    tip = last;
    in_flight.push_back(last);
    in_flight_chunks.push_back(index);
    ++result.partial_fit_calls;
  }
  if (result.partial_fit_calls == 0) fail(plan.what + ".fit: the generator gave no chunks");
  wait_for_room(0);
  result.model = model_of(last);
  result.rounds = 1;
  if (plan.verbose) std::cerr << "[" << plan.what << "] generator: " << result.partial_fit_calls << " chunks\n";
  return result;
}

std::vector<double> classes_for(Client& client, bool classifier, const Array& y) {
  if (!classifier || !y.valid()) return {};
  NDArray found = find_classes(client, y);
  return {found.data<double>(), found.data<double>() + found.size()};
}

Params take_prefixed(Params& params, const std::string& prefix) {
  Params inner;
  for (auto it = params.begin(); it != params.end();) {
    if (it->first.rfind(prefix, 0) == 0) {
      inner[it->first.substr(prefix.size())] = it->second;
      it = params.erase(it);
    } else {
      ++it;
    }
  }
  return inner;
}

Params wrapper_params(Params own, const Params& estimator) {
  for (const auto& [name, value] : estimator) own[kEstimatorPrefix + name] = value;
  return own;
}

std::int64_t worker_count(Client& client) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(worker_addresses(client).size()));
}

}  // namespace dtask::ml::internal
