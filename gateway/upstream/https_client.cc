#include "upstream/https_client.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/optional/optional.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "observability/log.h"

namespace codearts::upstream {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

// Closes the socket when `cancel` fires, which aborts whatever operation is pending on it.
void CloseOnCancel(asio::cancellation_slot& cancel, Connection& connection) {
  if (!cancel.is_connected()) return;
  cancel.assign([&connection](asio::cancellation_type) {
    error_code ignored;
    connection.stream.socket().close(ignored);
  });
}

// Ends what is pending on `socket` once `deadline` passes (and makes later operations on it
// fail at once), for as long as it lives; timed_out() says whether it did. Made and destroyed
// on the coroutine's strand, where its handler runs too.
// Whether a failed handshake ended in the TLS layer (an alert from the server, or the server
// closing the connection mid-handshake, as some do on a version they do not speak) rather than
// by a timeout, a cancellation or a socket error.
bool RefusedByTheServer(const error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec == asio::ssl::error::stream_truncated;
}

class SocketDeadline {
 public:
  SocketDeadline(const asio::any_io_executor& executor, tcp::socket& socket,
                 std::chrono::steady_clock::time_point deadline)
      : timer_(executor, deadline), state_(std::make_shared<State>()) {
    timer_.async_wait([state = state_, &socket](const error_code& ec) {
      if (ec || state->ended) return;
      state->fired = true;
      error_code ignored;
      socket.cancel(ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);  // NOLINT(bugprone-unused-return-value)
    });
  }
  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;
  ~SocketDeadline() {
    state_->ended = true;
    timer_.cancel();
  }

  /// The error to report for `ec`: a timeout if the deadline is what ended the operation.
  error_code Translate(const error_code& ec) const {
    return ec && state_->fired ? error_code(beast::error::timeout) : ec;
  }

 private:
  struct State {
    bool fired = false;
    bool ended = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

std::string DescribeError(const error_code& ec) { return ec.message(); }

// Parses a response straight into an HttpResponse: no header container of Beast's to copy from.
class ResponseParser final : public http::basic_parser<false> {
 public:
  HttpResponse& response() { return response_; }

 private:
  void on_request_impl(http::verb /*method*/, beast::string_view /*method_string*/,
                       beast::string_view /*target*/, int /*version*/, error_code& ec) override {
    ec = http::error::bad_method;  // a response parser never sees a request line
  }
  void on_response_impl(int code, beast::string_view /*reason*/, int /*version*/,
                        error_code& /*ec*/) override {
    response_.status = static_cast<unsigned>(code);
  }
  void on_field_impl(http::field /*name*/, beast::string_view name, beast::string_view value,
                     error_code& /*ec*/) override {
    response_.headers.emplace_back(std::string(name), std::string(value));
  }
  void on_header_impl(error_code& /*ec*/) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& /*ec*/) override {
    // The announced length is only a hint (the parser enforces the body limit as bytes come).
    constexpr std::uint64_t kMaxReserve = std::uint64_t{64} * 1024;
    if (content_length) {
      response_.body.reserve(static_cast<std::size_t>(std::min(*content_length, kMaxReserve)));
    }
  }
  std::size_t on_body_impl(beast::string_view body, error_code& /*ec*/) override {
    response_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t /*size*/, beast::string_view /*extensions*/,
                            error_code& /*ec*/) override {}
  std::size_t on_chunk_body_impl(std::uint64_t /*remain*/, beast::string_view body,
                                 error_code& /*ec*/) override {
    response_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code& /*ec*/) override {}

