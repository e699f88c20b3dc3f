// What operators rely on: metrics with exact counts, readiness and drain, credential rotation
// under traffic, TLS and mutual TLS on the gRPC listener, trace context passed upstream.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "e2e/gateway_fixture.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace codearts::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CodeArtsStandin;
using testing::RecordedRequest;
using testing::StandinOptions;
using testing::StandinReply;

grpc::health::v1::HealthCheckResponse::ServingStatus HealthOf(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = health->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
  return response.status();
}

TEST(MetricsE2eTest, ScrapeCountsEveryCallByCodeAndEveryUpstreamRequestByStatus) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  GatewayUnderTest gateway(standin);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  }
  EXPECT_EQ(gateway.Stop("missing-pipeline", kBuildId).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(gateway.Stop("bad id!", kBuildId).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId, seconds(10), "expired-token").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  const AdminReply scrape = gateway.Admin("/metrics");
  ASSERT_EQ(scrape.status, 200u);
  const std::string& m = scrape.body;
  EXPECT_EQ(MetricValue(m, "codearts_gateway_calls_total", R"(code="OK",method="Stop")"), 3) << m;
  EXPECT_EQ(MetricValue(m, "codearts_gateway_calls_total", R"(code="NOT_FOUND",method="Stop")"), 1);
  EXPECT_EQ(
      MetricValue(m, "codearts_gateway_calls_total", R"(code="INVALID_ARGUMENT",method="Stop")"),
      1);
  EXPECT_EQ(
      MetricValue(m, "codearts_gateway_calls_total", R"(code="UNAUTHENTICATED",method="Stop")"), 1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_call_duration_seconds_count", R"(method="Stop")"), 6);
  // The invalid call never went upstream.
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_requests_total", R"(status="200")"), 3);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_requests_total", R"(status="404")"), 1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_requests_total", R"(status="401")"), 1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_request_duration_seconds_count"), 5);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_retries_total"), 0);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_credential_errors_total", R"(reason="rejected")"), 1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_credential_errors_total", R"(reason="missing")"), 0);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_calls_in_flight"), 0);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_waiting_calls"), 0);
  // Sequential calls share one keep-alive connection, idle in the pool now.
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_connections", R"(state="open")"), 1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_connections", R"(state="idle")"), 1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_connections", R"(state="connecting")"), 0);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_tls_handshakes_total", R"(resumed="false")"),
            1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_build_info", R"(version="test")"), 1);
}

TEST(MetricsE2eTest, RetriesAndMissingCredentialsAreCounted) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  std::atomic<int> seen{0};
  standin.SetHandler([&standin, &seen](const RecordedRequest& request) {
    if (seen.fetch_add(1) == 0) {
      StandinReply busy;
      busy.status = 503;
      busy.body = R"({"error_code":"DEVPIPE.00000503","error_msg":"busy"})";
      busy.headers.emplace_back("Retry-After", "0");
      return busy;
    }
    return standin.DefaultReply(request);
  });
  GatewayOptions options;
  GatewayUnderTest gateway(standin, options);
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());

  GatewayOptions no_keys;
  no_keys.access_key.clear();
  GatewayUnderTest keyless(standin, no_keys);
  EXPECT_EQ(keyless.Stop(kPipelineId, kBuildId).status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  const std::string m = gateway.Admin("/metrics").body;
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_retries_total"), 1) << m;
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_requests_total", R"(status="503")"), 1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_upstream_requests_total", R"(status="200")"), 1);
  EXPECT_EQ(MetricValue(m, "codearts_gateway_calls_total", R"(code="OK",method="Stop")"), 1);
  const std::string k = keyless.Admin("/metrics").body;
  EXPECT_EQ(MetricValue(k, "codearts_gateway_credential_errors_total", R"(reason="missing")"), 1);
  EXPECT_EQ(MetricValue(k, "codearts_gateway_upstream_request_duration_seconds_count"), 0);
}

