#ifndef CODEARTS_GATEWAY_SERVICE_CALL_SETUP_H_
#define CODEARTS_GATEWAY_SERVICE_CALL_SETUP_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "auth/request_auth.h"
#include "routes/trace_context.h"
#include "service/call_context.h"

namespace codearts::service {

/// The caller's trace context (traceparent, tracestate, x-request-id metadata).
routes::TraceContext TraceOf(const grpc::ServerContext& server_context);

/// The credentials a call goes upstream with: the caller's IAM token (`x-auth-token`, sent at
/// most once, well-formed) or else the gateway's AK/SK, which must be configured and ready.
/// `auth_mode` becomes "token" or "aksk" once decided.
grpc::Status ResolveCredentials(CallContext& context, const grpc::ServerContext& server_context,
                                auth::CallCredentials* credentials, std::string* auth_mode);

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_CALL_SETUP_H_
