#ifndef CODEARTS_GATEWAY_CONFIG_H_
#define CODEARTS_GATEWAY_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/credentials.h"
#include "cli/command_line.h"
#include "upstream/endpoint.h"

namespace codearts {

/// Reads an environment variable (nullopt when unset); injected for tests. One type for the
/// flags' GATEWAY_* variables and the SDK variables read here.
using EnvLookup = cli::EnvLookup;
/// The process environment, as an EnvLookup.
EnvLookup ProcessEnvironment();

/// Configuration as given on the command line, before validation.
struct RawConfig {
  std::string listen = "127.0.0.1:50051";
  std::string endpoint;
  std::string region;
  std::string project_id;
  std::string ca_file;
  std::string credentials_file;
  std::string iam_endpoint;
  std::chrono::milliseconds upstream_timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds drain_timeout{15000};
  std::chrono::milliseconds drain_delay{0};
  int io_threads = 1;
  int max_connections = 64;
  int max_in_flight = 1000;
  std::string log_level = "info";
  std::string log_format = "json";
  std::string admin_listen = "127.0.0.1:9464";
  std::string health_listen;
  std::string tls_cert;
  std::string tls_key;
  std::string client_ca;
  bool allow_insecure_listen = false;
};

/// Validated, immutable configuration.
struct Config {
  std::string listen;
  upstream::Endpoint endpoint;
  /// Where the endpoint came from ("--endpoint", or "region cn-north-4"), for the start-up line.
  std::string endpoint_source;
  std::string project_id;
  std::string ca_file;
  std::chrono::milliseconds upstream_timeout{};
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds drain_timeout{};
  std::chrono::milliseconds drain_delay{};
  int io_threads = 1;
  std::size_t max_connections = 64;
  int max_in_flight = 1000;
  std::string log_level;
  std::string log_format;
  /// Empty: no admin endpoint / no health-only listener.
  std::string admin_listen;
  std::string health_listen;
  /// TLS on the gRPC listener when both are set; mTLS when client_ca is set too.
  std::string tls_cert;
  std::string tls_key;
  std::string client_ca;
  /// Null when no AK/SK is configured in the environment: then only calls carrying
  /// `x-auth-token` can succeed, unless `credentials_file` is set.
  std::shared_ptr<const auth::AkSkCredentials> credentials;
  /// AK/SK (and optionally token and project id) from this file, re-read when it changes.
  std::string credentials_file;
  /// Set when the IAM project id is to be looked up, as the SDKs do: AK/SK configured, no
  /// project id, and a region known.
  struct IamLookup {
    upstream::Endpoint endpoint;
    std::string region;
    /// "--iam-endpoint", "HUAWEICLOUD_SDK_IAM_ENDPOINT" or "region cn-north-4".
    std::string endpoint_source;
  };
  std::optional<IamLookup> iam;
};

/// Validates `raw` and completes it from the environment: HUAWEICLOUD_SDK_REGION (when no
/// --region), HUAWEICLOUD_SDK_AK/SK or CLOUD_SDK_AK/SK, HUAWEICLOUD_SDK_SECURITY_TOKEN and
/// HUAWEICLOUD_SDK_PROJECT_ID (when no --project-id). Errors are one clear line.
absl::StatusOr<Config> BuildConfig(const RawConfig& raw, const EnvLookup& env);

/// The CodeArts Pipeline endpoint of a region, from the official SDKs' region table. An unknown
/// region's error lists the known ones.
absl::StatusOr<std::string> RegionEndpoint(std::string_view region);
std::vector<std::string> KnownRegions();

/// True for listen addresses that only this host can reach: 127.0.0.0/8, ::1, localhost and
/// unix sockets.
bool IsLoopbackAddress(std::string_view address);

/// The effective configuration as key/value pairs for the start-up log, secrets redacted.
std::vector<std::pair<std::string, std::string>> DescribeConfig(const Config& config);

}  // namespace codearts

#endif  // CODEARTS_GATEWAY_CONFIG_H_