  HttpResponse response_;
};

// Reads one message into `parser` with the rules of Beast's http::read: what `buffer` holds is
// parsed first, then reads of up to 64 KiB each until the parser is done; the end of the stream
// ends a body without a length, and before any byte it is http::error::end_of_stream. Awaits the
// stream directly (no composed operation around each read). Returns the bytes the parser took.
asio::awaitable<std::pair<error_code, std::size_t>> ReadMessage(TlsStream& stream,
                                                                beast::flat_buffer& buffer,
                                                                ResponseParser& parser) {
  std::size_t total = 0;
  error_code ec;
  while (!parser.is_done()) {
    if (buffer.size() > 0) {
      const std::size_t used = parser.put(buffer.data(), ec);
      total += used;
      buffer.consume(used);
      if (!ec) continue;
      if (ec != http::error::need_more) co_return std::pair{ec, total};
      ec = {};
    }
    const std::size_t size = beast::read_size(buffer, 65536);
    if (size == 0) co_return std::pair{error_code(http::error::buffer_overflow), total};
    asio::mutable_buffer space;
    try {
      space = buffer.prepare(size);
    } catch (const std::length_error&) {
      co_return std::pair{error_code(http::error::buffer_overflow), total};
    }
    auto [read_ec, read] = co_await stream.ReadSome(space);
    buffer.commit(read);
    if (read_ec == asio::error::eof) {
      if (!parser.got_some()) co_return std::pair{error_code(http::error::end_of_stream), total};
      parser.put_eof(ec);  // the body ends with the stream
      if (ec) co_return std::pair{ec, total};
      continue;
    }
    if (read_ec) co_return std::pair{read_ec, total};
  }
  co_return std::pair{ec, total};
}

}  // namespace

struct HttpsClient::AttemptResult {
  absl::StatusOr<HttpResponse> response;
  bool keep_alive = false;
  // The request certainly did not reach CodeArts' application (see RunAttempt).
  bool not_sent = false;
  // The request was written and then the exchange failed or timed out.
  bool maybe_processed = false;
  // Resolving, connecting or the TLS handshake failed for a reason that may pass.
  bool connect_failed = false;
  // Nothing of a response arrived before the connection failed: on a reused connection this is
  // a keep-alive race (the server closed it while idle), so one retry on a fresh connection is
  // safe.
  bool failed_before_response = false;
};

HttpsClient::HttpsClient(asio::io_context& io, asio::ssl::context& tls, Endpoint endpoint,
                         ClientOptions options)
    : io_(io),
      endpoint_(std::move(endpoint)),
      options_(options),
      pool_(io, tls, options.pool,
            [this](Connection& connection, std::chrono::steady_clock::time_point deadline) {
              return OpenConnection(connection, deadline);
            }),
      budget_(options.retry.budget_ratio, options.retry.budget_capacity),
      health_(options.retry.down_after_connect_failures, options.retry.probe_interval),
      random_(std::random_device{}()) {}

HttpsClient::~HttpsClient() {
  if (session_ != nullptr) SSL_SESSION_free(session_);
}

void HttpsClient::Close() { pool_.Close(); }

bool HttpsClient::OfferSession(Connection& connection) {
  SSL* ssl = connection.stream.native_handle();
  std::lock_guard lock(session_mutex_);
  if (session_ == nullptr) return true;
  SSL_set_session(ssl, session_);
  // A TLS 1.2 session resumes without a key exchange, but a ClientHello that also offers TLS 1.3
  // carries a key share for it (an X25519 key pair, about a tenth of the gateway's CPU in a burst
  // of new connections). When the server answered such an offer with TLS 1.2 not long ago, it
  // would again: offer TLS 1.2 alone. That first answer was protected against a downgrade (the
  // TLS 1.3 sentinel in the server's random), and the offer of TLS 1.3 returns once the window
  // passes, so a server that has moved on is not held at TLS 1.2 for long.
  const bool tls12_only =
      SSL_SESSION_get_protocol_version(session_) == TLS1_2_VERSION &&
      tls13_declined_at_ != std::chrono::steady_clock::time_point{} &&
      std::chrono::steady_clock::now() - tls13_declined_at_ < options_.tls12_only_for;
  if (tls12_only) SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
  return !tls12_only;
}

void HttpsClient::NoteHandshake(const Connection& connection, bool offered_tls13,
                                const error_code& ec) {
  std::lock_guard lock(session_mutex_);
  if (ec) {
    // The server refused a handshake offering TLS 1.2 alone: perhaps it now requires TLS 1.3.
    // A timeout or a reset says nothing of that (an overloaded server), so the window stays.
    if (!offered_tls13 && RefusedByTheServer(ec)) tls13_declined_at_ = {};
    return;
  }
  if (!offered_tls13) return;
  const bool declined = SSL_version(connection.stream.native_handle()) == TLS1_2_VERSION;
  tls13_declined_at_ =
      declined ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
}

void HttpsClient::ShareSession(Connection& connection) {
  // TLS 1.3 sends its session tickets after the handshake, so the session is taken once a
  // response has been read on the connection.
  connection.session_shared = true;
  SSL_SESSION* session = SSL_get1_session(connection.stream.native_handle());
  if (session == nullptr) return;
  if (SSL_SESSION_is_resumable(session) != 1) {
    SSL_SESSION_free(session);
    return;
  }
  std::lock_guard lock(session_mutex_);
  if (session_ != nullptr) SSL_SESSION_free(session_);
  session_ = session;
}

ClientStats HttpsClient::GetStats() const {
  const ConnectionPool::Stats pool = pool_.GetStats();
  ClientStats stats;
  stats.open = pool.open;
  stats.idle = pool.idle;
  stats.waiting = pool.waiting;
  stats.connecting = pool.connecting;
  stats.connect_timeouts = connect_timeouts_.load(std::memory_order_relaxed);
  stats.full_handshakes = full_handshakes_.load(std::memory_order_relaxed);
  stats.resumed_handshakes = resumed_handshakes_.load(std::memory_order_relaxed);
  return stats;
}

asio::awaitable<ConnectResult> HttpsClient::OpenConnection(
    Connection& connection, std::chrono::steady_clock::time_point deadline) {
  bool transient = false;
  absl::Status status = co_await Connect(connection, deadline, &transient);
  ConnectResult result{std::move(status), transient};
  if (result.status.ok()) {
    health_.RecordConnectSuccess();
    co_return result;
  }
  if (result.status.code() == absl::StatusCode::kDeadlineExceeded) {
    // The connect timeout, not a call's deadline: a failed attempt like any connect failure.
    result.timed_out = true;
    result.transient = true;
    connect_timeouts_.fetch_add(1, std::memory_order_relaxed);
    result.status = absl::UnavailableError(absl::StrCat(
        result.status.message(), " (connect timeout ",
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.pool.connect_timeout)
            .count(),
        " ms)"));
  }
  // An aborted connect (the pool closing) says nothing about the upstream's health.
  if (result.status.code() == absl::StatusCode::kCancelled) result.transient = false;
  if (result.transient) health_.RecordConnectFailure(std::chrono::steady_clock::now());
  co_return result;
}

