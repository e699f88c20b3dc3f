#include "upstream/http_types.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace codearts::upstream {
namespace {

// Control characters (but HTAB) and DEL have no place in a request line or a header; CR and LF
// would end it early.
bool IsForbidden(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// Eight bytes at a time: a word with no byte below 0x20 and none equal to 0x7f is clean (the
// usual case: ids, dates, a signature); a word that may hold one is checked byte by byte, which
// also lets HTAB through.
bool SplitsTheRequest(std::string_view text) {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHighBits = 0x8080808080808080;
  std::size_t i = 0;
  for (; i + sizeof(std::uint64_t) <= text.size(); i += sizeof(std::uint64_t)) {
    std::uint64_t word = 0;
    std::memcpy(&word, text.data() + i, sizeof(word));
    const std::uint64_t below_space = (word - 0x20 * kOnes) & ~word & kHighBits;
    const std::uint64_t del = word ^ (0x7f * kOnes);
    const std::uint64_t is_del = (del - kOnes) & ~del & kHighBits;
    if ((below_space | is_del) != 0 &&
        std::any_of(text.begin() + static_cast<std::ptrdiff_t>(i),
                    text.begin() + static_cast<std::ptrdiff_t>(i + sizeof(std::uint64_t)),
                    [](char ch) { return IsForbidden(static_cast<unsigned char>(ch)); })) {
      return true;
    }
  }
  return std::any_of(text.begin() + static_cast<std::ptrdiff_t>(i), text.end(),
                     [](char ch) { return IsForbidden(static_cast<unsigned char>(ch)); });
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
