#ifndef CODEARTS_GATEWAY_AUTH_SIGNER_H_
#define CODEARTS_GATEWAY_AUTH_SIGNER_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace codearts::auth {

using NameValue = std::pair<std::string, std::string>;

/// The parts of an HTTP request that SDK-HMAC-SHA256 covers.
struct SigningRequest {
  std::string method;
  /// The request path as it appears in the URL (percent-escapes allowed; they are decoded and the
  /// segments re-encoded canonically).
  std::string path;
  /// Decoded query parameters, in any order.
  std::vector<NameValue> query;
  /// Exactly the headers to sign, including `Host` and `X-Sdk-Date`.
  std::vector<NameValue> headers;
  std::string body;
};

/// Every intermediate value of a signature, so that an APIG `APIGW.0301` mismatch can be debugged.
struct SignatureParts {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;
  std::string signature;
  std::string authorization;
};

inline constexpr char kSdkHmacSha256[] = "SDK-HMAC-SHA256";
inline constexpr char kSdkDateHeader[] = "X-Sdk-Date";

/// Signs `request` as the official Huawei Cloud SDKs do (SDK-HMAC-SHA256). The `X-Sdk-Date`
/// header must be among `request.headers`. Fails with INVALID_ARGUMENT if it is missing or if the
/// path is not valid percent-encoding.
absl::StatusOr<SignatureParts> SignSdkHmacSha256(const SigningRequest& request,
                                                 std::string_view access_key,
                                                 std::string_view secret_key);

/// The canonical URI and query of a request, which stay the same for every attempt of it: made
/// once per request, signed on every attempt.
struct CanonicalTarget {
  std::string uri;    // the path's segments decoded and re-encoded, ending in '/'
  std::string query;  // CanonicalQueryString of the query
};

/// `path` as in SigningRequest; `canonical_query` as CanonicalQueryString made it (also what goes
/// on the wire after `?`). INVALID_ARGUMENT if the path is not valid percent-encoding.
absl::StatusOr<CanonicalTarget> MakeCanonicalTarget(std::string_view path,
                                                    std::string canonical_query);

using HeaderView = std::pair<std::string_view, std::string_view>;

/// SignSdkHmacSha256 of a request whose target was made once: `headers` are exactly the headers
/// to sign, `Host` and `X-Sdk-Date` among them.
absl::StatusOr<SignatureParts> SignCanonicalRequest(
    std::string_view method, const CanonicalTarget& target, absl::Span<const HeaderView> headers,
    std::string_view body, std::string_view access_key, std::string_view secret_key);

/// Percent-encodes every byte outside `A-Z a-z 0-9 - _ . ~` as upper-case `%XX`.
std::string PercentEncode(std::string_view raw);

/// The canonical query string: each key and value percent-encoded, sorted by key then value,
/// joined with `&`, `k=` for empty values. Also the exact query string sent on the wire.
std::string CanonicalQueryString(std::vector<NameValue> query);

/// Lower-case hex of SHA-256(data).
std::string HexSha256(std::string_view data);

/// Lower-case hex of HMAC-SHA256(key, data).
std::string HexHmacSha256(std::string_view key, std::string_view data);

}  // namespace codearts::auth

#endif  // CODEARTS_GATEWAY_AUTH_SIGNER_H_
