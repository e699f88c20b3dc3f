#include "upstream/http_types.h"

#include "absl/strings/match.h"

namespace codearts::upstream {

std::optional<std::string_view> HttpResponse::FindHeader(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, absl::string_view(name.data(), name.size()))) return value;
  }
  return std::nullopt;
}

}  // namespace codearts::upstream