TEST(AdminEndpointTest, AnswersProbesAndRefusesTheRest) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  GatewayUnderTest gateway(standin);
  EXPECT_EQ(gateway.Admin("/healthz").status, 200u);
  EXPECT_EQ(gateway.Admin("/readyz").status, 200u);
  EXPECT_EQ(gateway.Admin("/readyz?verbose").status, 200u);
  EXPECT_EQ(gateway.Admin("/").status, 404u);
  EXPECT_EQ(gateway.Admin("/metrics/../secrets").status, 404u);
}

TEST(DrainE2eTest, ReadinessFailsAtOnceButNewCallsAreStillServed) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  GatewayOptions options;
  options.health_listener = true;
  GatewayUnderTest gateway(standin, options);
  auto health_channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", gateway.server().health_port()),
                          grpc::InsecureChannelCredentials());
  using Health = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(HealthOf(health_channel, ""), Health::SERVING);
  EXPECT_EQ(HealthOf(health_channel, "codearts.pipeline.v1.PipelineService"), Health::SERVING);
  EXPECT_EQ(HealthOf(health_channel, "liveness"), Health::SERVING);

  gateway.server().BeginDrain();
  EXPECT_EQ(gateway.Admin("/readyz").status, 503u);
  EXPECT_EQ(gateway.Admin("/healthz").status, 200u);
  for (const auto& channel : {health_channel, gateway.channel()}) {
    EXPECT_EQ(HealthOf(channel, ""), Health::NOT_SERVING);
    EXPECT_EQ(HealthOf(channel, "codearts.pipeline.v1.PipelineService"), Health::NOT_SERVING);
    // Liveness holds: a draining gateway must not be restarted.
    EXPECT_EQ(HealthOf(channel, "liveness"), Health::SERVING);
  }
  // Until the listener closes, calls are served as usual.
  const StopOutcome during_drain = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_TRUE(during_drain.status.ok()) << during_drain.status.error_message();
}

TEST(DrainE2eTest, WatchStreamsTheDrainAndEndsAtShutdown) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  GatewayUnderTest gateway(standin);
  using Health = grpc::health::v1::HealthCheckResponse;
  auto health = grpc::health::v1::Health::NewStub(gateway.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("codearts.pipeline.v1.PipelineService");
  auto reader = health->Watch(&context, request);
  Health update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.status(), Health::SERVING);

  gateway.server().BeginDrain();
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.status(), Health::NOT_SERVING);

  // An open Watch does not hold the drain: shutdown ends it at once.
  const auto started = std::chrono::steady_clock::now();
  gateway.server().Shutdown(std::chrono::system_clock::now() + seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(2));
  EXPECT_FALSE(reader->Read(&update));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(DrainE2eTest, HealthKnowsItsServicesOnly) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  GatewayUnderTest gateway(standin);
  auto health = grpc::health::v1::Health::NewStub(gateway.channel());
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service("no.such.Service");
    grpc::health::v1::HealthCheckResponse response;
    EXPECT_EQ(health->Check(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("no.such.Service");
  auto reader = health->Watch(&context, request);
  grpc::health::v1::HealthCheckResponse update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN);
  context.TryCancel();
}

TEST(DrainE2eTest, HealthOnlyListenerDoesNotServeThePipelineService) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  GatewayOptions options;
  options.health_listener = true;
  GatewayUnderTest gateway(standin, options);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", gateway.server().health_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = pipeline::v1::PipelineService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(5));
  pipeline::v1::StopRequest request;
  request.set_pipeline_id(kPipelineId);
  request.set_build_id(kBuildId);
  pipeline::v1::StopResponse response;
  EXPECT_EQ(stub->Stop(&context, request, &response).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(standin.Requests().size(), 0u);
}

// The names `top -H`, `perf` and /proc show for the gateway's own threads.
std::vector<std::string> ThreadNamesOfThisProcess() {
  std::vector<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name)) names.push_back(name);
  }
  return names;
}

