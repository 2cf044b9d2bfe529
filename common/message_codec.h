// Message <-> Cap'n Proto encoding. The only code that touches the generated
// proto classes; everything else sees the structs of common/messages.h.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/frame.h"
#include "common/messages.h"

namespace dtask {

/// Time (CPU time for long ones, common/cpu_clock.h's TimedSection) this process spent encoding and decoding
/// messages since count_codec_time() (all threads). The scheduler reports
/// its own in scheduler_info's "counters", so a benchmark can say what a
/// task costs in encode and decode.
struct CodecCounters {
  std::atomic<std::uint64_t> encode_ns{0};
  std::atomic<std::uint64_t> decode_ns{0};
};
const CodecCounters& codec_counters();
/// Starts the counters: reading the clocks costs, which only a process that
/// reports them (the scheduler) should pay on every hop.
void count_codec_time();

/// Encodes one message into a frame. Never fails for a well-formed Message.
/// Thread-safe (no shared state).
EncodedFrame encode_frame(const Message& message);

/// The tasks of a ComputeTaskBatch, read where they already are. The
/// scheduler encodes its task table through this (scheduler/compute_orders.h)
/// instead of first copying each task into a msg::ComputeTask: for a task
/// with a million inputs, that copy was the scheduler's peak memory.
/// encode_frame(msg::ComputeTaskBatch) goes through it too, so both encode
/// the same bytes. References returned stay valid until encoding ends.
class ComputeTaskSource {
 public:
  struct Task {
    const std::string& key;
    const std::string& op;
    const std::vector<Value>& args;
    const Priority& priority;
    const ResourceList& resources;
    std::size_t dependency_count = 0;
    bool inline_result = false;
  };
  struct Dependency {
    const std::string& key;
    std::uint64_t nbytes = 0;
    std::size_t holder_count = 0;
  };
  virtual ~ComputeTaskSource() = default;
  virtual std::size_t size() const = 0;
  virtual Task task(std::size_t i) const = 0;
  /// Dependency `j` of task `i`.
  virtual Dependency dependency(std::size_t i, std::size_t j) const = 0;
  /// Its key alone (what an argument naming it is looked up by; cheaper
  /// than dependency(), which counts the holders to send).
  virtual const std::string& dependency_key(std::size_t i, std::size_t j) const = 0;
  /// The data address of holder `k` of dependency `j` of task `i`.
  virtual const std::string& holder(std::size_t i, std::size_t j, std::size_t k) const = 0;
};

/// Encodes a ComputeTaskBatch frame from `tasks`. Thread-safe.
EncodedFrame encode_compute_tasks(const ComputeTaskSource& tasks);

/// Decodes a frame body. `body` holds the Cap'n Proto words (8-byte aligned)
/// followed by the bulk table; `bulk` holds the bulk section. Any malformed
/// content is an Invalid status, never a crash.
Result<Message> decode_frame_body(const FrameHeader& header, std::span<const std::byte> body,
                                  std::shared_ptr<const Buffer> bulk, const std::vector<std::uint64_t>& slices);

/// Decodes a whole frame held in memory (tests, fuzzers). Reports truncation.
Result<Message> decode_frame(std::span<const std::byte> frame, const FrameLimits& limits);

}  // namespace dtask
