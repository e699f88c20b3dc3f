#ifndef CODEARTS_GATEWAY_UPSTREAM_ENDPOINT_H_
#define CODEARTS_GATEWAY_UPSTREAM_ENDPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace codearts::upstream {

/// Where the REST API lives: always HTTPS.
struct Endpoint {
  /// Host name or IP literal (without brackets), used for DNS, SNI and certificate checks.
  std::string host;
  std::uint16_t port = 443;
  /// The authority as configured (`host` or `host:port`): the `Host` header and the signed host,
  /// as the official SDKs sign the URL's netloc.
  std::string authority;

  std::string Url() const { return "https://" + authority; }
};

/// Parses `https://host[:port]` (no path, query, user info or fragment). Plain `http://` is
/// refused: the gateway sends credentials and never talks to CodeArts unencrypted.
absl::StatusOr<Endpoint> ParseEndpoint(std::string_view url);

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_ENDPOINT_H_
