#ifndef CODEARTS_GATEWAY_ROUTES_REST_CALL_H_
#define CODEARTS_GATEWAY_ROUTES_REST_CALL_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/statusor.h"
#include "auth/clock.h"
#include "auth/request_auth.h"
#include "routes/route_table.h"
#include "routes/trace_context.h"
#include "upstream/http_types.h"

namespace codearts::routes {

/// Static parts of every upstream request.
struct RequestOptions {
  /// Sent as `X-Project-Id` (and signed) when not empty; a credentials file's own project id
  /// wins.
  std::string project_id;
  std::string user_agent;
};

/// The REST call for one validated request, the hook that authenticates it right before each
/// write, and the route's policy for sending it again.
struct UpstreamCall {
  upstream::HttpRequest request;
  upstream::PrepareRequest prepare;
  upstream::RequestPolicy policy;
};

/// Builds the REST call of `route` for `request` (already checked against the route's field
/// rules): the path filled in, the query and body from the fields bound to them, the headers
/// (`Content-Type`, `User-Agent`, `X-Project-Id`, `X-Auth-Token` in token mode, and the trace
/// headers, which are sent unsigned so that a proxy adding or rewriting them cannot break the
/// signature). INVALID_ARGUMENT when a path value is empty or does not fit its pattern.
/// `clock` must outlive the returned hook.
absl::StatusOr<UpstreamCall> BuildUpstreamCall(
    const Route& route, const google::protobuf::Message& request, const RequestOptions& options,
    auth::CallCredentials credentials, const auth::Clock& clock, const TraceContext& trace = {});

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_REST_CALL_H_
