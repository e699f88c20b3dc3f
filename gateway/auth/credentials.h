#ifndef CODEARTS_GATEWAY_AUTH_CREDENTIALS_H_
#define CODEARTS_GATEWAY_AUTH_CREDENTIALS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"

namespace codearts::auth {

/// An access key pair, optionally temporary (with a security token). Never logged: nothing here
/// formats it, and callers must not either.
struct AkSkCredentials {
  std::string access_key;
  std::string secret_key;
  /// Set for temporary credentials; sent as `X-Security-Token`.
  std::string security_token;
  /// When set, overrides the configured project id (a credentials file may carry its own).
  std::string project_id;
};

/// How often a rotating source picked up new credentials, or failed to.
struct CredentialStats {
  std::uint64_t reloads = 0;
  std::uint64_t reload_failures = 0;
};

/// Where the current AK/SK come from. Implementations may rotate them; each call reads the
/// credentials once and uses that snapshot for all of its attempts.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  /// The current credentials, or nullptr when none are configured.
  virtual std::shared_ptr<const AkSkCredentials> Current() const = 0;
  /// Reload counts (zero for sources that never reload).
  virtual CredentialStats Stats() const { return {}; }
  /// Whether the current credentials can sign a call now; UNAVAILABLE saying why otherwise
  /// (for example while their IAM project id is still being looked up).
  virtual absl::Status Ready() const { return absl::OkStatus(); }
};

/// Credentials fixed at start-up (from the environment).
class StaticCredentialSource final : public CredentialSource {
 public:
  explicit StaticCredentialSource(std::shared_ptr<const AkSkCredentials> credentials)
      : credentials_(std::move(credentials)) {}
  std::shared_ptr<const AkSkCredentials> Current() const override { return credentials_; }

 private:
  std::shared_ptr<const AkSkCredentials> credentials_;
};

}  // namespace codearts::auth

#endif  // CODEARTS_GATEWAY_AUTH_CREDENTIALS_H_
