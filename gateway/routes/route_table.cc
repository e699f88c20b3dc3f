#include "routes/route_table.h"

#include <google/protobuf/message.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "codearts/gateway/v1/options.pb.h"
#include "google/api/annotations.pb.h"

namespace codearts::routes {
namespace {

namespace pb = google::protobuf;

bool IsScalar(const pb::FieldDescriptor* field) {
  return field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE;
}

absl::StatusOr<FieldPath> ResolveFieldPath(const pb::Descriptor& message, absl::string_view path) {
  FieldPath fields;
  const pb::Descriptor* current = &message;
  for (const absl::string_view name : absl::StrSplit(path, '.')) {
    if (current == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", path, "\" goes through a field that is not a message"));
    }
    const pb::FieldDescriptor* field = current->FindFieldByName(std::string(name));
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", path, "\" names no field of ", current->full_name()));
    }
    if (field->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" is a repeated field"));
    }
    fields.push_back(field);
    current = IsScalar(field) ? nullptr : field->message_type();
  }
  if (!IsScalar(fields.back())) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" is a message, not a scalar"));
  }
  return fields;
}

// The query parameters of `message`: every scalar field not bound elsewhere, nested singular
// messages flattened with dots.
absl::Status CollectQuery(const pb::Descriptor& message, const std::string& prefix,
                          FieldPath& chain, const std::vector<FieldPath>& bound,
                          std::set<const pb::Descriptor*>& visiting,
                          std::vector<Route::QueryParam>& out) {
  visiting.insert(&message);
  for (int i = 0; i < message.field_count(); ++i) {
    const pb::FieldDescriptor* field = message.field(i);
    chain.push_back(field);
    const std::string name =
        prefix.empty() ? std::string(field->name()) : absl::StrCat(prefix, ".", field->name());
    bool is_bound = false;
    for (const FieldPath& path : bound) {
      if (path == chain) is_bound = true;
    }
    if (!is_bound) {
      if (IsScalar(field)) {
        out.push_back({name, chain});
      } else if (field->is_repeated() || field->is_map()) {
        chain.pop_back();
        return absl::InvalidArgumentError(
            absl::StrCat("field ", name,
                         " (repeated message or map) cannot be sent in the query; bind it "
                         "to the body"));
      } else if (visiting.count(field->message_type()) == 0) {
        if (absl::Status status =
                CollectQuery(*field->message_type(), name, chain, bound, visiting, out);
            !status.ok()) {
          chain.pop_back();
          return status;
        }
      }
    }
    chain.pop_back();
  }
  visiting.erase(&message);
  return absl::OkStatus();
}

std::string ResponseShape(const pb::Descriptor& response) {
  std::string shape = "{";
  for (int i = 0; i < response.field_count(); ++i) {
    absl::StrAppend(&shape, i == 0 ? "" : ",", "\"", response.field(i)->name(), "\"");
  }
  return shape + "}";
}

const pb::FieldDescriptor* StringField(const pb::Descriptor& message, const std::string& name) {
  const pb::FieldDescriptor* field = message.FindFieldByName(name);
  if (field == nullptr || field->is_repeated() ||
      field->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
    return nullptr;
  }
  return field;
}

// The ids the access log shows: v3 calls name a build, v5 calls a pipeline run.
void SetLogFields(const pb::MethodDescriptor& method, Route& route) {
  route.log_pipeline_id = StringField(*method.input_type(), "pipeline_id");
  route.log_build_id = StringField(*method.input_type(), "build_id");
  if (route.log_build_id == nullptr) {
    route.log_build_id = StringField(*method.input_type(), "pipeline_run_id");
  }
}

