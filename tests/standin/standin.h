#ifndef CODEARTS_TESTS_STANDIN_STANDIN_H_
#define CODEARTS_TESTS_STANDIN_STANDIN_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "standin/pipeline_world.h"
#include "standin/pki.h"

namespace codearts::testing {

/// Which certificate of the TestPki the stand-in presents.
enum class ServerCert { kValid, kWrongHost, kExpired, kUntrusted };

/// One request as the stand-in received it, after its APIG-like authentication check.
struct RecordedRequest {
  std::string method;
  /// The request target as received: path, then `?` and the raw query if any.
  std::string target;
  /// The raw (still percent-encoded) path part of `target`.
  std::string path;
  /// The query parameters, percent-decoded (`+` is kept literally, as RFC 3986 says).
  std::vector<std::pair<std::string, std::string>> query;
  /// Every header field, in the order received, names as spelled by the client.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// 1, 2, 3... in the order TCP connections were accepted.
  std::uint64_t connection_id = 0;
  /// Whether the request passed the X-Auth-Token or SDK-HMAC-SHA256 check.
  bool auth_ok = false;
  /// Why the check failed, human readable; empty if `auth_ok`.
  std::string auth_error;

  /// The value of the first header called `name` (case-insensitive), if any.
  std::optional<std::string> Header(std::string_view name) const;
};

/// A latch for replies: a reply that carries a closed gate is held (without blocking the
/// stand-in's io thread) until the test opens the gate, so that a test can keep calls in flight
/// for exactly as long as it needs, instead of hoping a delay is long enough. Thread-safe.
class ReplyGate {
 public:
  /// Releases every reply waiting on the gate, and lets those that come later through at once.
  void Open();
  bool is_open() const;  // NOLINT(readability-identifier-naming): the test API's accessor style

  /// Runs `wake` once the gate is open (at once if it is); for the stand-in's connections.
  void OnOpen(std::function<void()> wake);

 private:
  mutable std::mutex mutex_;
  bool open_ = false;                           // guarded by mutex_
  std::vector<std::function<void()>> waiting_;  // guarded by mutex_
};

/// What a handler tells the stand-in to answer.
struct StandinReply {
  unsigned status = 200;
  /// Sent as given. The stand-in adds `X-Request-Id: <32 random hex>` unless present,
  /// `Content-Type: application/json` unless present when the body starts with `{` or `[`, and
  /// Content-Length unless present: set it larger than the body, with close_after, to script a
  /// truncated body.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// How long to wait before answering. The wait never blocks the io thread, and the stand-in
  /// notices (and closes) a connection the client closes meanwhile.
  std::chrono::milliseconds delay{0};
  /// When set, the reply waits for the gate to open (after `delay`).
  std::shared_ptr<ReplyGate> gate;
  /// kCloseWithoutReply closes the socket (FIN, no TLS close_notify) without answering;
  /// kResetWithoutReply closes it with SO_LINGER {1, 0}, so the client sees a TCP RST.
  enum class Fault { kNone, kCloseWithoutReply, kResetWithoutReply } fault = Fault::kNone;
  /// Send `Connection: close` and close the connection after this reply.
  bool close_after = false;

