// Stop's route as declared in pipeline.proto: its field rules and its REST call, which must stay
// byte for byte what the gateway has always sent.
#include <gtest/gtest.h>

#include <chrono>

#include "auth/request_auth.h"
#include "auth/signer.h"
#include "route_test_helpers.h"
#include "routes/rest_call.h"

namespace codearts::routes {
namespace {

using auth::CallCredentials;
using auth::kMaxTokenLength;
using auth::ValidateAuthToken;
using pipeline::v1::StopRequest;

absl::Status ValidateStopRequest(const StopRequest& request) {
  return StopRoute().request_rules.Validate(request);
}

UpstreamCall BuildStopCall(const StopRequest& request, const RequestOptions& options,
                           CallCredentials credentials, const auth::Clock& clock) {
  absl::StatusOr<UpstreamCall> call =
      BuildUpstreamCall(StopRoute(), request, options, std::move(credentials), clock);
  EXPECT_TRUE(call.ok()) << call.status();
  return call.ok() ? *std::move(call) : UpstreamCall{};
}

StopRequest MakeRequest(std::string pipeline_id, std::string build_id) {
  StopRequest request;
  request.set_pipeline_id(std::move(pipeline_id));
  request.set_build_id(std::move(build_id));
  return request;
}

std::string HeaderValue(const upstream::HttpRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

TEST(ValidateStopRequestTest, AcceptsIdsFromTheAllowedAlphabet) {
  EXPECT_TRUE(ValidateStopRequest(MakeRequest("0f1e2d3c4b5a", "build_1-A")).ok());
  EXPECT_TRUE(ValidateStopRequest(MakeRequest(std::string(64, 'a'), "1")).ok());
}

TEST(ValidateStopRequestTest, RejectsEmptyIdsNamingTheField) {
  absl::Status status = ValidateStopRequest(MakeRequest("", "1"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "pipeline_id is required");
  status = ValidateStopRequest(MakeRequest("p", ""));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "build_id is required");
}

TEST(ValidateStopRequestTest, RejectsTooLongIds) {
  absl::Status status = ValidateStopRequest(MakeRequest(std::string(65, 'a'), "1"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("pipeline_id"), std::string::npos);
}

TEST(ValidateStopRequestTest, RejectsCharactersOutsideTheAlphabet) {
  for (const char* bad : {"a/b", "a b", "a?x=1", "..", "a%2F", "ü", "a\nb"}) {
    SCOPED_TRACE(bad);
    absl::Status status = ValidateStopRequest(MakeRequest("p", bad));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("build_id"), std::string::npos);
  }
}

TEST(ValidateAuthTokenTest, RejectsHeaderInjection) {
  EXPECT_TRUE(ValidateAuthToken("MIIEXAMPLE+/=token").ok());
  EXPECT_EQ(ValidateAuthToken("abc\r\nX-Evil: 1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAuthToken("a b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAuthToken("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateAuthToken(std::string(kMaxTokenLength + 1, 'a')).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BuildStopCallTest, SignsLikeTheOfficialSdk) {
  FrozenClock clock;
  auto credentials = std::make_shared<auth::AkSkCredentials>(auth::AkSkCredentials{
      "HPUAEXAMPLEAKID12345", "ExampleSecretKey/+=0123456789abcdefghijkl", "", ""});
  UpstreamCall call = BuildStopCall(
      MakeRequest("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b"),
      RequestOptions{"0123456789abcdef0123456789abcdef", "codearts-gateway/test"},
      CallCredentials{"", credentials}, clock);
  EXPECT_EQ(call.request.method, "POST");
  EXPECT_EQ(call.request.target,
            "/v3/pipelines/0f1e2d3c4b5a69788796a5b4c3d2e1f0/stop?build_id="
            "3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b");
  EXPECT_EQ(call.request.body, "");
  ASSERT_TRUE(call.prepare("cloudpipeline-ext.cn-north-4.myhuaweicloud.com", call.request).ok());
  EXPECT_EQ(HeaderValue(call.request, "X-Sdk-Date"), "20240115T083000Z");
  EXPECT_EQ(HeaderValue(call.request, "User-Agent"), "codearts-gateway/test");
  // The vector "stop_no_query" minus the query: recompute with the signer for the exact headers
  // the gateway signs (content-type, host, x-project-id, x-sdk-date; not user-agent).
  auth::SigningRequest expected{"POST",
                                "/v3/pipelines/0f1e2d3c4b5a69788796a5b4c3d2e1f0/stop",
                                {{"build_id", "3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b"}},
                                {{"Host", "cloudpipeline-ext.cn-north-4.myhuaweicloud.com"},
                                 {"Content-Type", "application/json"},
                                 {"X-Project-Id", "0123456789abcdef0123456789abcdef"},
                                 {"X-Sdk-Date", "20240115T083000Z"}},
                                ""};
  auto parts = auth::SignSdkHmacSha256(expected, credentials->access_key, credentials->secret_key);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(HeaderValue(call.request, "Authorization"), parts->authorization);
  EXPECT_NE(parts->authorization.find("SignedHeaders=content-type;host;x-project-id;x-sdk-date,"),
            std::string::npos);
  EXPECT_EQ(HeaderValue(call.request, "X-Auth-Token"), "<absent>");
}

TEST(BuildStopCallTest, PreparingTwiceReplacesRatherThanRepeatsHeaders) {
  FrozenClock clock;
  auto credentials =
      std::make_shared<auth::AkSkCredentials>(auth::AkSkCredentials{"ak", "sk", "sts-token", ""});
  UpstreamCall call = BuildStopCall(MakeRequest("p", "b"), RequestOptions{"", "ua"},
                                    CallCredentials{"", credentials}, clock);
  ASSERT_TRUE(call.prepare("h", call.request).ok());
  const std::size_t headers = call.request.headers.size();
  ASSERT_TRUE(call.prepare("h", call.request).ok());
  EXPECT_EQ(call.request.headers.size(), headers);
  EXPECT_EQ(HeaderValue(call.request, "X-Security-Token"), "sts-token");
  EXPECT_NE(HeaderValue(call.request, "Authorization").find("x-security-token"), std::string::npos);
  EXPECT_EQ(HeaderValue(call.request, "X-Project-Id"), "<absent>");
}

TEST(BuildStopCallTest, ProjectIdFromTheCredentialsWins) {
  FrozenClock clock;
  auto credentials =
      std::make_shared<auth::AkSkCredentials>(auth::AkSkCredentials{"ak", "sk", "", "from-file"});
  UpstreamCall call = BuildStopCall(MakeRequest("p", "b"), RequestOptions{"configured", "ua"},
                                    CallCredentials{"", credentials}, clock);
  ASSERT_TRUE(call.prepare("h", call.request).ok());
  EXPECT_EQ(HeaderValue(call.request, "X-Project-Id"), "from-file");
}

TEST(BuildStopCallTest, TokenModeSendsTheTokenAndDoesNotSign) {
  FrozenClock clock;
  UpstreamCall call = BuildStopCall(MakeRequest("p", "b"), RequestOptions{"proj", "ua"},
                                    CallCredentials{"iam-token", nullptr}, clock);
  ASSERT_TRUE(call.prepare("h", call.request).ok());
  EXPECT_EQ(HeaderValue(call.request, "X-Auth-Token"), "iam-token");
  EXPECT_EQ(HeaderValue(call.request, "Authorization"), "<absent>");
  EXPECT_EQ(HeaderValue(call.request, "X-Sdk-Date"), "20240115T083000Z");
}

}  // namespace
}  // namespace codearts::routes
