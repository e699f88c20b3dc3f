#include "standin/standin.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "standin/apig_signature.h"

namespace codearts::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

// Debian's abseil has its own string_view type, which std::string_view does not convert to.
absl::string_view ToAbsl(std::string_view text) { return {text.data(), text.size()}; }

constexpr std::uint64_t kMaxRequestBodyBytes = 1 << 20;
// A close_notify exchange is a courtesy; a client that never answers it must not hold the
// connection open.
constexpr std::chrono::milliseconds kTlsShutdownTimeout{500};
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
constexpr std::string_view kApigAuthError = "APIGW.0301";
constexpr char kSignatureScheme[] = "SDK-HMAC-SHA256";
constexpr char kDateHeader[] = "X-Sdk-Date";

std::string RandomHex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return absl::BytesToHexString(raw);
}

// JSON string literal for `text`, quotes included.
std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      absl::StrAppend(&out, "\\u", absl::Hex(c, absl::kZeroPad4));
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

StandinReply JsonReply(unsigned status, std::string body) {
  StandinReply reply;
  reply.status = status;
  reply.headers.emplace_back("Content-Type", "application/json");
  reply.body = std::move(body);
  return reply;
}

StandinReply ErrorReply(unsigned status, std::string_view error_code, std::string_view message) {
  return JsonReply(status, absl::StrCat("{\"error_code\":", JsonQuote(error_code),
                                        ",\"error_msg\":", JsonQuote(message), "}"));
}

bool LooksLikeJson(std::string_view body) {
  const absl::string_view start = absl::StripLeadingAsciiWhitespace(ToAbsl(body));
  return !start.empty() && (start.front() == '{' || start.front() == '[');
}

// Parses an X-Sdk-Date value, UTC `YYYYMMDDTHHMMSSZ`.
std::optional<std::chrono::system_clock::time_point> ParseSdkDate(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return std::nullopt;
  const auto number = [text](std::size_t pos, std::size_t len) -> std::optional<int> {
    int value = 0;
    for (const char c : text.substr(pos, len)) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      value = value * 10 + (c - '0');
    }
    return value;
  };
  const auto year = number(0, 4), month = number(4, 2), day = number(6, 2);
  const auto hour = number(9, 2), minute = number(11, 2), second = number(13, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{*year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  return std::chrono::sys_days{date} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} +
         std::chrono::seconds{*second};
}

struct AuthorizationHeader {
  std::string access;
  std::vector<std::string> signed_headers;
  std::string signature;
};

std::optional<AuthorizationHeader> ParseAuthorization(std::string_view header, std::string& error) {
  absl::string_view value = ToAbsl(header);
  if (!absl::ConsumePrefix(&value, kSignatureScheme) || !absl::ConsumePrefix(&value, " ")) {
    error = absl::StrCat("Authorization does not use the ", kSignatureScheme, " scheme");
    return std::nullopt;
  }
  AuthorizationHeader parsed;
  bool has_signed_headers = false;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    part = absl::StripAsciiWhitespace(part);
    const std::size_t equals = part.find('=');
    if (equals == absl::string_view::npos) continue;
    const absl::string_view name = part.substr(0, equals);
    const absl::string_view field = part.substr(equals + 1);
    if (name == "Access") {
      parsed.access = std::string(field);
    } else if (name == "SignedHeaders") {
      has_signed_headers = true;
      parsed.signed_headers = absl::StrSplit(field, ';', absl::SkipEmpty());
    } else if (name == "Signature") {
      parsed.signature = std::string(field);
    }
  }
  if (parsed.access.empty() || !has_signed_headers || parsed.signature.empty()) {
    error = "Authorization lacks Access, SignedHeaders or Signature";
    return std::nullopt;
  }
  return parsed;
}

