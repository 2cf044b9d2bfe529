#include "common/name_pool.h"

namespace dtask {

const std::string* NamePool::empty() {
  static const std::string kEmpty;
  return &kEmpty;
}

const std::string* NamePool::intern(std::string_view name) {
  if (name.empty()) return empty();
  // Abseil's own string_view here: Debian's Abseil does not alias std's.
  auto it = names_.find(absl::string_view(name.data(), name.size()));
  if (it == names_.end()) it = names_.emplace(name).first;
  return &*it;
}

}  // namespace dtask
