// Message <-> Cap'n Proto encoding. The only code that touches the generated
// proto classes; everything else sees the structs of common/messages.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/frame.h"
#include "common/messages.h"

namespace dtask {

/// CPU time this process spent encoding and decoding messages, ever (all
/// threads). The scheduler reports its own in scheduler_info's "counters",
/// so a benchmark can say what a task costs in encode and decode.
struct CodecCounters {
  std::atomic<std::uint64_t> encode_ns{0};
  std::atomic<std::uint64_t> decode_ns{0};
};
const CodecCounters& codec_counters();

/// Encodes one message into a frame. Never fails for a well-formed Message.
/// Thread-safe (no shared state).
EncodedFrame encode_frame(const Message& message);

/// Decodes a frame body. `body` holds the Cap'n Proto words (8-byte aligned)
/// followed by the bulk table; `bulk` holds the bulk section. Any malformed
/// content is an Invalid status, never a crash.
Result<Message> decode_frame_body(const FrameHeader& header, std::span<const std::byte> body,
                                  std::shared_ptr<const Buffer> bulk, const std::vector<std::uint64_t>& slices);

/// Decodes a whole frame held in memory (tests, fuzzers). Reports truncation.
Result<Message> decode_frame(std::span<const std::byte> frame, const FrameLimits& limits);

}  // namespace dtask
