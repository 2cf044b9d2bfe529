// Collectives over values held on the workers, built from tasks: each task
// fetches its inputs from the workers that hold them, so the values move
// worker to worker; the scheduler places the tasks and never carries the
// bytes. A lost worker's part of a round is recomputed from its lineage on
// the workers that remain (the scheduler's fault tolerance), so a round
// finishes, or fails with the task's error; it does not hang.
//
//   std::vector<FutureBase> replicas = ...;   // one model per worker, on the workers
//   Future<Value> mean = dtask::tree_allreduce(client, replicas, "sgd_average");
//   client.submit("sgd_partial_fit", mean, X.chunk(0), ...);  // every user fetches it
//
// Why a tree, not a ring: the vectors we reduce are models of KiBs to a few
// MiB, and rounds are latency-bound. A binary tree takes ceil(log2 p) task
// steps and moves each value once per level (Rabit's tree allreduce); a ring
// (Horovod's, bandwidth-optimal at 2 (p-1)/p of the vector per worker) takes
// 2 (p-1) steps of task latency (~100 us each here), which pays only for
// vectors of tens of MiB and more. A ring is not built yet.
#pragma once

#include <string>
#include <vector>

#include "dtask/future.h"

namespace dtask {

class Client;

/// Reduces `parts` with a tree of `combine_op(list, weights)` tasks, `fan_in`
/// inputs each (>= 2): `weights` (float64) gives how many of `parts` each
/// input stands for, so an op can average ("sgd_average") as well as add.
/// One part is returned as it is. The result is one key; every task that
/// takes it fetches it from the worker holding it. Throws ArrayError for
/// no parts or fan_in < 2. Thread-compatible.
Future<Value> tree_allreduce(Client& client, const std::vector<FutureBase>& parts, const std::string& combine_op,
                             int fan_in = 2);

}  // namespace dtask