absl::StatusOr<Route> BuildRoute(const pb::MethodDescriptor& method) {
  Route route;
  route.method = &method;
  route.grpc_path = absl::StrCat("/", method.service()->full_name(), "/", method.name());
  route.name = method.name();
  route.server_streaming = method.server_streaming();
  if (method.client_streaming()) {
    return absl::InvalidArgumentError("client-streaming methods cannot be mapped to REST");
  }
  const pb::Message* request =
      pb::MessageFactory::generated_factory()->GetPrototype(method.input_type());
  const pb::Message* response =
      pb::MessageFactory::generated_factory()->GetPrototype(method.output_type());
  if (request == nullptr || response == nullptr) {
    return absl::InvalidArgumentError("its messages are not compiled into the gateway");
  }
  route.request_prototype = request;
  route.response_prototype = response;
  SetLogFields(method, route);
  if (method.server_streaming()) {
    // Completed by BuildWatchSpec once every unary route is known.
    absl::StatusOr<MessageRules> request_rules = MessageRules::Compile(*method.input_type());
    if (!request_rules.ok()) return request_rules.status();
    route.request_rules = *std::move(request_rules);
    return route;
  }

  if (!method.options().HasExtension(google::api::http)) {
    return absl::InvalidArgumentError("it has no google.api.http option");
  }
  const google::api::HttpRule& rule = method.options().GetExtension(google::api::http);
  std::string path_text;
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      route.http_method = "GET";
      path_text = rule.get();
      break;
    case google::api::HttpRule::kPut:
      route.http_method = "PUT";
      path_text = rule.put();
      break;
    case google::api::HttpRule::kPost:
      route.http_method = "POST";
      path_text = rule.post();
      break;
    case google::api::HttpRule::kDelete:
      route.http_method = "DELETE";
      path_text = rule.delete_();
      break;
    case google::api::HttpRule::kPatch:
      route.http_method = "PATCH";
      path_text = rule.patch();
      break;
    case google::api::HttpRule::kCustom:
      route.http_method = rule.custom().kind();
      path_text = rule.custom().path();
      if (route.http_method.empty()) return absl::InvalidArgumentError("custom kind is empty");
      break;
    case google::api::HttpRule::PATTERN_NOT_SET:
      return absl::InvalidArgumentError("its google.api.http option has no method and path");
  }
  if (rule.additional_bindings_size() > 0) {
    return absl::InvalidArgumentError("additional_bindings are not supported");
  }
  if (!rule.response_body().empty()) {
    return absl::InvalidArgumentError("response_body is not supported");
  }
  absl::StatusOr<PathTemplate> path = ParsePathTemplate(path_text);
  if (!path.ok()) return path.status();
  route.path = *std::move(path);

  std::vector<FieldPath> bound;
  for (const std::string& variable : route.path.VariableFields()) {
    absl::StatusOr<FieldPath> fields = ResolveFieldPath(*method.input_type(), variable);
    if (!fields.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("path variable {", variable, "}: ", fields.status().message()));
    }
    for (const FieldPath& other : route.path_fields) {
      if (other == *fields) {
        return absl::InvalidArgumentError(
            absl::StrCat("path variable {", variable, "} appears twice"));
      }
    }
    route.path_fields.push_back(*fields);
    bound.push_back(*fields);
    if (fields->size() == 1) route.path_top_fields.push_back(fields->front());
  }

  if (rule.body() == "*") {
    route.body = Route::Body::kWholeMessage;
  } else if (!rule.body().empty()) {
    route.body = Route::Body::kField;
    route.body_field = method.input_type()->FindFieldByName(rule.body());
    if (route.body_field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "body \"", rule.body(), "\" names no field of ", method.input_type()->full_name()));
    }
    if (route.body_field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE ||
        route.body_field->is_repeated()) {
      return absl::InvalidArgumentError(
          absl::StrCat("body \"", rule.body(), "\" must be a singular message field"));
    }
    bound.push_back({route.body_field});
  }
  if (route.body != Route::Body::kNone &&
      (route.http_method == "GET" || route.http_method == "DELETE")) {
    return absl::InvalidArgumentError(absl::StrCat(
        route.http_method, " requests carry no body, but body is \"", rule.body(), "\""));
  }
  if (route.body != Route::Body::kWholeMessage) {
    FieldPath chain;
    std::set<const pb::Descriptor*> visiting;
    if (absl::Status status =
            CollectQuery(*method.input_type(), "", chain, bound, visiting, route.query);
        !status.ok()) {
      return status;
    }
  }

  const gateway::v1::RestPolicy& policy = method.options().GetExtension(gateway::v1::rest);
  route.idempotent = policy.idempotent();
  if (!policy.content_type().empty()) route.content_type = policy.content_type();
  route.operation = policy.operation().empty() ? route.name : policy.operation();
  route.response_shape = ResponseShape(*method.output_type());
  if (!policy.success_field().empty()) {
    route.success_field = method.output_type()->FindFieldByName(policy.success_field());
    if (route.success_field == nullptr || route.success_field->is_repeated() ||
        route.success_field->cpp_type() != pb::FieldDescriptor::CPPTYPE_BOOL) {
      return absl::InvalidArgumentError(absl::StrCat("success_field \"", policy.success_field(),
                                                     "\" is not a bool field of ",
                                                     method.output_type()->full_name()));
    }
  }

  absl::StatusOr<MessageRules> request_rules = MessageRules::Compile(*method.input_type());
  if (!request_rules.ok()) return request_rules.status();
  route.request_rules = *std::move(request_rules);
  absl::StatusOr<MessageRules> response_rules = MessageRules::Compile(*method.output_type());
  if (!response_rules.ok()) return response_rules.status();
  route.response_rules = *std::move(response_rules);
  return route;
}

// A dotted path of response fields that may go through repeated messages, ending at a scalar.
absl::StatusOr<FieldPath> ResolveStatePath(const pb::Descriptor& message, absl::string_view path) {
  FieldPath fields;
  const pb::Descriptor* current = &message;
  for (const absl::string_view name : absl::StrSplit(path, '.')) {
    const pb::FieldDescriptor* field =
        current == nullptr ? nullptr : current->FindFieldByName(std::string(name));
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("state field \"", path, "\" names no field of ", message.full_name()));
    }
    fields.push_back(field);
    current = IsScalar(field) ? nullptr : field->message_type();
  }
  if (!IsScalar(fields.back())) {
    return absl::InvalidArgumentError(
        absl::StrCat("state field \"", path, "\" is a message, not a scalar"));
  }
  return fields;
}

