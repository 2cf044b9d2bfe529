// Few distinct strings, each kept once: op names, result type names, worker
// addresses. A million tasks name a handful of each, so a task points at the
// pool's copy instead of holding its own (32 bytes, and a heap block for a
// name longer than 15 characters, such as "tcp://127.0.0.1:40123").
#pragma once

#include <absl/container/node_hash_set.h>

#include <string>
#include <string_view>

namespace dtask {

class NamePool {
 public:
  /// The one empty name (what intern("") returns): a default for pointers.
  static const std::string* empty();

  /// The pool's copy of `name`. Names stay for the pool's life, so the
  /// pointer never dangles while the pool lives.
  const std::string* intern(std::string_view name);

 private:
  absl::node_hash_set<std::string> names_;  // nodes: an element never moves
};

}  // namespace dtask
