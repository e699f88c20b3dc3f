#include "auth/credentials_file.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "observability/log.h"

namespace codearts::auth {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return contents.str();
}

absl::StatusOr<AkSkCredentials> Load(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadWholeFile(path);
  if (!contents.ok()) return contents.status();
  absl::StatusOr<AkSkCredentials> credentials = ParseCredentialsFile(*contents);
  if (!credentials.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("credentials file ", path, ": ", credentials.status().message()));
  }
  return credentials;
}

std::string DescribeAccessKey(const std::string& access_key) {
  return absl::StrCat(access_key.substr(0, std::min<std::size_t>(4, access_key.size())), "****");
}

}  // namespace

absl::StatusOr<AkSkCredentials> ParseCredentialsFile(std::string_view contents) {
  AkSkCredentials credentials;
  int line_number = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(contents.data(), contents.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t equals = line.find('=');
    if (equals == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, " is not NAME=value"));
    }
    const absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, equals));
    const std::string value(absl::StripAsciiWhitespace(line.substr(equals + 1)));
    if (name == "HUAWEICLOUD_SDK_AK") {
      credentials.access_key = value;
    } else if (name == "HUAWEICLOUD_SDK_SK") {
      credentials.secret_key = value;
    } else if (name == "HUAWEICLOUD_SDK_SECURITY_TOKEN") {
      credentials.security_token = value;
    } else if (name == "HUAWEICLOUD_SDK_PROJECT_ID") {
      credentials.project_id = value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": unknown name ", std::string(name)));
    }
  }
  if (credentials.access_key.empty() || credentials.secret_key.empty()) {
    return absl::InvalidArgumentError("HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK are required");
  }
  return credentials;
}

bool FileCredentialSource::Stamp::operator==(const Stamp& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         modified.tv_sec == other.modified.tv_sec && modified.tv_nsec == other.modified.tv_nsec;
}

absl::StatusOr<FileCredentialSource::Stamp> FileCredentialSource::StampOf(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot stat ", path));
  }
  return Stamp{info.st_dev, info.st_ino, info.st_size, info.st_mtim};
}

FileCredentialSource::FileCredentialSource(std::string path,
                                           std::chrono::steady_clock::duration check_interval)
    : path_(std::move(path)), check_interval_(check_interval) {}

absl::StatusOr<std::unique_ptr<FileCredentialSource>> FileCredentialSource::Open(
    std::string path, std::chrono::steady_clock::duration check_interval) {
  std::unique_ptr<FileCredentialSource> source(
      new FileCredentialSource(std::move(path), check_interval));
  absl::StatusOr<Stamp> stamp = StampOf(source->path_);
  if (!stamp.ok()) return stamp.status();
  absl::StatusOr<AkSkCredentials> credentials = Load(source->path_);
  if (!credentials.ok()) return credentials.status();
  source->stamp_ = *stamp;
  source->current_ = std::make_shared<const AkSkCredentials>(*std::move(credentials));
  source->next_check_ = std::chrono::steady_clock::now() + check_interval;
  return source;
}

std::shared_ptr<const AkSkCredentials> FileCredentialSource::Current() const {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_check_) return current_;
  next_check_ = now + check_interval_;
  absl::StatusOr<Stamp> stamp = StampOf(path_);
  if (!stamp.ok() || *stamp == stamp_) return current_;  // gone for a moment: keep what we have
  stamp_ = *stamp;
  absl::StatusOr<AkSkCredentials> loaded = Load(path_);
  if (!loaded.ok()) {
    ++stats_.reload_failures;
    observability::Log(
        observability::LogLevel::kWarning,
        absl::StrCat("credentials file changed but cannot be used (", loaded.status().message(),
                     "); keeping the previous credentials"));
    return current_;
  }
  observability::Log(observability::LogLevel::kInfo,
                     absl::StrCat("credentials reloaded from ", path_, " (AK ",
                                  DescribeAccessKey(loaded->access_key), ")"));
  current_ = std::make_shared<const AkSkCredentials>(*std::move(loaded));
  ++stats_.reloads;
  return current_;
}

CredentialStats FileCredentialSource::Stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace codearts::auth
