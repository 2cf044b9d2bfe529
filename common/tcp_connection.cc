#include "common/tcp_connection.h"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <array>
#include <asio/connect.hpp>
#include <asio/ip/host_name.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <new>
#include <optional>
#include <thread>
#include <type_traits>

#include "common/message_codec.h"
#include "common/tls_context.h"

namespace dtask {

namespace {

using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

/// TLS encrypts each buffer of a gathered write as its own record (and
/// socket write): frames up to this size are copied into one buffer first.
constexpr std::size_t kTlsFlattenBytes = 256 * 1024;

/// How much a connection reads at a time: frames up to this size, and all
/// of those that arrived together, come in one read.
constexpr std::size_t kReadAhead = 16 * 1024;

using Clock = std::chrono::steady_clock;

/// What an accepted connection must do before the daemon trusts it: be
/// admitted (Connection::admit) by `deadline`; until then it reads frames
/// under kHandshakeFrameLimits.
struct Admission {
  Clock::time_point deadline;
  std::chrono::milliseconds timeout;  // for the log line
};

/// "1.5 s", for log lines.
std::string seconds_text(std::chrono::milliseconds duration) {
  std::string text = std::to_string(static_cast<double>(duration.count()) / 1000.0);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text + " s";
}

/// The frame reader/writer over one stream. Generic over the stream so that
/// a TLS stream (asio::ssl::stream<tcp::socket>) can reuse it unchanged.
/// Members are touched only on the stream's executor, which must be a
/// single-threaded io_context, except the write queue under write_mutex_.
template <typename Stream>
class StreamConnection final : public Connection, public std::enable_shared_from_this<StreamConnection<Stream>> {
 public:
  /// `admission`: set for a connection a daemon accepted (see Admission);
  /// empty for one this process made, which is trusted from the start.
  StreamConnection(Stream stream, FrameLimits limits, std::shared_ptr<spdlog::logger> logger, std::string peer,
                   std::string local_host, std::optional<Admission> admission = std::nullopt)
      : stream_(std::move(stream)),
        limits_(admission ? kHandshakeFrameLimits : limits),
        admitted_limits_(limits),
        admission_(admission),
        deadline_timer_(stream_.get_executor()),
        logger_(std::move(logger)),
        peer_(std::move(peer)),
        local_host_(std::move(local_host)) {}

