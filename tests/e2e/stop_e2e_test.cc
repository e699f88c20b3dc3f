// End-to-end: a real gRPC channel -> the gateway -> real TLS -> the CodeArts stand-in.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <future>

#include "auth/clock.h"
#include "e2e/gateway_fixture.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace codearts::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CodeArtsStandin;
using testing::RecordedRequest;
using testing::ServerCert;
using testing::StandinOptions;
using testing::StandinReply;

class StopE2eTest : public ::testing::Test {
 protected:
  CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
};

TEST_F(StopE2eTest, StopsAPipelineWithAVerifiedSignature) {
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.response.pipeline_id(), kPipelineId);
  EXPECT_EQ(outcome.response.pipeline_name(), "pipeline-0f1e2d3c");

  const std::vector<RecordedRequest> requests = standin_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  const RecordedRequest& request = requests[0];
  EXPECT_TRUE(request.auth_ok) << request.auth_error;
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target,
            std::string("/v3/pipelines/") + kPipelineId + "/stop?build_id=" + kBuildId);
  EXPECT_EQ(request.body, "");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  EXPECT_EQ(request.Header("X-Project-Id"), kProjectId);
  EXPECT_EQ(request.Header("Host"), "127.0.0.1:" + std::to_string(standin_.port()));
  EXPECT_EQ(request.Header("User-Agent"), "codearts-gateway/test");
  EXPECT_FALSE(request.Header("X-Auth-Token").has_value());
  const std::optional<std::string> authorization = request.Header("Authorization");
  ASSERT_TRUE(authorization.has_value());
  EXPECT_NE(authorization->find("SDK-HMAC-SHA256 Access=HPUAEXAMPLEAKID12345, "
                                "SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
                                "Signature="),
            std::string::npos)
      << *authorization;
  // X-Sdk-Date is taken at send time.
  const std::optional<std::string> date = request.Header("X-Sdk-Date");
  ASSERT_TRUE(date.has_value());
  const std::string now = auth::FormatSdkDate(std::chrono::system_clock::now());
  EXPECT_EQ(date->substr(0, 8), now.substr(0, 8));

  // CodeArts' request id comes back as trailing metadata.
  EXPECT_EQ(outcome.request_id.size(), 32u);
}

TEST_F(StopE2eTest, RequestIdIsPreservedOnSuccessAndError) {
  standin_.SetHandler([this](const RecordedRequest& request) {
    StandinReply reply = standin_.DefaultReply(request);
    reply.headers.emplace_back("X-Request-Id", "req-0123");
    return reply;
  });
  GatewayUnderTest gateway(standin_);
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId).request_id, "req-0123");
  const StopOutcome missing = gateway.Stop("missing0001", kBuildId);
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.request_id, "req-0123");
  ASSERT_TRUE(missing.error_info.has_value());
  EXPECT_EQ(missing.error_info->metadata().at("request_id"), "req-0123");
}

TEST_F(StopE2eTest, TemporaryCredentialsSendAndSignTheSecurityToken) {
  GatewayOptions options;
  options.security_token = "sts-token-value";
  GatewayUnderTest gateway(standin_, options);
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  const RecordedRequest request = standin_.Requests().at(0);
  EXPECT_TRUE(request.auth_ok) << request.auth_error;
  EXPECT_EQ(request.Header("X-Security-Token"), "sts-token-value");
  EXPECT_NE(request.Header("Authorization")->find("x-sdk-date;x-security-token"),
            std::string::npos);
}

struct MappedRow {
  unsigned http_status;
  grpc::StatusCode code;
};

