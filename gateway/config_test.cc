#include "config.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"

namespace codearts {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(RegionEndpointTest, FollowsTheSdkRegionTable) {
  EXPECT_EQ(*RegionEndpoint("cn-north-4"),
            "https://cloudpipeline-ext.cn-north-4.myhuaweicloud.com");
  EXPECT_EQ(*RegionEndpoint("ap-southeast-3"),
            "https://cloudpipeline-ext.ap-southeast-3.myhuaweicloud.com");
  EXPECT_EQ(*RegionEndpoint("tr-west-1"), "https://pipeline-external.tr-west-1.myhuaweicloud.com");
  EXPECT_EQ(*RegionEndpoint("la-south-2"),
            "https://pipeline-external.la-south-2.myhuaweicloud.com");
  EXPECT_EQ(*RegionEndpoint("af-north-1"), "https://pipeline.af-north-1.myhuaweicloud.com");
  EXPECT_EQ(*RegionEndpoint("me-east-1"), "https://pipeline.me-east-1.myhuaweicloud.com");
  EXPECT_EQ(KnownRegions().size(), 15u);
}

TEST(RegionEndpointTest, UnknownRegionListsTheKnownOnes) {
  absl::StatusOr<std::string> endpoint = RegionEndpoint("mars-1");
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(endpoint.status().message().find("mars-1"), std::string::npos);
  EXPECT_NE(endpoint.status().message().find("cn-north-4"), std::string::npos);
  EXPECT_NE(endpoint.status().message().find("af-south-1"), std::string::npos);
}

TEST(BuildConfigTest, EndpointWinsOverRegion) {
  RawConfig raw;
  raw.endpoint = "https://127.0.0.1:8443";
  raw.region = "cn-north-4";
  absl::StatusOr<Config> config = BuildConfig(raw, FakeEnv({}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->endpoint.authority, "127.0.0.1:8443");
  EXPECT_EQ(config->credentials, nullptr);
}

TEST(BuildConfigTest, RegionFromEnvironment) {
  absl::StatusOr<Config> config =
      BuildConfig(RawConfig{}, FakeEnv({{"HUAWEICLOUD_SDK_REGION", "la-south-2"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->endpoint.host, "pipeline-external.la-south-2.myhuaweicloud.com");
}

TEST(BuildConfigTest, RegionEndpointOverriddenByTheSdkVariable) {
  RawConfig raw;
  raw.region = "cn-north-4";
  absl::StatusOr<Config> config = BuildConfig(
      raw, FakeEnv({{"HUAWEICLOUD_SDK_REGION_CODEARTSPIPELINE_CN_NORTH_4",
                     "https://pipeline.example.internal:8443, https://second.example"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->endpoint.authority, "pipeline.example.internal:8443");
  EXPECT_EQ(config->endpoint_source,
            "HUAWEICLOUD_SDK_REGION_CODEARTSPIPELINE_CN_NORTH_4 (region cn-north-4)");
  // A region the table does not know is fine once the variable names its endpoint.
  raw.region = "xx-new-9";
  config = BuildConfig(
      raw, FakeEnv({{"HUAWEICLOUD_SDK_REGION_CODEARTSPIPELINE_XX_NEW_9", "https://new.example"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->endpoint.host, "new.example");
}

TEST(BuildConfigTest, NoEndpointNoRegionIsAnError) {
  EXPECT_EQ(BuildConfig(RawConfig{}, FakeEnv({})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildConfigTest, CredentialsFromSdkVariables) {
  RawConfig raw;
  raw.region = "cn-north-4";
  absl::StatusOr<Config> config =
      BuildConfig(raw, FakeEnv({{"HUAWEICLOUD_SDK_AK", "ak1"},
                                {"HUAWEICLOUD_SDK_SK", "sk1"},
                                {"HUAWEICLOUD_SDK_SECURITY_TOKEN", "st"},
                                {"HUAWEICLOUD_SDK_PROJECT_ID", "proj"},
                                {"CLOUD_SDK_AK", "other"},
                                {"CLOUD_SDK_SK", "other"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_NE(config->credentials, nullptr);
  EXPECT_EQ(config->credentials->access_key, "ak1");
  EXPECT_EQ(config->credentials->secret_key, "sk1");
  EXPECT_EQ(config->credentials->security_token, "st");
  EXPECT_EQ(config->project_id, "proj");
}

TEST(BuildConfigTest, CredentialsFromApiDocVariables) {
  RawConfig raw;
  raw.region = "cn-north-4";
  raw.project_id = "flag-proj";
  absl::StatusOr<Config> config =
      BuildConfig(raw, FakeEnv({{"CLOUD_SDK_AK", "ak2"},
                                {"CLOUD_SDK_SK", "sk2"},
                                {"HUAWEICLOUD_SDK_PROJECT_ID", "env-proj"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->credentials->access_key, "ak2");
  EXPECT_EQ(config->project_id, "flag-proj");
}

TEST(BuildConfigTest, CredentialsFileOrEnvironmentNotBoth) {
  RawConfig raw;
  raw.region = "cn-north-4";
  raw.credentials_file = "creds.env";
  absl::StatusOr<Config> config = BuildConfig(raw, FakeEnv({}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->credentials_file, "creds.env");
  EXPECT_EQ(BuildConfig(raw, FakeEnv({{"HUAWEICLOUD_SDK_AK", "a"}, {"HUAWEICLOUD_SDK_SK", "b"}}))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildConfigTest, HalfAKeyPairIsAnError) {
  RawConfig raw;
  raw.region = "cn-north-4";
  absl::StatusOr<Config> config = BuildConfig(raw, FakeEnv({{"HUAWEICLOUD_SDK_AK", "ak"}}));
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BuildConfigTest, DescriptionRedactsSecrets) {
  RawConfig raw;
  raw.region = "cn-north-4";
  absl::StatusOr<Config> config =
      BuildConfig(raw, FakeEnv({{"HUAWEICLOUD_SDK_AK", "AKIDSECRETPART"},
                                {"HUAWEICLOUD_SDK_SK", "SKVALUE"},
                                {"HUAWEICLOUD_SDK_SECURITY_TOKEN", "STSVALUE"}}));
  ASSERT_TRUE(config.ok());
  std::string description;
  for (const auto& [key, value] : DescribeConfig(*config)) {
    absl::StrAppend(&description, key, "=", value, " ");
  }
  EXPECT_EQ(description.find("SKVALUE"), std::string::npos);
  EXPECT_EQ(description.find("STSVALUE"), std::string::npos);
  EXPECT_EQ(description.find("SECRETPART"), std::string::npos);
  EXPECT_NE(description.find("AKID****"), std::string::npos);
}

TEST(BuildConfigTest, RefusesANonLoopbackListenerWithoutTls) {
  RawConfig raw;
  raw.region = "cn-north-4";
  raw.listen = "0.0.0.0:50051";
  absl::StatusOr<Config> config = BuildConfig(raw, FakeEnv({}));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("--allow-insecure-listen"), std::string::npos);
  raw.allow_insecure_listen = true;
  EXPECT_TRUE(BuildConfig(raw, FakeEnv({})).ok());
  raw.allow_insecure_listen = false;
  raw.tls_cert = "cert.pem";
  raw.tls_key = "key.pem";
  EXPECT_TRUE(BuildConfig(raw, FakeEnv({})).ok());
}

TEST(BuildConfigTest, ChecksListenerTlsFlagsGoTogether) {
  RawConfig raw;
  raw.region = "cn-north-4";
  raw.tls_cert = "cert.pem";
  EXPECT_EQ(BuildConfig(raw, FakeEnv({})).status().message(),
            "--tls-cert and --tls-key must be given together");
  raw.tls_cert.clear();
  raw.client_ca = "ca.pem";
  EXPECT_EQ(BuildConfig(raw, FakeEnv({})).status().message(),
            "--client-ca (mutual TLS) needs --tls-cert and --tls-key as well");
}

TEST(BuildConfigTest, RejectsAnUnknownLogFormat) {
  RawConfig raw;
  raw.region = "cn-north-4";
  raw.log_format = "xml";
  EXPECT_EQ(BuildConfig(raw, FakeEnv({})).status().message(),
            "--log-format must be json or text, not \"xml\"");
}

TEST(IsLoopbackAddressTest, KnowsLoopbackFromTheRest) {
  for (const char* loopback : {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "[::1]:50051",
                               "unix:/run/gateway.sock"}) {
    EXPECT_TRUE(IsLoopbackAddress(loopback)) << loopback;
  }
  for (const char* exposed : {"0.0.0.0:50051", "[::]:50051", "10.0.0.7:50051", "example.com:1",
                              "127.example.com:1", ":50051"}) {
    EXPECT_FALSE(IsLoopbackAddress(exposed)) << exposed;
  }
}

TEST(BuildConfigTest, RejectsBadNumbers) {
  RawConfig raw;
  raw.region = "cn-north-4";
  raw.io_threads = 0;
  EXPECT_FALSE(BuildConfig(raw, FakeEnv({})).ok());
  raw.io_threads = 1;
  raw.upstream_timeout = std::chrono::milliseconds(0);
  EXPECT_FALSE(BuildConfig(raw, FakeEnv({})).ok());
}

}  // namespace
}  // namespace codearts
