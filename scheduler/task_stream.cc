#include "scheduler/task_stream.h"

#include <algorithm>

namespace dtask::scheduler {

const char* stream_kind_name(StreamKind kind) {
  switch (kind) {
    case StreamKind::kCompute: return "compute";
    case StreamKind::kErred: return "erred";
    case StreamKind::kTransfer: return "transfer";
    case StreamKind::kSpill: return "spill";
    case StreamKind::kUnspill: return "unspill";
  }
  return "unknown";
}

TaskStream::TaskStream(std::size_t capacity) : ring_(std::max<std::size_t>(capacity, 1)) {
  op_names_.push_back("");  // id 0: transfers and spills have no op
  op_ids_.emplace("", 0);
}

std::uint32_t TaskStream::intern(std::unordered_map<std::string, std::uint32_t>& ids,
                                 std::vector<std::string>& names, const std::string& name) {
  auto [it, inserted] = ids.try_emplace(name, static_cast<std::uint32_t>(names.size()));
  if (inserted) names.push_back(name);
  return it->second;
}

std::uint32_t TaskStream::intern_op(const std::string& op) { return intern(op_ids_, op_names_, op); }

std::uint32_t TaskStream::intern_worker(const std::string& name) {
  return intern(worker_ids_, worker_names_, name);
}

void TaskStream::record(const StreamEvent& event) {
  ring_[next_] = event;
  next_ = (next_ + 1) % ring_.size();
  size_ = std::min(size_ + 1, ring_.size());
}

std::vector<StreamEvent> TaskStream::since(double since, std::size_t limit) const {
  // Walk back from the newest: reports arrive roughly in time order, so the
  // walk stops at the first event that ended before the window.
  std::vector<StreamEvent> out;
  for (std::size_t i = 0; i < size_ && out.size() < limit; ++i) {
    const StreamEvent& event = ring_[(next_ + ring_.size() - 1 - i) % ring_.size()];
    if (event.stop < since) break;
    out.push_back(event);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace dtask::scheduler