// The APIG check: the error text on failure, nullopt when the request is authentic.
std::optional<std::string> CheckAuth(const StandinOptions& options,
                                     const RecordedRequest& request) {
  if (const std::optional<std::string> token = request.Header("X-Auth-Token")) {
    if (options.valid_token.empty()) return "X-Auth-Token is not accepted by this endpoint";
    if (*token != options.valid_token) return "the X-Auth-Token is invalid or has expired";
    return std::nullopt;
  }

  const std::optional<std::string> authorization = request.Header("Authorization");
  if (!authorization) return "neither X-Auth-Token nor Authorization is present";
  std::string error;
  const std::optional<AuthorizationHeader> parsed = ParseAuthorization(*authorization, error);
  if (!parsed) return error;
  std::string secret_key;
  if (parsed->access == options.access_key) {
    secret_key = options.secret_key;
  } else {
    for (const auto& [access_key, secret] : options.more_key_pairs) {
      if (parsed->access == access_key) secret_key = secret;
    }
  }
  if (secret_key.empty()) return "the access key is not recognised";

  const auto& names = parsed->signed_headers;
  for (const char* required : {"host", "x-sdk-date"}) {
    if (std::find(names.begin(), names.end(), required) == names.end()) {
      return absl::StrCat("SignedHeaders does not include ", required);
    }
  }

  std::vector<std::pair<std::string, std::string>> signed_headers;
  for (const std::string& name : names) {
    std::optional<std::string> value = request.Header(name);
    if (!value) return absl::StrCat("signed header ", name, " is missing from the request");
    signed_headers.emplace_back(name, *std::move(value));
  }

  const std::string sdk_date = *request.Header(kDateHeader);
  const std::optional<std::chrono::system_clock::time_point> signed_at = ParseSdkDate(sdk_date);
  if (!signed_at) {
    return absl::StrCat("X-Sdk-Date \"", absl::CEscape(sdk_date),
                        "\" is not in the YYYYMMDDTHHMMSSZ format");
  }
  const auto skew = std::chrono::abs(std::chrono::system_clock::now() - *signed_at);
  if (skew > options.max_clock_skew) {
    return absl::StrCat("X-Sdk-Date is ",
                        std::chrono::duration_cast<std::chrono::seconds>(skew).count(),
                        " s away from the server clock; at most ", options.max_clock_skew.count(),
                        " s are allowed");
  }

  // The stand-in's own canonicalisation of the request as it arrived (apig_signature.h), never
  // the gateway's signer: a test of the signer against itself could not fail.
  const std::optional<std::string> canonical =
      ApigCanonicalRequest(request.method, request.target, signed_headers, request.body);
  if (!canonical) return "the request target has a malformed percent-escape";
  const std::string expected = ApigSignature(secret_key, sdk_date, *canonical);
  if (expected.size() != parsed->signature.size() ||
      CRYPTO_memcmp(expected.data(), parsed->signature.data(), parsed->signature.size()) != 0) {
    // The canonical request is what one compares with the client's when they disagree.
    return absl::StrCat("signature mismatch (the stand-in's canonical request is \"",
                        absl::CEscape(*canonical), "\")");
  }
  return std::nullopt;
}

// The part of an auth error safe to show a client: the canonical request stays in auth_error.
std::string PublicReason(const std::string& auth_error) {
  return auth_error.substr(0, auth_error.find(" (the stand-in's canonical request"));
}

asio::ssl::context MakeServerTlsContext(ServerCert cert, const TestPki& pki) {
  const std::string* cert_pem = &pki.server_cert_pem;
  const std::string* key_pem = &pki.server_key_pem;
  switch (cert) {
    case ServerCert::kValid:
      break;
    case ServerCert::kWrongHost:
      cert_pem = &pki.wrong_host_cert_pem;
      key_pem = &pki.wrong_host_key_pem;
      break;
    case ServerCert::kExpired:
      cert_pem = &pki.expired_cert_pem;
      key_pem = &pki.expired_key_pem;
      break;
    case ServerCert::kUntrusted:
      cert_pem = &pki.untrusted_cert_pem;
      key_pem = &pki.untrusted_key_pem;
      break;
  }
  asio::ssl::context tls(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  tls.use_certificate_chain(asio::buffer(*cert_pem));
  tls.use_private_key(asio::buffer(*key_pem), asio::ssl::context::pem);
  return tls;
}

}  // namespace

void ReplyGate::Open() {
  std::vector<std::function<void()>> waiting;
  {
    std::lock_guard lock(mutex_);
    open_ = true;
    waiting.swap(waiting_);
  }
  for (const auto& wake : waiting) wake();
}

bool ReplyGate::is_open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

