#ifndef CODEARTS_GATEWAY_UPSTREAM_HTTP_TYPES_H_
#define CODEARTS_GATEWAY_UPSTREAM_HTTP_TYPES_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace codearts::upstream {

using Header = std::pair<std::string, std::string>;

/// An HTTP/1.1 request to the configured endpoint. `Host` is added by the client.
struct HttpRequest {
  std::string method;
  /// Origin-form target exactly as sent: path, then `?` and the query if any.
  std::string target;
  std::vector<Header> headers;
  std::string body;
};

/// Writes `request` to `out` (replacing what it held) as HTTP/1.1 bytes: the request line, `Host:
/// host`, the headers in their order, `Content-Length` when there is a body (and an explicit 0
/// for a POST, PUT or OPTIONS without one), the blank line and the body. Keep-alive is HTTP/1.1's
/// default, so no `Connection` header is written. A control character (CR and LF above all, which
/// would let a value end the request early) in the method, target, host or any header name or
/// value is refused (INTERNAL).
absl::Status SerializeRequest(const HttpRequest& request, std::string_view host, std::string* out);

/// A complete HTTP response. A non-2xx status is a valid response, not an error.
struct HttpResponse {
  unsigned status = 0;
  std::vector<upstream::Header> headers;
  std::string body;

  /// The first header named `name` (case-insensitive), if any.
  std::optional<std::string_view> FindHeader(std::string_view name) const;
};

/// How a request may be repeated: a property of the route, passed with each request.
struct RequestPolicy {
  /// The request only reads, so it may be sent again after any failure that left time to do so
  /// (a connect failure, a reset or a failed read after it was written, HTTP 429/502/503/504).
  /// When false, a request is repeated only when the server certainly did not process it: the
  /// connection failed before it was written, a pooled connection closed before any response
  /// byte (the keep-alive race), or the server said so itself (429, 503).
  bool idempotent = false;
  /// The caller retries failed requests itself, on its own schedule (a watch's poll loop): only
  /// the keep-alive race (a pooled connection closed before any response byte) is retried here.
  bool caller_retries = false;
};

/// What the mapping to a gRPC status needs to know of an exchange besides its result.
struct ExchangeFacts {
  /// "[N attempts; why no more]" when the call took more than one attempt.
  std::string retry_note;
  /// The last attempt failed after its request was written (a failed or timed-out read): the
  /// server may have processed it.
  bool maybe_processed = false;
};

/// Called just before the request is written on a connection, with the final `Host` value, so
/// that time-sensitive headers (`X-Sdk-Date`, the signature) are fresh for every attempt.
using PrepareRequest = std::function<absl::Status(std::string_view host, HttpRequest& request)>;

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_HTTP_TYPES_H_