asio::awaitable<absl::Status> HttpsClient::Connect(Connection& connection,
                                                   std::chrono::steady_clock::time_point deadline,
                                                   bool* transient) {
  const std::string& host = endpoint_.host;
  const auto failure = [&](absl::string_view step, const error_code& ec) {
    if (ec == beast::error::timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("upstream ", endpoint_.authority, ": timed out during ", step));
    }
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
      return absl::CancelledError(absl::StrCat("upstream connect aborted during ", step));
    }
    return absl::UnavailableError(
        absl::StrCat("upstream ", endpoint_.authority, ": ", step, " failed: ", DescribeError(ec)));
  };

  // An IP literal needs no lookup: connecting to it directly saves the resolver's thread hop.
  error_code literal_ec;
  const asio::ip::address literal = asio::ip::make_address(host, literal_ec);
  const bool is_literal = !literal_ec;
  std::vector<tcp::endpoint> endpoints;
  // Failures below are transient (worth another connection) unless said otherwise: a refused
  // or reset connection, a failed lookup. Timeouts and cancellation end the call anyway.
  *transient = true;
  if (is_literal) {
    endpoints.emplace_back(literal, endpoint_.port);
  } else {
    tcp::resolver resolver(io_);
    auto [resolve_ec, results] =
        co_await resolver.async_resolve(host, std::to_string(endpoint_.port), kAsTuple);
    if (resolve_ec) co_return failure("DNS resolution", resolve_ec);
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return failure("DNS resolution", beast::error::timeout);
    }
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }

  tcp::socket& socket = connection.stream.socket();
  const SocketDeadline guard(co_await asio::this_coro::executor, socket, deadline);
  // Twice at most: a handshake that offered TLS 1.2 alone and was refused is done again on a
  // new connection offering TLS 1.3 (the server may have moved to TLS 1.3 only).
  for (bool may_redo = true;; may_redo = false) {
    auto [connect_ec, connected] = co_await asio::async_connect(socket, endpoints, kAsTuple);
    if (connect_ec) co_return failure("connect", guard.Translate(connect_ec));
    socket.set_option(tcp::no_delay(true));

    SSL* ssl = connection.stream.native_handle();
    if (!is_literal) {
      // SNI carries names only, never IP literals (RFC 6066 section 3).
      // SSL_set_tlsext_host_name is a macro with a C-style cast; call what it expands to.
      if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(host.c_str())) != 1) {
        co_return absl::InternalError("cannot set TLS SNI host name");
      }
    }
    // The peer's certificate must chain to a trusted CA and name `host` (a DNS name, or an IP
    // address in an IP SAN), checked by OpenSSL during the handshake.
    SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM* verify_param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(verify_param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if ((is_literal ? X509_VERIFY_PARAM_set1_ip_asc(verify_param, host.c_str())
                    : X509_VERIFY_PARAM_set1_host(verify_param, host.c_str(), host.size())) != 1) {
      co_return absl::InternalError("cannot set the name to verify the upstream certificate for");
    }
    const bool offered_tls13 = OfferSession(connection);
    const error_code handshake_ec = guard.Translate(co_await connection.stream.Handshake());
    NoteHandshake(connection, offered_tls13, handshake_ec);
    if (handshake_ec) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        *transient = false;  // a bad certificate stays bad
        co_return absl::UnavailableError(
            absl::StrCat("upstream ", endpoint_.authority, ": TLS handshake failed: certificate ",
                         "verification failed: ", X509_verify_cert_error_string(verify)));
      }
      if (may_redo && !offered_tls13 && RefusedByTheServer(handshake_ec) &&
          connection.stream.Renew()) {
        continue;
      }
      co_return failure("TLS handshake", handshake_ec);
    }
    break;
  }
  SSL* ssl = connection.stream.native_handle();
  connection.established = true;
  *transient = false;
  (SSL_session_reused(ssl) == 1 ? resumed_handshakes_ : full_handshakes_)
      .fetch_add(1, std::memory_order_relaxed);
  if (observability::LogEnabled(observability::LogLevel::kDebug)) {
    observability::Log(
        observability::LogLevel::kDebug,
        absl::StrCat("upstream ", endpoint_.authority, ": connection ", connection.id,
                     " established (", SSL_get_version(ssl), " ", SSL_get_cipher_name(ssl), ")"));
  }
  co_return absl::OkStatus();
}

