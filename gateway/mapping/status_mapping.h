#ifndef CODEARTS_GATEWAY_MAPPING_STATUS_MAPPING_H_
#define CODEARTS_GATEWAY_MAPPING_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "codearts/pipeline/v1/pipeline.pb.h"
#include "upstream/http_types.h"

namespace codearts::mapping {

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

/// The outcome of a Stop call that got an HTTP answer: OK with `response` filled, or the mapped
/// error with a `google.rpc.Status` (holding a `google.rpc.ErrorInfo`) in its details.
grpc::Status MapStopResponse(const upstream::HttpResponse& http, std::string_view upstream_host,
                             pipeline::v1::StopResponse* response);

/// A transport failure (absl::Status from the upstream client) as the gRPC status; the codes
/// are numerically the same.
grpc::Status FromAbslStatus(const absl::Status& status);

/// CodeArts' request id (`X-Request-Id`), or empty.
std::string RequestIdOf(const upstream::HttpResponse& http);

}  // namespace codearts::mapping

#endif  // CODEARTS_GATEWAY_MAPPING_STATUS_MAPPING_H_
