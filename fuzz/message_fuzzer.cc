// libFuzzer target: the message codec, every message kind. The input is
//
//   [kind: 1 byte][bulk slice count n: 1 byte, mod 9][n slice lengths: 1 byte each]
//   [Cap'n Proto message: segment table + segments, cut to whole words]
//
// and the harness wraps it in a consistent frame header and bulk section, so
// the fuzzer spends its time inside the Cap'n Proto content of the chosen
// kind rather than on header checks (frame_fuzzer covers those).
// Invariant: a message that decodes re-encodes, and that frame decodes back
// to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "common/frame.h"
#include "common/message_codec.h"
#include "common/messages.h"
#include "dtask/value.h"
#include "fuzz/fuzz_support_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dtask;
  if (size < 2) return 0;
  FrameHeader header;
  header.kind = static_cast<std::uint8_t>(data[0] % kMessageKindCount);
  header.bulk_count = data[1] % 9;
  std::size_t pos = 2;
  if (size < pos + header.bulk_count) return 0;
  std::vector<std::uint64_t> lengths(data + pos, data + pos + header.bulk_count);
  pos += header.bulk_count;
  const std::size_t words = (size - pos) / 8;
  if (words == 0) return 0;
  header.message_bytes = static_cast<std::uint32_t>(words * 8);
  for (std::uint64_t length : lengths) header.bulk_bytes += pad_to_bulk_alignment(length);

  // Body and bulk in 64-byte aligned buffers, laid out as on the wire.
  auto body = Buffer::allocate(header.body_bytes());
  std::memcpy(body->mutable_data(), data + pos, header.message_bytes);
  if (!lengths.empty()) std::memcpy(body->mutable_data() + header.message_bytes, lengths.data(), lengths.size() * 8);
  auto bulk = Buffer::allocate(header.bulk_bytes);
  for (std::size_t i = 0; i < header.bulk_bytes; ++i) bulk->mutable_data()[i] = static_cast<std::byte>(i * 7);
  std::span<const std::byte> body_span(body->data(), body->size());

  auto slices = parse_bulk_table(header, body_span);
  DTASK_FUZZ_CHECK(slices.ok());
  auto decoded = decode_frame_body(header, body_span, bulk, *slices);
  if (!decoded.ok()) return 0;
  DTASK_FUZZ_CHECK(decoded->index() == header.kind);

  const std::vector<std::byte> first = flatten_frame(encode_frame(*decoded));
  auto again = decode_frame(first, FrameLimits{});
  DTASK_FUZZ_CHECK(again.ok());
  DTASK_FUZZ_CHECK(flatten_frame(encode_frame(*again)) == first);
  return 0;
}
