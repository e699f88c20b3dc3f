#ifndef CODEARTS_GATEWAY_ROUTES_STATUS_MAPPING_H_
#define CODEARTS_GATEWAY_ROUTES_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "routes/route_table.h"
#include "upstream/http_types.h"

namespace codearts::routes {

/// The gRPC code for a non-2xx CodeArts answer. This is an application table, not gRPC's
/// transport table (doc/http-grpc-status-mapping.md): that one describes HTTP/2 proxies failing,
/// so it maps 404 to UNIMPLEMENTED and 400 to INTERNAL; here the HTTP status is CodeArts' verdict
/// on the request, so 404 means the pipeline does not exist and 400 means the caller's input was
/// wrong.
grpc::StatusCode HttpStatusToGrpcCode(unsigned http_status);

/// CodeArts' error fields, read from any of the body shapes its services use:
/// `{error_code, error_msg}`, `{code, message}` or `{"error": {code, message}}`.
struct UpstreamError {
  std::string code;
  std::string message;
};
UpstreamError ParseErrorBody(std::string_view body);

/// The outcome of a call of `route` that got an HTTP answer: OK with `response` filled from a
/// 2xx body that fits the response message (its `required` fields present), or the mapped error
/// with a `google.rpc.Status` (holding a `google.rpc.ErrorInfo`) in its details. A 2xx whose
/// body does not fit is INTERNAL, never OK: CodeArts' success cannot be confirmed.
grpc::Status MapHttpResponse(const Route& route, const upstream::HttpResponse& http,
                             std::string_view upstream_host, google::protobuf::Message* response);

/// The outcome of a whole exchange, the one place that turns what happened upstream into the
/// gRPC status: an HTTP answer as MapHttpResponse says, a transport failure with its code; for a
/// call that is not idempotent and failed after its request was written, the message says that
/// the request may have been processed; the retry note ("[3 attempts; why]") ends the message.
grpc::Status MapOutcome(const Route& route, const absl::StatusOr<upstream::HttpResponse>& result,
                        const upstream::ExchangeFacts& facts, std::string_view upstream_host,
                        google::protobuf::Message* response);

/// A transport failure (absl::Status from the upstream client) as the gRPC status; the codes
/// are numerically the same.
grpc::Status FromAbslStatus(const absl::Status& status);

/// CodeArts' request id (`X-Request-Id`), or empty.
std::string RequestIdOf(const upstream::HttpResponse& http);

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_STATUS_MAPPING_H_
