#ifndef CODEARTS_GATEWAY_OBSERVABILITY_ACCESS_LOG_H_
#define CODEARTS_GATEWAY_OBSERVABILITY_ACCESS_LOG_H_

#include <chrono>
#include <string>

namespace codearts::observability {

/// One finished call, as the access log records it. Holds no secrets by construction: there is no
/// field for a token, key or signature.
struct AccessRecord {
  std::string method;  // e.g. "Stop"
  std::string peer;    // the caller's address as gRPC reports it
  std::string pipeline_id;
  std::string build_id;
  std::string auth_mode;  // "aksk", "token" or "none"
  int grpc_code = 0;
  unsigned http_status = 0;       // 0 when no HTTP answer was received
  std::string request_id;         // CodeArts' X-Request-Id
  std::string trace_id;           // from the caller's W3C traceparent, when valid
  std::string caller_request_id;  // the caller's x-request-id metadata, when sent
  std::chrono::microseconds latency{0};
  std::chrono::microseconds upstream_latency{0};
  int upstream_attempts = 0;
  bool connection_reused = false;
  std::string message;  // the status message on failure
  /// A server stream (a watch): `latency` is its duration, and these say what it did.
  bool stream = false;
  int messages_sent = 0;
  int polls = 0;
};

/// Writes one `access` line per call to the log (JSON or key=value, per the log format).
void WriteAccessLog(const AccessRecord& record);

/// The canonical upper-case name of a gRPC status code number ("NOT_FOUND").
const char* GrpcCodeName(int code);

}  // namespace codearts::observability

#endif  // CODEARTS_GATEWAY_OBSERVABILITY_ACCESS_LOG_H_
