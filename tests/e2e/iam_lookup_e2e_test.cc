// The IAM project-id lookup the SDKs do when no project id is configured, end to end: the
// stand-in plays IAM (`GET /v3/projects?name={region}`, signature verified like every request),
// the gateway is not ready until it knows the id, then sends it as X-Project-Id.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "e2e/gateway_fixture.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace codearts::e2e {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using std::chrono::seconds;
using testing::CodeArtsStandin;
using testing::RecordedRequest;
using testing::StandinReply;

constexpr char kServiceName[] = "codearts.pipeline.v1.PipelineService";
constexpr char kIamProject[] = "iamproject0000000000000000000001";

std::string OneProject() {
  return std::string(R"({"projects":[{"id":")") + kIamProject + R"(","name":"cn-north-4"}]})";
}

// Waits, on the health service's own Watch stream (no polling), until the pipeline service is
// SERVING; false if the deadline passes first.
bool WaitUntilServing(GatewayUnderTest& gateway) {
  auto stub = Health::NewStub(gateway.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  HealthCheckRequest request;
  request.set_service(kServiceName);
  auto stream = stub->Watch(&context, request);
  HealthCheckResponse response;
  while (stream->Read(&response)) {
    if (response.status() == HealthCheckResponse::SERVING) {
      context.TryCancel();
      return true;
    }
  }
  return false;
}

HealthCheckResponse::ServingStatus Check(GatewayUnderTest& gateway) {
  auto stub = Health::NewStub(gateway.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(5));
  HealthCheckRequest request;
  request.set_service(kServiceName);
  HealthCheckResponse response;
  EXPECT_TRUE(stub->Check(&context, request, &response).ok());
  return response.status();
}

class IamLookupE2eTest : public ::testing::Test {
 protected:
  IamLookupE2eTest() {
    options_.project_id.clear();
    options_.iam_region = "cn-north-4";
  }

  // IAM answers with `replies` in order (the last one again after that); CodeArts as usual.
  void ServeIam(std::vector<StandinReply> replies) {
    standin_.SetHandler([this, replies = std::move(replies)](const RecordedRequest& request) {
      if (!request.auth_ok || request.path != "/v3/projects") return standin_.DefaultReply(request);
      std::lock_guard lock(mutex_);
      return replies[std::min(iam_requests_++, replies.size() - 1)];
    });
  }

  std::vector<RecordedRequest> IamRequests() {
    std::vector<RecordedRequest> iam;
    for (RecordedRequest& request : standin_.Requests()) {
      if (request.path == "/v3/projects") iam.push_back(std::move(request));
    }
    return iam;
  }

  CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
  GatewayOptions options_;
  std::mutex mutex_;
  std::size_t iam_requests_ = 0;  // guarded by mutex_
};

TEST_F(IamLookupE2eTest, TheProjectIdComesFromIamAndIsSentAsXProjectId) {
  ServeIam({Reply(200, OneProject())});
  GatewayUnderTest gateway(standin_, options_);
  ASSERT_TRUE(WaitUntilServing(gateway));
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();

  const std::vector<RecordedRequest> iam = IamRequests();
  ASSERT_EQ(iam.size(), 1u);  // cached: one lookup for the key
  EXPECT_EQ(iam[0].method, "GET");
  EXPECT_EQ(iam[0].target, "/v3/projects?name=cn-north-4");
  EXPECT_TRUE(iam[0].auth_ok) << iam[0].auth_error;  // signed with the same AK/SK
  const std::vector<RecordedRequest> requests = standin_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].Header("X-Project-Id"), kIamProject);
  EXPECT_TRUE(requests[1].auth_ok) << requests[1].auth_error;
}

