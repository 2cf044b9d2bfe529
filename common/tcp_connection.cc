#include "common/tcp_connection.h"

#include <spdlog/spdlog.h>

#include <array>
#include <asio/connect.hpp>
#include <asio/ip/host_name.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <thread>

#include "common/message_codec.h"

namespace dtask {

namespace {

/// The frame reader/writer over one stream. Generic over the stream so that
/// a TLS stream (asio::ssl::stream<tcp::socket>) can reuse it unchanged.
/// All members are touched only on the stream's executor, which must be a
/// single-threaded io_context.
template <typename Stream>
class StreamConnection final : public Connection, public std::enable_shared_from_this<StreamConnection<Stream>> {
 public:
  StreamConnection(Stream stream, FrameLimits limits, std::shared_ptr<spdlog::logger> logger, std::string peer,
                   std::string local_host)
      : stream_(std::move(stream)),
        limits_(limits),
        logger_(std::move(logger)),
        peer_(std::move(peer)),
        local_host_(std::move(local_host)) {}

  void start(MessageHandler on_message, CloseHandler on_close) override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this(), on_message = std::move(on_message),
                                            on_close = std::move(on_close)]() mutable {
      self->on_message_ = std::move(on_message);
      self->on_close_ = std::move(on_close);
      self->read_header();
    });
  }

  void send(const Message& message) override { send_encoded(encode_frame(message)); }

  void send_encoded(EncodedFrame frame) override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this(), frame = std::move(frame)]() mutable {
      if (self->closed_ || self->closing_) return;
      self->queued_.push_back(std::move(frame));
      if (!self->write_in_flight_) self->write_queued();
    });
  }

  void close(const Status& why) override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), why] {
      // Let queued frames (a rejection reply, say) go out before closing.
      if (self->write_in_flight_ || !self->queued_.empty()) {
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
  void read_header() {
    if (closed_) return;
    asio::async_read(stream_, asio::buffer(header_bytes_),
                     [self = this->shared_from_this()](const std::error_code& ec, std::size_t) {
                       if (ec) return self->shut(self->read_error(ec));
                       auto header = parse_frame_header(self->header_bytes_, self->limits_);
                       if (!header.ok()) return self->reject(header.status());
                       self->header_ = *header;
                       self->read_body();
                     });
  }

  void read_body() {
    body_ = Buffer::allocate(header_.body_bytes());
    asio::async_read(stream_, asio::buffer(body_->mutable_data(), body_->size()),
                     [self = this->shared_from_this()](const std::error_code& ec, std::size_t) {
                       if (ec) return self->shut(self->read_error(ec));
                       auto slices = parse_bulk_table(self->header_, {self->body_->data(), self->body_->size()});
                       if (!slices.ok()) return self->reject(slices.status());
                       self->slices_ = std::move(*slices);
                       self->read_bulk();
                     });
  }

  void read_bulk() {
    bulk_ = Buffer::allocate(header_.bulk_bytes);
    if (header_.bulk_bytes == 0) return deliver();
    asio::async_read(stream_, asio::buffer(bulk_->mutable_data(), bulk_->size()),
                     [self = this->shared_from_this()](const std::error_code& ec, std::size_t) {
                       if (ec) return self->shut(self->read_error(ec));
                       self->deliver();
                     });
  }

  void deliver() {
    bytes_received_.fetch_add(kFrameHeaderSize + header_.body_bytes() + header_.bulk_bytes, std::memory_order_relaxed);
    auto message = decode_frame_body(header_, {body_->data(), body_->size()}, std::move(bulk_), slices_);
    body_.reset();
    if (!message.ok()) return reject(message.status());
    if (on_message_) on_message_(std::move(*message));
    read_header();
  }

  Status read_error(const std::error_code& ec) const {
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      return Status::disconnected("peer " + peer_ + " closed the connection");
    }
    return Status::io_error("reading from " + peer_ + ": " + ec.message());
  }

  /// A malformed frame costs this connection alone.
  void reject(const Status& why) {
    logger_->warn("closing connection from {}: {}", peer_, why.message());
    shut(why);
  }

  void write_queued() {
    writing_.swap(queued_);
    gather_.clear();
    std::size_t total = 0;
    for (const EncodedFrame& frame : writing_) {
      for (auto piece : frame.pieces) gather_.emplace_back(piece.data(), piece.size());
      total += frame.total_bytes;
    }
    write_in_flight_ = true;
    asio::async_write(stream_, gather_,
                      [self = this->shared_from_this(), total](const std::error_code& ec, std::size_t) {
                        self->write_in_flight_ = false;
                        self->writing_.clear();
                        if (ec) {
                          return self->shut(Status::io_error("writing to " + self->peer_ + ": " + ec.message()));
                        }
                        self->bytes_sent_.fetch_add(total, std::memory_order_relaxed);
                        if (!self->queued_.empty()) return self->write_queued();
                        if (self->closing_) self->shut(self->close_reason_);
                      });
  }

  void shut(const Status& why) {
    if (closed_) return;
    closed_ = true;
    std::error_code ignored;
    stream_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
    queued_.clear();
    on_message_ = nullptr;
    // Move the handler out first: it may drop the last owner of this object's owner.
    CloseHandler on_close = std::move(on_close_);
    on_close_ = nullptr;
    if (on_close) on_close(why);
  }

  Stream stream_;
  FrameLimits limits_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string peer_;
  std::string local_host_;
  MessageHandler on_message_;
  CloseHandler on_close_;

  std::array<std::byte, kFrameHeaderSize> header_bytes_{};
  FrameHeader header_;
  std::shared_ptr<Buffer> body_;
  std::shared_ptr<Buffer> bulk_;
  std::vector<std::uint64_t> slices_;

  std::vector<EncodedFrame> queued_;
  std::vector<EncodedFrame> writing_;
  std::vector<asio::const_buffer> gather_;
  bool write_in_flight_ = false;
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

}  // namespace

