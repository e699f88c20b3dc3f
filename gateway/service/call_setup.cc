#include "service/call_setup.h"

#include <iterator>
#include <string_view>

#include "routes/status_mapping.h"

namespace codearts::service {

routes::TraceContext TraceOf(const grpc::ServerContext& server_context) {
  const auto& metadata = server_context.client_metadata();
  const auto single_value = [&metadata](const char* key) -> std::string_view {
    const auto values = metadata.equal_range(key);
    if (values.first == values.second || std::next(values.first) != values.second) return {};
    return {values.first->second.data(), values.first->second.size()};
  };
  return routes::MakeTraceContext(single_value("traceparent"), single_value("tracestate"),
                                  single_value("x-request-id"));
}

grpc::Status ResolveCredentials(CallContext& context, const grpc::ServerContext& server_context,
                                auth::CallCredentials* credentials, std::string* auth_mode) {
  const auto tokens = server_context.client_metadata().equal_range("x-auth-token");
  if (tokens.first != tokens.second) {
    if (std::next(tokens.first) != tokens.second) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "x-auth-token must be sent at most once"};
    }
    const std::string_view token(tokens.first->second.data(), tokens.first->second.size());
    if (absl::Status valid = auth::ValidateAuthToken(token); !valid.ok()) {
      return routes::FromAbslStatus(valid);
    }
    credentials->token = std::string(token);
    *auth_mode = "token";
    return grpc::Status::OK;
  }
  credentials->ak_sk = context.credentials.Current();
  if (!credentials->ak_sk) {
    context.metrics.RecordCredentialError(observability::CredentialError::kMissing);
    return {grpc::StatusCode::UNAUTHENTICATED,
            "no credentials: send an IAM token as x-auth-token metadata, or configure the "
            "gateway with HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"};
  }
  if (absl::Status ready = context.credentials.Ready(); !ready.ok()) {
    return routes::FromAbslStatus(ready);
  }
  *auth_mode = "aksk";
  return grpc::Status::OK;
}

}  // namespace codearts::service
