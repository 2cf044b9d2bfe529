// The worker's side of the op registry: the built-in ops and plugin
// loading. The registration API itself (OpRegistry, DTASK_PLUGIN_ABI) is
// public, in dtask/ops.h.
#pragma once

#include <string>

#include "dtask/ops.h"
#include "dtask/status.h"

namespace dtask {

/// Ops every worker has: arithmetic on scalars and arrays, sum of a list,
/// identity, and a few for tests (fail, sleep). See builtin_ops.cc.
void register_builtin_ops(OpRegistry& registry);

/// Loads a plugin library: checks its DTASK_PLUGIN_ABI version, calls its
/// dtask_register_ops(), and fails, naming the plugin, on a missing or
/// different version, a registration that failed (a duplicate op name), or
/// no ops at all.
Status load_plugin(OpRegistry& registry, const std::string& path);

}  // namespace dtask