ConnectionPtr make_tcp_connection(asio::ip::tcp::socket socket, const FrameLimits& limits,
                                  std::shared_ptr<spdlog::logger> logger) {
  std::error_code ignored;
  // Small messages (task batches, reports) must not wait for Nagle.
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  std::string peer = describe_endpoint(socket);
  auto local = socket.local_endpoint(ignored);
  std::string local_host = ignored ? "127.0.0.1" : local.address().to_string();
  return std::make_shared<StreamConnection<asio::ip::tcp::socket>>(std::move(socket), limits, std::move(logger),
                                                                  std::move(peer), std::move(local_host));
}

void async_connect_tcp(asio::io_context& io, const Address& address, const FrameLimits& limits,
                       std::shared_ptr<spdlog::logger> logger, ConnectCallback done) {
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(io);
  auto socket = std::make_shared<asio::ip::tcp::socket>(io);
  resolver->async_resolve(
      address.host, std::to_string(address.port),
      [resolver, socket, address, limits, logger, done = std::move(done)](
          const std::error_code& ec, asio::ip::tcp::resolver::results_type results) mutable {
        if (ec) return done(Status::io_error("cannot resolve " + address.to_string() + ": " + ec.message()));
        asio::async_connect(*socket, results,
                            [socket, address, limits, logger, done = std::move(done)](
                                const std::error_code& ec, const asio::ip::tcp::endpoint&) mutable {
                              if (ec) {
                                return done(Status::io_error("cannot connect to " + address.to_string() + ": " +
                                                             ec.message()));
                              }
                              done(make_tcp_connection(std::move(*socket), limits, logger));
                            });
      });
}

Result<ConnectionPtr> connect_tcp(asio::io_context& io, const Address& address, const FrameLimits& limits,
                                  std::shared_ptr<spdlog::logger> logger, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec) return Status::io_error("cannot resolve " + address.to_string() + ": " + ec.message());
  while (true) {
    asio::ip::tcp::socket socket(io);
    asio::connect(socket, endpoints, ec);
    if (!ec) return make_tcp_connection(std::move(socket), limits, logger);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::io_error("cannot connect to " + address.to_string() + ": " + ec.message());
    }
    // Back off before retrying: the peer may still be starting.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string advertised_address(const asio::ip::tcp::acceptor& acceptor, const std::string& host) {
  std::uint16_t port = acceptor.local_endpoint().port();
  std::string shown = host;
  if (host.empty() || host == "0.0.0.0" || host == "::") shown = asio::ip::host_name();
  return Address{shown, port}.to_string();
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
