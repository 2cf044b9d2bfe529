// Connections a daemon accepts, over real loopback sockets: until admitted
// they read only handshake-sized frames and are closed at their handshake
// deadline; a frame whose buffer cannot be allocated costs its connection
// alone. The io_context runs on its own thread, as in the daemons.
#include "common/tcp_connection.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "common/message_codec.h"

namespace dtask {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;

/// Polls `condition` until it holds or `timeout` passes (a bounded wait on a
/// condition, never a fixed sleep).
template <typename F>
bool wait_until(F condition, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// A frame header (see common/frame.h) announcing the given lengths.
std::vector<std::byte> frame_header(std::uint8_t kind, std::uint32_t message_bytes, std::uint32_t bulk_count,
                                    std::uint64_t bulk_bytes) {
  std::vector<std::byte> header(kFrameHeaderSize);
  std::memcpy(header.data(), &kFrameMagic, 4);
  header[4] = std::byte{kFrameVersion};
  header[5] = std::byte{kind};
  std::memcpy(header.data() + 8, &message_bytes, 4);
  std::memcpy(header.data() + 12, &bulk_count, 4);
  std::memcpy(header.data() + 16, &bulk_bytes, 8);
  return header;
}

/// What the server side of one accepted connection saw.
struct Served {
  std::mutex mutex;
  std::vector<Message> messages;
  std::optional<Status> closed;

  std::size_t message_count() {
    std::lock_guard lock(mutex);
    return messages.size();
  }
  std::optional<Status> close_status() {
    std::lock_guard lock(mutex);
    return closed;
  }
};

class AcceptedConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    logger_ = std::make_shared<spdlog::logger>("test", sink);
    auto acceptor = listen_tcp(io_, Address{"127.0.0.1", 0});
    ASSERT_TRUE(acceptor.ok()) << acceptor.status().to_string();
    acceptor_ = std::move(*acceptor);
    guard_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] {
      if (server_) server_->close(Status::cancelled("test over"));
      std::error_code ignored;
      acceptor_->close(ignored);
    });
    guard_.reset();
    thread_.join();
  }

  /// Accepts one connection under `handshake_timeout`. When `admit_on_first`,
  /// the first message admits it, as a daemon does with an accepted Handshake.
  void accept_one(std::chrono::milliseconds handshake_timeout, bool admit_on_first) {
    acceptor_->async_accept([this, handshake_timeout, admit_on_first](const std::error_code& ec, tcp::socket socket) {
      ASSERT_FALSE(ec) << ec.message();
      accept_connection(std::move(socket), nullptr, FrameLimits{}, handshake_timeout, logger_,
                        [this, admit_on_first](ConnectionPtr connection) {
                          server_ = connection;
                          connection->start(
                              [this, admit_on_first, raw = connection.get()](Message&& message) {
                                std::lock_guard lock(served_.mutex);
                                if (admit_on_first && served_.messages.empty()) raw->admit();
                                served_.messages.push_back(std::move(message));
                              },
                              [this](const Status& why) {
                                std::lock_guard lock(served_.mutex);
                                served_.closed = why;
                              });
                        });
    });
  }

  /// A plain blocking socket connected to the acceptor (the test thread's side).
  tcp::socket connect_raw() {
    tcp::socket socket(client_io_);
    socket.connect(acceptor_->local_endpoint());
    return socket;
  }

  std::string log() {
    logger_->flush();
    return log_.str();
  }

  asio::io_context io_;
  asio::io_context client_io_;  // blocking client sockets only; never run
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> logger_;
  ConnectionPtr server_;  // touched on the io thread only
  Served served_;
};

/// Whether the peer closed `socket` (EOF or reset) before `timeout`.
bool reads_closed(tcp::socket& socket, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  socket.non_blocking(true);
  std::byte scratch[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    socket.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
    if (ec && ec != asio::error::would_block) return true;
    if (ec) std::this_thread::sleep_for(5ms);
  }
  return false;
}

// A header announcing a frame the daemon would take from an admitted peer
// (1 MiB) is refused before the handshake, before anything is allocated.
TEST_F(AcceptedConnectionTest, LargeFrameBeforeHandshakeIsRefused) {
  accept_one(kDefaultHandshakeTimeout, /*admit_on_first=*/true);
  tcp::socket client = connect_raw();
  asio::write(client, asio::buffer(frame_header(0, 1 << 20, 0, 0)));
  ASSERT_TRUE(wait_until([&] { return served_.close_status().has_value(); }));
  Status why = *served_.close_status();
  EXPECT_EQ(why.code(), StatusCode::kInvalid);
  EXPECT_NE(why.message().find("before its handshake was accepted"), std::string::npos) << why.to_string();
  EXPECT_TRUE(reads_closed(client));
  EXPECT_EQ(served_.message_count(), 0u);
}

