#include "upstream/http_types.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace codearts::upstream {
namespace {

// Control characters (but HTAB) and DEL have no place in a request line or a header; CR and LF
// would end it early.
bool SplitsTheRequest(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
}

}  // namespace

absl::Status SerializeRequest(const HttpRequest& request, std::string_view host, std::string* out) {
  if (SplitsTheRequest(request.method) || SplitsTheRequest(request.target) ||
      SplitsTheRequest(host)) {
    return absl::InternalError("the request line or Host contains a control character");
  }
  std::size_t size =
      request.method.size() + request.target.size() + host.size() + request.body.size() + 64;
  for (const auto& [name, value] : request.headers) {
    if (SplitsTheRequest(name) || SplitsTheRequest(value)) {
      return absl::InternalError(absl::StrCat("header ", SplitsTheRequest(name) ? "name" : name,
                                              " contains a control character"));
    }
    size += name.size() + value.size() + 4;
  }
  out->clear();
  out->reserve(size);
  absl::StrAppend(out, request.method, " ", request.target,
                  " HTTP/1.1\r\nHost: ", absl::string_view(host.data(), host.size()), "\r\n");
  for (const auto& [name, value] : request.headers) absl::StrAppend(out, name, ": ", value, "\r\n");
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "OPTIONS") {
    absl::StrAppend(out, "Content-Length: ", request.body.size(), "\r\n");
  }
  absl::StrAppend(out, "\r\n", request.body);
  return absl::OkStatus();
}

std::optional<std::string_view> HttpResponse::FindHeader(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, absl::string_view(name.data(), name.size()))) return value;
  }
  return std::nullopt;
}

}  // namespace codearts::upstream
