#include "common/frame.h"

#include <bit>
#include <cstring>
#include <string>

namespace dtask {

static_assert(std::endian::native == std::endian::little, "frames are little-endian; add byte swaps here");

namespace {
template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
}  // namespace

Result<FrameHeader> parse_frame_header(std::span<const std::byte> bytes, const FrameLimits& limits) {
  if (bytes.size() < kFrameHeaderSize) return Status::invalid("truncated frame header");
  const std::byte* p = bytes.data();
  if (load<std::uint32_t>(p) != kFrameMagic) return Status::invalid("bad frame magic (not a dtask peer?)");
  std::uint8_t version = load<std::uint8_t>(p + 4);
  if (version != kFrameVersion) {
    return Status::invalid("unsupported frame version " + std::to_string(version));
  }
  FrameHeader header;
  header.kind = load<std::uint8_t>(p + 5);
  header.message_bytes = load<std::uint32_t>(p + 8);
  header.bulk_count = load<std::uint32_t>(p + 12);
  header.bulk_bytes = load<std::uint64_t>(p + 16);
  if (header.kind >= kMessageKindCount) {
    return Status::invalid("unknown message kind " + std::to_string(header.kind));
  }
  if (header.message_bytes == 0 || header.message_bytes % 8 != 0) {
    return Status::invalid("message length " + std::to_string(header.message_bytes) +
                           " is not a positive multiple of 8");
  }
  if (header.message_bytes > limits.max_message_bytes) {
    return Status::invalid("message of " + std::to_string(header.message_bytes) + " bytes exceeds the limit of " +
                           std::to_string(limits.max_message_bytes));
  }
  if (header.bulk_count > limits.max_bulk_slices) {
    return Status::invalid("frame has " + std::to_string(header.bulk_count) + " bulk slices, limit " +
                           std::to_string(limits.max_bulk_slices));
  }
  if (header.bulk_bytes > limits.max_bulk_bytes) {
    return Status::invalid("bulk section of " + std::to_string(header.bulk_bytes) + " bytes exceeds the limit of " +
                           std::to_string(limits.max_bulk_bytes));
  }
  if (header.bulk_bytes % kBulkAlignment != 0) return Status::invalid("bulk section is not padded");
  return header;
}

Result<std::vector<std::uint64_t>> parse_bulk_table(const FrameHeader& header, std::span<const std::byte> body) {
  if (body.size() != header.body_bytes()) return Status::invalid("truncated frame body");
  std::vector<std::uint64_t> slices(header.bulk_count);
  const std::byte* table = body.data() + header.message_bytes;
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; i < header.bulk_count; ++i) {
    slices[i] = load<std::uint64_t>(table + 8 * i);
    if (slices[i] > header.bulk_bytes) return Status::invalid("bulk slice longer than the bulk section");
    total += pad_to_bulk_alignment(slices[i]);
    if (total > header.bulk_bytes) return Status::invalid("bulk slices overrun the bulk section");
  }
  if (total != header.bulk_bytes) return Status::invalid("bulk slices do not fill the bulk section");
  return slices;
}

EncodedFrame join_frames(EncodedFrame first, EncodedFrame second) {
  EncodedFrame joined;
  joined.pieces = std::move(first.pieces);
  joined.pieces.insert(joined.pieces.end(), second.pieces.begin(), second.pieces.end());
  joined.total_bytes = first.total_bytes + second.total_bytes;
  joined.storage = std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
      std::move(first.storage), std::move(second.storage));
  return joined;
}

std::vector<std::byte> flatten_frame(const EncodedFrame& frame) {
  std::vector<std::byte> out;
  out.reserve(frame.total_bytes);
  for (auto piece : frame.pieces) out.insert(out.end(), piece.begin(), piece.end());
  return out;
}

}  // namespace dtask