TEST_F(StopE2eTest, EveryMappedStatusComesBackWithCodeArtsErrorPreserved) {
  const std::vector<MappedRow> rows = {{400, grpc::StatusCode::INVALID_ARGUMENT},
                                       {401, grpc::StatusCode::UNAUTHENTICATED},
                                       {403, grpc::StatusCode::PERMISSION_DENIED},
                                       {404, grpc::StatusCode::NOT_FOUND},
                                       {409, grpc::StatusCode::ABORTED},
                                       {429, grpc::StatusCode::RESOURCE_EXHAUSTED},
                                       {499, grpc::StatusCode::CANCELLED},
                                       {500, grpc::StatusCode::INTERNAL},
                                       {501, grpc::StatusCode::UNIMPLEMENTED},
                                       {502, grpc::StatusCode::UNAVAILABLE},
                                       {503, grpc::StatusCode::UNAVAILABLE},
                                       {504, grpc::StatusCode::DEADLINE_EXCEEDED},
                                       {422, grpc::StatusCode::FAILED_PRECONDITION},
                                       {507, grpc::StatusCode::INTERNAL}};
  GatewayUnderTest gateway(standin_);
  for (const MappedRow& row : rows) {
    SCOPED_TRACE(row.http_status);
    standin_.SetHandler([&row](const RecordedRequest&) {
      StandinReply reply;
      reply.status = row.http_status;
      reply.body = R"({"error_code":"DEVPIPE.00011)" + std::to_string(row.http_status) +
                   R"(","error_msg":"scripted failure"})";
      reply.headers.emplace_back("X-Request-Id", "rid-" + std::to_string(row.http_status));
      return reply;
    });
    const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
    EXPECT_EQ(outcome.status.error_code(), row.code);
    const std::string expected_prefix =
        "DEVPIPE.00011" + std::to_string(row.http_status) + ": scripted failure";
    EXPECT_EQ(outcome.status.error_message().rfind(expected_prefix, 0), 0u)
        << outcome.status.error_message();
    EXPECT_EQ(outcome.request_id, "rid-" + std::to_string(row.http_status));
    ASSERT_TRUE(outcome.error_info.has_value());
    EXPECT_EQ(outcome.error_info->reason(), "DEVPIPE.00011" + std::to_string(row.http_status));
    EXPECT_EQ(outcome.error_info->domain(), "127.0.0.1");
    EXPECT_EQ(outcome.error_info->metadata().at("http_status"), std::to_string(row.http_status));
  }
}

TEST_F(StopE2eTest, ErrorBodyShapesAreAllRead) {
  GatewayUnderTest gateway(standin_);
  const std::vector<std::string> bodies = {
      R"({"code":"APIGW.0101","message":"no such api"})",
      R"({"error":{"code":"APIGW.0101","message":"no such api"}})"};
  for (const std::string& body : bodies) {
    standin_.SetHandler([&body](const RecordedRequest&) { return Reply(404, body); });
    const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
    EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(outcome.status.error_message().rfind("APIGW.0101: no such api", 0), 0u)
        << outcome.status.error_message();
  }
}

TEST_F(StopE2eTest, NonJsonErrorMapsByStatusWithAnExcerpt) {
  standin_.SetHandler([](const RecordedRequest&) {
    return Reply(503, "<html>Service Temporarily Unavailable</html>");
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(outcome.status.error_message().find("Service Temporarily Unavailable"),
            std::string::npos);
}

TEST_F(StopE2eTest, TokenAuthForwardsTheTokenInsteadOfSigning) {
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(10), kValidToken);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const RecordedRequest request = standin_.Requests().at(0);
  EXPECT_TRUE(request.auth_ok) << request.auth_error;
  EXPECT_EQ(request.Header("X-Auth-Token"), kValidToken);
  EXPECT_FALSE(request.Header("Authorization").has_value());
}

TEST_F(StopE2eTest, TokenWorksWithoutConfiguredCredentials) {
  GatewayOptions options;
  options.access_key.clear();
  GatewayUnderTest gateway(standin_, options);
  EXPECT_TRUE(gateway.Stop(kPipelineId, kBuildId, seconds(10), kValidToken).status.ok());
}

TEST_F(StopE2eTest, RejectedTokenIsUnauthenticated) {
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(10), "expired-token");
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(outcome.status.error_message().rfind("APIGW.0301", 0), 0u);
}

TEST_F(StopE2eTest, MalformedTokenNeverReachesUpstream) {
  GatewayUnderTest gateway(standin_);
  // gRPC clients refuse control characters in metadata themselves; a space passes them and is
  // still no part of a token.
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(10), "abc def");
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(standin_.Requests().size(), 0u);
}

