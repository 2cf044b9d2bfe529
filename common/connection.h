// One connection type for every link (client-scheduler, worker-scheduler,
// worker-worker, client-worker). Reads frames, decodes them into Messages and
// hands them to a handler; writes queued frames in one gathered write, so
// messages sent while a write is in flight coalesce into the next one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/frame.h"
#include "common/messages.h"
#include "common/status.h"

namespace dtask {

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
