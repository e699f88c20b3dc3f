#ifndef CODEARTS_GATEWAY_UPSTREAM_HTTPS_CLIENT_H_
#define CODEARTS_GATEWAY_UPSTREAM_HTTPS_CLIENT_H_

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "upstream/connection_pool.h"
#include "upstream/endpoint.h"
#include "upstream/http_types.h"
#include "upstream/retry_policy.h"

namespace codearts::upstream {

struct ClientOptions {
  PoolOptions pool;
  /// Largest response (headers plus body) accepted; a larger one fails INTERNAL and the
  /// connection is dropped.
  std::size_t max_response_body_bytes = std::size_t{1024} * 1024;
  std::uint32_t max_response_header_bytes = 64 * 1024;
  RetryOptions retry;
  /// How long a server seen to answer an offer of TLS 1.3 with TLS 1.2 is taken to speak 1.2
  /// only: within it, a connection resuming a TLS 1.2 session offers TLS 1.2 alone (no TLS 1.3
  /// key share to compute); after it, the next connection offers TLS 1.3 again. Zero: always
  /// offer TLS 1.3.
  std::chrono::steady_clock::duration tls12_only_for = std::chrono::minutes(10);
};

/// One request attempt that reached the wire (a connection was obtained for it).
struct AttemptOutcome {
  /// The HTTP status received, or 0 when the attempt failed without one (connect, TLS, I/O).
  unsigned http_status = 0;
  std::chrono::microseconds duration{0};
};

/// What happened on the wire during one `Send`, for logs, metrics and tests.
struct ExchangeInfo : ExchangeFacts {
  std::uint64_t connection_id = 0;
  bool reused_connection = false;
  int attempts = 0;
  int retries = 0;
  absl::InlinedVector<AttemptOutcome, 1> outcomes;
  /// The prepare hook (signing) failed, so nothing was sent.
  bool prepare_failed = false;
};

/// The client's connections at one moment, for metrics.
struct ClientStats {
  std::size_t open = 0;                  // established or being established
  std::size_t idle = 0;                  // in the pool, ready for reuse
  std::size_t connecting = 0;            // resolving, connecting or in the TLS handshake
  std::size_t waiting = 0;               // calls waiting for a connection
  std::uint64_t connect_timeouts = 0;    // connections not established within the connect timeout
  std::uint64_t full_handshakes = 0;     // TLS handshakes with certificate verification
  std::uint64_t resumed_handshakes = 0;  // TLS handshakes that resumed an earlier session
};

/// An async HTTPS/1.1 client for one endpoint, over a bounded keep-alive pool. Knows nothing of
/// gRPC or of any RPC. Transport failures are returned as statuses: UNAVAILABLE (naming the host
/// and step), DEADLINE_EXCEEDED, CANCELLED, or INTERNAL for an oversized response. Retries follow
/// the request's RequestPolicy, within the deadline, RetryOptions and the retry budget.
class HttpsClient {
 public:
  HttpsClient(boost::asio::io_context& io, boost::asio::ssl::context& tls, Endpoint endpoint,
              ClientOptions options);
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;
  ~HttpsClient();

  /// Sends `request` and reads the response, all before `deadline`. `prepare` (may be empty) runs
  /// right before each write. Arguments are taken by value: the coroutine outlives the caller's
  /// full-expression. Emitting on `cancel` (from the caller's strand) aborts the exchange at once
  /// and closes its connection. Must be awaited on a strand.
  boost::asio::awaitable<absl::StatusOr<HttpResponse>> Send(
      HttpRequest request, PrepareRequest prepare, RequestPolicy policy,
      std::chrono::steady_clock::time_point deadline, boost::asio::cancellation_slot cancel,
      ExchangeInfo* info);

  /// Aborts connections being established and closes idle ones (for shutdown).
  void Close();

  const Endpoint& endpoint() const { return endpoint_; }
  ConnectionPool& pool() { return pool_; }
  ClientStats GetStats() const;

 private:
  struct AttemptResult;
  // The pool's Connector: Connect, plus the health record and the connect-timeout count.
  boost::asio::awaitable<ConnectResult> OpenConnection(
      Connection& connection, std::chrono::steady_clock::time_point deadline);
  boost::asio::awaitable<absl::Status> Connect(Connection& connection,
                                               std::chrono::steady_clock::time_point deadline,
                                               bool* transient);
  boost::asio::awaitable<AttemptResult> RunAttempt(HttpRequest& request,
                                                   const PrepareRequest& prepare,
                                                   std::chrono::steady_clock::time_point deadline,
                                                   boost::asio::cancellation_slot cancel,
                                                   ExchangeInfo* info);
  static boost::asio::awaitable<absl::Status> Sleep(std::chrono::milliseconds delay,
                                                    boost::asio::cancellation_slot cancel);
  static void NoteAttempts(int attempts, std::string_view why_not, ExchangeInfo* info);
  std::uint64_t NextRandom();
  boost::asio::awaitable<AttemptResult> Attempt(Connection& connection, const HttpRequest& request,
                                                std::chrono::steady_clock::time_point deadline,
                                                boost::asio::cancellation_slot cancel);

  boost::asio::io_context& io_;
  const Endpoint endpoint_;
  const ClientOptions options_;
  ConnectionPool pool_;
  RetryBudget budget_;
  UpstreamHealth health_;
  std::atomic<std::uint64_t> connect_timeouts_{0};
  std::atomic<std::uint64_t> full_handshakes_{0};
  std::atomic<std::uint64_t> resumed_handshakes_{0};
  // The last resumable TLS session from this endpoint, offered to each new connection: a
  // resumed handshake skips certificate verification, which is most of a new connection's CPU.
  void ShareSession(Connection& connection);
  // Offers the shared session to `connection`; returns whether the connection offers TLS 1.3.
  bool OfferSession(Connection& connection);
  // Records what a handshake (`ec` its outcome) says of the server: a TLS 1.3 offer answered
  // with TLS 1.2, or an offer of TLS 1.2 alone refused.
  void NoteHandshake(const Connection& connection, bool offered_tls13,
                     const boost::system::error_code& ec);
  std::mutex session_mutex_;
  SSL_SESSION* session_ = nullptr;  // guarded by session_mutex_; owned
  // When the server last answered an offer of TLS 1.3 with TLS 1.2; unset (the epoch) when it
  // has not, or has since spoken TLS 1.3. Guarded by session_mutex_.
  std::chrono::steady_clock::time_point tls13_declined_at_{};
  std::mutex random_mutex_;
  std::mt19937_64 random_;
};

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_HTTPS_CLIENT_H_