TEST_F(StopE2eTest, NoCredentialsIsUnauthenticatedAndSaysWhatToConfigure) {
  GatewayOptions options;
  options.access_key.clear();
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(outcome.status.error_message().find("HUAWEICLOUD_SDK_AK"), std::string::npos);
  EXPECT_NE(outcome.status.error_message().find("x-auth-token"), std::string::npos);
  EXPECT_EQ(standin_.Requests().size(), 0u);
}

TEST_F(StopE2eTest, WrongSecretKeyIsRejectedByTheSignatureCheck) {
  GatewayOptions options;
  options.secret_key = "not-the-right-secret";
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(outcome.status.error_message().rfind("APIGW.0301: ", 0), 0u)
      << outcome.status.error_message();
  ASSERT_TRUE(outcome.error_info.has_value());
  EXPECT_EQ(outcome.error_info->reason(), "APIGW.0301");
  ASSERT_EQ(standin_.Requests().size(), 1u);
  EXPECT_FALSE(standin_.Requests()[0].auth_ok);
}

TEST_F(StopE2eTest, InvalidInputNeverReachesUpstream) {
  GatewayUnderTest gateway(standin_);
  struct Case {
    std::string pipeline_id, build_id, field;
  };
  for (const Case& c : std::vector<Case>{{"", kBuildId, "pipeline_id"},
                                         {kPipelineId, "", "build_id"},
                                         {"../admin", kBuildId, "pipeline_id"},
                                         {kPipelineId, "1&x=2", "build_id"},
                                         {std::string(65, 'a'), kBuildId, "pipeline_id"}}) {
    const StopOutcome outcome = gateway.Stop(c.pipeline_id, c.build_id);
    EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(outcome.status.error_message().find(c.field), std::string::npos)
        << outcome.status.error_message();
  }
  EXPECT_EQ(standin_.Requests().size(), 0u);
}

TEST_F(StopE2eTest, MalformedSuccessBodyIsInternalNeverOk) {
  standin_.SetHandler([](const RecordedRequest&) { return Reply(200, R"({"status":"success"})"); });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INTERNAL);
}

class CertificateTest : public ::testing::TestWithParam<ServerCert> {};

TEST_P(CertificateTest, BadUpstreamCertificateIsUnavailableAndNothingIsSent) {
  StandinOptions options = StandinWithTestKeys();
  options.cert = GetParam();
  CodeArtsStandin standin(options, SharedPki());
  GatewayUnderTest gateway(standin);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(outcome.status.error_message().find("TLS handshake"), std::string::npos)
      << outcome.status.error_message();
  EXPECT_NE(outcome.status.error_message().find("127.0.0.1:" + std::to_string(standin.port())),
            std::string::npos);
  EXPECT_EQ(standin.Requests().size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Certificates, CertificateTest,
                         ::testing::Values(ServerCert::kUntrusted, ServerCert::kWrongHost,
                                           ServerCert::kExpired),
                         [](const ::testing::TestParamInfo<ServerCert>& param_info) {
                           switch (param_info.param) {
                             case ServerCert::kUntrusted:
                               return std::string("Untrusted");
                             case ServerCert::kWrongHost:
                               return std::string("WrongHost");
                             case ServerCert::kExpired:
                               return std::string("Expired");
                             default:
                               return std::string("Valid");
                           }
                         });

TEST_F(StopE2eTest, SystemCaStoreDoesNotTrustTheTestCa) {
  GatewayOptions options;
  options.ca_file = "";  // the system store
  GatewayUnderTest gateway(standin_, options);
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId).status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(StopE2eTest, UpstreamDownIsUnavailableNamingHostAndStep) {
  const std::uint16_t port = ClosedPort();
  GatewayOptions options;
  options.endpoint = "https://127.0.0.1:" + std::to_string(port);
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(
      outcome.status.error_message().find("127.0.0.1:" + std::to_string(port) + ": connect failed"),
      std::string::npos)
      << outcome.status.error_message();
}

TEST_F(StopE2eTest, UnresolvableHostIsUnavailable) {
  GatewayOptions options;
  options.endpoint = "https://no-such-host.invalid";
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(outcome.status.error_message().find("DNS resolution failed"), std::string::npos)
      << outcome.status.error_message();
}

TEST_F(StopE2eTest, UpstreamSlowerThanTheDeadlineIsDeadlineExceeded) {
  GatewayUnderTest gateway(standin_);
  // A first call opens the channel and the upstream connection, so that the deadline below is
  // spent upstream even where the first call is slow to set up (ThreadSanitizer). The deadline
  // leaves room for a loaded CI machine to stall the call on its way in: with 300 ms, a call once
  // arrived with too little time left and was refused before reaching upstream.
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  auto gate = std::make_shared<testing::ReplyGate>();
  standin_.SetHandler(GatedDefaultReply(standin_, gate));
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(2));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The timed-out connection is closed, never reused.
  EXPECT_TRUE(standin_.WaitForConnectionsClosed(1, seconds(5)));
  gate->Open();
}

