#include "auth/request_auth.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace codearts::auth {

absl::Status ValidateAuthToken(std::string_view token) {
  if (token.empty()) return absl::InvalidArgumentError("x-auth-token is empty");
  if (token.size() > kMaxTokenLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("x-auth-token is longer than ", kMaxTokenLength, " bytes"));
  }
  for (const char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "x-auth-token contains a control, space or non-ASCII character");
    }
  }
  return absl::OkStatus();
}

bool IsSignedHeader(std::string_view name) {
  for (const std::string_view unsigned_name :
       {"User-Agent", "traceparent", "tracestate", "X-Request-Id"}) {
    if (absl::EqualsIgnoreCase(absl::string_view(name.data(), name.size()),
                               absl::string_view(unsigned_name.data(), unsigned_name.size()))) {
      return false;
    }
  }
  return true;
}

upstream::PrepareRequest MakeAuthenticator(CallCredentials credentials, const Clock& clock,
                                           CanonicalTarget target, std::size_t fixed_headers) {
  if (!credentials.token.empty()) {
    return [&clock, fixed_headers](std::string_view /*host*/, upstream::HttpRequest& http) {
      http.headers.resize(fixed_headers);
      http.headers.emplace_back(kSdkDateHeader, FormatSdkDate(clock.Now()));
      return absl::OkStatus();
    };
  }
  return [&clock, fixed_headers, target = std::move(target), ak_sk = std::move(credentials.ak_sk)](
             std::string_view host, upstream::HttpRequest& http) -> absl::Status {
    http.headers.resize(fixed_headers);
    http.headers.emplace_back(kSdkDateHeader, FormatSdkDate(clock.Now()));
    if (!ak_sk->security_token.empty()) {
      http.headers.emplace_back("X-Security-Token", ak_sk->security_token);
    }
    std::vector<HeaderView> signed_headers;
    signed_headers.reserve(http.headers.size() + 1);
    signed_headers.emplace_back("Host", host);
    for (const auto& [name, value] : http.headers) {
      if (IsSignedHeader(name)) signed_headers.emplace_back(name, value);
    }
    absl::StatusOr<SignatureParts> signature = SignCanonicalRequest(
        http.method, target, signed_headers, http.body, ak_sk->access_key, ak_sk->secret_key);
    if (!signature.ok()) return signature.status();
    http.headers.emplace_back("Authorization", std::move(signature->authorization));
    return absl::OkStatus();
  };
}

}  // namespace codearts::auth
