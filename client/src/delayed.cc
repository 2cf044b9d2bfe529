#include "dtask/delayed.h"

#include <atomic>
#include <cstdio>
#include <random>

namespace dtask {

TaskArg::TaskArg(const Delayed& delayed) : value_(TaskRef{delayed.key()}), delayed_deps_{delayed} {}

TaskArg::TaskArg(const FutureBase& future) : value_(TaskRef{future.key()}), future_deps_{future} {}

TaskArg::TaskArg(const std::vector<Delayed>& delayeds) : delayed_deps_(delayeds) {
  ValueList refs;
  refs.reserve(delayeds.size());
  for (const Delayed& d : delayeds) refs.push_back(TaskRef{d.key()});
  value_ = Value(std::move(refs));
}

TaskArg::TaskArg(const std::vector<TaskArg>& items) {
  ValueList values;
  values.reserve(items.size());
  for (const TaskArg& item : items) {
    values.push_back(item.value());
    delayed_deps_.insert(delayed_deps_.end(), item.delayed_deps().begin(), item.delayed_deps().end());
    future_deps_.insert(future_deps_.end(), item.future_deps().begin(), item.future_deps().end());
  }
  value_ = Value(std::move(values));
}

namespace internal {

std::string unique_key(const std::string& op) {
  // A per-process random prefix keeps keys from different clients apart.
  static const std::uint64_t salt = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
  static std::atomic<std::uint64_t> counter{0};
  char suffix[40];
  std::snprintf(suffix, sizeof(suffix), "-%08llx%llx", static_cast<unsigned long long>(salt & 0xffffffffu),
                static_cast<unsigned long long>(counter.fetch_add(1)));
  return op + suffix;
}

}  // namespace internal

Delayed DelayedOp::make(std::vector<TaskArg> args) const {
  auto node = std::make_shared<internal::DelayedNode>();
  node->key = options_.key.empty() ? internal::unique_key(op_) : options_.key;
  node->op = op_;
  node->options = options_;
  node->args.reserve(args.size());
  for (TaskArg& arg : args) {
    node->args.push_back(arg.value());
    for (const Delayed& d : arg.delayed_deps()) node->delayed_deps.push_back(d);
    for (const FutureBase& f : arg.future_deps()) node->future_deps.push_back(f);
  }
  return Delayed(std::move(node));
}

}  // namespace dtask
