#include "routes/status_mapping.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "routes/json_codec.h"

namespace codearts::routes {
namespace {

constexpr std::size_t kBodyExcerptBytes = 200;

// A JSON value as a string: strings as-is, numbers in their JSON form (some services send
// numeric codes), anything else empty.
std::string ScalarToString(const boost::json::value* value) {
  if (value == nullptr) return "";
  if (value->is_string()) return std::string(value->get_string());
  if (value->is_int64()) return std::to_string(value->get_int64());
  if (value->is_uint64()) return std::to_string(value->get_uint64());
  return "";
}

// Printable excerpt of a body that is not the JSON we expected, for the status message.
std::string Excerpt(std::string_view body) {
  std::string out;
  for (const char ch : body.substr(0, kBodyExcerptBytes)) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(c >= 0x20 && c < 0x7f ? ch : ' ');
  }
  out = std::string(absl::StripAsciiWhitespace(out));
  if (body.size() > kBodyExcerptBytes) out += "...";
  return out;
}

grpc::Status ErrorStatus(grpc::StatusCode code, std::string message, std::string reason,
                         std::string_view upstream_host, unsigned http_status,
                         std::string_view request_id) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::move(reason));
  info.set_domain(std::string(upstream_host));
  (*info.mutable_metadata())["http_status"] = std::to_string(http_status);
  if (!request_id.empty()) (*info.mutable_metadata())["request_id"] = std::string(request_id);
  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  details.add_details()->PackFrom(info);
  return {code, message, details.SerializeAsString()};
}

}  // namespace

grpc::StatusCode HttpStatusToGrpcCode(unsigned http_status) {
  switch (http_status) {
    case 400:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case 401:
      return grpc::StatusCode::UNAUTHENTICATED;
    case 403:
      return grpc::StatusCode::PERMISSION_DENIED;
    case 404:
      return grpc::StatusCode::NOT_FOUND;
    case 409:
      return grpc::StatusCode::ABORTED;
    case 429:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case 499:
      return grpc::StatusCode::CANCELLED;
    case 500:
      return grpc::StatusCode::INTERNAL;
    case 501:
      return grpc::StatusCode::UNIMPLEMENTED;
    case 502:  // bad gateway: CodeArts' own upstream failed
    case 503:
      return grpc::StatusCode::UNAVAILABLE;
    case 504:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) return grpc::StatusCode::FAILED_PRECONDITION;
  // Other 5xx, and 1xx/3xx that should never reach here (no redirects are followed).
  return grpc::StatusCode::INTERNAL;
}

UpstreamError ParseErrorBody(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(body, ec);
  UpstreamError error;
  if (ec || !parsed.is_object()) return error;
  const boost::json::object* object = &parsed.get_object();
  if (const boost::json::value* nested = object->if_contains("error");
      nested != nullptr && nested->is_object()) {
    object = &nested->get_object();
  }
  error.code = ScalarToString(object->if_contains("error_code"));
  if (error.code.empty()) error.code = ScalarToString(object->if_contains("code"));
  error.message = ScalarToString(object->if_contains("error_msg"));
  if (error.message.empty()) error.message = ScalarToString(object->if_contains("message"));
  return error;
}

std::string RequestIdOf(const upstream::HttpResponse& http) {
  std::optional<std::string_view> id = http.FindHeader("X-Request-Id");
  return id ? std::string(*id) : std::string();
}

grpc::Status MapHttpResponse(const Route& route, const upstream::HttpResponse& http,
                             std::string_view upstream_host, google::protobuf::Message* response) {
  const std::string request_id = RequestIdOf(http);
  if (http.status >= 200 && http.status < 300) {
    absl::Status read = ReadJson(http.body, response);
    std::string missing;
    if (read.ok()) missing = route.response_rules.MissingRequired(*response);
    if (read.ok() && missing.empty() && route.success_field != nullptr &&
        !response->GetReflection()->GetBool(*response, route.success_field)) {
      // 2xx, yet the body says it did not happen: never OK.
      response->Clear();
      std::string message = absl::StrCat(
          "upstream answered HTTP ", http.status, " but ", route.operation, " reports \"",
          route.success_field->name(), "\": false: ", Excerpt(http.body));
      if (!request_id.empty()) absl::StrAppend(&message, " [request id ", request_id, "]");
      return ErrorStatus(grpc::StatusCode::FAILED_PRECONDITION, std::move(message),
                         "OPERATION_NOT_SUCCESSFUL", upstream_host, http.status, request_id);
    }
    if (read.ok() && missing.empty()) return grpc::Status::OK;
    response->Clear();
    // CodeArts said 2xx but not in the documented shape: we cannot confirm that it did what was
    // asked, so this is never reported as success.
    return ErrorStatus(
        grpc::StatusCode::INTERNAL,
        absl::StrCat("upstream answered HTTP ", http.status,
                     " with a body that is not the documented ", route.operation, " JSON",
                     " (expected ", route.response_shape, "): ", Excerpt(http.body)),
        "MALFORMED_UPSTREAM_RESPONSE", upstream_host, http.status, request_id);
  }

  const grpc::StatusCode code = HttpStatusToGrpcCode(http.status);
  const UpstreamError error = ParseErrorBody(http.body);
  std::string message;
  if (!error.code.empty() || !error.message.empty()) {
    message = absl::StrCat(error.code.empty() ? "(no error code)" : error.code, ": ",
                           error.message.empty() ? "(no message)" : error.message, " (HTTP ",
                           http.status, ")");
  } else if (http.body.empty()) {
    message = absl::StrCat("upstream answered HTTP ", http.status, " with an empty body");
  } else {
    message = absl::StrCat("upstream answered HTTP ", http.status, ": ", Excerpt(http.body));
  }
  if (!request_id.empty()) absl::StrAppend(&message, " [request id ", request_id, "]");
  std::string reason = error.code.empty() ? absl::StrCat("HTTP_", http.status) : error.code;
  return ErrorStatus(code, std::move(message), std::move(reason), upstream_host, http.status,
                     request_id);
}

grpc::Status MapOutcome(const Route& route, const absl::StatusOr<upstream::HttpResponse>& result,
                        const upstream::ExchangeFacts& facts, std::string_view upstream_host,
                        google::protobuf::Message* response) {
  if (result.ok()) {
    grpc::Status status = MapHttpResponse(route, *result, upstream_host, response);
    if (status.ok() || facts.retry_note.empty()) return status;
    return {status.error_code(), absl::StrCat(status.error_message(), " ", facts.retry_note),
            status.error_details()};
  }
  std::string message(result.status().message());
  if (facts.maybe_processed && !route.idempotent) {
    message += " (the request may have been processed)";
  }
  if (!facts.retry_note.empty()) absl::StrAppend(&message, " ", facts.retry_note);
  return {static_cast<grpc::StatusCode>(result.status().code()), message};
}

grpc::Status FromAbslStatus(const absl::Status& status) {
  return {static_cast<grpc::StatusCode>(status.code()), std::string(status.message())};
}

}  // namespace codearts::routes
