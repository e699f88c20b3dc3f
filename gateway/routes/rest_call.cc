#include "routes/rest_call.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "auth/signer.h"
#include "routes/json_codec.h"

namespace codearts::routes {
namespace {

namespace pb = google::protobuf;

// The message holding the last field of `fields`, or null when a message on the way is unset.
const pb::Message* Holder(const pb::Message& request, const FieldPath& fields) {
  const pb::Message* current = &request;
  for (std::size_t i = 0; i + 1 < fields.size(); ++i) {
    const pb::Reflection* r = current->GetReflection();
    if (!r->HasField(*current, fields[i])) return nullptr;
    current = &r->GetMessage(*current, fields[i]);
  }
  return current;
}

std::string PathName(const FieldPath& fields) {
  std::string name;
  for (const pb::FieldDescriptor* field : fields) {
    absl::StrAppend(&name, name.empty() ? "" : ".", field->name());
  }
  return name;
}

}  // namespace

absl::StatusOr<UpstreamCall> BuildUpstreamCall(const Route& route, const pb::Message& request,
                                               const RequestOptions& options,
                                               auth::CallCredentials credentials,
                                               const auth::Clock& clock,
                                               const TraceContext& trace) {
  std::string path;
  std::size_t variable = 0;
  for (const PathTemplate::Part& part : route.path.parts) {
    if (!part.is_variable()) {
      path += part.literal;
      continue;
    }
    const FieldPath& fields = route.path_fields[variable++];
    const pb::Message* holder = Holder(request, fields);
    const std::string value = holder == nullptr ? "" : ScalarText(*holder, fields.back());
    if (absl::Status appended = AppendVariable(PathName(fields), value, part.pattern, &path);
        !appended.ok()) {
      return appended;
    }
  }

  std::vector<auth::NameValue> query;
  for (const Route::QueryParam& param : route.query) {
    const pb::Message* holder = Holder(request, param.fields);
    if (holder == nullptr || !IsFieldSet(*holder, param.fields.back())) continue;
    const pb::FieldDescriptor* field = param.fields.back();
    if (field->is_repeated()) {
      const int size = holder->GetReflection()->FieldSize(*holder, field);
      for (int i = 0; i < size; ++i) query.emplace_back(param.name, ScalarText(*holder, field, i));
    } else {
      query.emplace_back(param.name, ScalarText(*holder, field));
    }
  }

  // The query goes on the wire in the signer's canonical form, so one string serves both.
  absl::StatusOr<auth::CanonicalTarget> signed_target = auth::MakeCanonicalTarget(
      path, query.empty() ? std::string() : auth::CanonicalQueryString(std::move(query)));
  if (!signed_target.ok()) return signed_target.status();

  UpstreamCall call;
  call.policy.idempotent = route.idempotent;
  call.request.method = route.http_method;
  call.request.target = signed_target->query.empty()
                            ? std::move(path)
                            : absl::StrCat(path, "?", signed_target->query);
  switch (route.body) {
    case Route::Body::kNone:
      break;
    case Route::Body::kWholeMessage:
      call.request.body = WriteJson(request, route.path_top_fields);
      break;
    case Route::Body::kField:
      call.request.body = WriteJson(request.GetReflection()->GetMessage(request, route.body_field));
      break;
  }

  std::vector<upstream::Header>& headers = call.request.headers;
  headers.reserve(10);
  headers.emplace_back("Content-Type", route.content_type);
  headers.emplace_back("User-Agent", options.user_agent);
  const std::string& project_id = credentials.ak_sk && !credentials.ak_sk->project_id.empty()
                                      ? credentials.ak_sk->project_id
                                      : options.project_id;
  if (!project_id.empty()) headers.emplace_back("X-Project-Id", project_id);
  if (!credentials.token.empty()) headers.emplace_back("X-Auth-Token", credentials.token);
  if (!trace.traceparent.empty()) headers.emplace_back("traceparent", trace.traceparent);
  if (!trace.tracestate.empty()) headers.emplace_back("tracestate", trace.tracestate);
  if (!trace.request_id.empty()) headers.emplace_back("X-Request-Id", trace.request_id);
  call.prepare = auth::MakeAuthenticator(std::move(credentials), clock, *std::move(signed_target),
                                         headers.size());
  return call;
}

}  // namespace codearts::routes