void ReplyGate::OnOpen(std::function<void()> wake) {
  {
    std::lock_guard lock(mutex_);
    if (!open_) {
      waiting_.push_back(std::move(wake));
      return;
    }
  }
  wake();
}

std::optional<std::string> RecordedRequest::Header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (absl::EqualsIgnoreCase(field, ToAbsl(name))) return value;
  }
  return std::nullopt;
}

// Everything that lives on the io thread, plus the records the test thread reads.
class CodeArtsStandin::Server {
 public:
  Server(const StandinOptions& options, const TestPki& pki, StandinHandler default_handler);
  ~Server();

  std::uint16_t Port() const { return port_; }
  void SetHandler(StandinHandler handler);
  std::vector<RecordedRequest> Requests() const;
  bool WaitForRequests(std::size_t n, std::chrono::milliseconds timeout) const;
  std::size_t ConnectionsAccepted() const;
  std::vector<bool> ClientHellosOfferingTls13() const;
  void RequireTls13();
  std::size_t ConnectionsClosed() const;
  bool WaitForConnectionsClosed(std::size_t n, std::chrono::milliseconds timeout) const;
  void StallHandshakes(std::function<bool(std::uint64_t)> stall);
  std::size_t HandshakesStalled() const;

 private:
  class Connection;
  bool ShouldStall(std::uint64_t connection_id);
  static int OnClientHello(SSL* ssl, int* alert, void* server);

  asio::awaitable<void> AcceptConnections();
  RecordedRequest Record(const http::request<http::string_body>& request,
                         std::uint64_t connection_id);
  StandinReply Reply(const RecordedRequest& request);
  void OnConnectionClosed(std::uint64_t connection_id);

  const StandinOptions& options_;
  const StandinHandler default_handler_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  StandinHandler handler_;                    // guarded by mutex_
  std::vector<RecordedRequest> requests_;     // guarded by mutex_
  std::size_t accepted_ = 0;                  // guarded by mutex_
  std::size_t closed_ = 0;                    // guarded by mutex_
  std::function<bool(std::uint64_t)> stall_;  // guarded by mutex_
  std::size_t stalled_ = 0;                   // guarded by mutex_
  std::vector<bool> hellos_offering_tls13_;   // guarded by mutex_
  bool tls13_only_ = false;                   // guarded by mutex_

  // Touched on the io thread only.
  std::uint64_t last_connection_id_ = 0;
  bool stopping_ = false;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> open_connections_;

  // Declared after everything its handlers touch, so that all of it is still there should the
  // io_context ever destroy a pending handler.
  asio::ssl::context tls_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// One TLS connection. A reader coroutine keeps reading requests into `pending_` for as long as
// the connection is open, so that a client closing the connection is noticed at once, even while
// the answering coroutine sits in a reply delay. Both run on the io thread.
class CodeArtsStandin::Server::Connection {
 public:
  Connection(Server& server, tcp::socket socket, std::uint64_t id)
      : server_(server),
        id_(id),
        stream_(std::move(socket), server.tls_),
        wake_(stream_.get_executor()),
        timer_(stream_.get_executor()) {}

  enum class CloseMode { kGraceful, kReset };

  static asio::awaitable<void> Serve(std::shared_ptr<Connection> self) {
    error_code ignored;
    self->stream_.next_layer().set_option(tcp::no_delay(true), ignored);
    if (self->server_.ShouldStall(self->id_)) {
      // An overloaded balancer: the TCP connection is accepted and the ClientHello read, but
      // never answered, until the client gives up (or the stand-in stops).
      std::array<char, 4096> sink{};
      while (true) {
        auto [read_ec, n] =
            co_await self->stream_.next_layer().async_read_some(asio::buffer(sink), kAsTuple);
        if (read_ec) break;
      }
      self->Close(CloseMode::kGraceful);
      co_return;
    }
    auto [handshake_ec] =
        co_await self->stream_.async_handshake(asio::ssl::stream_base::server, kAsTuple);
    if (handshake_ec) {
      self->Close(CloseMode::kGraceful);
      co_return;
    }
    asio::co_spawn(self->stream_.get_executor(), ReadRequests(self), asio::detached);
    co_await AnswerRequests(self);
  }