TEST(ThreadsE2eTest, TheGatewaysThreadsAreNamed) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  GatewayOptions options;
  options.health_listener = true;
  GatewayUnderTest gateway(standin, options);
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  const std::vector<std::string> names = ThreadNamesOfThisProcess();
  for (const char* expected : {"gw-cq", "gw-io-0", "gw-probe-cq"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end())
        << expected << " not among " << absl::StrJoin(names, ", ");
  }
}

TEST(DrainE2eTest, InFlightCallsUnderLoadAllFinishWithinTheDrainTimeout) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  // Every call is held upstream until the server is shutting down.
  const auto gate = std::make_shared<testing::ReplyGate>();
  standin.SetHandler(GatedDefaultReply(standin, gate));
  GatewayOptions options;
  options.max_connections = 64;
  GatewayUnderTest gateway(standin, options);
  constexpr int kCalls = 40;
  std::vector<std::unique_ptr<PendingStop>> calls;
  calls.reserve(kCalls);
  std::vector<std::future<grpc::Status>> done;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(StartStop(gateway.stub(), seconds(20)));
    done.push_back(calls.back()->done.get_future());
  }
  ASSERT_TRUE(standin.WaitForRequests(kCalls, seconds(20)));

  auto shutdown = std::async(std::launch::async, [&gateway] {
    gateway.server().Shutdown(std::chrono::system_clock::now() + seconds(10));
  });
  // The server refuses new calls once its shutdown has begun: then release the held ones.
  auto health = grpc::health::v1::Health::NewStub(gateway.channel());
  const auto give_up = std::chrono::steady_clock::now() + seconds(10);
  grpc::StatusCode code = grpc::StatusCode::OK;
  while (code != grpc::StatusCode::UNAVAILABLE && std::chrono::steady_clock::now() < give_up) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(2));
    grpc::health::v1::HealthCheckResponse response;
    code = health->Check(&context, {}, &response).error_code();
  }
  ASSERT_EQ(code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(done.front().wait_for(milliseconds(0)), std::future_status::timeout);
  gate->Open();
  shutdown.get();
  for (auto& call : done) {
    ASSERT_EQ(call.wait_for(seconds(10)), std::future_status::ready);
    const grpc::Status status = call.get();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
}

TEST(DrainE2eTest, CallsCutOffByTheDrainDeadlineEndUnavailableAndNeverHang) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  standin.SetHandler(DelayedDefaultReply(standin, seconds(30)));
  GatewayOptions options;
  options.max_connections = 64;
  GatewayUnderTest gateway(standin, options);
  constexpr int kCalls = 10;
  std::vector<std::unique_ptr<PendingStop>> calls;
  calls.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) calls.push_back(StartStop(gateway.stub(), seconds(20)));
  ASSERT_TRUE(standin.WaitForRequests(kCalls, seconds(20)));

  const auto started = std::chrono::steady_clock::now();
  gateway.server().Shutdown(std::chrono::system_clock::now() + milliseconds(500));
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
  for (auto& call : calls) {
    auto done = call->done.get_future();
    ASSERT_EQ(done.wait_for(seconds(10)), std::future_status::ready);
    const grpc::Status status = done.get();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_NE(status.error_message().find("drain deadline"), std::string::npos)
        << status.error_message();
  }
}

