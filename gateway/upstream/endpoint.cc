#include "upstream/endpoint.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace codearts::upstream {

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view url) {
  const std::string url_text(url);  // Debian's abseil has its own string_view type
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "endpoint \"", url_text, "\" is not an absolute URL like https://host[:port]"));
  }
  const boost::urls::url_view& view = *parsed;
  if (view.scheme_id() != boost::urls::scheme::https) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint \"", url_text,
                     "\" must use https:// (the gateway never sends credentials in clear)"));
  }
  if (view.has_userinfo() || view.has_query() || view.has_fragment() ||
      !(view.encoded_path().empty() || view.encoded_path() == "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "endpoint \"", url_text, "\" must be only https://host[:port], without path or query"));
  }
  Endpoint endpoint;
  switch (view.host_type()) {
    case boost::urls::host_type::name:
    case boost::urls::host_type::ipv4:
      endpoint.host = view.host();
      break;
    case boost::urls::host_type::ipv6:
      endpoint.host = view.host_address();
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("endpoint \"", url_text, "\" has no usable host"));
  }
  if (endpoint.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint \"", url_text, "\" has no host"));
  }
  if (view.has_port()) {
    std::uint32_t port = 0;
    if (!absl::SimpleAtoi(std::string(view.port()), &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("endpoint \"", url_text, "\" has a bad port"));
    }
    endpoint.port = static_cast<std::uint16_t>(port);
  }
  endpoint.authority = view.encoded_authority();
  return endpoint;
}

}  // namespace codearts::upstream
