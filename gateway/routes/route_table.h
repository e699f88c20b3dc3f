#ifndef CODEARTS_GATEWAY_ROUTES_ROUTE_TABLE_H_
#define CODEARTS_GATEWAY_ROUTES_ROUTE_TABLE_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "routes/field_rules.h"
#include "routes/path_template.h"

namespace codearts::routes {

/// A chain of fields from the request message down to a scalar ("parent.name").
using FieldPath = std::vector<const google::protobuf::FieldDescriptor*>;

/// How a server-streaming route follows a run: the unary route it polls and what ends it, from
/// the method's `(codearts.gateway.v1.watch)` rule (see routes/watch_rule.h for its use).
struct WatchSpec {
  /// The polled route's index in its RouteTable.
  std::size_t poll_route = 0;
  /// (streaming request field, polled request field) pairs copied into every poll.
  std::vector<
      std::pair<const google::protobuf::FieldDescriptor*, const google::protobuf::FieldDescriptor*>>
      copied;
  /// The google.protobuf.Duration field of the streaming request, or null.
  const google::protobuf::FieldDescriptor* interval_field = nullptr;
  std::chrono::milliseconds default_interval{3000};
  std::chrono::milliseconds min_interval{1000};
  std::chrono::milliseconds max_interval{60000};
  /// The polled request's field naming the run, and the response's field carrying it.
  const google::protobuf::FieldDescriptor* run_field = nullptr;
  const google::protobuf::FieldDescriptor* run_response_field = nullptr;
  /// The response fields whose values are the state (paths may go through repeated messages).
  std::vector<std::vector<const google::protobuf::FieldDescriptor*>> state_fields;
  const google::protobuf::FieldDescriptor* end_field = nullptr;
  std::vector<std::string> end_values;
};

/// Everything the gateway needs to serve one RPC as a REST call, resolved once at start from the
/// method's descriptor: its `google.api.http` rule and its `(codearts.gateway.v1.rest)` policy.
struct Route {
  const google::protobuf::MethodDescriptor* method = nullptr;
  /// "/codearts.pipeline.v1.PipelineService/Stop", as gRPC names the method.
  std::string grpc_path;
  /// "Stop": the label in metrics and the access log.
  std::string name;
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  bool server_streaming = false;
  /// Set for server-streaming routes, which send no REST call of their own.
  WatchSpec watch;

  std::string http_method;  // "GET", "POST", ...
  PathTemplate path;
  /// For each variable of `path`, in order, the fields it names.
  std::vector<FieldPath> path_fields;
  /// `body: "*"`: every field not in the path; a field name: that field; empty: no body.
  enum class Body { kNone, kWholeMessage, kField } body = Body::kNone;
  const google::protobuf::FieldDescriptor* body_field = nullptr;
  /// Top-level fields bound to the path (left out of a `*` body).
  std::vector<const google::protobuf::FieldDescriptor*> path_top_fields;
  /// The query parameters: every scalar or repeated scalar field in neither the path nor the
  /// body, nested messages flattened with dots ("filter.status").
  struct QueryParam {
    std::string name;
    FieldPath fields;
  };
  std::vector<QueryParam> query;

  bool idempotent = false;
  std::string content_type = "application/json";
  /// CodeArts' name of the operation ("StopPipelineNew"), for messages.
  std::string operation;
  /// The response's top-level fields as `{"a","b"}`, for the message on a malformed answer.
  std::string response_shape;
  /// A bool response field that must be true for the call to be OK (RestPolicy.success_field).
  const google::protobuf::FieldDescriptor* success_field = nullptr;

  MessageRules request_rules;
  MessageRules response_rules;

  /// Top-level request fields named pipeline_id / build_id (or null), for the access log.
  const google::protobuf::FieldDescriptor* log_pipeline_id = nullptr;
  const google::protobuf::FieldDescriptor* log_build_id = nullptr;
};

/// The routes of one service, in the order of its methods.
struct RouteTable {
  const google::protobuf::ServiceDescriptor* service = nullptr;
  std::vector<Route> routes;

  /// The route of the method called `name` ("Stop"), or null.
  const Route* Find(absl::string_view name) const {
    for (const Route& route : routes) {
      if (route.name == name) return &route;
    }
    return nullptr;
  }
};

/// Builds the route of every method of `service`. A method that cannot be mapped (no
/// `google.api.http` rule, a path variable that names no scalar field, a body field that does
/// not exist, a bad field rule, a client-streaming method, a server-streaming one whose watch
/// rule names no unary route or fields that do not fit) fails the whole table with one line
/// naming the method: the gateway refuses to start rather than fail at the first call.
absl::StatusOr<RouteTable> BuildRouteTable(const google::protobuf::ServiceDescriptor& service);

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_ROUTE_TABLE_H_