absl::Status BuildWatchSpec(const pb::MethodDescriptor& method, const RouteTable& table,
                            Route& route) {
  if (!method.options().HasExtension(gateway::v1::watch)) {
    return absl::InvalidArgumentError(
        "a server-streaming method needs a (codearts.gateway.v1.watch) rule");
  }
  const gateway::v1::WatchRule& rule = method.options().GetExtension(gateway::v1::watch);
  WatchSpec& spec = route.watch;
  const Route* poll = table.Find(rule.poll());
  if (poll == nullptr || poll->server_streaming) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch.poll \"", rule.poll(), "\" names no unary method of the service"));
  }
  spec.poll_route = static_cast<std::size_t>(poll - table.routes.data());
  if (poll->method->output_type() != method.output_type()) {
    return absl::InvalidArgumentError(absl::StrCat("it streams ", method.output_type()->full_name(),
                                                   " but ", rule.poll(), " answers ",
                                                   poll->method->output_type()->full_name()));
  }
  route.response_prototype = poll->response_prototype;
  route.operation = poll->operation;
  const pb::Descriptor& input = *method.input_type();
  const pb::Descriptor& poll_input = *poll->method->input_type();
  if (!rule.interval_field().empty()) {
    spec.interval_field = input.FindFieldByName(rule.interval_field());
    if (spec.interval_field == nullptr || spec.interval_field->is_repeated() ||
        spec.interval_field->message_type() == nullptr ||
        spec.interval_field->message_type()->full_name() != "google.protobuf.Duration") {
      return absl::InvalidArgumentError(absl::StrCat(
          "watch.interval_field \"", rule.interval_field(), "\" is not a Duration field"));
    }
  }
  spec.default_interval = std::chrono::milliseconds(rule.default_interval_ms());
  spec.min_interval = std::chrono::milliseconds(rule.min_interval_ms());
  spec.max_interval = std::chrono::milliseconds(rule.max_interval_ms());
  if (spec.min_interval.count() <= 0 || spec.min_interval > spec.default_interval ||
      spec.default_interval > spec.max_interval) {
    return absl::InvalidArgumentError(
        "watch intervals must satisfy 0 < min_interval_ms <= default_interval_ms <= "
        "max_interval_ms");
  }
  for (int i = 0; i < input.field_count(); ++i) {
    const pb::FieldDescriptor* field = input.field(i);
    if (field == spec.interval_field) continue;
    const pb::FieldDescriptor* target = poll_input.FindFieldByName(field->name());
    if (target == nullptr || target->type() != field->type() ||
        target->is_repeated() != field->is_repeated() ||
        target->message_type() != field->message_type()) {
      return absl::InvalidArgumentError(absl::StrCat("request field ", field->name(),
                                                     " has no field of the same name and type in ",
                                                     poll_input.full_name()));
    }
    spec.copied.emplace_back(field, target);
  }
  if (!rule.run_field().empty()) {
    spec.run_field = StringField(poll_input, rule.run_field());
    spec.run_response_field = StringField(*method.output_type(), rule.run_response_field());
    if (spec.run_field == nullptr || spec.run_response_field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("watch.run_field \"", rule.run_field(), "\" and run_response_field \"",
                       rule.run_response_field(), "\" must name string fields"));
    }
  }
  for (const std::string& path : rule.state_fields()) {
    absl::StatusOr<FieldPath> fields = ResolveStatePath(*method.output_type(), path);
    if (!fields.ok()) return fields.status();
    spec.state_fields.push_back(*std::move(fields));
  }
  spec.end_field = StringField(*method.output_type(), rule.end_field());
  if (spec.end_field == nullptr || rule.end_values().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch.end_field \"", rule.end_field(),
                     "\" must name a string field of the response, with end_values"));
  }
  spec.end_values.assign(rule.end_values().begin(), rule.end_values().end());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RouteTable> BuildRouteTable(const pb::ServiceDescriptor& service) {
  RouteTable table;
  table.service = &service;
  for (int i = 0; i < service.method_count(); ++i) {
    const pb::MethodDescriptor& method = *service.method(i);
    absl::StatusOr<Route> route = BuildRoute(method);
    if (!route.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot serve ", method.full_name(),
                                                     " over REST: ", route.status().message()));
    }
    table.routes.push_back(*std::move(route));
  }
  for (Route& route : table.routes) {
    if (!route.server_streaming) continue;
    if (absl::Status status = BuildWatchSpec(*route.method, table, route); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot serve ", route.method->full_name(),
                                                     " over REST: ", status.message()));
    }
  }
  return table;
}

}  // namespace codearts::routes
