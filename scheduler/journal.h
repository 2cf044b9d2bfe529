// The scheduler's write-ahead journal (--journal DIR): what a restarted
// scheduler needs to carry on where a killed one stopped.
//
// It records inputs, not state: every graph, release, cancel and scatter a
// client sent (before the scheduler acts on it), which clients went away,
// and which results reached memory on which worker (before any client hears
// of them). Replaying the inputs rebuilds the graph and every client's
// futures; the completed keys tell the restarted scheduler which results to
// wait for from reconnecting workers instead of recomputing them.
//
// On disk: DIR/journal.dtj, an 8-byte magic, then records
//   [u32 record bytes][u8 kind][u32 subject bytes][subject][a dtask frame]
// where the frame is a Message encoded as on the wire (common/frame.h), so
// the journal reuses the codec that is fuzzed and bound-checked. Records are
// written to the file at the end of every scheduler event (a killed process
// loses nothing written), and fdatasync'd by a background thread every
// sync interval (a lost machine loses at most that much). A record torn by a
// crash ends the replay; the file is cut back to the last whole record.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/messages.h"
#include "dtask/status.h"

namespace spdlog {
class logger;
}

namespace dtask::scheduler {

struct JournalRecord {
  enum class Kind : std::uint8_t {
    kClientInput = 1,  // subject: client session; message: UpdateGraph, ReleaseKeys, CancelKeys, KeysScattered or ResumeSession
    kClientGone = 2,   // subject: client session; no message
    kCompleted = 3,    // KeysScattered: results (key, nbytes, type) now in memory on the worker at that address
    kForgotten = 4,    // FreeKeys: keys the scheduler forgot
    kWorkerGone = 5,   // subject: a worker's data address; its results are gone with it
  };
  Kind kind = Kind::kClientInput;
  std::string subject;
  std::optional<Message> message;
};

class Journal {
 public:
  struct Opened {
    std::unique_ptr<Journal> journal;
    std::vector<JournalRecord> records;  // what the file held, oldest first
    std::uint64_t torn_bytes = 0;        // cut from the end: a record a crash left half-written
  };

  /// Creates DIR (and the journal) if needed, reads every whole record, and
  /// opens the file for appending. `sync_interval` 0 syncs on every write().
  static Result<Opened> open(const std::string& directory, std::chrono::milliseconds sync_interval,
                             std::shared_ptr<spdlog::logger> logger);
  /// Writes and syncs what is buffered.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// Buffers a record in memory; write() puts it in the file.
  void append(JournalRecord::Kind kind, const std::string& subject, const Message* message = nullptr);
  /// Writes the buffered records to the file (a killed scheduler keeps them);
  /// the sync thread makes them durable within the sync interval.
  Status write();
  /// write(), then fdatasync now.
  Status sync();
  /// Replaces the whole file with `records` (a snapshot of the current
  /// state: see journal_snapshot), atomically by rename. Drops what is buffered.
  Status rewrite(const std::vector<JournalRecord>& records);

  const std::string& path() const { return path_; }
  /// Bytes in the file, including what is only buffered.
  std::uint64_t bytes() const { return file_bytes_ + buffer_.size(); }

 private:
  Journal(std::string path, int fd, std::uint64_t file_bytes, std::chrono::milliseconds sync_interval,
          std::shared_ptr<spdlog::logger> logger);
  void sync_loop();
  void sync_directory() const;

  std::string path_;
  int fd_ = -1;  // written on the strand; swapped by rewrite() under mutex_
  std::uint64_t file_bytes_ = 0;
  std::vector<std::byte> buffer_;
  std::chrono::milliseconds sync_interval_;
  std::shared_ptr<spdlog::logger> logger_;
  bool write_failed_ = false;  // logged once, not per event

  // The sync thread: fdatasync off the scheduler strand.
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // under mutex_
  std::atomic<bool> dirty_{false};
  std::thread syncer_;
};

}  // namespace dtask::scheduler