asio::awaitable<HttpsClient::AttemptResult> HttpsClient::Attempt(
    Connection& connection, const HttpRequest& request,
    std::chrono::steady_clock::time_point deadline, asio::cancellation_slot cancel) {
  AttemptResult result{absl::UnknownError("not sent")};
  // A timeout or failure after the request was written leaves open whether it was processed.
  const auto failure = [&](absl::string_view step, const error_code& ec) {
    const bool written = step != "write request";
    if (ec == beast::error::timeout) {
      result.maybe_processed = written;
      return absl::DeadlineExceededError(
          absl::StrCat("upstream ", endpoint_.authority, ": timed out during ", step));
    }
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
      return absl::CancelledError(absl::StrCat("upstream exchange cancelled during ", step));
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit ||
        ec == http::error::buffer_overflow) {
      return absl::InternalError(absl::StrCat("upstream ", endpoint_.authority,
                                              ": response too large (", ec.message(), ")"));
    }
    result.maybe_processed = written;
    return absl::UnavailableError(
        absl::StrCat("upstream ", endpoint_.authority, ": ", step, " failed: ", DescribeError(ec)));
  };

  if (absl::Status serialized =
          SerializeRequest(request, endpoint_.authority, &connection.request_bytes);
      !serialized.ok()) {
    result.response = std::move(serialized);
    result.not_sent = true;
    co_return result;
  }

  CloseOnCancel(cancel, connection);
  const SocketDeadline guard(co_await asio::this_coro::executor, connection.stream.socket(),
                             deadline);
  if (const error_code write_ec =
          co_await connection.stream.Write(asio::buffer(connection.request_bytes));
      write_ec) {
    result.response = failure("write request", guard.Translate(write_ec));
    result.failed_before_response = true;
    co_return result;
  }
  // The answer cannot be there yet: the thread's other ready work (other calls' requests and
  // answers) runs first, so that the read usually finds the answer waiting instead of failing
  // with EAGAIN and asking the reactor (README "Performance": syscalls per call).
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);

  while (true) {
    ResponseParser parser;
    parser.body_limit(options_.max_response_body_bytes);
    parser.header_limit(options_.max_response_header_bytes);
    auto [read_ec, read] = co_await ReadMessage(connection.stream, connection.buffer, parser);
    if (read_ec) {
      read_ec = guard.Translate(read_ec);
      result.failed_before_response =
          read == 0 && !parser.got_some() &&
          (read_ec == http::error::end_of_stream || read_ec == asio::error::connection_reset ||
           read_ec == asio::ssl::error::stream_truncated);
      result.response = failure("read response", read_ec);
      co_return result;
    }
    const unsigned status = parser.response().status;
    if (status >= 100 && status < 200 && status != 101) continue;  // interim response
    result.keep_alive = parser.keep_alive() && status != 101;
    result.response = std::move(parser.response());
    co_return result;
  }
}