TEST_F(IamLookupE2eTest, UntilIamNamesExactlyOneProjectTheGatewayIsNotReadyAndCallsSayWhy) {
  // First two projects (an error, retried), then an answer held until the test releases it.
  const auto gate = std::make_shared<testing::ReplyGate>();
  StandinReply held = Reply(200, OneProject());
  held.gate = gate;
  ServeIam(
      {Reply(200, R"({"projects":[{"id":"a","name":"cn-north-4"},{"id":"b","name":"x"}]})"), held});
  GatewayUnderTest gateway(standin_, options_);
  // The second lookup has begun, so the first one's failure has been recorded.
  ASSERT_TRUE(standin_.WaitForRequests(2, seconds(10)));

  EXPECT_EQ(Check(gateway), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(gateway.Admin("/readyz").status, 503u);
  const StopOutcome refused = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.status.error_message().find(
                "the IAM project id of region cn-north-4 is not known yet"),
            std::string::npos)
      << refused.status.error_message();
  EXPECT_NE(refused.status.error_message().find("answered 2 projects"), std::string::npos)
      << refused.status.error_message();
  EXPECT_EQ(standin_.Requests().size(), 2u);  // nothing went to CodeArts

  gate->Open();
  ASSERT_TRUE(WaitUntilServing(gateway));
  EXPECT_EQ(gateway.Admin("/readyz").status, 200u);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(standin_.Requests().back().Header("X-Project-Id"), kIamProject);
}

// Rotated credentials bring a new access key: its project id is looked up again (and the
// gateway is not ready meanwhile), then calls carry the new key's project id.
TEST_F(IamLookupE2eTest, ANewAccessKeyIsLookedUpAgain) {
  constexpr char kNewAccessKey[] = "HPUAROTATEDAKID67890";
  constexpr char kNewSecretKey[] = "RotatedSecretKey/0123456789abcdefghijklmn";
  constexpr char kNewProject[] = "iamproject0000000000000000000002";
  testing::StandinOptions standin_options = StandinWithTestKeys();
  standin_options.more_key_pairs.emplace_back(kNewAccessKey, kNewSecretKey);
  CodeArtsStandin standin(standin_options, SharedPki());
  const auto gate = std::make_shared<testing::ReplyGate>();
  standin.SetHandler([&](const RecordedRequest& request) {
    if (!request.auth_ok || request.path != "/v3/projects") return standin.DefaultReply(request);
    if (AccessKeyOf(request) != kNewAccessKey) return Reply(200, OneProject());
    StandinReply reply = Reply(
        200, std::string(R"({"projects":[{"id":")") + kNewProject + R"(","name":"cn-north-4"}]})");
    reply.gate = gate;  // held until the test has seen the gateway not ready
    return reply;
  });
  const std::string file = testing::WriteTempFile(
      "credentials",
      absl::StrCat("HUAWEICLOUD_SDK_AK=", kAccessKey, "\nHUAWEICLOUD_SDK_SK=", kSecretKey, "\n"));
  options_.credentials_file = file;
  options_.credentials_check = std::chrono::milliseconds(0);
  GatewayUnderTest gateway(standin, options_);
  ASSERT_TRUE(WaitUntilServing(gateway));
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  ASSERT_EQ(standin.Requests().size(), 2u);
  EXPECT_EQ(standin.Requests()[1].Header("X-Project-Id"), kIamProject);

  ReplaceFile(file, absl::StrCat("HUAWEICLOUD_SDK_AK=", kNewAccessKey,
                                 "\nHUAWEICLOUD_SDK_SK=", kNewSecretKey, "\n"));
  ASSERT_TRUE(standin.WaitForRequests(3, seconds(10)));  // the new key's lookup
  EXPECT_EQ(AccessKeyOf(standin.Requests()[2]), kNewAccessKey);
  EXPECT_EQ(Check(gateway), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  gate->Open();
  ASSERT_TRUE(WaitUntilServing(gateway));
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const RecordedRequest last = standin.Requests().back();
  EXPECT_EQ(AccessKeyOf(last), kNewAccessKey);
  EXPECT_EQ(last.Header("X-Project-Id"), kNewProject);
}

}  // namespace
}  // namespace codearts::e2e