  // Idempotent; aborts every pending operation on the connection.
  void Close(CloseMode mode) {
    if (closed_) return;
    closed_ = true;
    tcp::socket& socket = stream_.next_layer();
    error_code ignored;
    if (mode == CloseMode::kReset) socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
    wake_.cancel();
    timer_.cancel();
    server_.OnConnectionClosed(id_);
  }

 private:
  static asio::awaitable<void> ReadRequests(std::shared_ptr<Connection> self) {
    while (!self->closed_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxRequestBodyBytes);
      auto [ec, bytes] = co_await http::async_read(self->stream_, self->buffer_, parser, kAsTuple);
      if (ec) {
        // The client closed or reset the connection, sent garbage, or we closed it ourselves.
        self->Close(CloseMode::kGraceful);
        break;
      }
      http::request<http::string_body> request = parser.release();
      const bool keep_alive = request.keep_alive();
      self->pending_.push_back(std::move(request));
      self->wake_.cancel();
      if (!keep_alive) break;
    }
    self->reading_done_ = true;
    self->wake_.cancel();
  }

  static asio::awaitable<void> AnswerRequests(std::shared_ptr<Connection> self) {
    while (true) {
      while (self->pending_.empty() && !self->reading_done_ && !self->closed_) {
        self->wake_.expires_at(std::chrono::steady_clock::time_point::max());
        co_await self->wake_.async_wait(kAsTuple);
      }
      if (self->closed_) co_return;
      if (self->pending_.empty()) {
        // The client asked for `Connection: close` and has had its answer.
        co_await ShutDownTls(self);
        co_return;
      }
      http::request<http::string_body> request = std::move(self->pending_.front());
      self->pending_.pop_front();

      const RecordedRequest record = self->server_.Record(request, self->id_);
      const StandinReply reply = self->server_.Reply(record);
      if (reply.delay > std::chrono::milliseconds::zero()) {
        self->timer_.expires_after(reply.delay);
        co_await self->timer_.async_wait(kAsTuple);
        if (self->closed_) co_return;
      }
      if (reply.gate && !reply.gate->is_open()) {
        // Wait for the test to open the gate; Close() cancels the timer too.
        self->timer_.expires_at(std::chrono::steady_clock::time_point::max());
        reply.gate->OnOpen([weak = std::weak_ptr<Connection>(self)] {
          if (auto connection = weak.lock()) {
            asio::post(connection->stream_.get_executor(),
                       [connection] { connection->timer_.cancel(); });
          }
        });
        co_await self->timer_.async_wait(kAsTuple);
        if (self->closed_) co_return;
      }
      switch (reply.fault) {
        case StandinReply::Fault::kNone:
          break;
        case StandinReply::Fault::kCloseWithoutReply:
          self->Close(CloseMode::kGraceful);
          co_return;
        case StandinReply::Fault::kResetWithoutReply:
          self->Close(CloseMode::kReset);
          co_return;
      }

      if (!reply.raw.empty()) {
        co_await WriteRaw(self, reply);
        co_return;
      }

      const bool keep_alive = request.keep_alive() && !reply.close_after;
      http::response<http::string_body> response = BuildResponse(reply, request.version());
      response.keep_alive(keep_alive);
      auto [ec, bytes] = co_await http::async_write(self->stream_, response, kAsTuple);
      if (ec) {
        self->Close(CloseMode::kGraceful);
        co_return;
      }
      if (!keep_alive) {
        co_await ShutDownTls(self);
        co_return;
      }
    }
  }

  // Writes a scripted byte stream, then closes the connection or waits for the client to.
  static asio::awaitable<void> WriteRaw(std::shared_ptr<Connection> self,
                                        const StandinReply& reply) {
    for (const StandinReply::RawPart& part : reply.raw) {
      if (part.delay > std::chrono::milliseconds::zero()) {
        self->timer_.expires_after(part.delay);
        co_await self->timer_.async_wait(kAsTuple);
        if (self->closed_) co_return;
      }
      auto [ec, bytes] =
          co_await asio::async_write(self->stream_, asio::buffer(part.bytes), kAsTuple);
      if (ec || self->closed_) {
        self->Close(CloseMode::kGraceful);
        co_return;
      }
    }
    if (!reply.hang_after_raw) {
      co_await ShutDownTls(self);  // close_notify first: an end the client can trust
      co_return;
    }
    // The reader notices the client closing, and Close() cancels this wait.
    while (!self->closed_) {
      self->wake_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await self->wake_.async_wait(kAsTuple);
    }
  }

