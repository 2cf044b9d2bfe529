// End-to-end: hostile connections to real daemons. Raw sockets (no dtask
// code on their side) send the scheduler's port and a worker's data port
// garbage, truncated and oversized frames, byte-at-a-time handshakes,
// nothing at all, and more connections than the daemon has descriptors.
// Each must cost that connection alone: while they are open a real client
// still connects, computes and fetches, the daemons stay up, and their
// memory does not grow with the connections they have dropped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <dtask/client.h>
#include <fstream>
#include <random>
#include <sstream>

#include "common/frame.h"
#include "common/message_codec.h"
#include "tests/support/cluster_info.h"
#include "tests/support/daemon_process.h"
#include "tests/support/raw_socket.h"
#include "tests/support/sanitized.h"

namespace dtask {
namespace {

using namespace std::chrono_literals;
using testing::DaemonProcess;
using testing::RawSocket;
using testing::wait_until;

/// A frame header (common/frame.h) announcing the given lengths.
std::string frame_header(std::uint8_t kind, std::uint32_t message_bytes, std::uint32_t bulk_count,
                         std::uint64_t bulk_bytes) {
  std::string header(kFrameHeaderSize, '\0');
  std::memcpy(header.data(), &kFrameMagic, 4);
  header[4] = static_cast<char>(kFrameVersion);
  header[5] = static_cast<char>(kind);
  std::memcpy(header.data() + 8, &message_bytes, 4);
  std::memcpy(header.data() + 12, &bulk_count, 4);
  std::memcpy(header.data() + 16, &bulk_bytes, 8);
  return header;
}

std::string encoded(const Message& message) {
  std::vector<std::byte> bytes = flatten_frame(encode_frame(message));
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

/// A peer's first frame, as a real client (to the scheduler) or peer worker
/// (to a data port) would send it.
std::string handshake_for(PeerRole role, const std::string& name) {
  return encoded(msg::Handshake{kProtocolVersion, role, name, ""});
}

/// Reads and decodes one frame from `socket`.
Result<Message> read_message(RawSocket& socket) {
  DTASK_ASSIGN_OR_RETURN(std::string frame, socket.read_exactly(kFrameHeaderSize));
  auto bytes = [](const std::string& s) { return std::span(reinterpret_cast<const std::byte*>(s.data()), s.size()); };
  DTASK_ASSIGN_OR_RETURN(FrameHeader header, parse_frame_header(bytes(frame), FrameLimits{}));
  DTASK_ASSIGN_OR_RETURN(std::string rest, socket.read_exactly(header.body_bytes() + header.bulk_bytes));
  frame += rest;
  return decode_frame(bytes(frame), FrameLimits{});
}

/// Not exited, not a zombie: the daemon is still running.
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto after_name = line.rfind(')');
  return after_name != std::string::npos && after_name + 2 < line.size() && line[after_name + 2] != 'Z' &&
         line[after_name + 2] != 'X';
}

/// The daemon's resident memory (VmRSS) in bytes; 0 if it cannot be read.
std::uint64_t resident_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

class HostileConnectionTest : public ::testing::Test {
 protected:
  void TearDown() override {
    clients_.clear();
    for (auto& worker : workers_) EXPECT_EQ(worker.stop(), 0) << "worker did not stop cleanly on SIGTERM";
    if (scheduler_) {
      EXPECT_EQ(scheduler_->stop(), 0) << "scheduler did not stop cleanly on SIGTERM";
    }
    for (const std::string& path : logs_) std::remove(path.c_str());
  }

  /// A scheduler and workers w1, w2 whose unhandshaken connections are
  /// closed after `handshake_timeout` seconds; their logs go to files.
  /// `scheduler_fd_limit`: start the scheduler with only that many file
  /// descriptors (0: the test's own limit).
  void start_cluster(const std::string& handshake_timeout, int scheduler_fd_limit = 0) {
    std::vector<std::string> args = testing::test_scheduler_args();
    args.insert(args.end(), {"--handshake-timeout", handshake_timeout});
    std::string binary = DTASK_SCHEDULER_BIN;
    if (scheduler_fd_limit > 0) {
      // The shell lowers the limit, then becomes the scheduler (same pid).
      args.insert(args.begin(), {"-c", "ulimit -n " + std::to_string(scheduler_fd_limit) + " && exec \"$0\" \"$@\"",
                                 binary});
      binary = "/bin/sh";
    }
    auto scheduler = DaemonProcess::start(binary, args, 20s, log_path("scheduler"));
    ASSERT_TRUE(scheduler.ok()) << scheduler.status().to_string();
    scheduler_ = std::make_unique<DaemonProcess>(std::move(*scheduler));
    for (std::string name : {"w1", "w2"}) {
      auto worker = DaemonProcess::start(DTASK_WORKER_BIN,
                                         {scheduler_->address(), "--host", "127.0.0.1", "--nthreads", "2", "--name",
                                          name, "--memory-limit", "1GiB", "--log-level", "warn",
                                          "--handshake-timeout", handshake_timeout},
                                         20s, log_path(name));
      ASSERT_TRUE(worker.ok()) << worker.status().to_string();
      workers_.push_back(std::move(*worker));
    }
    client_ = connect_client();
    ASSERT_NE(client_, nullptr);
    ASSERT_TRUE(wait_until([&] { return testing::scheduler_info(*client_)["workers"].size() == 2; }));
  }