  void start(MessageHandler on_message, CloseHandler on_close) override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this(), on_message = std::move(on_message),
                                            on_close = std::move(on_close)]() mutable {
      self->on_message_ = std::move(on_message);
      self->on_close_ = std::move(on_close);
      self->arm_handshake_deadline();
      self->read_frames();
    });
  }

  void admit() override {
    if (!admission_) return;
    admission_.reset();
    limits_ = admitted_limits_;
    deadline_timer_.cancel();
  }

  void send(const Message& message) override { send_encoded(encode_frame(message)); }

  /// Frames leave in the order their sends took write_mutex_. When nothing
  /// is queued or being written, a plain TCP frame is written at once on the
  /// calling thread: a client's graph, or a worker's reply from a disk
  /// thread, then costs no wake-up of the io thread, which is a tenth of a
  /// submit-result round trip. What the socket does not take at once, and
  /// every TLS frame, goes out from the io thread.
  void send_encoded(EncodedFrame frame) override {
    std::unique_lock lock(write_mutex_);
    if (writes_closed_) return;
    if (write_in_flight_) return queued_.push_back(std::move(frame));
    const std::size_t written = write_now(frame);
    bytes_sent_.fetch_add(written, std::memory_order_relaxed);
    if (written == frame.total_bytes) return;
    front_written_ = written;
    queued_.push_back(std::move(frame));
    write_in_flight_ = true;
    lock.unlock();
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->write_queued(); });
  }

  void close(const Status& why) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), why] {
      bool writing = false;
      {
        std::lock_guard lock(self->write_mutex_);
        self->writes_closed_ = true;  // frames sent from now on are dropped
        writing = self->write_in_flight_;
      }
      // Let queued frames (a rejection reply, say) go out before closing.
      if (writing) {
        self->closing_ = true;
        self->close_reason_ = why;
      } else {
        self->shut(why);
      }
    });
  }

  const std::string& peer() const override { return peer_; }
  const std::string& local_host() const override { return local_host_; }
  std::uint64_t bytes_received() const override { return bytes_received_.load(std::memory_order_relaxed); }
  std::uint64_t bytes_sent() const override { return bytes_sent_.load(std::memory_order_relaxed); }

 private:
  /// An unadmitted peer that idles, trickles or stalls mid-frame would hold
  /// its socket (and buffers) forever: past the deadline it is closed. The
  /// timer holds the connection weakly, so it never keeps a closed one alive.
  void arm_handshake_deadline() {
    if (!admission_) return;
    deadline_timer_.expires_at(admission_->deadline);
    deadline_timer_.async_wait([weak = this->weak_from_this()](const std::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || !self->admission_ || self->closed_) return;
      self->reject(Status::timed_out("no accepted handshake within " + seconds_text(self->admission_->timeout) +
                                     " (--handshake-timeout)"));
    });
  }

  /// The read loop: delivers every whole frame already read ahead, then
  /// reads again. One read takes whatever has arrived (up to kReadAhead),
  /// so frames that came together (a client's releases and graph, a
  /// worker's report) cost one system call, not two each.
  void read_frames() {
    while (!closed_) {
      // Its owner closes it (a refused handshake): read nothing more from it.
      if (closing_) return;
      const std::size_t staged = staged_end_ - staged_at_;
      if (staged < kFrameHeaderSize) return read_ahead(kFrameHeaderSize - staged);
      const std::span<const std::byte> header_bytes(staged_.data() + staged_at_, kFrameHeaderSize);
      auto header = parse_frame_header(header_bytes, limits_);
      if (!header.ok()) return reject(explain_limits(header_bytes, header.status()));
      header_ = *header;
      const std::size_t frame_bytes = kFrameHeaderSize + header_.body_bytes() + header_.bulk_bytes;
      if (frame_bytes > staged) {
        if (frame_bytes <= kReadAhead) return read_ahead(frame_bytes - staged);
        staged_at_ += kFrameHeaderSize;
        return read_body();  // a big frame goes straight into its own buffers
      }
      staged_at_ += kFrameHeaderSize;
      const std::span<const std::byte> body(staged_.data() + staged_at_, header_.body_bytes());
      staged_at_ += body.size();
      auto slices = parse_bulk_table(header_, body);
      if (!slices.ok()) return reject(slices.status());
      slices_ = std::move(*slices);
      bulk_ = allocate(header_.bulk_bytes, "bulk section");
      if (!bulk_) return;
      take_staged(bulk_->mutable_data(), header_.bulk_bytes);
      deliver(body);
    }
  }

  /// Reads at least `missing` more bytes, and whatever else has arrived,
  /// behind the bytes already staged; then the loop goes on.
  void read_ahead(std::size_t missing) {
    if (staged_.empty()) staged_.resize(kReadAhead);
    const std::size_t staged = staged_end_ - staged_at_;
    std::memmove(staged_.data(), staged_.data() + staged_at_, staged);
    staged_at_ = 0;
    staged_end_ = staged;
    asio::async_read(stream_, asio::buffer(staged_.data() + staged_end_, staged_.size() - staged_end_),
                     asio::transfer_at_least(missing),
                     [self = this->shared_from_this()](const std::error_code& ec, std::size_t bytes) {
                       if (ec) return self->shut(self->read_error(ec));
                       self->staged_end_ += bytes;
                       self->read_frames();
                     });
  }

  /// Takes up to `size` staged bytes into `to`; returns how many.
  std::size_t take_staged(std::byte* to, std::size_t size) {
    const std::size_t taken = std::min(size, staged_end_ - staged_at_);
    if (taken == 0) return 0;  // `to` may be the null data of an empty buffer
    std::memcpy(to, staged_.data() + staged_at_, taken);
    staged_at_ += taken;
    return taken;
  }

  /// A header that only kHandshakeFrameLimits refuses is refused for coming
  /// before the handshake, which the bare limit in the message would not say.
  Status explain_limits(std::span<const std::byte> header_bytes, const Status& refused) const {
    if (!admission_ || !parse_frame_header(header_bytes, admitted_limits_).ok()) return refused;
    return Status::invalid(refused.message() + " before its handshake was accepted");
  }

  /// Allocates a frame's buffer. The limits make failure unlikely, but a
  /// large frame under an address-space limit (ulimit -v) can still fail:
  /// that costs this connection, never the daemon.
  std::shared_ptr<Buffer> allocate(std::size_t bytes, const char* what) {
    try {
      return Buffer::allocate(bytes);
    } catch (const std::bad_alloc&) {
      reject(Status::out_of_memory("cannot allocate " + std::to_string(bytes) + " bytes for a frame's " + what));
      return nullptr;
    }
  }

  /// A frame bigger than kReadAhead: what is staged of it is copied, the
  /// rest read into place. The bulk table is checked before the bulk
  /// section is allocated.
  void read_body() {
    body_ = allocate(header_.body_bytes(), "message");
    if (!body_) return;
    const std::size_t have = take_staged(body_->mutable_data(), body_->size());
    asio::async_read(stream_, asio::buffer(body_->mutable_data() + have, body_->size() - have),
                     [self = this->shared_from_this()](const std::error_code& ec, std::size_t) {
                       if (ec) return self->shut(self->read_error(ec));
                       auto slices = parse_bulk_table(self->header_, {self->body_->data(), self->body_->size()});
                       if (!slices.ok()) return self->reject(slices.status());
                       self->slices_ = std::move(*slices);
                       self->read_bulk();
                     });
  }

  void read_bulk() {
    bulk_ = allocate(header_.bulk_bytes, "bulk section");
    if (!bulk_) return;
    const std::size_t have = take_staged(bulk_->mutable_data(), bulk_->size());
    asio::async_read(stream_, asio::buffer(bulk_->mutable_data() + have, bulk_->size() - have),
                     [self = this->shared_from_this()](const std::error_code& ec, std::size_t) {
                       if (ec) return self->shut(self->read_error(ec));
                       std::shared_ptr<Buffer> body = std::move(self->body_);
                       self->deliver({body->data(), body->size()});
                       self->read_frames();
                     });
  }

  /// Decodes the frame whose header_ and bulk_ are read, and hands it on.
  void deliver(std::span<const std::byte> body) {
    bytes_received_.fetch_add(kFrameHeaderSize + header_.body_bytes() + header_.bulk_bytes, std::memory_order_relaxed);
    auto message = decode_frame_body(header_, body, std::move(bulk_), slices_);
    if (!message.ok()) return reject(message.status());
    if (on_message_) on_message_(std::move(*message));
  }

  Status read_error(const std::error_code& ec) const {
    // A TLS peer that closes its socket without close_notify reads as a truncated stream.
    if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated) {
      return Status::disconnected("peer " + peer_ + " closed the connection");
    }
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return Status::io_error("TLS error reading from " + peer_ + ": " + ec.message());
    }
    return Status::io_error("reading from " + peer_ + ": " + ec.message());
  }

  /// A malformed frame costs this connection alone.
  void reject(const Status& why) {
    logger_->warn("closing connection from {}: {}", peer_, why.message());
    shut(why);
  }

  /// Writes as much of `frame` as the socket takes without blocking, on
  /// the calling thread, under write_mutex_; returns the bytes written. TLS
  /// frames, and frames of more pieces than one sendmsg takes, write nothing
  /// here.
  std::size_t write_now(const EncodedFrame& frame) {
    if constexpr (!std::is_same_v<Stream, asio::ip::tcp::socket>) {
      return 0;  // encrypting touches the TLS state, which the io thread owns
    } else {
      constexpr std::size_t kMostPieces = 64;
      if (frame.pieces.size() > kMostPieces) return 0;
      std::array<iovec, kMostPieces> iov{};
      for (std::size_t i = 0; i < frame.pieces.size(); ++i) {
        iov[i] = {const_cast<std::byte*>(frame.pieces[i].data()), frame.pieces[i].size()};
      }
      msghdr header{};
      header.msg_iov = iov.data();
      header.msg_iovlen = frame.pieces.size();
      for (;;) {
        const ssize_t sent = ::sendmsg(stream_.native_handle(), &header, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0) return static_cast<std::size_t>(sent);
        // A full socket, or an error the io thread's write then reports.
        if (errno != EINTR) return 0;
      }
    }
  }

  /// On the io thread: writes everything queued in one gathered write, the
  /// first frame from where a direct write stopped.
  void write_queued() {
    if (closed_) return;
    std::size_t skip = 0;
    {
      std::lock_guard lock(write_mutex_);
      writing_.swap(queued_);
      skip = std::exchange(front_written_, 0);
    }
    gather_.clear();
    std::size_t total = 0;
    for (const EncodedFrame& frame : writing_) {
      for (auto piece : frame.pieces) {
        const std::size_t skipped = std::min(skip, piece.size());
        skip -= skipped;
        if (skipped < piece.size()) gather_.emplace_back(piece.data() + skipped, piece.size() - skipped);
      }
    }
    for (const asio::const_buffer& piece : gather_) total += piece.size();
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      if (gather_.size() > 1 && total <= kTlsFlattenBytes) {
        flat_.resize(total);
        std::size_t at = 0;
        for (const asio::const_buffer& piece : gather_) {
          std::memcpy(flat_.data() + at, piece.data(), piece.size());
          at += piece.size();
        }
        gather_.assign(1, asio::const_buffer(flat_.data(), flat_.size()));
      }
    }
    asio::async_write(stream_, gather_,
                      [self = this->shared_from_this(), total](const std::error_code& ec, std::size_t) {
                        self->writing_.clear();
                        if (ec) {
                          return self->shut(Status::io_error("writing to " + self->peer_ + ": " + ec.message()));
                        }
                        self->bytes_sent_.fetch_add(total, std::memory_order_relaxed);
                        bool more = false;
                        {
                          std::lock_guard lock(self->write_mutex_);
                          more = !self->queued_.empty();
                          if (!more) self->write_in_flight_ = false;  // direct writes may go again
                        }
                        if (more) return self->write_queued();
                        if (self->closing_) self->shut(self->close_reason_);
                      });
  }

  void shut(const Status& why) {
    if (closed_) return;
    closed_ = true;
    {
      // Under the lock: a direct write never meets a closed (or reused) descriptor.
      std::lock_guard lock(write_mutex_);
      writes_closed_ = true;
      queued_.clear();
      std::error_code ignored;
      stream_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      stream_.lowest_layer().close(ignored);
    }
    deadline_timer_.cancel();
    on_message_ = nullptr;
    // Move the handler out first: it may drop the last owner of this object's owner.
    CloseHandler on_close = std::move(on_close_);
    on_close_ = nullptr;
    if (on_close) on_close(why);
  }

  Stream stream_;
  FrameLimits limits_;           // what the next frame is read under
  FrameLimits admitted_limits_;  // the daemon's, once admitted
  std::optional<Admission> admission_;  // empty once admitted (or never needed)
  asio::steady_timer deadline_timer_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string peer_;
  std::string local_host_;
  MessageHandler on_message_;
  CloseHandler on_close_;

  std::vector<std::byte> staged_;  // read ahead: kReadAhead bytes once the first read starts
  std::size_t staged_at_ = 0;      // [staged_at_, staged_end_) is read and not yet parsed
  std::size_t staged_end_ = 0;
  FrameHeader header_;
  std::shared_ptr<Buffer> body_;
  std::shared_ptr<Buffer> bulk_;
  std::vector<std::uint64_t> slices_;

  std::mutex write_mutex_;               // guards the four below; any thread sends
  std::vector<EncodedFrame> queued_;     // waiting for the io thread's write
  std::size_t front_written_ = 0;        // bytes of queued_.front() a direct write sent
  bool write_in_flight_ = false;         // the io thread owns writing until queued_ is empty
  bool writes_closed_ = false;           // closing or closed: sends are dropped
  std::vector<EncodedFrame> writing_;    // io thread only, from here on
  std::vector<asio::const_buffer> gather_;
  std::vector<std::byte> flat_;  // small TLS writes, gathered into one record
  bool closing_ = false;
  bool closed_ = false;
  Status close_reason_;
  std::atomic<std::uint64_t> bytes_received_{0};
  std::atomic<std::uint64_t> bytes_sent_{0};
};