  static http::response<http::string_body> BuildResponse(const StandinReply& reply,
                                                         unsigned version) {
    http::response<http::string_body> response;
    response.version(version);
    response.result(reply.status);
    bool has_request_id = false, has_content_type = false, has_content_length = false;
    for (const auto& [name, value] : reply.headers) {
      response.insert(name, value);
      has_request_id |= absl::EqualsIgnoreCase(name, "X-Request-Id");
      has_content_type |= absl::EqualsIgnoreCase(name, "Content-Type");
      has_content_length |= absl::EqualsIgnoreCase(name, "Content-Length");
    }
    if (!has_request_id) response.set("X-Request-Id", RandomHex(16));
    if (!has_content_type && LooksLikeJson(reply.body)) {
      response.set(http::field::content_type, "application/json");
    }
    response.body() = reply.body;
    // A handler that sets Content-Length itself gets it sent as is, which is how a scenario
    // scripts a truncated body (together with close_after).
    if (!has_content_length) response.prepare_payload();
    return response;
  }

  // Sends close_notify and waits a little for the client's, then closes the socket. The deadline
  // closes the socket rather than cancelling the shutdown: closing aborts any SSL operation,
  // whereas per-operation cancellation would leave the SSL engine in an unknown state.
  static asio::awaitable<void> ShutDownTls(std::shared_ptr<Connection> self) {
    self->timer_.expires_after(kTlsShutdownTimeout);
    self->timer_.async_wait([self](const error_code& ec) {
      if (!ec) self->Close(CloseMode::kGraceful);
    });
    co_await self->stream_.async_shutdown(kAsTuple);
    self->Close(CloseMode::kGraceful);
  }

  Server& server_;
  const std::uint64_t id_;
  asio::ssl::stream<tcp::socket> stream_;
  beast::flat_buffer buffer_;
  std::deque<http::request<http::string_body>> pending_;
  // Expires never; cancelled to tell AnswerRequests that `pending_` or the state changed.
  asio::steady_timer wake_;
  // The reply delay, then the TLS shutdown deadline.
  asio::steady_timer timer_;
  bool reading_done_ = false;
  bool closed_ = false;
};

CodeArtsStandin::Server::Server(const StandinOptions& options, const TestPki& pki,
                                StandinHandler default_handler)
    : options_(options),
      default_handler_(std::move(default_handler)),
      handler_(default_handler_),
      tls_(MakeServerTlsContext(options.cert, pki)),
      acceptor_(io_) {
  if (options.max_tls_version != 0) {
    SSL_CTX_set_max_proto_version(tls_.native_handle(), options.max_tls_version);
  }
  SSL_CTX_set_client_hello_cb(tls_.native_handle(), &Server::OnClientHello, this);
  const tcp::endpoint loopback(asio::ip::address_v4::loopback(), 0);
  acceptor_.open(loopback.protocol());
  acceptor_.bind(loopback);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, AcceptConnections(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

CodeArtsStandin::Server::~Server() {
  asio::post(io_, [this] {
    stopping_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    std::vector<std::shared_ptr<Connection>> open;
    for (const auto& [id, connection] : open_connections_) {
      if (std::shared_ptr<Connection> alive = connection.lock()) open.push_back(std::move(alive));
    }
    for (const auto& connection : open) connection->Close(Connection::CloseMode::kGraceful);
  });
  // With the acceptor and every socket closed, and every timer cancelled, all coroutines finish
  // and run() returns by itself, so no coroutine frame outlives this object.
  thread_.join();
}

asio::awaitable<void> CodeArtsStandin::Server::AcceptConnections() {
  asio::steady_timer backoff(io_);
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kAsTuple);
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Typically EMFILE; retrying at once would spin.
      backoff.expires_after(kAcceptRetryDelay);
      co_await backoff.async_wait(kAsTuple);
      continue;
    }
    const std::uint64_t id = ++last_connection_id_;
    auto connection = std::make_shared<Connection>(*this, std::move(socket), id);
    open_connections_.emplace(id, connection);
    {
      const std::lock_guard lock(mutex_);
      ++accepted_;
    }
    changed_.notify_all();
    asio::co_spawn(io_, Connection::Serve(std::move(connection)), asio::detached);
  }
}

