#include "formats/file_io_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <new>
#include <system_error>

namespace dtask::formats::internal {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

Result<UniqueFd> open_file(const std::string& path, int flags, unsigned mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd >= 0) return UniqueFd(fd);
  const int err = errno;
  std::string message = "cannot open " + path + ": " + errno_text(err);
  if (err == ENOENT) return Status::not_found(std::move(message));
  return Status::io_error(std::move(message));
}

Result<std::uint64_t> file_size(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::io_error("cannot stat " + path + ": " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) return Status::invalid(path + " is not a regular file");
  return static_cast<std::uint64_t>(st.st_size);
}

Status pread_full(int fd, void* data, std::size_t size, std::uint64_t offset, const std::string& path) {
  auto* out = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error("cannot read " + path + ": " + errno_text(errno));
    if (n == 0) {
      return Status::io_error(path + ": unexpected end of file reading " + std::to_string(size) +
                              " bytes at offset " + std::to_string(offset));
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::success();
}

Status pread_streaming(int fd, void* data, std::size_t size, std::uint64_t offset, const std::string& path,
                       std::size_t piece, int ahead) {
  auto* out = static_cast<char*>(data);
  const auto advise = [&](std::size_t from) {
    if (from >= size) return;
    const std::size_t length = std::min(size - from, piece);
    // Advice only: a failure (or a file system that ignores it) costs speed, never correctness.
    (void)::posix_fadvise(fd, static_cast<off_t>(offset + from), static_cast<off_t>(length), POSIX_FADV_WILLNEED);
  };
  for (int i = 0; i < ahead; ++i) advise(static_cast<std::size_t>(i) * piece);
  for (std::size_t done = 0; done < size; done += piece) {
    advise(done + static_cast<std::size_t>(ahead) * piece);
    DTASK_RETURN_NOT_OK(pread_full(fd, out + done, std::min(piece, size - done), offset + done, path));
  }
  return Status::success();
}

Status pwrite_full(int fd, const void* data, std::size_t size, std::uint64_t offset, const std::string& path) {
  const auto* in = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, in + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error("cannot write " + path + ": " + errno_text(errno));
    done += static_cast<std::size_t>(n);
  }
  return Status::success();
}

Result<std::string> read_whole_file(const std::string& path, std::uint64_t max_bytes) {
  DTASK_ASSIGN_OR_RETURN(UniqueFd fd, open_file(path, O_RDONLY));
  DTASK_ASSIGN_OR_RETURN(std::uint64_t size, file_size(fd.get(), path));
  if (size > max_bytes) {
    return Status::invalid(path + " is " + std::to_string(size) + " bytes, more than the " +
                           std::to_string(max_bytes) + " expected at most");
  }
  std::string bytes;
  try {
    bytes.resize(static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    return Status::out_of_memory("cannot allocate " + std::to_string(size) + " bytes to read " + path);
  }
  DTASK_RETURN_NOT_OK(pread_full(fd.get(), bytes.data(), bytes.size(), 0, path));
  return bytes;
}

Status write_file_atomic(const std::string& path, std::span<const std::string_view> parts) {
  // pid + a process-wide counter keeps concurrent writers (threads or
  // processes sharing a directory) from sharing a temporary file.
  static std::atomic<std::uint64_t> counter{0};
  const std::string temp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  Status status;
  {
    auto fd = open_file(temp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL);
    if (!fd.ok()) return Status::io_error(fd.status().message());
    std::uint64_t offset = 0;
    for (std::string_view part : parts) {
      status = pwrite_full(fd->get(), part.data(), part.size(), offset, temp);
      if (!status.ok()) break;
      offset += part.size();
    }
  }
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = Status::io_error("cannot rename " + temp + " to " + path + ": " + errno_text(errno));
  }
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

Result<std::shared_ptr<Buffer>> allocate_buffer(std::size_t size, std::string_view what) {
  try {
    return Buffer::allocate(size);
  } catch (const std::bad_alloc&) {
    return Status::out_of_memory("cannot allocate " + std::to_string(size) + " bytes for " + std::string(what));
  }
}

bool checked_product(std::span<const std::int64_t> extents, std::int64_t limit, std::int64_t& product) {
  // Zero extents are skipped while multiplying, so that every sub-product of
  // an empty array's shape (a row's size, say) is bounded by `limit` too.
  std::int64_t nonzero = 1;
  bool empty = false;
  for (std::int64_t extent : extents) {
    if (extent < 0) return false;
    if (extent == 0) {
      empty = true;
      continue;
    }
    if (nonzero > limit / extent) return false;
    nonzero *= extent;
  }
  product = empty ? 0 : nonzero;
  return true;
}

}  // namespace dtask::formats::internal
