#ifndef CODEARTS_GATEWAY_UPSTREAM_TLS_CONTEXT_H_
#define CODEARTS_GATEWAY_UPSTREAM_TLS_CONTEXT_H_

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace codearts::upstream {

/// A TLS client context that always verifies the peer: TLS 1.2 or later, trusting `ca_file` when
/// given and the system CA store otherwise. Host names are checked per connection.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const std::string& ca_file);

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_TLS_CONTEXT_H_
