#ifndef CODEARTS_TESTS_STANDIN_APIG_SIGNATURE_H_
#define CODEARTS_TESTS_STANDIN_APIG_SIGNATURE_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace codearts::testing {

/// The stand-in's own SDK-HMAC-SHA256 verification, written independently of the gateway's
/// signer (it links none of the gateway's code): it works from the raw request target as
/// received, and hashes with OpenSSL's EVP_Q_* one-shot interfaces. Checked against the official
/// SDKs' vectors in apig_signature_test.cc, so a canonicalisation bug in the gateway's signer
/// makes the end-to-end tests fail instead of being reproduced by the check.
///
/// The canonical request from what arrived on the wire: `target` is the origin-form request
/// target (path, then `?` and the raw query); `signed_headers` the headers named in
/// SignedHeaders with their values as received. nullopt when the target's percent-escapes are
/// malformed.
std::optional<std::string> ApigCanonicalRequest(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& signed_headers, std::string_view body);

/// The hex signature of `canonical_request` at `sdk_date` (the X-Sdk-Date value) under
/// `secret_key`.
std::string ApigSignature(std::string_view secret_key, std::string_view sdk_date,
                          std::string_view canonical_request);

}  // namespace codearts::testing

#endif  // CODEARTS_TESTS_STANDIN_APIG_SIGNATURE_H_
