#include "mapping/stop_request.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/signer.h"

namespace codearts::mapping {
namespace {

absl::Status ValidateId(absl::string_view field, std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (value.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is ", value.size(), " characters long; at most ", kMaxIdLength, " are allowed"));
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " has a character outside [A-Za-z0-9_-] at position ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateStopRequest(const pipeline::v1::StopRequest& request) {
  if (absl::Status status = ValidateId("pipeline_id", request.pipeline_id()); !status.ok()) {
    return status;
  }
  return ValidateId("build_id", request.build_id());
}

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

namespace {

// User-Agent is not signed (the SDKs do not sign it either): proxies may rewrite it. Nor are
// the trace headers, which tracing proxies add or rewrite on the way.
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

}  // namespace

UpstreamCall BuildStopCall(const pipeline::v1::StopRequest& request, const RequestOptions& options,
                           CallCredentials credentials, const auth::Clock& clock,
                           const TraceContext& trace) {
  std::string path =
      absl::StrCat("/v3/pipelines/", auth::PercentEncode(request.pipeline_id()), "/stop");
  std::vector<auth::NameValue> query = {{"build_id", request.build_id()}};

  UpstreamCall call;
  call.request.method = "POST";
  call.request.target = absl::StrCat(path, "?", auth::CanonicalQueryString(query));
  call.request.headers.emplace_back("Content-Type", "application/json");
  call.request.headers.emplace_back("User-Agent", options.user_agent);
  const std::string& project_id = credentials.ak_sk && !credentials.ak_sk->project_id.empty()
                                      ? credentials.ak_sk->project_id
                                      : options.project_id;
  if (!project_id.empty()) call.request.headers.emplace_back("X-Project-Id", project_id);
  const bool use_token = !credentials.token.empty();
  if (use_token) call.request.headers.emplace_back("X-Auth-Token", std::move(credentials.token));
  if (!trace.traceparent.empty())
    call.request.headers.emplace_back("traceparent", trace.traceparent);
  if (!trace.tracestate.empty()) call.request.headers.emplace_back("tracestate", trace.tracestate);
  if (!trace.request_id.empty())
    call.request.headers.emplace_back("X-Request-Id", trace.request_id);
  // Remember where the per-attempt headers start, so a retry replaces rather than repeats them.
  const std::size_t fixed_headers = call.request.headers.size();
  if (use_token) {
    call.prepare = [&clock, fixed_headers](std::string_view /*host*/, upstream::HttpRequest& http) {
      http.headers.resize(fixed_headers);
      http.headers.emplace_back(auth::kSdkDateHeader, auth::FormatSdkDate(clock.Now()));
      return absl::OkStatus();
    };
    return call;
  }
  call.prepare = [&clock, fixed_headers, path = std::move(path), query = std::move(query),
                  ak_sk = std::move(credentials.ak_sk)](
                     std::string_view host, upstream::HttpRequest& http) -> absl::Status {
    http.headers.resize(fixed_headers);
    http.headers.emplace_back(auth::kSdkDateHeader, auth::FormatSdkDate(clock.Now()));
    if (!ak_sk->security_token.empty()) {
      http.headers.emplace_back("X-Security-Token", ak_sk->security_token);
    }
    auth::SigningRequest signing{http.method, path, query, {}, http.body};
    signing.headers.emplace_back("Host", std::string(host));
    for (const auto& header : http.headers) {
      if (!IsSignedHeader(header.first)) continue;
      signing.headers.push_back(header);
    }
    absl::StatusOr<auth::SignatureParts> signature =
        auth::SignSdkHmacSha256(signing, ak_sk->access_key, ak_sk->secret_key);
    if (!signature.ok()) return signature.status();
    http.headers.emplace_back("Authorization", std::move(signature->authorization));
    return absl::OkStatus();
  };
  return call;
}

}  // namespace codearts::mapping