TEST(CredentialRotationE2eTest, CallsAfterTheSwapUseTheNewKeyAndNoneFail) {
  constexpr char kNewAccessKey[] = "HPUAROTATEDAKID67890";
  constexpr char kNewSecretKey[] = "RotatedSecretKey/0123456789abcdefghijklmn";
  StandinOptions standin_options = StandinWithTestKeys();
  standin_options.more_key_pairs.emplace_back(kNewAccessKey, kNewSecretKey);
  CodeArtsStandin standin(standin_options, SharedPki());
  const std::string file = testing::WriteTempFile(
      "credentials",
      absl::StrCat("HUAWEICLOUD_SDK_AK=", kAccessKey, "\nHUAWEICLOUD_SDK_SK=", kSecretKey, "\n"));
  GatewayOptions options;
  options.credentials_file = file;
  // Looked at on every call, so that the test needs no waiting for the check interval.
  options.credentials_check = milliseconds(0);
  GatewayUnderTest gateway(standin, options);

  // Traffic from four callers at once while the file is swapped under them.
  std::atomic<bool> stop_traffic{false};
  std::atomic<int> failures{0};
  std::atomic<int> calls{0};
  constexpr int kCallers = 4;
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      while (!stop_traffic) {
        const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
        if (!outcome.status.ok()) ++failures;
        ++calls;
      }
    });
  }
  ASSERT_TRUE(standin.WaitForRequests(20, seconds(20)));
  ReplaceFile(file, absl::StrCat("HUAWEICLOUD_SDK_AK=", kNewAccessKey,
                                 "\nHUAWEICLOUD_SDK_SK=", kNewSecretKey, "\n"));
  // Wait (bounded) until the new key shows up upstream, then let more calls through.
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  std::size_t first_new = 0;
  while (first_new == 0 && std::chrono::steady_clock::now() < deadline) {
    const std::size_t seen = standin.Requests().size();
    ASSERT_TRUE(standin.WaitForRequests(seen + 1, seconds(10)));
    const std::vector<RecordedRequest> requests = standin.Requests();
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (AccessKeyOf(requests[i]) == kNewAccessKey) {
        first_new = i + 1;
        break;
      }
    }
  }
  ASSERT_GT(first_new, 0u) << "the new key never reached the upstream";
  ASSERT_TRUE(standin.WaitForRequests(first_new + 40, seconds(20)));
  stop_traffic = true;
  for (auto& caller : callers) caller.join();

  EXPECT_EQ(failures.load(), 0) << "of " << calls.load() << " calls";
  const std::vector<RecordedRequest> requests = standin.Requests();
  // Every request was authentic; once the new key was in use, the old one never came back
  // (the calls of the other callers already signed when the swap was noticed may still arrive
  // with the old key, hence the margin of one per caller).
  std::size_t old_after_switch = 0;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    EXPECT_TRUE(requests[i].auth_ok) << requests[i].auth_error;
    if (i >= first_new + kCallers && AccessKeyOf(requests[i]) == kAccessKey) ++old_after_switch;
  }
  EXPECT_EQ(old_after_switch, 0u);
  const std::string m = gateway.Admin("/metrics").body;
  EXPECT_EQ(MetricValue(m, "codearts_gateway_credential_reloads_total"), 1) << m;
  EXPECT_EQ(MetricValue(m, "codearts_gateway_credential_reload_failures_total"), 0);

  // A broken file replaces it: the last good key stays in use, and the failure is counted.
  ReplaceFile(file, "HUAWEICLOUD_SDK_AK=only-half-of-a-pair\n");
  const std::size_t before_broken = standin.Requests().size();
  for (int i = 0; i < 10; ++i) {
    const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
    EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  }
  const std::vector<RecordedRequest> after = standin.Requests();
  for (std::size_t i = before_broken; i < after.size(); ++i) {
    EXPECT_EQ(AccessKeyOf(after[i]), kNewAccessKey);
  }
  const std::string m2 = gateway.Admin("/metrics").body;
  EXPECT_EQ(MetricValue(m2, "codearts_gateway_credential_reload_failures_total"), 1) << m2;
}