  /// A byte stream to write instead of a well-formed reply (then the fields above but `delay` and
  /// `fault` are ignored): for malformed, truncated, stalled or trickling answers. Each part is
  /// written after its own delay; then the connection is closed (TLS close_notify, then the
  /// socket), or left open and silent until the client closes it when `hang_after_raw`.
  struct RawPart {
    std::string bytes;
    std::chrono::milliseconds delay{0};
  };
  std::vector<RawPart> raw;
  bool hang_after_raw = false;
};

/// Computes the reply to a request. Runs on the stand-in's io thread, so it must not block for
/// long; use StandinReply::delay to answer late.
using StandinHandler = std::function<StandinReply(const RecordedRequest&)>;

struct StandinOptions {
  /// The AK/SK pair the SDK-HMAC-SHA256 check accepts...
  std::string access_key, secret_key;
  /// ...and more, as during a key rotation when both the old and the new key are valid.
  std::vector<std::pair<std::string, std::string>> more_key_pairs;
  /// The only X-Auth-Token value accepted; when empty every token is refused.
  std::string valid_token;
  ServerCert cert = ServerCert::kValid;
  /// The highest TLS version spoken (an OpenSSL version constant); 0 for OpenSSL's (TLS 1.3).
  int max_tls_version = 0;
  /// How far X-Sdk-Date may be from the stand-in's clock, either way.
  std::chrono::seconds max_clock_skew{15 * 60};
  /// The pipelines' world (see PipelineWorld): how long each job takes, and whether its clock
  /// follows real time (the demo) or moves only when the test advances it.
  std::chrono::milliseconds job_duration{1000};
  bool real_time_world = false;
};

/// A stand-in for the CodeArts Pipeline REST API: a real HTTP/1.1-over-TLS server on
/// 127.0.0.1 with an ephemeral port, APIG-like authentication, a scriptable handler and a
/// record of every request and connection. All public methods are thread-safe.
class CodeArtsStandin {
 public:
  /// Starts listening on 127.0.0.1:0 and serving on an io thread of its own. Throws if the
  /// listening socket or the TLS context cannot be set up.
  explicit CodeArtsStandin(StandinOptions options, const TestPki& pki);
  /// Stops accepting, closes every connection (even one with a delayed reply pending) and joins
  /// the io thread.
  ~CodeArtsStandin();

  CodeArtsStandin(const CodeArtsStandin&) = delete;
  CodeArtsStandin& operator=(const CodeArtsStandin&) = delete;

  // Lower-case accessor names are the agreed test API (and Google style for accessors).
  std::uint16_t port() const;  // NOLINT(readability-identifier-naming)
  /// "https://127.0.0.1:<port>".
  std::string endpoint() const;  // NOLINT(readability-identifier-naming)

  /// Replaces the handler for the requests that arrive from now on. The initial handler is
  /// DefaultReply, and an empty `handler` restores it; a scenario handler can call DefaultReply
  /// for the requests it does not script.
  void SetHandler(StandinHandler handler);

  /// The reply CodeArts would give: 401 APIGW.0301 if `request.auth_ok` is false; the
  /// pipelines' world's answer for the run lifecycle and IAM's project lookup (world()); the
  /// Stop route (`POST /v3/pipelines/{pipeline_id}/stop?build_id=...`) for any build; 404
  /// APIGW.0101 otherwise.
  StandinReply DefaultReply(const RecordedRequest& request) const;

  /// Copies of every request received so far, in arrival order.
  std::vector<RecordedRequest> Requests() const;
  /// Waits until at least `n` requests have been received; false on timeout.
  bool WaitForRequests(std::size_t n, std::chrono::milliseconds timeout) const;

  /// The pipelines and their builds and runs, whose clock a test moves.
  PipelineWorld& world() { return *world_; }

  std::size_t ConnectionsAccepted() const;
  /// For each ClientHello received so far, in order: whether it offered TLS 1.3 (carried the
  /// supported_versions extension that a TLS 1.3 client must send).
  std::vector<bool> ClientHellosOfferingTls13() const;
  /// From now on, each new connection speaks TLS 1.3 only, whatever StandinOptions said: a
  /// server that has moved to TLS 1.3. An offer without it gets a protocol_version alert.
  void RequireTls13();
  /// From now on, each accepted connection for which `stall(connection_id)` is true has its TLS
  /// handshake never answered (the ClientHello is read and ignored) until the client closes it:
  /// an overloaded load balancer. An empty function stalls none.
  void StallHandshakes(std::function<bool(std::uint64_t connection_id)> stall);
  /// Connections stalled so far.
  std::size_t HandshakesStalled() const;
  /// Connections whose socket has been closed, whoever closed it.
  std::size_t ConnectionsClosed() const;
  /// Waits until at least `n` connections have been closed; false on timeout.
  bool WaitForConnectionsClosed(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  class Server;

  const StandinOptions options_;
  std::unique_ptr<PipelineWorld> world_;
  std::unique_ptr<Server> server_;
};

}  // namespace codearts::testing

#endif  // CODEARTS_TESTS_STANDIN_STANDIN_H_
