#ifndef CODEARTS_TESTS_STANDIN_PKI_H_
#define CODEARTS_TESTS_STANDIN_PKI_H_

#include <string>
#include <string_view>

namespace codearts::testing {

/// A throwaway PKI generated in memory at test time: nothing is read from or written to disk.
/// All keys are ECDSA P-256, all certificates X.509 v3 signed with SHA-256.
struct TestPki {
  /// Generates a fresh CA and the four server certificates. Throws std::runtime_error (with the
  /// OpenSSL error text) if OpenSSL fails, which only happens when it is badly broken.
  static TestPki Generate();

  /// The test CA; clients trust this.
  std::string ca_cert_pem;
  /// Signed by the CA. SAN: DNS:localhost, IP:127.0.0.1, IP:::1.
  std::string server_cert_pem, server_key_pem;
  /// Signed by the CA, but its only SAN is DNS:wrong.example.invalid.
  std::string wrong_host_cert_pem, wrong_host_key_pem;
  /// Signed by the CA with the server's SANs, but notAfter is a day in the past.
  std::string expired_cert_pem, expired_key_pem;
  /// Self-signed (not from the CA) with the server's SANs.
  std::string untrusted_cert_pem, untrusted_key_pem;
  /// A client certificate (extendedKeyUsage clientAuth, CN "example-app") signed by the CA, for
  /// mutual TLS.
  std::string client_cert_pem, client_key_pem;
};

/// Writes `contents` to a file called `name` in a fresh private temporary directory (mkdtemp)
/// and returns the file's path. Throws std::runtime_error on failure. The directory is left
/// behind for post-mortem inspection; it lives under the system temp directory.
std::string WriteTempFile(std::string_view name, std::string_view contents);

}  // namespace codearts::testing

#endif  // CODEARTS_TESTS_STANDIN_PKI_H_