std::string describe_endpoint(const asio::ip::tcp::socket& socket) {
  std::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

/// "certificate verify failed (SSL routines)" and the like, with a hint when
/// the other side is probably not speaking TLS at all.
std::string tls_failure(const std::error_code& ec, bool client_side) {
  std::string why = ec.message();
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset) {
    why += client_side ? " (the peer closed the connection: is it serving plain TCP? then connect with tcp://)"
                       : " (the peer closed the connection)";
  } else if (why.find("wrong version number") != std::string::npos ||
             why.find("packet length too long") != std::string::npos) {
    why += " (the peer does not speak TLS)";
  }
  return why;
}

ConnectionPtr make_tls_connection(TlsStream stream, const FrameLimits& limits, std::shared_ptr<spdlog::logger> logger,
                                  std::string peer, std::optional<Admission> admission = std::nullopt) {
  std::error_code ignored;
  auto local = stream.lowest_layer().local_endpoint(ignored);
  std::string local_host = ignored ? "127.0.0.1" : local.address().to_string();
  return std::make_shared<StreamConnection<TlsStream>>(std::move(stream), limits, std::move(logger), std::move(peer),
                                                       std::move(local_host), admission);
}

ConnectionPtr make_plain_connection(asio::ip::tcp::socket socket, const FrameLimits& limits,
                                    std::shared_ptr<spdlog::logger> logger,
                                    std::optional<Admission> admission = std::nullopt) {
  std::error_code ignored;
  // Small messages (task batches, reports) must not wait for Nagle.
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  std::string peer = describe_endpoint(socket);
  auto local = socket.local_endpoint(ignored);
  std::string local_host = ignored ? "127.0.0.1" : local.address().to_string();
  return std::make_shared<StreamConnection<asio::ip::tcp::socket>>(
      std::move(socket), limits, std::move(logger), std::move(peer), std::move(local_host), admission);
}

}  // namespace

