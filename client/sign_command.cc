#include "client/sign_command.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/param.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/signer.h"

namespace codearts::client {
namespace {

constexpr std::array<std::string_view, 6> kInputFields = {"method", "url", "headers",
                                                          "body",   "ak",  "sk"};

// Reads `object[name]` as a string. An absent optional field reads as empty.
absl::StatusOr<std::string> StringField(const boost::json::object& object, const std::string& name,
                                        bool required) {
  const boost::json::value* value = object.if_contains(name);
  if (value == nullptr) {
    if (!required) return std::string();
    return absl::InvalidArgumentError(absl::StrCat("missing field \"", name, "\""));
  }
  if (!value->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("field \"", name, "\" must be a string"));
  }
  return std::string(value->get_string());
}

absl::StatusOr<std::vector<auth::NameValue>> HeadersField(const boost::json::object& object) {
  std::vector<auth::NameValue> headers;
  const boost::json::value* value = object.if_contains("headers");
  if (value == nullptr) return headers;
  if (!value->is_object()) {
    return absl::InvalidArgumentError(
        "field \"headers\" must be an object of header names to string values");
  }
  for (const auto& [name, header_value] : value->get_object()) {
    if (!header_value.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("header \"", std::string(name), "\" must have a string value"));
    }
    headers.emplace_back(std::string(name), std::string(header_value.get_string()));
  }
  return headers;
}

bool HasHeader(const std::vector<auth::NameValue>& headers, const std::string& name) {
  return std::any_of(headers.begin(), headers.end(), [name](const auth::NameValue& h) {
    return absl::EqualsIgnoreCase(h.first, name);
  });
}

// Fills the request's path, query and (when absent) Host from `url`.
absl::Status ApplyUrl(const std::string& url, auth::SigningRequest* request) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat("url \"", url, "\" is not an absolute URL: ", parsed.error().message()));
  }
  const boost::urls::url_view& view = *parsed;
  if (view.has_userinfo()) {
    return absl::InvalidArgumentError(
        absl::StrCat("url \"", url, "\" has user info, which is never part of a signed request"));
  }
  // The signer decodes the path and re-encodes it canonically, so it gets the path as written.
  request->path = std::string(view.encoded_path());
  if (view.has_query() && !view.encoded_query().empty()) {
    // '+' is a literal plus in the query the SDKs sign, not an encoded space (that is a form
    // encoding convention).
    boost::urls::encoding_opts decoding;
    decoding.space_as_plus = false;
    for (const boost::urls::param& param : view.params(decoding)) {
      request->query.emplace_back(param.key, param.value);
    }
  }
  if (!HasHeader(request->headers, "Host")) {
    // The Python SDK signs the URL's netloc (host and port) when no Host header is given.
    if (!view.has_authority() || view.encoded_host().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("url \"", url, "\" has no host and no Host header is given"));
    }
    request->headers.emplace_back("Host", std::string(view.encoded_host_and_port()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> SignCommand(std::string_view input_json) {
  boost::system::error_code ec;
  boost::json::value input = boost::json::parse(input_json, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("input is not JSON: ", ec.message()));
  if (!input.is_object()) return absl::InvalidArgumentError("input must be one JSON object");
  const boost::json::object& object = input.get_object();
  // Unknown fields are rejected: a misspelt "headers" would otherwise silently sign a different
  // request, which is the very confusion this command exists to clear up.
  for (const auto& field : object) {
    if (std::find(kInputFields.begin(), kInputFields.end(), field.key()) == kInputFields.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field \"", std::string(field.key()),
                       "\"; expected method, url, headers, body, ak, sk"));
    }
  }

  absl::StatusOr<std::string> method = StringField(object, "method", true);
  if (!method.ok()) return method.status();
  if (method->empty()) return absl::InvalidArgumentError("field \"method\" must not be empty");
  absl::StatusOr<std::string> url = StringField(object, "url", true);
  if (!url.ok()) return url.status();
  absl::StatusOr<std::string> body = StringField(object, "body", false);
  if (!body.ok()) return body.status();
  absl::StatusOr<std::string> access_key = StringField(object, "ak", true);
  if (!access_key.ok()) return access_key.status();
  absl::StatusOr<std::string> secret_key = StringField(object, "sk", true);
  if (!secret_key.ok()) return secret_key.status();
  absl::StatusOr<std::vector<auth::NameValue>> headers = HeadersField(object);
  if (!headers.ok()) return headers.status();

  auth::SigningRequest request;
  request.method = *std::move(method);
  request.headers = *std::move(headers);
  request.body = *std::move(body);
  if (absl::Status applied = ApplyUrl(*url, &request); !applied.ok()) return applied;

  absl::StatusOr<auth::SignatureParts> parts =
      auth::SignSdkHmacSha256(request, *access_key, *secret_key);
  if (!parts.ok()) return parts.status();

  boost::json::object output;
  output["canonical_request"] = parts->canonical_request;
  output["string_to_sign"] = parts->string_to_sign;
  output["signed_headers"] = parts->signed_headers;
  output["signature"] = parts->signature;
  output["authorization"] = parts->authorization;
  return boost::json::serialize(output);
}

}  // namespace codearts::client