  std::string log_path(const std::string& name) {
    logs_.push_back(::testing::TempDir() + "dtask-hostile-" + std::to_string(getpid()) + "-" + name + ".log");
    return logs_.back();
  }
  std::string scheduler_log() const { return read_file(logs_.at(0)); }
  std::string worker_log() const { return read_file(logs_.at(1)); }  // w1's

  /// The ports a stranger can reach: the scheduler's and w1's data port.
  std::vector<std::string> targets() const { return {scheduler_->address(), workers_.at(0).address()}; }

  Client* connect_client() {
    auto client = Client::connect(scheduler_->address());
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    if (!client.ok()) return nullptr;
    clients_.push_back(std::move(*client));
    return clients_.back().get();
  }

  /// A new client connects, and a graph that moves data from w1 to w2 and
  /// fans 100 tasks into one gives the right answers, fetched from the workers.
  void expect_cluster_serves() {
    Client* client = connect_client();
    ASSERT_NE(client, nullptr);
    auto array = client->submit(SubmitOptions{.workers = {"w1"}}, "arange", 1000);
    auto total = client->submit<double>(SubmitOptions{.workers = {"w2"}}, "array_sum", array);
    EXPECT_DOUBLE_EQ(total.result(), 1000.0 * 999.0 / 2);
    std::vector<Delayed> parts;
    for (int i = 0; i < 100; ++i) parts.push_back(delayed("inc")(i));
    EXPECT_EQ(client->compute<std::int64_t>(delayed("sum")(parts)).result(), 5050);
  }

  void expect_daemons_alive() {
    EXPECT_TRUE(alive(scheduler_->pid())) << "the scheduler died";
    for (const auto& worker : workers_) EXPECT_TRUE(alive(worker.pid())) << "a worker died";
  }

  std::unique_ptr<DaemonProcess> scheduler_;
  std::vector<DaemonProcess> workers_;
  std::vector<std::unique_ptr<Client>> clients_;
  Client* client_ = nullptr;
  std::vector<std::string> logs_;  // scheduler, w1, w2
};

/// One hostile payload and whether the daemon must close the connection on
/// its own (as opposed to the sender leaving).
struct Payload {
  std::string name;
  std::string bytes;
  bool daemon_closes;
};

std::vector<Payload> malformed_payloads() {
  std::mt19937 random(7);
  std::string garbage(4096, '\0');
  for (char& c : garbage) c = static_cast<char>(random());
  return {
      {"random garbage", garbage, true},
      {"header cut short, then gone", frame_header(0, 64, 0, 0).substr(0, 7), false},
      {"body cut short, then gone", frame_header(0, 4096, 0, 0) + std::string(1000, 'x'), false},
      {"message over the maximum", frame_header(0, 0xFFFFFFF8u, 0, 0), true},
      {"bulk over the maximum", frame_header(0, 8, 1, 1ull << 62), true},
      {"too large before a handshake", frame_header(0, 1 << 20, 0, 0), true},
      {"bulk before a handshake", frame_header(0, 8, 1, 64), true},
      {"a valid frame that is not a handshake", encoded(msg::GetData{1, {"some-key"}}), true},
  };
}

// Garbage, truncated and oversized frames on the scheduler's port and a
// worker's data port are refused one connection at a time: the daemons
// close those (oversized ones from the header alone, without waiting for the
// handshake deadline), keep serving a client, and stay up.
TEST_F(HostileConnectionTest, MalformedFramesCostTheirConnectionAlone) {
  start_cluster("60");
  std::vector<std::pair<std::string, RawSocket>> open;
  for (const std::string& target : targets()) {
    for (const Payload& payload : malformed_payloads()) {
      RawSocket socket(target);
      socket.send(payload.bytes);
      if (payload.daemon_closes) open.emplace_back(payload.name + " to " + target, std::move(socket));
    }
  }
  expect_cluster_serves();
  for (auto& [what, socket] : open) EXPECT_TRUE(socket.closed_by_peer()) << what << ": still open";
  expect_daemons_alive();
  EXPECT_NE(scheduler_log().find("exceeds the limit of 65536 before its handshake was accepted"), std::string::npos);
}

// A connection that stalls before its handshake is done (nothing sent, half a
// header, half a body, all of a handshake but its last byte) is closed at the
// --handshake-timeout deadline, with a warning naming the peer.
TEST_F(HostileConnectionTest, StalledHandshakesAreClosedAtTheDeadline) {
  start_cluster("1");
  std::vector<std::pair<std::string, RawSocket>> stalled;
  for (const std::string& target : targets()) {
    std::string hello = handshake_for(PeerRole::kPeer, "stalled");
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
             {"silent", ""},
             {"half a header", frame_header(0, 64, 0, 0).substr(0, 10)},
             {"half a body", frame_header(0, 4096, 0, 0) + std::string(2048, 'x')},
             {"a handshake but its last byte", hello.substr(0, hello.size() - 1)}}) {
      RawSocket socket(target);
      socket.send(bytes);  // not checked: what matters is that the daemon closes it, below
      stalled.emplace_back(name + " to " + target, std::move(socket));
    }
  }
  expect_cluster_serves();
  for (auto& [what, socket] : stalled) EXPECT_TRUE(socket.closed_by_peer()) << what << ": not closed";
  std::string logs = scheduler_log() + worker_log();
  for (auto& [what, socket] : stalled) {
    EXPECT_NE(logs.find("closing connection from " + socket.local_address() +
                        ": no accepted handshake within 1 s (--handshake-timeout)"),
              std::string::npos)
        << what << " closed without the warning naming it";
  }
  expect_daemons_alive();
}