ConnectionPtr make_tcp_connection(asio::ip::tcp::socket socket, const FrameLimits& limits,
                                  std::shared_ptr<spdlog::logger> logger) {
  return make_plain_connection(std::move(socket), limits, std::move(logger));
}

void accept_connection(asio::ip::tcp::socket socket, const TlsContextPtr& tls, const FrameLimits& limits,
                       std::chrono::milliseconds handshake_timeout, std::shared_ptr<spdlog::logger> logger,
                       AcceptCallback done) {
  Admission admission{Clock::now() + handshake_timeout, handshake_timeout};
  if (!tls) return done(make_plain_connection(std::move(socket), limits, std::move(logger), admission));
  std::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  std::string peer = describe_endpoint(socket);
  auto executor = socket.get_executor();
  auto stream = std::make_shared<TlsStream>(std::move(socket), tls->native());
  // A client that stalls its TLS handshake costs one socket for a bounded
  // time; the same deadline then covers the dtask Handshake.
  auto timer = std::make_shared<asio::steady_timer>(executor);
  timer->expires_at(admission.deadline);
  timer->async_wait([stream](const std::error_code& ec) {
    if (ec) return;
    std::error_code ignored;
    stream->lowest_layer().close(ignored);
  });
  stream->async_handshake(
      asio::ssl::stream_base::server,
      [stream, timer, tls, limits, admission, logger = std::move(logger), peer = std::move(peer),
       done = std::move(done)](const std::error_code& ec) mutable {
        timer->cancel();
        if (ec) {
          std::string why = ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor
                                ? "timed out"
                                : tls_failure(ec, /*client_side=*/false);
          logger->warn("TLS handshake with {} failed: {}", peer, why);
          std::error_code ignored;
          stream->lowest_layer().close(ignored);
          return;
        }
        done(make_tls_connection(std::move(*stream), limits, std::move(logger), std::move(peer), admission));
      });
}

