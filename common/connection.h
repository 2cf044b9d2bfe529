// One connection type for every link (client-scheduler, worker-scheduler,
// worker-worker, client-worker). Reads frames, decodes them into Messages and
// hands them to a handler; writes queued frames in one gathered write, so
// messages sent while a write is in flight coalesce into the next one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/frame.h"
#include "common/messages.h"
#include "dtask/status.h"

namespace dtask {

/// How long a daemon gives a connection it accepted to be admitted (TLS
/// handshake, then an accepted dtask Handshake) before closing it: the
/// default of the daemons' --handshake-timeout.
inline constexpr std::chrono::milliseconds kDefaultHandshakeTimeout{10'000};

class Connection {
 public:
  using MessageHandler = std::function<void(Message&&)>;
  using CloseHandler = std::function<void(const Status& why)>;

  virtual ~Connection() = default;

  /// Starts the read loop. Handlers run on the connection's io_context thread;
  /// the close handler runs exactly once, after which no message arrives.
  virtual void start(MessageHandler on_message, CloseHandler on_close) = 0;
  /// Encodes `message` on the calling thread and queues it. Thread-safe.
  virtual void send(const Message& message) = 0;
  /// Queues an already-encoded frame (one encoding sent to many peers). Thread-safe.
  virtual void send_encoded(EncodedFrame frame) = 0;
  /// The peer's Handshake was accepted: from the next frame on, frames are
  /// read under the daemon's full FrameLimits instead of the tight
  /// kHandshakeFrameLimits, and the handshake deadline no longer applies.
  /// Connections a daemon accepts start unadmitted; those it makes start
  /// admitted. Call on the connection's io thread (from the message handler),
  /// so that the very next frame is read under the new limits.
  virtual void admit() = 0;
  /// Closes the socket and runs the close handler with `why`. Thread-safe, idempotent.
  virtual void close(const Status& why) = 0;
  /// "127.0.0.1:41234", for logs.
  virtual const std::string& peer() const = 0;
  /// The local IP this connection uses: what a worker advertises when it
  /// listens on all interfaces, since its scheduler reached it that way.
  virtual const std::string& local_host() const = 0;
  virtual std::uint64_t bytes_received() const = 0;
  virtual std::uint64_t bytes_sent() const = 0;
};

using ConnectionPtr = std::shared_ptr<Connection>;

}  // namespace dtask
