#include "dtask/delayed.h"

#include <atomic>
#include <cstdio>
#include <cstring>
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
  // A per-process salt of 128 random bits keeps keys of different clients
  // apart: with 32 bits, two of a few thousand client processes sharing a
  // scheduler over its life would likely draw the same salt, and the second
  // would silently get the first one's results. The counter keeps this
  // process's keys apart; the salt is fixed width, so the two never blur.
  static const std::string salt = [] {
    std::random_device entropy;
    char hex[33];
    for (int i = 0; i < 4; ++i) std::snprintf(hex + 8 * i, 9, "%08x", static_cast<unsigned>(entropy()));
    return std::string(hex, 32);
  }();
  static std::atomic<std::uint64_t> counter{0};
  char suffix[24];
  std::snprintf(suffix, sizeof(suffix), "%llx", static_cast<unsigned long long>(counter.fetch_add(1)));
  std::string key;
  key.reserve(op.size() + 1 + salt.size() + std::strlen(suffix));
  return key.append(op).append("-").append(salt).append(suffix);
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
