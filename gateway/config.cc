#include "config.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace codearts {
namespace {

struct RegionHost {
  std::string_view region;
  std::string_view host_prefix;
};

// The official SDKs' region table for CodeArts Pipeline (CodeArtsPipelineRegion): three host
// name patterns depending on when the region was opened.
constexpr RegionHost kRegions[] = {
    {"cn-north-1", "cloudpipeline-ext"},
    {"cn-north-4", "cloudpipeline-ext"},
    {"cn-south-1", "cloudpipeline-ext"},
    {"cn-south-2", "cloudpipeline-ext"},
    {"cn-east-2", "cloudpipeline-ext"},
    {"cn-east-3", "cloudpipeline-ext"},
    {"cn-southwest-2", "cloudpipeline-ext"},
    {"ap-southeast-3", "cloudpipeline-ext"},
    {"sa-brazil-1", "cloudpipeline-ext"},
    {"la-north-2", "cloudpipeline-ext"},
    {"tr-west-1", "pipeline-external"},
    {"la-south-2", "pipeline-external"},
    {"af-north-1", "pipeline"},
    {"me-east-1", "pipeline"},
    {"af-south-1", "pipeline"},
};

std::string EnvOr(const EnvLookup& env, std::string_view name) {
  std::optional<std::string> value = env(name);
  return value ? *value : std::string();
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::vector<std::string> KnownRegions() {
  std::vector<std::string> regions;
  for (const auto& entry : kRegions) regions.emplace_back(entry.region);
  std::sort(regions.begin(), regions.end());
  return regions;
}

absl::StatusOr<std::string> RegionEndpoint(std::string_view region) {
  for (const auto& entry : kRegions) {
    if (entry.region == region) {
      return absl::StrCat("https://", std::string(entry.host_prefix), ".", std::string(region),
                          ".myhuaweicloud.com");
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown region \"", std::string(region),
                   "\"; known regions: ", absl::StrJoin(KnownRegions(), ", ")));
}

absl::StatusOr<Config> BuildConfig(const RawConfig& raw, const EnvLookup& env) {
  Config config;
  if (raw.listen.empty()) return absl::InvalidArgumentError("--listen must not be empty");
  config.listen = raw.listen;

  std::string endpoint_url = raw.endpoint;
  if (!endpoint_url.empty()) {
    config.endpoint_source = "--endpoint";
  } else {
    std::string region = raw.region.empty() ? EnvOr(env, "HUAWEICLOUD_SDK_REGION") : raw.region;
    if (region.empty()) {
      return absl::InvalidArgumentError(
          "no upstream configured: set --endpoint=https://host[:port] or --region (or "
          "HUAWEICLOUD_SDK_REGION)");
    }
    // As the SDKs read it: HUAWEICLOUD_SDK_REGION_CODEARTSPIPELINE_CN_NORTH_4 gives the endpoint
    // for cn-north-4 (the first of a comma-separated list), also for a region not in the table.
    std::string variable = absl::StrCat("HUAWEICLOUD_SDK_REGION_CODEARTSPIPELINE_", region);
    std::replace(variable.begin(), variable.end(), '-', '_');
    absl::AsciiStrToUpper(&variable);
    const std::string overridden = EnvOr(env, variable);
    if (!overridden.empty()) {
      endpoint_url = std::string(absl::StripAsciiWhitespace(
          absl::string_view(overridden).substr(0, overridden.find(','))));
      config.endpoint_source = absl::StrCat(variable, " (region ", region, ")");
    } else {
      absl::StatusOr<std::string> from_region = RegionEndpoint(region);
      if (!from_region.ok()) return from_region.status();
      endpoint_url = *from_region;
      config.endpoint_source = absl::StrCat("region ", region);
    }
  }
  absl::StatusOr<upstream::Endpoint> endpoint = upstream::ParseEndpoint(endpoint_url);
  if (!endpoint.ok()) return endpoint.status();
  config.endpoint = *std::move(endpoint);

  config.project_id =
      raw.project_id.empty() ? EnvOr(env, "HUAWEICLOUD_SDK_PROJECT_ID") : raw.project_id;
  config.ca_file = raw.ca_file;

  if (raw.upstream_timeout <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--upstream-timeout must be positive");
  }
  config.upstream_timeout = raw.upstream_timeout;
  if (raw.connect_timeout <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--connect-timeout must be positive");
  }
  config.connect_timeout = raw.connect_timeout;
  if (raw.drain_timeout < std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--drain-timeout must not be negative");
  }
  config.drain_timeout = raw.drain_timeout;
  if (raw.io_threads < 1 || raw.io_threads > 64) {
    return absl::InvalidArgumentError("--io-threads must be between 1 and 64");
  }
  config.io_threads = raw.io_threads;
  if (raw.max_connections < 1 || raw.max_connections > 10000) {
    return absl::InvalidArgumentError("--max-connections must be between 1 and 10000");
  }
  config.max_connections = static_cast<std::size_t>(raw.max_connections);
  if (raw.max_in_flight < 1 || raw.max_in_flight > 1000000) {
    return absl::InvalidArgumentError("--max-in-flight must be between 1 and 1000000");
  }
  config.max_in_flight = raw.max_in_flight;
  config.log_level = raw.log_level;
  if (raw.log_format != "json" && raw.log_format != "text") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format must be json or text, not \"", raw.log_format, "\""));
  }
  config.log_format = raw.log_format;
  if (raw.drain_delay < std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("--drain-delay must not be negative");
  }
  config.drain_delay = raw.drain_delay;
  config.admin_listen = raw.admin_listen;
  config.health_listen = raw.health_listen;
  if (!config.health_listen.empty() && config.health_listen == config.listen) {
    return absl::InvalidArgumentError("--health-listen must differ from --listen");
  }

  if (raw.tls_cert.empty() != raw.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (!raw.client_ca.empty() && raw.tls_cert.empty()) {
    return absl::InvalidArgumentError(
        "--client-ca (mutual TLS) needs --tls-cert and --tls-key as well");
  }
  config.tls_cert = raw.tls_cert;
  config.tls_key = raw.tls_key;
  config.client_ca = raw.client_ca;
  // The gateway signs with the team's AK/SK: whoever reaches its port acts with them.
  if (config.tls_cert.empty() && !raw.allow_insecure_listen && !IsLoopbackAddress(config.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to listen on non-loopback address ", config.listen,
        " without TLS: anyone who reaches it can use the gateway's credentials; set --tls-cert "
        "and --tls-key (and --client-ca), or --allow-insecure-listen"));
  }

  // The SDKs' variable names first, then the ones the CodeArts API examples use.
  std::string ak = EnvOr(env, "HUAWEICLOUD_SDK_AK");
  std::string sk = EnvOr(env, "HUAWEICLOUD_SDK_SK");
  std::string ak_source = "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK";
  if (ak.empty() && sk.empty()) {
    ak = EnvOr(env, "CLOUD_SDK_AK");
    sk = EnvOr(env, "CLOUD_SDK_SK");
    ak_source = "CLOUD_SDK_AK/CLOUD_SDK_SK";
  }
  if (ak.empty() != sk.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("incomplete credentials: ", ak_source,
                                                   " must both be set (only one of them is)"));
  }
  if (!raw.credentials_file.empty()) {
    if (!ak.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("credentials are set twice: ", ak_source,
                                                     " and --credentials-file; use one"));
    }
    config.credentials_file = raw.credentials_file;
  }
  if (!ak.empty()) {
    auto credentials = std::make_shared<auth::AkSkCredentials>();
    credentials->access_key = std::move(ak);
    credentials->secret_key = std::move(sk);
    credentials->security_token = EnvOr(env, "HUAWEICLOUD_SDK_SECURITY_TOKEN");
    config.credentials = std::move(credentials);
  }

  // No project id but AK/SK and a region: the SDKs look the id up from IAM, and so do we.
  const std::string region = raw.region.empty() ? EnvOr(env, "HUAWEICLOUD_SDK_REGION") : raw.region;
  std::string iam_url = raw.iam_endpoint;
  std::string iam_source = "--iam-endpoint";
  if (iam_url.empty()) {
    iam_url = EnvOr(env, "HUAWEICLOUD_SDK_IAM_ENDPOINT");
    iam_source = "HUAWEICLOUD_SDK_IAM_ENDPOINT";
  }
  if (iam_url.empty() && !region.empty()) {
    iam_url = absl::StrCat("https://iam.", region, ".myhuaweicloud.com");
    iam_source = absl::StrCat("region ", region);
  }
  const bool has_keys = config.credentials != nullptr || !config.credentials_file.empty();
  if (config.project_id.empty() && has_keys && !region.empty()) {
    for (const char ch : region) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-') {
        return absl::InvalidArgumentError(
            absl::StrCat("region \"", region, "\" has characters other than [A-Za-z0-9-]"));
      }
    }
    if (iam_url.find("://") == std::string::npos) iam_url = absl::StrCat("https://", iam_url);
    absl::StatusOr<upstream::Endpoint> iam_endpoint = upstream::ParseEndpoint(iam_url);
    if (!iam_endpoint.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("IAM endpoint (", iam_source, "): ", iam_endpoint.status().message()));
    }
    config.iam = Config::IamLookup{*std::move(iam_endpoint), region, iam_source};
  }
  return config;
}

