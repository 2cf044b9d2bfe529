#include "scheduler/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/message_codec.h"

namespace dtask::scheduler {

namespace {

constexpr char kMagic[8] = {'D', 'T', 'J', 'O', 'U', 'R', 'N', '1'};
constexpr std::size_t kRecordPrefix = 4 + 1 + 4;  // record bytes, kind, subject bytes
// A record is at most one client message plus its subject: far below this.
constexpr std::uint64_t kMaxRecordBytes = 16ull << 30;

std::string errno_text() { return std::strerror(errno); }

void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);  // little-endian, as frames are
  out.insert(out.end(), p, p + 4);
}

std::uint32_t get_u32(const std::byte* p) {
  std::uint32_t v = 0;
  std::memcpy(&v, p, 4);
  return v;
}

void encode_record(std::vector<std::byte>& out, JournalRecord::Kind kind, const std::string& subject,
                   const Message* message) {
  std::vector<std::byte> frame;
  if (message != nullptr) frame = flatten_frame(encode_frame(*message));
  const std::size_t record_bytes = kRecordPrefix + subject.size() + frame.size();
  put_u32(out, static_cast<std::uint32_t>(record_bytes));
  out.push_back(static_cast<std::byte>(kind));
  put_u32(out, static_cast<std::uint32_t>(subject.size()));
  const auto* text = reinterpret_cast<const std::byte*>(subject.data());
  out.insert(out.end(), text, text + subject.size());
  out.insert(out.end(), frame.begin(), frame.end());
}

Status write_all(int fd, const std::vector<std::byte>& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::io_error(errno_text());
    done += static_cast<std::size_t>(n);
  }
  return Status::success();
}

bool known_kind(std::uint8_t kind) { return kind >= 1 && kind <= 5; }

/// Parses the record at `data` (`size` bytes left in the file). nullopt:
/// torn or garbage, which ends the replay.
std::optional<std::pair<JournalRecord, std::size_t>> parse_record(const std::byte* data, std::size_t size) {
  if (size < kRecordPrefix) return std::nullopt;
  const std::uint32_t record_bytes = get_u32(data);
  const auto kind = static_cast<std::uint8_t>(data[4]);
  const std::uint32_t subject_bytes = get_u32(data + 5);
  if (record_bytes < kRecordPrefix || record_bytes > size || !known_kind(kind) ||
      subject_bytes > record_bytes - kRecordPrefix) {
    return std::nullopt;
  }
  JournalRecord record;
  record.kind = static_cast<JournalRecord::Kind>(kind);
  record.subject.assign(reinterpret_cast<const char*>(data + kRecordPrefix), subject_bytes);
  const std::size_t frame_bytes = record_bytes - kRecordPrefix - subject_bytes;
  if (frame_bytes > 0) {
    FrameLimits limits{kMaxRecordBytes, kMaxRecordBytes, 1u << 30};
    auto message = decode_frame({data + kRecordPrefix + subject_bytes, frame_bytes}, limits);
    if (!message.ok()) return std::nullopt;
    record.message = std::move(*message);
  }
  return std::make_pair(std::move(record), std::size_t{record_bytes});
}

Result<std::vector<std::byte>> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot read journal " + path + ": " + errno_text());
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

}  // namespace

Result<Journal::Opened> Journal::open(const std::string& directory, std::chrono::milliseconds sync_interval,
                                      std::shared_ptr<spdlog::logger> logger) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) return Status::io_error("cannot create journal directory " + directory + ": " + ec.message());
  const std::string path = (std::filesystem::path(directory) / "journal.dtj").string();

  Opened opened;
  std::uint64_t good_bytes = sizeof(kMagic);
  const bool existing = std::filesystem::exists(path) && std::filesystem::file_size(path, ec) > 0;
  if (existing) {
    DTASK_ASSIGN_OR_RETURN(std::vector<std::byte> bytes, read_file(path));
    if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
      return Status::invalid(path + " is not a dtask journal (bad magic); move it away or pick another --journal");
    }
    while (auto parsed = parse_record(bytes.data() + good_bytes, bytes.size() - good_bytes)) {
      opened.records.push_back(std::move(parsed->first));
      good_bytes += parsed->second;
    }
    opened.torn_bytes = bytes.size() - good_bytes;
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot open journal " + path + ": " + errno_text());
  // Two schedulers appending to one journal would corrupt it. The kernel
  // drops the lock when its holder dies, kill -9 included.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::invalid("journal " + path + " is in use by another dtask-scheduler");
  }
  // New records follow the last whole one: a torn tail is cut.
  bool prepared = (existing || ::pwrite(fd, kMagic, sizeof(kMagic), 0) == static_cast<ssize_t>(sizeof(kMagic))) &&
                  ::ftruncate(fd, static_cast<off_t>(good_bytes)) == 0 && ::lseek(fd, 0, SEEK_END) >= 0 &&
                  ::fdatasync(fd) == 0;
  if (!prepared) {
    ::close(fd);
    return Status::io_error("cannot prepare journal " + path + ": " + errno_text());
  }
  opened.journal.reset(new Journal(path, fd, good_bytes, sync_interval, std::move(logger)));
  return opened;
}

