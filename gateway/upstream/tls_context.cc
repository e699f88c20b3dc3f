#include "upstream/tls_context.h"

#include <openssl/ssl.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace codearts::upstream {

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
