// Collectives over values held on the workers, built from tasks: each task
// fetches its inputs from the workers that hold them, so the values move
// worker to worker; the scheduler places the tasks and never carries the
// bytes. A lost worker's part of a round is recomputed from its lineage on
// the workers that remain (the scheduler's fault tolerance), so a round
// finishes, or fails with the task's error; it does not hang.
//
//   std::vector<FutureBase> replicas = ...;   // one model per worker, on the workers
//   Future<Bytes> mean = dtask::tree_allreduce(client, replicas, dtask::ops::kSgdAverage);
//   client.submit(dtask::ops::kSgdPartialFit, mean, X.chunk(0), ...);  // every user fetches it
//
// Which one: a tree for small values, a ring for large arrays. The models
// SGD averages are KiBs to a few MiB, and their rounds are latency-bound: a
// binary tree takes ceil(log2 p) task steps and moves each value once per
// level (Rabit's tree allreduce), but the worker at the root receives a whole
// vector per level. A ring (Horovod's) cuts the arrays into p segments and
// moves only segments: each worker sends and receives 2 (p-1)/p of the
// array in all, whatever p, at the price of 2 (p-1) task steps of latency
// (~100 us each here). By these costs it pays for arrays of tens of MiB and
// more; the crossover has not been measured yet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtask/future.h"
#include "dtask/op_def.h"

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
/// The same with the combine op given by its OpDef, which must take
/// (list, weights) (as dtask::ops::kSgdAverage): another signature does not
/// compile. The future has the op's result type.
template <typename R>
Future<R> tree_allreduce(Client& client, const std::vector<FutureBase>& parts,
                         const OpDef<R(ValueList, NDArray)>& combine_op, int fan_in = 2) {
  return Future<R>(tree_allreduce(client, parts, std::string(combine_op.name), fan_in));
}

struct RingOptions {
  std::int64_t rows = 0;  ///< rows of every part (a 1-d part's length); > 0, the same for all
  std::int64_t cols = 0;  ///< columns of 2-d parts; 0 for 1-d parts
  bool mean = false;      ///< the mean of the parts instead of their sum
};

/// Sums (or averages) `parts`, float arrays of one shape, by a ring: each
/// part is cut into min(p, rows) row segments (ops::kSliceBlock where the part
/// is held); segment s is summed along the ring, one ops::kElemwise "add" per
/// step starting from part s + 1, so each step moves one segment; then each
/// result is joined from the reduced segments (ops::kAssembleRows). Returns one future
/// per part (result i for the holder of part i to use), all of equal value;
/// a task step stands where one of its inputs is, so no worker receives more
/// than 2 (p-1)/p of the array. One part comes back as it is. Throws
/// ArrayError for no parts or rows < 1; a shape or dtype mismatch is the
/// failing task's error. Thread-compatible.
std::vector<Future<Value>> ring_allreduce(Client& client, const std::vector<FutureBase>& parts, RingOptions options);

}  // namespace dtask
