#ifndef CODEARTS_GATEWAY_SERVICE_LISTENER_CREDENTIALS_H_
#define CODEARTS_GATEWAY_SERVICE_LISTENER_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace codearts::service {

/// TLS for the gRPC listener from PEM files: the server's certificate chain and key, and, for
/// mutual TLS, the CAs that client certificates must chain to (then a client certificate is
/// required). The files are checked here, so a wrong path, a key that does not match the
/// certificate, or an unparsable CA fails at start-up with one clear line rather than at the
/// first handshake. They are read once: rotating them needs a restart.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeListenerCredentials(
    const std::string& cert_file, const std::string& key_file, const std::string& client_ca_file);

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_LISTENER_CREDENTIALS_H_