asio::awaitable<absl::Status> HttpsClient::Sleep(std::chrono::milliseconds delay,
                                                 asio::cancellation_slot cancel) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(delay);
  bool cancelled = false;
  if (cancel.is_connected()) {
    cancel.assign([&timer, &cancelled](asio::cancellation_type) {
      cancelled = true;
      timer.cancel();
    });
  }
  co_await timer.async_wait(kAsTuple);
  if (cancel.is_connected()) cancel.clear();
  if (cancelled) co_return absl::CancelledError("upstream exchange cancelled while backing off");
  co_return absl::OkStatus();
}

asio::awaitable<HttpsClient::AttemptResult> HttpsClient::RunAttempt(
    HttpRequest& request, const PrepareRequest& prepare,
    std::chrono::steady_clock::time_point deadline, asio::cancellation_slot cancel,
    ExchangeInfo* info) {
  auto started = std::chrono::steady_clock::now();
  Acquired acquired = co_await pool_.Acquire(deadline, cancel);
  if (!acquired.connection) {
    absl::Status status = std::move(acquired.status);
    if (!acquired.connect && status.code() != absl::StatusCode::kCancelled) {
      status = absl::Status(status.code(),
                            absl::StrCat("upstream ", endpoint_.authority, ": ", status.message()));
    }
    AttemptResult result{std::move(status)};
    result.not_sent = true;
    if (acquired.connect) {
      // A connection opened for this call failed: an attempt that reached no server.
      info->outcomes.push_back({0, std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - started)});
      result.connect_failed = acquired.connect->transient;
    }
    co_return result;
  }
  std::unique_ptr<Connection> connection = std::move(acquired.connection);
  started = std::chrono::steady_clock::now();  // the attempt proper: the exchange on the wire
  info->connection_id = connection->id;
  info->reused_connection = connection->requests > 0;
  const auto record_outcome = [&](unsigned http_status) {
    info->outcomes.push_back({http_status, std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::steady_clock::now() - started)});
  };

  if (prepare) {
    absl::Status prepared = prepare(endpoint_.authority, request);
    if (!prepared.ok()) {
      info->prepare_failed = true;
      pool_.Release(std::move(connection), true);  // nothing was sent on it
      co_return AttemptResult{prepared};
    }
  }
  const bool reused = info->reused_connection;
  AttemptResult result = co_await Attempt(*connection, request, deadline, cancel);
  if (cancel.is_connected()) cancel.clear();
  record_outcome(result.response.ok() ? result.response->status : 0);
  ++connection->requests;
  if (!connection->session_shared && result.response.ok()) ShareSession(*connection);
  // A pooled connection the server closed before answering anything: the keep-alive race.
  result.not_sent = reused && result.failed_before_response;
  pool_.Release(std::move(connection), result.response.ok() && result.keep_alive);
  co_return result;
}

