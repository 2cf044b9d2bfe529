// A task definition's fingerprint: what a key computes, in 64 bits, so the
// scheduler can tell a resubmitted key (same definition: reuse its result)
// from a redefined one (refuse it) without keeping a copy of the definition.
#pragma once

#include <cstdint>
#include <string>

#include "common/messages.h"
#include "scheduler/task_state.h"

namespace dtask::scheduler {

/// A hash of `def`'s op, arguments and dependency keys (as a set: the same
/// dependency named twice, or in another order, is the same task). Priority,
/// resources, worker restrictions and retries say how a task runs, not what
/// it computes, so they are left out. Never 0 (0 stands for "no definition",
/// as scattered data has). Equal definitions always give equal fingerprints
/// within one build; different ones differ but for a 2^-64 chance. Never
/// throws. Thread-safe.
std::uint64_t task_fingerprint(const msg::TaskDef& def);

/// Why `def` may not reuse `known`, the task its key already names with
/// another fingerprint: names the key and both ops, and says what to do.
std::string redefinition_error(const TaskState& known, const msg::TaskDef& def);

}  // namespace dtask::scheduler
