#ifndef CODEARTS_CLIENT_SIGN_COMMAND_H_
#define CODEARTS_CLIENT_SIGN_COMMAND_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace codearts::client {

/// The logic of `pipelinectl sign`, for debugging APIG `APIGW.0301` signature mismatches (APIG
/// echoes the canonical request it computed). `input_json` is one JSON object:
/// `{"method", "url", "headers": {name: value, ...}, "body", "ak", "sk"}`, where `headers` and
/// `body` are optional. The URL's path is signed as encoded in the URL; its query parameters are
/// percent-decoded ('+' stays '+'). The headers are signed exactly as given, plus `Host` set to
/// the URL's authority when none is given (as the official Python SDK does); `X-Sdk-Date` must
/// be among them. Returns the JSON object `{"canonical_request", "string_to_sign",
/// "signed_headers", "signature", "authorization"}`, or INVALID_ARGUMENT for bad input.
absl::StatusOr<std::string> SignCommand(std::string_view input_json);

}  // namespace codearts::client

#endif  // CODEARTS_CLIENT_SIGN_COMMAND_H_