asio::awaitable<absl::StatusOr<HttpResponse>> HttpsClient::Send(
    HttpRequest request, PrepareRequest prepare, RequestPolicy policy,
    std::chrono::steady_clock::time_point deadline, asio::cancellation_slot cancel,
    ExchangeInfo* info) {
  ExchangeInfo local_info;
  if (info == nullptr) info = &local_info;
  if (absl::Status admitted = health_.Admit(std::chrono::steady_clock::now()); !admitted.ok()) {
    co_return absl::UnavailableError(
        absl::StrCat("upstream ", endpoint_.authority, ": ", admitted.message()));
  }
  budget_.RecordCall();

  const RetryOptions& retry = options_.retry;
  for (int attempt = 1;; ++attempt) {
    info->attempts = attempt;
    AttemptResult result = co_await RunAttempt(request, prepare, deadline, cancel, info);
    const auto now = std::chrono::steady_clock::now();
    info->maybe_processed = result.maybe_processed;

    // Decide whether the request may go again (the policy says whether a request that may have
    // been processed may), and how long to wait.
    bool retryable = false;
    std::chrono::milliseconds delay{0};
    if (result.response.ok()) {
      if (IsRetryableHttpStatus(result.response->status, policy.idempotent)) {
        retryable = true;
        const std::optional<std::string_view> retry_after =
            result.response->FindHeader("Retry-After");
        std::optional<std::chrono::milliseconds> asked;
        if (retry_after) asked = ParseRetryAfter(*retry_after, std::chrono::system_clock::now());
        delay = asked ? *asked : FullJitterBackoff(attempt, retry, NextRandom());
      }
    } else if (result.response.status().code() == absl::StatusCode::kCancelled ||
               result.response.status().code() == absl::StatusCode::kDeadlineExceeded) {
      retryable = false;  // the caller is gone or out of time: never try again
    } else if (result.not_sent && (result.connect_failed || result.failed_before_response)) {
      retryable = true;
      // The keep-alive race needs no backoff: a fresh connection is the remedy.
      if (!result.failed_before_response) delay = FullJitterBackoff(attempt, retry, NextRandom());
    } else if (policy.idempotent && !result.not_sent &&
               result.response.status().code() == absl::StatusCode::kUnavailable) {
      // A read may be repeated even when it reached the server (a reset, a failed read); a
      // connect failure that will not pass (a bad certificate) is not repeated.
      retryable = true;
      delay = FullJitterBackoff(attempt, retry, NextRandom());
    }

    if (policy.caller_retries && !(result.not_sent && result.failed_before_response)) {
      retryable = false;
    }
    std::string_view why_not;
    if (!retryable) {
      NoteAttempts(attempt, "", info);
      co_return std::move(result.response);
    }
    if (attempt >= retry.max_attempts) {
      why_not = "attempts exhausted";
    } else if (now + delay >= deadline) {
      why_not = "no time left before the deadline to retry";
    } else if (!result.failed_before_response && !budget_.TryTakeRetry()) {
      // The keep-alive race is exempt: a server closing an idle connection is not overloaded,
      // and it can only happen on a pooled connection, so it cannot repeat without bound.
      why_not = "retry budget exhausted";
    }
    if (!why_not.empty()) {
      NoteAttempts(attempt, why_not, info);
      co_return std::move(result.response);
    }
    if (observability::LogEnabled(observability::LogLevel::kDebug)) {
      observability::Log(
          observability::LogLevel::kDebug,
          absl::StrCat("upstream ", endpoint_.authority, ": attempt ", attempt, " failed (",
                       result.response.ok() ? absl::StrCat("HTTP ", result.response->status)
                                            : std::string(result.response.status().message()),
                       "); retrying in ", delay.count(), " ms"));
    }
    if (delay > std::chrono::milliseconds::zero()) {
      if (absl::Status slept = co_await Sleep(delay, cancel); !slept.ok()) co_return slept;
    }
    ++info->retries;
  }
}

void HttpsClient::NoteAttempts(int attempts, std::string_view why_not, ExchangeInfo* info) {
  if (attempts == 1) return;
  // Say how hard we tried, so an operator can tell a flapping upstream from a dead one.
  info->retry_note = absl::StrCat("[", attempts, " attempts");
  if (!why_not.empty()) absl::StrAppend(&info->retry_note, "; ", std::string(why_not));
  absl::StrAppend(&info->retry_note, "]");
}

std::uint64_t HttpsClient::NextRandom() {
  std::lock_guard lock(random_mutex_);
  return random_();
}

}  // namespace codearts::upstream
