// Framing of every dtask connection.
//
//   [header: 24 bytes][Cap'n Proto message: segment table + segments]
//   [bulk table: bulk_count x u64 slice lengths][bulk: slices, each padded to 64 bytes]
//
// The header is read first and checked against FrameLimits before a single
// byte of the body is allocated. Bulk slices (array and blob payloads) are
// written straight from their Buffers with scatter-gather I/O and received
// into one 64-byte aligned allocation that values then slice, so array bytes
// are never copied into or out of the Cap'n Proto arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/messages.h"
#include "dtask/status.h"
#include "dtask/value.h"

namespace dtask {

inline constexpr std::uint32_t kFrameMagic = 0x4b535444;  // "DTSK" little-endian
inline constexpr std::uint8_t kFrameVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 24;
inline constexpr std::size_t kBulkAlignment = 64;

/// Upper bounds a receiver enforces before allocating. Configurable per daemon.
struct FrameLimits {
  std::uint64_t max_message_bytes = 512ull << 20;  // the Cap'n Proto part
  std::uint64_t max_bulk_bytes = 8ull << 30;       // array payloads in one frame
  std::uint32_t max_bulk_slices = 1u << 22;
};

/// What a server reads from a peer it has not admitted yet (no accepted
/// Handshake): a Handshake is a few hundred bytes and carries no bulk, so an
/// unauthenticated peer can make the daemon allocate no more than this per
/// connection, however large the lengths its header claims.
inline constexpr FrameLimits kHandshakeFrameLimits{
    .max_message_bytes = 64 << 10, .max_bulk_bytes = 0, .max_bulk_slices = 0};

struct FrameHeader {
  std::uint8_t kind = 0;  // index into Message
  std::uint32_t message_bytes = 0;
  std::uint32_t bulk_count = 0;
  std::uint64_t bulk_bytes = 0;

  /// Bytes after the header that precede the bulk section.
  std::size_t body_bytes() const { return message_bytes + std::size_t{bulk_count} * 8; }
};

/// Checks magic, version, kind and every length against `limits`.
Result<FrameHeader> parse_frame_header(std::span<const std::byte> header, const FrameLimits& limits);

/// Reads the bulk table (the last bulk_count*8 bytes of the body) and checks
/// that the padded slices add up to header.bulk_bytes. Returns slice lengths.
Result<std::vector<std::uint64_t>> parse_bulk_table(const FrameHeader& header, std::span<const std::byte> body);

inline std::uint64_t pad_to_bulk_alignment(std::uint64_t n) {
  return (n + kBulkAlignment - 1) / kBulkAlignment * kBulkAlignment;
}

/// A frame ready to write: `pieces` point into `storage` and into the values'
/// Buffers, which `storage` keeps alive.
struct EncodedFrame {
  std::vector<std::span<const std::byte>> pieces;
  std::shared_ptr<void> storage;
  std::size_t total_bytes = 0;
};

/// Two frames as one, `first` ahead: written together, they cost the
/// reader one wake-up, not two.
EncodedFrame join_frames(EncodedFrame first, EncodedFrame second);

/// Concatenates an encoded frame (tests, fuzzers).
std::vector<std::byte> flatten_frame(const EncodedFrame& frame);

}  // namespace dtask
