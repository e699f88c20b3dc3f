#ifndef CODEARTS_GATEWAY_AUTH_REQUEST_AUTH_H_
#define CODEARTS_GATEWAY_AUTH_REQUEST_AUTH_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "auth/clock.h"
#include "auth/credentials.h"
#include "auth/signer.h"
#include "upstream/http_types.h"

namespace codearts::auth {

/// IAM tokens are a few KiB; anything far larger is a mistake, not a token.
inline constexpr std::size_t kMaxTokenLength = std::size_t{32} * 1024;

/// Checks an `x-auth-token` value: non-empty, bounded, printable ASCII only (no header
/// injection).
absl::Status ValidateAuthToken(std::string_view token);

/// How one call authenticates: the caller's IAM token, or the gateway's AK/SK.
struct CallCredentials {
  std::string token;                             // non-empty: X-Auth-Token mode
  std::shared_ptr<const AkSkCredentials> ak_sk;  // otherwise SDK-HMAC-SHA256
};

/// Whether a header is covered by the signature. User-Agent is not (the SDKs do not sign it
/// either: proxies may rewrite it), nor are the trace headers, which tracing proxies add or
/// rewrite on the way.
bool IsSignedHeader(std::string_view name);

/// The hook that authenticates any REST call right before each write: it stamps `X-Sdk-Date`
/// and, with AK/SK, adds `X-Security-Token` (temporary credentials) and the SDK-HMAC-SHA256
/// `Authorization` over the request's signed headers and `target` (MakeCanonicalTarget of the
/// path and query as sent). With a token (already among the request's headers) it only stamps
/// the date. Headers from index `fixed_headers` on are replaced on every attempt, never
/// repeated. `clock` must outlive the hook.
upstream::PrepareRequest MakeAuthenticator(CallCredentials credentials, const Clock& clock,
                                           CanonicalTarget target, std::size_t fixed_headers);

}  // namespace codearts::auth

#endif  // CODEARTS_GATEWAY_AUTH_REQUEST_AUTH_H_
