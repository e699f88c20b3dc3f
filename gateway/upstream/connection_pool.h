#ifndef CODEARTS_GATEWAY_UPSTREAM_CONNECTION_POOL_H_
#define CODEARTS_GATEWAY_UPSTREAM_CONNECTION_POOL_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "upstream/tls_stream.h"

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
    stream.socket().close(ignored);
  }

  TlsStream stream;
  boost::beast::flat_buffer buffer;
  /// The request being written, as bytes (its capacity is kept for the next request).
  std::string request_bytes;
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
  /// Longest a new connection may take to be established (TCP connect plus TLS handshake).
  std::chrono::steady_clock::duration connect_timeout = std::chrono::seconds(5);
};

/// What establishing one connection came to.
struct ConnectResult {
  absl::Status status;
  /// The failure may pass (refused, reset, timed out): worth another connection. A certificate
  /// that fails verification is not.
  bool transient = false;
  /// The connect timeout passed before the connection was established.
  bool timed_out = false;
};

/// Establishes `connection` (resolve, TCP connect, TLS handshake) before `deadline`. Runs on a
/// strand of the pool's own; the pool closes the socket to abort it.
using Connector = std::function<boost::asio::awaitable<ConnectResult>(
    Connection& connection, std::chrono::steady_clock::time_point deadline)>;

/// The result of ConnectionPool::Acquire: an established connection, or why there is none.
struct Acquired {
  std::unique_ptr<Connection> connection;
  /// Why no connection was had: DEADLINE_EXCEEDED, CANCELLED, or the failure of the connection
  /// opened on this call's behalf (see `connect`).
  absl::Status status;
  /// Set when `status` is that of a failed connect (nothing was sent).
  std::optional<ConnectResult> connect;
};

/// A bounded keep-alive pool for one endpoint. Thread-safe.
///
/// New connections are opened by the pool, not by the call that needed one: a call that finds no
/// idle connection starts one opening (below the cap) and waits, and is served by whichever
/// connection becomes usable first, released by another call or newly established. A connection
/// still being established when its call ends goes on for the pool. The call on whose behalf an
/// opening failed gets that failure (so that it may retry); an opening whose call has gone passes
/// to another waiting call.
class ConnectionPool {
 public:
  ConnectionPool(boost::asio::io_context& io, boost::asio::ssl::context& tls, PoolOptions options,
                 Connector connector);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  ~ConnectionPool();

  /// Returns a live idle connection, or waits for one (opening one when below the cap) until
  /// `deadline` (DEADLINE_EXCEEDED) or until `cancel` fires (CANCELLED). Must be awaited on the
  /// caller's strand.
  boost::asio::awaitable<Acquired> Acquire(std::chrono::steady_clock::time_point deadline,
                                           boost::asio::cancellation_slot cancel);

  /// Gives a connection back: kept for reuse when `reusable`, otherwise closed.
  void Release(std::unique_ptr<Connection> connection, bool reusable);

  /// Aborts the connections being established and closes the idle ones; later openings are not
  /// started. For shutdown, so that no connect keeps the I/O threads busy.
  void Close();

  struct Stats {
    std::size_t open = 0;        // established or being established
    std::size_t idle = 0;        // in the pool, ready for reuse
    std::size_t connecting = 0;  // being established
    std::size_t waiting = 0;     // calls waiting for a connection
    std::uint64_t created = 0;
  };
  Stats GetStats() const;

 private:
  struct Waiter;
  struct Opening;

  // True when an idle connection can still be used: not too old, and the peer has neither closed
  // it nor sent anything unsolicited.
  bool IsReusable(Connection& connection, std::chrono::steady_clock::time_point now) const;
  // Opens a connection on `owner`'s behalf (the caller has counted it in open_).
  void StartOpeningLocked(const std::shared_ptr<Waiter>& owner);
  // Gives every waiter without an opening one, while below the cap.
  void StartOpeningsLocked();
  boost::asio::awaitable<void> RunOpening(std::shared_ptr<Opening> opening);
  // Serves the first waiter with `connection`, or keeps it idle.
  void HandOverLocked(std::unique_ptr<Connection> connection);
  // `waiter` leaves the queue: its opening, if any, passes to a waiter that has none.
  void RemoveWaiterLocked(const std::shared_ptr<Waiter>& waiter);
  void PassOnOpeningLocked(const std::shared_ptr<Opening>& opening);
  // The queue, its count of waiters without an opening and the list of openings change in O(1)
  // each, so that thousands of calls waiting at once (a burst against a slow upstream) cost no
  // more each than a few. Finding a waiter without an opening (to start or pass on one) walks
  // the queue past those that have one: at most max_connections of them.
  void EnqueueLocked(const std::shared_ptr<Waiter>& waiter);
  void DequeueLocked(Waiter& waiter);
  void SetOpeningLocked(Waiter& waiter, std::shared_ptr<Opening> opening);
  static void Wake(const std::shared_ptr<Waiter>& waiter);

  boost::asio::io_context& io_;
  boost::asio::ssl::context& tls_;
  const PoolOptions options_;
  const Connector connector_;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // LIFO: the warmest connection first
  std::list<std::shared_ptr<Waiter>> waiters_;     // FIFO
  std::size_t waiters_without_opening_ = 0;
  std::list<std::shared_ptr<Opening>> openings_;
  // Openings whose call has gone and that no waiter has adopted yet (few: calls that ended
  // while their connection was being established).
  std::vector<std::shared_ptr<Opening>> orphans_;
  std::size_t open_ = 0;  // idle + lent out + being established
  std::uint64_t next_id_ = 1;
  bool closed_ = false;
};

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_CONNECTION_POOL_H_