bool IsLoopbackAddress(std::string_view address) {
  if (address.substr(0, 5) == "unix:") return true;
  std::string_view host = address;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') == std::string_view::npos ? 0 : host.find(']') - 1);
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (host.substr(0, 4) != "127.") return false;
  int dots = 0;
  for (const char ch : host) {
    if (ch == '.') {
      ++dots;
    } else if (ch < '0' || ch > '9') {
      return false;
    }
  }
  return dots == 3;
}

std::vector<std::pair<std::string, std::string>> DescribeConfig(const Config& config) {
  std::string credentials = config.credentials_file.empty()
                                ? "none (callers must send x-auth-token)"
                                : absl::StrCat("from file ", config.credentials_file);
  if (config.credentials) {
    const std::string& ak = config.credentials->access_key;
    // Enough of the AK to tell keys apart in the log; the SK is never shown.
    credentials = absl::StrCat(
        "AK ", ak.substr(0, std::min<std::size_t>(4, ak.size())), "****, SK <redacted>",
        config.credentials->security_token.empty() ? "" : ", security token <redacted>");
  }
  std::string listener_tls = "none";
  if (!config.tls_cert.empty()) listener_tls = config.client_ca.empty() ? "tls" : "mtls";
  const auto or_dash = [](const std::string& value) { return value.empty() ? "-" : value; };
  return {
      {"listen", config.listen},
      {"listen_tls", listener_tls},
      {"health_listen", or_dash(config.health_listen)},
      {"admin_listen", or_dash(config.admin_listen)},
      {"upstream", config.endpoint.Url()},
      {"upstream_source", config.endpoint_source},
      {"project_id", config.iam
                         ? absl::StrCat("from IAM ", config.iam->endpoint.Url(), " for region ",
                                        config.iam->region, " (", config.iam->endpoint_source, ")")
                         : or_dash(config.project_id)},
      {"ca_file", config.ca_file.empty() ? "<system store>" : config.ca_file},
      {"credentials", credentials},
      {"upstream_timeout_ms", std::to_string(config.upstream_timeout.count())},
      {"connect_timeout_ms", std::to_string(config.connect_timeout.count())},
      {"drain_delay_ms", std::to_string(config.drain_delay.count())},
      {"drain_timeout_ms", std::to_string(config.drain_timeout.count())},
      {"io_threads", std::to_string(config.io_threads)},
      {"max_connections", std::to_string(config.max_connections)},
      {"max_in_flight", std::to_string(config.max_in_flight)},
      {"log_level", config.log_level},
      {"log_format", config.log_format},
  };
}

}  // namespace codearts
