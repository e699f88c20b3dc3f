#ifndef CODEARTS_GATEWAY_MAPPING_STOP_REQUEST_H_
#define CODEARTS_GATEWAY_MAPPING_STOP_REQUEST_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "auth/clock.h"
#include "auth/credentials.h"
#include "codearts/pipeline/v1/pipeline.pb.h"
#include "mapping/trace_context.h"
#include "upstream/http_types.h"

namespace codearts::mapping {

inline constexpr std::size_t kMaxIdLength = 64;
/// IAM tokens are a few KiB; anything far larger is a mistake, not a token.
inline constexpr std::size_t kMaxTokenLength = std::size_t{32} * 1024;

/// Checks a Stop request before anything is sent upstream: both ids present, at most
/// kMaxIdLength characters, only [A-Za-z0-9_-]. The error names the offending field.
absl::Status ValidateStopRequest(const pipeline::v1::StopRequest& request);

/// Checks an `x-auth-token` value: non-empty, bounded, printable ASCII only (no header
/// injection).
absl::Status ValidateAuthToken(std::string_view token);

/// Static parts of every upstream request.
struct RequestOptions {
  /// Sent as `X-Project-Id` (and signed) when not empty.
  std::string project_id;
  std::string user_agent;
};

/// How one call authenticates: the caller's IAM token, or the gateway's AK/SK.
struct CallCredentials {
  std::string token;                                   // non-empty: X-Auth-Token mode
  std::shared_ptr<const auth::AkSkCredentials> ak_sk;  // otherwise SDK-HMAC-SHA256
};

/// The REST call for a validated Stop request, and the hook that stamps `X-Sdk-Date` and
/// authenticates it right before each write.
struct UpstreamCall {
  upstream::HttpRequest request;
  upstream::PrepareRequest prepare;
};

/// Builds `POST /v3/pipelines/{pipeline_id}/stop?build_id={build_id}`. `credentials` must hold a
/// token or AK/SK; `clock` must outlive the returned hook. The trace headers are sent unsigned
/// (like User-Agent), so that a proxy adding or rewriting them cannot break the signature.
UpstreamCall BuildStopCall(const pipeline::v1::StopRequest& request, const RequestOptions& options,
                           CallCredentials credentials, const auth::Clock& clock,
                           const TraceContext& trace = {});

}  // namespace codearts::mapping

#endif  // CODEARTS_GATEWAY_MAPPING_STOP_REQUEST_H_