Result<bool> use_tls(const Address& address, const TlsContextPtr& tls) {
  if (address.transport == Transport::kTls && !tls) {
    return Status::invalid("cannot connect to " + address.to_string() +
                           ": it asks for TLS but no TLS settings were given (--tls-ca, and --tls-cert/--tls-key "
                           "when the server requires client certificates)");
  }
  if (address.transport == Transport::kTcp && tls) {
    return Status::invalid("cannot connect to " + address.to_string() +
                           ": TLS is configured here, so plain TCP is refused; write tls://" +
                           address.to_string().substr(6));
  }
  return tls != nullptr;
}

void async_connect_tcp(asio::io_context& io, const Address& address, const FrameLimits& limits,
                       std::shared_ptr<spdlog::logger> logger, ConnectCallback done, TlsContextPtr tls) {
  auto secure = use_tls(address, tls);
  if (!secure.ok()) {
    return asio::post(io, [done = std::move(done), status = secure.status()] { done(status); });
  }
  if (!*secure) tls = nullptr;
  Address shown = address;
  if (tls) shown.transport = Transport::kTls;
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(io);
  auto socket = std::make_shared<asio::ip::tcp::socket>(io);
  resolver->async_resolve(
      address.host, std::to_string(address.port),
      [resolver, socket, address = shown, limits, logger, tls, done = std::move(done)](
          const std::error_code& ec, asio::ip::tcp::resolver::results_type results) mutable {
        if (ec) return done(Status::io_error("cannot resolve " + address.to_string() + ": " + ec.message()));
        asio::async_connect(*socket, results,
                            [socket, address, limits, logger, tls, done = std::move(done)](
                                const std::error_code& ec, const asio::ip::tcp::endpoint&) mutable {
                              if (ec) {
                                return done(Status::io_error("cannot connect to " + address.to_string() + ": " +
                                                             ec.message()));
                              }
                              if (!tls) return done(make_tcp_connection(std::move(*socket), limits, logger));
                              std::error_code ignored;
                              socket->set_option(asio::ip::tcp::no_delay(true), ignored);
                              std::string peer = describe_endpoint(*socket);
                              auto stream = std::make_shared<TlsStream>(std::move(*socket), tls->native());
                              stream->async_handshake(
                                  asio::ssl::stream_base::client,
                                  [stream, address, limits, logger, peer, done = std::move(done)](
                                      const std::error_code& ec) mutable {
                                    if (ec) {
                                      return done(Status::io_error(
                                          "TLS handshake with " + address.to_string() +
                                          " failed: " + tls_failure(ec, /*client_side=*/true)));
                                    }
                                    done(make_tls_connection(std::move(*stream), limits, logger, peer));
                                  });
                            });
      });
}

