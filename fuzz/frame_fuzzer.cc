// libFuzzer target: whole frames as they arrive on a connection. Checks the
// 24-byte header against FrameLimits (the daemons' defaults and tight ones),
// the bulk table against the bulk section, and decodes the Cap'n Proto
// message with its bulk slices. Invariant: a frame that decodes re-encodes
// into a frame that decodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/frame.h"
#include "common/message_codec.h"
#include "fuzz/fuzz_support_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dtask;
  std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data), size);

  // Tight limits reach every limit check with small inputs.
  const FrameLimits tight{.max_message_bytes = 4096, .max_bulk_bytes = 4096, .max_bulk_slices = 16};
  auto tight_header = parse_frame_header(frame, tight);
  if (tight_header.ok()) {
    // The bulk table on its own, as a connection reads it after the body.
    const std::size_t body = tight_header->body_bytes();
    if (size >= kFrameHeaderSize + body) {
      (void)parse_bulk_table(*tight_header, frame.subspan(kFrameHeaderSize, body));
    }
  }

  // What a daemon does with its default limits.
  auto decoded = decode_frame(frame, FrameLimits{});
  if (!decoded.ok()) return 0;
  const std::vector<std::byte> first = flatten_frame(encode_frame(*decoded));
  auto again = decode_frame(first, FrameLimits{});
  DTASK_FUZZ_CHECK(again.ok());
  DTASK_FUZZ_CHECK(again->index() == decoded->index());
  DTASK_FUZZ_CHECK(flatten_frame(encode_frame(*again)) == first);
  return 0;
}