RecordedRequest CodeArtsStandin::Server::Record(const http::request<http::string_body>& request,
                                                std::uint64_t connection_id) {
  RecordedRequest record;
  record.method = std::string(request.method_string());
  record.target = std::string(request.target());
  record.body = request.body();
  record.connection_id = connection_id;
  for (const auto& field : request) {
    record.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  const boost::system::result<boost::urls::url_view> target =
      boost::urls::parse_origin_form(record.target);
  if (target) {
    record.path = std::string(target->encoded_path());
    // Literal '+': the gateway percent-encodes spaces, and RFC 3986 gives '+' no meaning.
    for (const auto& param : target->params(boost::urls::encoding_opts(false, false, false))) {
      record.query.emplace_back(param.key, param.has_value ? param.value : std::string());
    }
    if (std::optional<std::string> error = CheckAuth(options_, record)) {
      record.auth_error = *std::move(error);
    } else {
      record.auth_ok = true;
    }
  } else {
    record.path = record.target.substr(0, record.target.find('?'));
    record.auth_error = "the request target is not a valid origin-form URL";
  }

  {
    const std::lock_guard lock(mutex_);
    requests_.push_back(record);
  }
  changed_.notify_all();
  return record;
}

StandinReply CodeArtsStandin::Server::Reply(const RecordedRequest& request) {
  StandinHandler handler;
  {
    const std::lock_guard lock(mutex_);
    handler = handler_;
  }
  // A throwing handler is a bug in a test; answer 500 so that the test fails visibly instead of
  // the connection hanging.
  try {
    StandinReply reply = handler(request);
    if (reply.status < 100 || reply.status > 999) {
      return ErrorReply(500, "STANDIN.0500",
                        absl::StrCat("the handler returned status ", reply.status));
    }
    return reply;
  } catch (const std::exception& e) {
    return ErrorReply(500, "STANDIN.0500", absl::StrCat("the handler threw: ", e.what()));
  }
}

void CodeArtsStandin::Server::OnConnectionClosed(std::uint64_t connection_id) {
  open_connections_.erase(connection_id);
  {
    const std::lock_guard lock(mutex_);
    ++closed_;
  }
  changed_.notify_all();
}

void CodeArtsStandin::Server::SetHandler(StandinHandler handler) {
  const std::lock_guard lock(mutex_);
  if (handler) {
    handler_ = std::move(handler);
  } else {
    handler_ = default_handler_;
  }
}

std::vector<RecordedRequest> CodeArtsStandin::Server::Requests() const {
  const std::lock_guard lock(mutex_);
  return requests_;
}

bool CodeArtsStandin::Server::WaitForRequests(std::size_t n,
                                              std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool CodeArtsStandin::Server::ShouldStall(std::uint64_t connection_id) {
  const std::lock_guard lock(mutex_);
  if (!stall_ || !stall_(connection_id)) return false;
  ++stalled_;
  return true;
}

void CodeArtsStandin::Server::StallHandshakes(std::function<bool(std::uint64_t)> stall) {
  const std::lock_guard lock(mutex_);
  stall_ = std::move(stall);
}

std::size_t CodeArtsStandin::Server::HandshakesStalled() const {
  const std::lock_guard lock(mutex_);
  return stalled_;
}

std::size_t CodeArtsStandin::Server::ConnectionsAccepted() const {
  const std::lock_guard lock(mutex_);
  return accepted_;
}

int CodeArtsStandin::Server::OnClientHello(SSL* ssl, int* /*alert*/, void* server) {
  const unsigned char* extension = nullptr;
  std::size_t length = 0;
  const bool offers_tls13 =
      SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &extension, &length) == 1;
  auto& self = *static_cast<Server*>(server);
  const std::lock_guard lock(self.mutex_);
  self.hellos_offering_tls13_.push_back(offers_tls13);
  if (self.tls13_only_) {
    // The version is chosen after this callback: this connection speaks TLS 1.3 or nothing
    // (OpenSSL answers an offer without it with a protocol_version alert).
    SSL_set_max_proto_version(ssl, TLS1_3_VERSION);
    SSL_set_min_proto_version(ssl, TLS1_3_VERSION);
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

void CodeArtsStandin::Server::RequireTls13() {
  const std::lock_guard lock(mutex_);
  tls13_only_ = true;
}

std::vector<bool> CodeArtsStandin::Server::ClientHellosOfferingTls13() const {
  const std::lock_guard lock(mutex_);
  return hellos_offering_tls13_;
}

std::size_t CodeArtsStandin::Server::ConnectionsClosed() const {
  const std::lock_guard lock(mutex_);
  return closed_;
}

bool CodeArtsStandin::Server::WaitForConnectionsClosed(std::size_t n,
                                                       std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return closed_ >= n; });
}

CodeArtsStandin::CodeArtsStandin(StandinOptions options, const TestPki& pki)
    : options_(std::move(options)),
      world_(std::make_unique<PipelineWorld>(options_.job_duration, options_.real_time_world)),
      server_(std::make_unique<Server>(
          options_, pki, [this](const RecordedRequest& r) { return DefaultReply(r); })) {}

CodeArtsStandin::~CodeArtsStandin() = default;

std::uint16_t CodeArtsStandin::port() const { return server_->Port(); }

std::string CodeArtsStandin::endpoint() const {
  return absl::StrCat("https://127.0.0.1:", server_->Port());
}

void CodeArtsStandin::SetHandler(StandinHandler handler) {
  server_->SetHandler(std::move(handler));
}

StandinReply CodeArtsStandin::DefaultReply(const RecordedRequest& request) const {
  if (!request.auth_ok) {
    return ErrorReply(401, kApigAuthError,
                      absl::StrCat("Incorrect IAM authentication information: ",
                                   PublicReason(request.auth_error)));
  }
  if (std::optional<StandinReply> reply = world_->Handle(request)) return *std::move(reply);
  const auto no_such_api = [] {
    return ErrorReply(404, "APIGW.0101",
                      "The API does not exist or has not been published in the environment");
  };
  const boost::system::result<boost::urls::url_view> target =
      boost::urls::parse_origin_form(request.target);
  if (!target) return no_such_api();
  const std::vector<std::string> segments(target->segments().begin(), target->segments().end());
  if (request.method != "POST" || segments.size() != 4 || segments[0] != "v3" ||
      segments[1] != "pipelines" || segments[2].empty() || segments[3] != "stop") {
    return no_such_api();
  }
  const std::string& pipeline_id = segments[2];

  const auto build_id = std::find_if(request.query.begin(), request.query.end(),
                                     [](const auto& param) { return param.first == "build_id"; });
  if (build_id == request.query.end() || build_id->second.empty()) {
    return ErrorReply(400, "DEVPIPE.00011104", "build_id is required");
  }
  if (absl::StartsWith(pipeline_id, "missing")) {
    return ErrorReply(404, "DEVPIPE.00011401", "pipeline not found");
  }
  return JsonReply(
      200, absl::StrCat("{\"pipeline_id\":", JsonQuote(pipeline_id), ",\"pipeline_name\":",
                        JsonQuote(absl::StrCat("pipeline-", pipeline_id.substr(0, 8))), "}"));
}

std::vector<RecordedRequest> CodeArtsStandin::Requests() const { return server_->Requests(); }

bool CodeArtsStandin::WaitForRequests(std::size_t n, std::chrono::milliseconds timeout) const {
  return server_->WaitForRequests(n, timeout);
}

std::size_t CodeArtsStandin::ConnectionsAccepted() const { return server_->ConnectionsAccepted(); }

std::vector<bool> CodeArtsStandin::ClientHellosOfferingTls13() const {
  return server_->ClientHellosOfferingTls13();
}
void CodeArtsStandin::RequireTls13() { server_->RequireTls13(); }

void CodeArtsStandin::StallHandshakes(std::function<bool(std::uint64_t)> stall) {
  server_->StallHandshakes(std::move(stall));
}
std::size_t CodeArtsStandin::HandshakesStalled() const { return server_->HandshakesStalled(); }

std::size_t CodeArtsStandin::ConnectionsClosed() const { return server_->ConnectionsClosed(); }

bool CodeArtsStandin::WaitForConnectionsClosed(std::size_t n,
                                               std::chrono::milliseconds timeout) const {
  return server_->WaitForConnectionsClosed(n, timeout);
}

}  // namespace codearts::testing