TEST_F(StopE2eTest, UpstreamTimeoutCapsCallsWithoutADeadline) {
  standin_.SetHandler(DelayedDefaultReply(standin_, seconds(5)));
  GatewayOptions options;
  options.upstream_timeout = milliseconds(300);
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(20));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(outcome.status.error_message().find("timed out"), std::string::npos)
      << outcome.status.error_message();
}

TEST_F(StopE2eTest, CallerCancelAbandonsTheUpstreamExchange) {
  standin_.SetHandler(DelayedDefaultReply(standin_, seconds(20)));
  GatewayUnderTest gateway(standin_);
  std::unique_ptr<PendingStop> call = StartStop(gateway.stub(), seconds(30));
  ASSERT_TRUE(standin_.WaitForRequests(1, seconds(10)));
  call->context.TryCancel();
  std::future<grpc::Status> result = call->done.get_future();
  ASSERT_EQ(result.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(result.get().error_code(), grpc::StatusCode::CANCELLED);
  // The gateway closes its upstream connection at once rather than waiting out the reply.
  EXPECT_TRUE(standin_.WaitForConnectionsClosed(1, seconds(10)));
  // And it keeps serving.
  standin_.SetHandler(nullptr);
  EXPECT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
}

TEST_F(StopE2eTest, SequentialCallsReuseOneUpstreamConnection) {
  GatewayUnderTest gateway(standin_);
  for (int i = 0; i < 5; ++i) {
    const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  }
  EXPECT_EQ(standin_.ConnectionsAccepted(), 1u);
  for (const RecordedRequest& request : standin_.Requests()) {
    EXPECT_EQ(request.connection_id, 1u);
    EXPECT_TRUE(request.auth_ok) << request.auth_error;
  }
}

TEST_F(StopE2eTest, ConnectionClosedByServerIsNotReused) {
  standin_.SetHandler([this](const RecordedRequest& request) {
    StandinReply reply = standin_.DefaultReply(request);
    reply.close_after = true;
    return reply;
  });
  GatewayUnderTest gateway(standin_);
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  EXPECT_EQ(standin_.ConnectionsAccepted(), 2u);
}

TEST_F(StopE2eTest, IdleConnectionDroppedByServerIsReplacedTransparently) {
  GatewayUnderTest gateway(standin_);
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  // The next request on the pooled connection is answered by closing it without a reply: the
  // keep-alive race a server's idle timeout causes. Nothing was processed, so one retry on a
  // fresh connection is safe.
  std::atomic<int> seen{0};
  standin_.SetHandler([this, &seen](const RecordedRequest& request) {
    StandinReply reply = standin_.DefaultReply(request);
    if (seen.fetch_add(1) == 0) reply.fault = StandinReply::Fault::kCloseWithoutReply;
    return reply;
  });
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(standin_.ConnectionsAccepted(), 2u);
}

TEST_F(StopE2eTest, ResetOnAFreshConnectionIsUnavailableAndNotRetried) {
  standin_.SetHandler([](const RecordedRequest&) {
    StandinReply reply;
    reply.fault = StandinReply::Fault::kResetWithoutReply;
    return reply;
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(outcome.status.error_message().find("may have been processed"), std::string::npos)
      << outcome.status.error_message();
  EXPECT_EQ(standin_.Requests().size(), 1u);
}

TEST_F(StopE2eTest, HealthServiceReportsServing) {
  GatewayUnderTest gateway(standin_);
  auto health = grpc::health::v1::Health::NewStub(gateway.channel());
  for (const std::string service : {"", "codearts.pipeline.v1.PipelineService"}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

}  // namespace
}  // namespace codearts::e2e