Journal::Journal(std::string path, int fd, std::uint64_t file_bytes, std::chrono::milliseconds sync_interval,
                 std::shared_ptr<spdlog::logger> logger)
    : path_(std::move(path)),
      fd_(fd),
      file_bytes_(file_bytes),
      sync_interval_(sync_interval),
      logger_(std::move(logger)) {
  if (sync_interval_.count() > 0) syncer_ = std::thread([this] { sync_loop(); });
}

Journal::~Journal() {
  Status synced = sync();
  if (!synced.ok()) logger_->error("journal: {}", synced.message());
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  ::close(fd_);
}

void Journal::append(JournalRecord::Kind kind, const std::string& subject, const Message* message) {
  encode_record(buffer_, kind, subject, message);
}

Status Journal::rewrite(const std::vector<JournalRecord>& records) {
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(kMagic),
                               reinterpret_cast<const std::byte*>(kMagic) + sizeof(kMagic));
  for (const JournalRecord& record : records) {
    encode_record(bytes, record.kind, record.subject, record.message ? &*record.message : nullptr);
  }
  // Write a new file beside the old and rename it over: a crash at any
  // point leaves one whole journal, the old or the new.
  const std::string temporary = path_ + ".tmp";
  int fd = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot create " + temporary + ": " + errno_text());
  Status written = ::flock(fd, LOCK_EX | LOCK_NB) == 0 ? write_all(fd, bytes) : Status::io_error(errno_text());
  if (written.ok() && ::fdatasync(fd) != 0) written = Status::io_error(errno_text());
  if (written.ok() && ::rename(temporary.c_str(), path_.c_str()) != 0) written = Status::io_error(errno_text());
  if (!written.ok()) {
    ::close(fd);
    ::unlink(temporary.c_str());
    return Status::io_error("cannot compact journal " + path_ + ": " + written.message());
  }
  sync_directory();
  {
    std::lock_guard lock(mutex_);  // the sync thread reads fd_
    ::close(fd_);
    fd_ = fd;
  }
  ::lseek(fd_, 0, SEEK_END);
  file_bytes_ = bytes.size();
  buffer_.clear();  // the snapshot already holds what it recorded
  return Status::success();
}

void Journal::sync_directory() const {
  const std::string directory = std::filesystem::path(path_).parent_path().string();
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);  // the rename itself is durable
  ::close(fd);
}

Status Journal::write() {
  std::size_t done = 0;  // bytes of buffer_ now in the file
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status failed = Status::io_error("cannot write journal " + path_ + ": " + errno_text());
      // Keep what was not written: a transient failure (disk full) retries next event.
      buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(done));
      file_bytes_ += done;
      if (!std::exchange(write_failed_, true)) logger_->error("{}; the scheduler keeps running", failed.message());
      return failed;
    }
    done += static_cast<std::size_t>(n);
  }
  file_bytes_ += done;
  buffer_.clear();
  write_failed_ = false;
  if (done > 0) {
    if (sync_interval_.count() == 0) return ::fdatasync(fd_) == 0 ? Status::success()
                                                                  : Status::io_error("fdatasync: " + errno_text());
    dirty_.store(true, std::memory_order_release);
  }
  return Status::success();
}

Status Journal::sync() {
  DTASK_RETURN_NOT_OK(write());
  dirty_.store(false, std::memory_order_relaxed);
  if (::fdatasync(fd_) != 0) return Status::io_error("cannot sync journal " + path_ + ": " + errno_text());
  return Status::success();
}

// Written records reach the disk in batches: one fdatasync per interval,
// off the strand, however many events the interval saw.
void Journal::sync_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, sync_interval_, [this] { return stopping_; });
    // fd_ is read under mutex_: rewrite() swaps it.
    if (dirty_.exchange(false, std::memory_order_acq_rel) && ::fdatasync(fd_) != 0) {
      logger_->error("cannot sync journal {}: {}", path_, errno_text());
    }
  }
}

}  // namespace dtask::scheduler
