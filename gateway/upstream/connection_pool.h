#ifndef CODEARTS_GATEWAY_UPSTREAM_CONNECTION_POOL_H_
#define CODEARTS_GATEWAY_UPSTREAM_CONNECTION_POOL_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"

namespace codearts::upstream {

/// One TLS connection to the upstream. Owned by exactly one exchange at a time, or by the pool
/// while idle.
struct Connection {
  Connection(boost::asio::io_context& io, boost::asio::ssl::context& tls,
             std::uint64_t connection_id)
      : stream(io, tls), id(connection_id) {}

  /// Closes the TCP socket at once (no TLS close_notify): used for failed, cancelled and
  /// unwanted connections, which are never reused.
  void Close() {
    boost::system::error_code ignored;
    stream.next_layer().socket().close(ignored);
  }

  boost::beast::ssl_stream<boost::beast::tcp_stream> stream;
  boost::beast::flat_buffer buffer;
  std::uint64_t id;
  bool established = false;
  /// Whether this connection's TLS session was offered to later connections for resumption.
  bool session_shared = false;
  std::uint64_t requests = 0;
  std::chrono::steady_clock::time_point idle_since{};
};

struct PoolOptions {
  /// Connections open or being opened at once; calls beyond it wait for one (within deadline).
  std::size_t max_connections = 64;
  /// An idle connection older than this is closed rather than reused.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(30);
};

/// A bounded keep-alive pool for one endpoint. Thread-safe.
class ConnectionPool {
 public:
  ConnectionPool(boost::asio::io_context& io, boost::asio::ssl::context& tls, PoolOptions options);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  ~ConnectionPool();

  /// Returns a live idle connection, or a new unconnected one (`established == false`) when below
  /// the cap, or waits for one to be released until `deadline` (DEADLINE_EXCEEDED) or until
  /// `cancel` fires (CANCELLED). Must be awaited on the caller's strand.
  boost::asio::awaitable<absl::StatusOr<std::unique_ptr<Connection>>> Acquire(
      std::chrono::steady_clock::time_point deadline, boost::asio::cancellation_slot cancel);

  /// Gives a connection back: kept for reuse when `reusable`, otherwise closed.
  void Release(std::unique_ptr<Connection> connection, bool reusable);

  struct Stats {
    std::size_t open = 0;
    std::size_t idle = 0;
    std::size_t waiting = 0;
    std::uint64_t created = 0;
  };
  Stats GetStats() const;

 private:
  struct Waiter;

  // True when an idle connection can still be used: not too old, and the peer has neither closed
  // it nor sent anything unsolicited.
  bool IsReusable(Connection& connection, std::chrono::steady_clock::time_point now) const;
  std::unique_ptr<Connection> NewConnectionLocked();

  boost::asio::io_context& io_;
  boost::asio::ssl::context& tls_;
  const PoolOptions options_;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // LIFO: the warmest connection first
  std::deque<std::shared_ptr<Waiter>> waiters_;
  std::size_t open_ = 0;
  std::uint64_t next_id_ = 1;
};

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_CONNECTION_POOL_H_