// A peer that sends its handshake one byte at a time does not hold up anyone
// else: between every two of its bytes a client submits a task and fetches
// the result from a worker. The slow peer then gets its reply as usual.
TEST_F(HostileConnectionTest, ByteAtATimeHandshakeDoesNotBlockOthers) {
  start_cluster("60");
  RawSocket to_scheduler(scheduler_->address());
  RawSocket to_worker(workers_.at(0).address());
  std::string client_hello = handshake_for(PeerRole::kClient, "slow-client");
  std::string peer_hello = handshake_for(PeerRole::kPeer, "slow-peer");
  std::int64_t round_trips = 0;
  for (std::size_t i = 0; i < std::max(client_hello.size(), peer_hello.size()); ++i) {
    if (i < client_hello.size()) {
      ASSERT_TRUE(to_scheduler.send(client_hello.substr(i, 1)));
    }
    if (i < peer_hello.size()) {
      ASSERT_TRUE(to_worker.send(peer_hello.substr(i, 1)));
    }
    ASSERT_EQ(client_->submit<std::int64_t>("add", round_trips, 1).result(), round_trips + 1);
    ++round_trips;
  }
  for (RawSocket* slow : {&to_scheduler, &to_worker}) {
    auto reply = read_message(*slow);
    ASSERT_TRUE(reply.ok()) << reply.status().to_string();
    ASSERT_TRUE(std::holds_alternative<msg::HandshakeReply>(*reply));
    EXPECT_TRUE(std::get<msg::HandshakeReply>(*reply).ok) << std::get<msg::HandshakeReply>(*reply).error;
  }
  RecordProperty("round_trips_during_slow_handshakes", std::to_string(round_trips));
  expect_daemons_alive();
}

// 200 connections to each daemon that never send a byte leave the cluster
// serving: a new client connects, computes across both workers, and fetches.
TEST_F(HostileConnectionTest, ManyIdleConnectionsDoNotStopService) {
  start_cluster("60");
  std::vector<RawSocket> idle;
  for (const std::string& target : {scheduler_->address(), workers_[0].address(), workers_[1].address()}) {
    for (int i = 0; i < 200; ++i) {
      idle.emplace_back(target);
      ASSERT_TRUE(idle.back().connected());
    }
  }
  expect_cluster_serves();
  expect_daemons_alive();
}

