#include "upstream/tls_context.h"

#include <openssl/ssl.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace codearts::upstream {
namespace {

constexpr const char* kTls12CipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

}  // namespace

absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const std::string& ca_file) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  // An idle pooled connection gives its ~34 KiB of record buffers back until it is used again:
  // with thousands of connections open (a burst against a slow upstream) that is most of the
  // gateway's memory.
  SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // TLS 1.3 suites, AES-128-GCM offered first (as Go and BoringSSL do on CPUs with AES
  // instructions): it encrypts a short record in about two thirds of AES-256-GCM's time, and its
  // SHA-256 key schedule runs on the SHA instructions, where SHA-384's does not (README
  // "Performance"). All three remain acceptable; a server that prefers its own order still wins.
  if (SSL_CTX_set_ciphersuites(
          context->native_handle(),
          "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1) {
    return absl::InternalError("cannot set the TLS 1.3 cipher suites");
  }
  // TLS 1.2 suites: forward-secret AEAD only, AES-128-GCM first for the same reasons (and a
  // resumed TLS 1.2 session's key derivation then runs on SHA-256, not SHA-384).
  if (SSL_CTX_set_cipher_list(context->native_handle(), kTls12CipherList) != 1) {
    return absl::InternalError("cannot set the TLS 1.2 cipher suites");
  }
  context->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (ca_file.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot load system CA store: ", ec.message()));
  } else {
    context->load_verify_file(ca_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load CA file \"", ca_file, "\": ", ec.message()));
    }
  }
  return context;
}

}  // namespace codearts::upstream
