#ifndef CODEARTS_GATEWAY_AUTH_CREDENTIALS_FILE_H_
#define CODEARTS_GATEWAY_AUTH_CREDENTIALS_FILE_H_

#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "auth/credentials.h"

namespace codearts::auth {

/// Parses a credentials file: `NAME=value` lines with the SDKs' variable names
/// (HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK, optional HUAWEICLOUD_SDK_SECURITY_TOKEN and
/// HUAWEICLOUD_SDK_PROJECT_ID); blank lines and `#` comments are skipped. Errors never quote a
/// value.
absl::StatusOr<AkSkCredentials> ParseCredentialsFile(std::string_view contents);

/// Credentials read from a file (a Kubernetes Secret volume), re-read when the file changes, so
/// that rotating the Secret needs no restart. A changed file that cannot be read or parsed keeps
/// the previous credentials, and says so in the log. Thread-safe.
class FileCredentialSource final : public CredentialSource {
 public:
  /// Reads `path` once; fails if it is missing or invalid. The file is looked at again at most
  /// once per `check_interval`, on the call path (one stat(2)).
  static absl::StatusOr<std::unique_ptr<FileCredentialSource>> Open(
      std::string path,
      std::chrono::steady_clock::duration check_interval = std::chrono::seconds(1));

  std::shared_ptr<const AkSkCredentials> Current() const override;
  CredentialStats Stats() const override;

 private:
  // What identifies one version of the file: Kubernetes swaps a symlink, so the inode changes;
  // an in-place edit changes the modification time or size.
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{};
    bool operator==(const Stamp& other) const;
  };
  FileCredentialSource(std::string path, std::chrono::steady_clock::duration check_interval);
  static absl::StatusOr<Stamp> StampOf(const std::string& path);

  const std::string path_;
  const std::chrono::steady_clock::duration check_interval_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const AkSkCredentials> current_;
  mutable Stamp stamp_;
  mutable std::chrono::steady_clock::time_point next_check_{};
  mutable CredentialStats stats_;
};

}  // namespace codearts::auth

#endif  // CODEARTS_GATEWAY_AUTH_CREDENTIALS_FILE_H_