namespace {

/// Bounds Asio's blocking connect and TLS handshake, which have no timeout
/// of their own: past the deadline it shuts the watched socket down from its
/// own thread, and the blocked call returns with an error. The socket is
/// named by descriptor, so it is watched only while open: watch(-1) before
/// closing it, or a reused descriptor could be shut down.
class ShutdownAtDeadline {
 public:
  explicit ShutdownAtDeadline(Clock::time_point deadline)
      : thread_([this, deadline] {
          std::unique_lock lock(mutex_);
          if (stopped_.wait_until(lock, deadline, [this] { return done_; })) return;
          fired_ = true;
          if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
        }) {}
  ~ShutdownAtDeadline() { disarm(); }
  ShutdownAtDeadline(const ShutdownAtDeadline&) = delete;
  ShutdownAtDeadline& operator=(const ShutdownAtDeadline&) = delete;

  void watch(int fd) {
    std::lock_guard lock(mutex_);
    fd_ = fd;
    if (fired_ && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  /// Stops watching; true when the deadline passed first (the socket is shut down).
  bool disarm() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    stopped_.notify_all();
    if (thread_.joinable()) thread_.join();
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool done_ = false;   // under mutex_
  bool fired_ = false;  // under mutex_ until the thread is joined
  int fd_ = -1;         // under mutex_
  std::thread thread_;  // last: it starts once the members above exist
};

/// One connect (and TLS handshake) attempt, all of it by `deadline`.
/// `refused` is set when the peer refused the connection in time (worth retrying).
Result<ConnectionPtr> connect_once(asio::io_context& io, const asio::ip::tcp::resolver::results_type& endpoints,
                                   const Address& address, const FrameLimits& limits,
                                   const std::shared_ptr<spdlog::logger>& logger, const TlsContextPtr& tls,
                                   Clock::time_point deadline, std::chrono::milliseconds timeout, bool* refused) {
  std::error_code ec = asio::error::host_not_found;
  std::error_code ignored;
  asio::ip::tcp::socket socket(io);
  ShutdownAtDeadline watchdog(deadline);
  for (const auto& entry : endpoints) {
    watchdog.watch(-1);
    socket.close(ignored);
    socket.open(entry.endpoint().protocol(), ec);
    if (ec) continue;
    watchdog.watch(socket.native_handle());
    socket.connect(entry.endpoint(), ec);
    if (!ec) break;
  }
  const std::string budget = std::to_string(timeout.count()) + " ms";
  if (ec) {
    if (watchdog.disarm()) return Status::timed_out("cannot connect to " + address.to_string() + " within " + budget);
    *refused = true;
    return Status::io_error("cannot connect to " + address.to_string() + ": " + ec.message());
  }
  if (!tls) {
    if (watchdog.disarm()) return Status::timed_out("cannot connect to " + address.to_string() + " within " + budget);
    return make_tcp_connection(std::move(socket), limits, logger);
  }
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  std::string peer = describe_endpoint(socket);
  TlsStream stream(std::move(socket), tls->native());
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (watchdog.disarm()) {
    return Status::timed_out("TLS handshake with " + address.to_string() + " did not finish within " + budget +
                             ": the server accepted the connection but did not answer (is it stalled, or not a "
                             "dtask daemon?)");
  }
  if (ec) {
    return Status::io_error("TLS handshake with " + address.to_string() + " failed: " + tls_failure(ec, /*client_side=*/true));
  }
  return make_tls_connection(std::move(stream), limits, logger, std::move(peer));
}

}  // namespace

Result<ConnectionPtr> connect_tcp(asio::io_context& io, const Address& given, const FrameLimits& limits,
                                  std::shared_ptr<spdlog::logger> logger, std::chrono::milliseconds timeout,
                                  const TlsContextPtr& tls) {
  DTASK_ASSIGN_OR_RETURN(bool secure, use_tls(given, tls));
  Address address = given;
  if (secure) address.transport = Transport::kTls;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec) return Status::io_error("cannot resolve " + address.to_string() + ": " + ec.message());
  while (true) {
    bool refused = false;
    Result<ConnectionPtr> connection =
        connect_once(io, endpoints, address, limits, logger, secure ? tls : nullptr, deadline, timeout, &refused);
    if (connection.ok() || !refused || std::chrono::steady_clock::now() >= deadline) return connection;
    // Back off before retrying: the peer may still be starting.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string advertised_address(const asio::ip::tcp::acceptor& acceptor, const std::string& host, bool tls) {
  std::uint16_t port = acceptor.local_endpoint().port();
  std::string shown = host;
  if (host.empty() || host == "0.0.0.0" || host == "::") shown = asio::ip::host_name();
  return Address{shown, port, tls ? Transport::kTls : Transport::kTcp}.to_string();
}

Result<std::unique_ptr<asio::ip::tcp::acceptor>> listen_tcp(asio::io_context& io, const Address& address) {
  std::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(address.host, std::to_string(address.port),
                                    asio::ip::tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return Status::io_error("cannot resolve listen address " + address.to_string() + ": " + ec.message());
  }
  auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(io);
  asio::ip::tcp::endpoint endpoint = *endpoints.begin();
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::io_error("cannot listen on " + address.to_string() + ": " + ec.message());
  return acceptor;
}

}  // namespace dtask