// Admission lifts the limits from the very next frame on: a large frame
// pipelined right behind the handshake arrives intact.
TEST_F(AcceptedConnectionTest, AdmittedPeerSendsFullSizeFrames) {
  accept_one(kDefaultHandshakeTimeout, /*admit_on_first=*/true);
  tcp::socket client = connect_raw();
  std::string big_name(200 * 1024, 'n');  // over kHandshakeFrameLimits
  std::vector<std::byte> both = flatten_frame(encode_frame(msg::Handshake{kProtocolVersion, PeerRole::kClient, "c", ""}));
  std::vector<std::byte> second = flatten_frame(encode_frame(msg::Handshake{kProtocolVersion, PeerRole::kClient, big_name, ""}));
  ASSERT_GT(second.size(), kHandshakeFrameLimits.max_message_bytes);
  both.insert(both.end(), second.begin(), second.end());
  asio::write(client, asio::buffer(both));
  ASSERT_TRUE(wait_until([&] { return served_.message_count() == 2 || served_.close_status().has_value(); }));
  ASSERT_EQ(served_.message_count(), 2u) << served_.close_status()->to_string();
  std::lock_guard lock(served_.mutex);
  EXPECT_EQ(std::get<msg::Handshake>(served_.messages[1]).name, big_name);
}

// A peer that never completes its handshake is closed at the deadline, with
// a warning that names it.
TEST_F(AcceptedConnectionTest, UnadmittedPeerIsClosedAtDeadline) {
  accept_one(200ms, /*admit_on_first=*/false);
  tcp::socket client = connect_raw();
  // Half a header, then nothing: the read stalls mid-frame.
  asio::write(client, asio::buffer(frame_header(0, 64, 0, 0).data(), 10));
  ASSERT_TRUE(reads_closed(client));
  ASSERT_TRUE(wait_until([&] { return served_.close_status().has_value(); }));
  EXPECT_EQ(served_.close_status()->code(), StatusCode::kTimedOut);
  std::string local = "127.0.0.1:" + std::to_string(client.local_endpoint().port());
  std::string logged = log();
  EXPECT_NE(logged.find("closing connection from " + local + ": no accepted handshake within 0.2 s"),
            std::string::npos)
      << logged;
}

// An admitted peer is not closed when the handshake deadline passes. The
// check runs on the io thread from a timer due after the deadline, so the
// deadline's own handler, had it not been cancelled, would have run first.
TEST_F(AcceptedConnectionTest, AdmittedPeerOutlivesDeadline) {
  constexpr auto kTimeout = 100ms;
  accept_one(kTimeout, /*admit_on_first=*/true);
  tcp::socket client = connect_raw();
  asio::write(client, asio::buffer(flatten_frame(encode_frame(msg::Handshake{}))));
  ASSERT_TRUE(wait_until([&] { return served_.message_count() == 1; }));
  std::promise<bool> open_after_deadline;
  asio::steady_timer after(io_, std::chrono::steady_clock::now() + kTimeout + 10ms);
  after.async_wait([&](const std::error_code&) { open_after_deadline.set_value(!served_.close_status()); });
  EXPECT_TRUE(open_after_deadline.get_future().get());
  asio::write(client, asio::buffer(flatten_frame(encode_frame(msg::Handshake{}))));
  ASSERT_TRUE(wait_until([&] { return served_.message_count() == 2; }));
}

// A frame whose buffer cannot be allocated (2^62 bulk bytes, allowed by these
// limits) closes that connection with OutOfMemory instead of throwing out of
// the event loop, which would take the whole process down.
TEST(ConnectionAllocation, UnallocatableFrameClosesOnlyThatConnection) {
  asio::io_context io;
  auto acceptor = listen_tcp(io, Address{"127.0.0.1", 0});
  ASSERT_TRUE(acceptor.ok());
  tcp::socket client(io);
  client.connect((*acceptor)->local_endpoint());
  tcp::socket server = (*acceptor)->accept();
  FrameLimits unlimited{.max_message_bytes = 1 << 20, .max_bulk_bytes = ~0ull, .max_bulk_slices = 16};
  auto logger = std::make_shared<spdlog::logger>("test");  // no sinks: quiet
  ConnectionPtr connection = make_tcp_connection(std::move(client), unlimited, logger);
  std::optional<Status> closed;
  connection->start([](Message&&) {}, [&](const Status& why) { closed = why; });
  constexpr std::uint64_t kHuge = 1ull << 62;
  std::vector<std::byte> frame = frame_header(0, 8, 1, kHuge);
  frame.resize(frame.size() + 8);  // the message's one word (never decoded)
  const std::byte* slice = reinterpret_cast<const std::byte*>(&kHuge);
  frame.insert(frame.end(), slice, slice + 8);  // the bulk table: one slice filling the section
  asio::write(server, asio::buffer(frame));
  EXPECT_NO_THROW(io.run());  // returns once the connection is closed: nothing is left to do
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code(), StatusCode::kOutOfMemory) << closed->to_string();
}

}  // namespace
}  // namespace dtask
