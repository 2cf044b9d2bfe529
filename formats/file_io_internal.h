// POSIX file helpers shared by the format readers and writers: full
// pread/pwrite loops, bounded whole-file reads, and atomic replacement.
// Every error message names the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "dtask/status.h"
#include "dtask/value.h"

namespace dtask::formats::internal {

/// Owns a file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

/// "No such file or directory" for an errno value. Thread-safe.
std::string errno_text(int err);

/// open(2) with O_CLOEXEC. A missing file is NotFound, other failures IOError.
Result<UniqueFd> open_file(const std::string& path, int flags, unsigned mode = 0644);

/// The size of the open file `fd` (named `path` in errors).
Result<std::uint64_t> file_size(int fd, const std::string& path);

/// Reads exactly `size` bytes at `offset`; reaching end of file first is IOError.
Status pread_full(int fd, void* data, std::size_t size, std::uint64_t offset, const std::string& path);
/// pread_full for a large range read once, front to back: it reads in
/// `piece` bytes and asks the kernel (POSIX_FADV_WILLNEED) for the next
/// `ahead` pieces before copying each one, so the disk stays busy while
/// the previous piece is copied out. Same errors as pread_full.
Status pread_streaming(int fd, void* data, std::size_t size, std::uint64_t offset, const std::string& path,
                       std::size_t piece = std::size_t{8} << 20, int ahead = 4);

/// Writes all `size` bytes at `offset`.
Status pwrite_full(int fd, const void* data, std::size_t size, std::uint64_t offset, const std::string& path);

/// The whole file, refusing files larger than `max_bytes` (so a hostile or
/// corrupt file cannot make us allocate without bound). Missing: NotFound.
Result<std::string> read_whole_file(const std::string& path, std::uint64_t max_bytes);

/// Writes the concatenation of `parts` to a temporary file beside `path`,
/// then renames it over `path`: readers see the old file or the new one,
/// never a partial write. Thread-safe (temporary names are unique).
Status write_file_atomic(const std::string& path, std::span<const std::string_view> parts);

/// An uninitialised buffer, or OutOfMemory naming `what` instead of throwing.
Result<std::shared_ptr<Buffer>> allocate_buffer(std::size_t size, std::string_view what);

/// Multiplies non-negative extents into `product`. False when an extent is
/// negative or the product of the non-zero extents exceeds `limit`.
bool checked_product(std::span<const std::int64_t> extents, std::int64_t limit, std::int64_t& product);

}  // namespace dtask::formats::internal