/// A wave of `count` abandoned connections of every kind to `target`,
/// appending those the daemon must close itself to `daemon_closes`: garbage
/// and oversized headers at once, idle and stalled ones at the deadline. The
/// rest the sender abandons mid-frame. Both partial frames make the daemon
/// allocate and fill the most an unadmitted peer can make it (64 KiB): a
/// buffer leaked per connection would show in its memory.
void abandon_connections(const std::string& target, int count, std::vector<RawSocket>& daemon_closes) {
  std::string garbage(2048, '\xA7');
  std::string partial = frame_header(0, kHandshakeFrameLimits.max_message_bytes, 0, 0) + std::string(65000, 'b');
  for (int i = 0; i < count; ++i) {
    RawSocket socket(target);
    switch (i % 5) {
      case 0: socket.send(garbage); break;
      case 1: socket.send(frame_header(0, 1 << 20, 0, 0)); break;
      case 2: socket.send(partial); break;  // then stalls
      case 3: break;  // idle
      case 4: socket.send(partial); socket.close(); continue;  // then gone
    }
    daemon_closes.push_back(std::move(socket));
  }
}

// 1,000 connections to each of the scheduler and a worker, opened and
// abandoned in ten waves of every kind, leave the daemons' resident memory
// where the first wave left it (within 16 MiB).
TEST_F(HostileConnectionTest, AbandonedConnectionsDoNotGrowMemory) {
  start_cluster("1");
  const pid_t scheduler_pid = scheduler_->pid();
  const pid_t worker_pid = workers_.at(0).pid();
  std::uint64_t scheduler_first = 0, worker_first = 0;
  for (int wave = 0; wave < 10; ++wave) {
    std::vector<RawSocket> daemon_closes;
    for (const std::string& target : targets()) abandon_connections(target, 100, daemon_closes);
    for (RawSocket& socket : daemon_closes) ASSERT_TRUE(socket.closed_by_peer()) << "wave " << wave << ": not closed";
    ASSERT_EQ(client_->submit<std::int64_t>("add", wave, 1).result(), wave + 1);
    if (wave == 0) {
      scheduler_first = resident_bytes(scheduler_pid);
      worker_first = resident_bytes(worker_pid);
    }
  }
  const std::uint64_t scheduler_last = resident_bytes(scheduler_pid);
  const std::uint64_t worker_last = resident_bytes(worker_pid);
  RecordProperty("scheduler_rss_after_wave_1", std::to_string(scheduler_first));
  RecordProperty("scheduler_rss_after_wave_10", std::to_string(scheduler_last));
  RecordProperty("worker_rss_after_wave_1", std::to_string(worker_first));
  RecordProperty("worker_rss_after_wave_10", std::to_string(worker_last));
  ASSERT_GT(scheduler_first, 0u);
  ASSERT_GT(worker_first, 0u);
#ifndef DTASK_TEST_SANITIZED  // a sanitizer's quarantine of freed blocks grows RSS; LeakSanitizer checks leaks there
  constexpr std::uint64_t kSlack = 16ull << 20;
  EXPECT_LE(scheduler_last, scheduler_first + kSlack);
  EXPECT_LE(worker_last, worker_first + kSlack);
#endif
  expect_cluster_serves();
  expect_daemons_alive();
}

// More idle connections than the scheduler has file descriptors: accepting
// fails (EMFILE) while they last. The scheduler warns once per episode
// instead of retrying in a tight loop (which logged ~140,000 lines a second),
// keeps serving its connected client, sheds the idle ones at the handshake
// deadline, and then accepts a new client.
TEST_F(HostileConnectionTest, RunningOutOfDescriptorsIsSurvived) {
#ifdef DTASK_TEST_SANITIZED
  GTEST_SKIP() << "a sanitizer runtime holds descriptors of its own: a 64-descriptor scheduler does not start under it";
#endif
  start_cluster("1", /*scheduler_fd_limit=*/64);
  constexpr int kIdle = 150;
  std::vector<RawSocket> idle;
  for (int i = 0; i < kIdle; ++i) idle.emplace_back(scheduler_->address());
  ASSERT_TRUE(wait_until([&] { return scheduler_log().find("accept failed") != std::string::npos; }))
      << "the scheduler never ran out of descriptors";
  ASSERT_EQ(client_->submit<std::int64_t>("add", 40, 2).result(), 42);
  for (RawSocket& socket : idle) ASSERT_TRUE(socket.closed_by_peer(60s)) << "an idle connection was never shed";
  idle.clear();
  expect_cluster_serves();
  expect_daemons_alive();
  // Each warning starts an episode, which only a successful accept ends.
  std::string log = scheduler_log();
  EXPECT_LE(count_of(log, "accept failed"), static_cast<std::size_t>(kIdle) + 2);
  EXPECT_NE(log.find("Too many open files"), std::string::npos);
}

}  // namespace
}  // namespace dtask