class ListenerTlsTest : public ::testing::Test {
 protected:
  static std::shared_ptr<grpc::ServerCredentials> ServerTls(bool require_client_cert) {
    const testing::TestPki& pki = SharedPki();
    grpc::SslServerCredentialsOptions options(
        require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    options.pem_key_cert_pairs.push_back({pki.server_key_pem, pki.server_cert_pem});
    if (require_client_cert) options.pem_root_certs = pki.ca_cert_pem;
    return grpc::SslServerCredentials(options);
  }
  static std::shared_ptr<grpc::ChannelCredentials> ClientTls(bool with_client_cert) {
    const testing::TestPki& pki = SharedPki();
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = pki.ca_cert_pem;
    if (with_client_cert) {
      options.pem_private_key = pki.client_key_pem;
      options.pem_cert_chain = pki.client_cert_pem;
    }
    return grpc::SslCredentials(options);
  }

  CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
};

TEST_F(ListenerTlsTest, TlsListenerServesATlsClient) {
  GatewayOptions options;
  options.listener_credentials = ServerTls(false);
  options.channel_credentials = ClientTls(false);
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
}

TEST_F(ListenerTlsTest, TlsListenerRefusesAPlaintextClient) {
  GatewayOptions options;
  options.listener_credentials = ServerTls(false);
  GatewayUnderTest gateway(standin_, options);
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId, seconds(3)).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(standin_.Requests().size(), 0u);
}

TEST_F(ListenerTlsTest, MutualTlsServesAClientWithACertificate) {
  GatewayOptions options;
  options.listener_credentials = ServerTls(true);
  options.channel_credentials = ClientTls(true);
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
}

TEST_F(ListenerTlsTest, MutualTlsRefusesAClientWithoutACertificate) {
  GatewayOptions options;
  options.listener_credentials = ServerTls(true);
  options.channel_credentials = ClientTls(false);
  GatewayUnderTest gateway(standin_, options);
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId, seconds(3)).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(standin_.Requests().size(), 0u);
}

// A Stop call carrying the given metadata.
grpc::Status StopWithMetadata(GatewayUnderTest& gateway,
                              const std::vector<std::pair<std::string, std::string>>& metadata) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  for (const auto& [key, value] : metadata) context.AddMetadata(key, value);
  pipeline::v1::StopRequest request;
  request.set_pipeline_id(kPipelineId);
  request.set_build_id(kBuildId);
  pipeline::v1::StopResponse response;
  return gateway.stub().Stop(&context, request, &response);
}

TEST(TraceContextE2eTest, TraceparentAndRequestIdReachCodeArtsUnsigned) {
  CodeArtsStandin standin(StandinWithTestKeys(), SharedPki());
  GatewayUnderTest gateway(standin);
  constexpr char kTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const grpc::Status traced = StopWithMetadata(gateway, {{"traceparent", kTraceparent},
                                                         {"tracestate", "vendor=opaque"},
                                                         {"x-request-id", "caller-req-0001"}});
  ASSERT_TRUE(traced.ok()) << traced.error_message();
  const grpc::Status invalid = StopWithMetadata(
      gateway, {{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
                {"x-request-id", "has space"}});
  ASSERT_TRUE(invalid.ok()) << invalid.error_message();
  const std::vector<RecordedRequest> requests = standin.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(requests[0].auth_ok) << requests[0].auth_error;
  EXPECT_EQ(requests[0].Header("traceparent"), kTraceparent);
  EXPECT_EQ(requests[0].Header("tracestate"), "vendor=opaque");
  EXPECT_EQ(requests[0].Header("X-Request-Id"), "caller-req-0001");
  const std::string authorization = requests[0].Header("Authorization").value_or("");
  EXPECT_EQ(authorization.find("traceparent"), std::string::npos) << authorization;
  EXPECT_EQ(authorization.find("x-request-id"), std::string::npos) << authorization;
  // Invalid values are dropped, and the call still succeeds.
  EXPECT_TRUE(requests[1].auth_ok);
  EXPECT_FALSE(requests[1].Header("traceparent").has_value());
  EXPECT_FALSE(requests[1].Header("X-Request-Id").has_value());
}

}  // namespace
}  // namespace codearts::e2e
