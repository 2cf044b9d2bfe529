// The recent past of every worker, for the dashboard's task stream: a bar
// per task run, transfer and spill. A fixed ring of small plain records, so
// recording costs the scheduler strand a copy of 32 bytes per task and no
// allocation; names (ops, workers) are interned once.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace dtask::scheduler {

enum class StreamKind : std::uint8_t { kCompute = 0, kErred, kTransfer, kSpill, kUnspill };

/// "compute", "erred", "transfer", "spill", "unspill".
const char* stream_kind_name(StreamKind kind);

struct StreamEvent {
  double start = 0;  // wall-clock seconds (worker clock)
  double stop = 0;
  std::uint32_t worker = 0;  // TaskStream::worker_names() index
  std::uint32_t op = 0;      // TaskStream::op_names() index; 0 for transfers and spills
  std::uint32_t thread = 0;  // executor thread, for compute and erred
  StreamKind kind = StreamKind::kCompute;
};

/// Call on the scheduler strand. Not thread-safe.
class TaskStream {
 public:
  explicit TaskStream(std::size_t capacity = 1 << 16);

  std::uint32_t intern_op(const std::string& op);
  std::uint32_t intern_worker(const std::string& name);
  void record(const StreamEvent& event);

  /// Events that stopped after `since`, oldest first; when there are more
  /// than `limit`, the newest `limit` of them.
  std::vector<StreamEvent> since(double since, std::size_t limit) const;
  const std::vector<std::string>& op_names() const { return op_names_; }
  const std::vector<std::string>& worker_names() const { return worker_names_; }

 private:
  std::uint32_t intern(std::unordered_map<std::string, std::uint32_t>& ids, std::vector<std::string>& names,
                       const std::string& name);

  std::vector<StreamEvent> ring_;
  std::size_t next_ = 0;   // where the next event goes
  std::size_t size_ = 0;   // events held (<= capacity)
  std::unordered_map<std::string, std::uint32_t> op_ids_;
  std::vector<std::string> op_names_;
  std::unordered_map<std::string, std::uint32_t> worker_ids_;
  std::vector<std::string> worker_names_;
};

}  // namespace dtask::scheduler
