#ifndef CODEARTS_TESTS_E2E_GATEWAY_FIXTURE_H_
#define CODEARTS_TESTS_E2E_GATEWAY_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/gateway.h"
#include "codearts/pipeline/v1/pipeline.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "standin/pki.h"
#include "standin/standin.h"
#include "upstream/https_client.h"

namespace codearts::e2e {

inline constexpr char kAccessKey[] = "HPUAEXAMPLEAKID12345";
inline constexpr char kSecretKey[] = "ExampleSecretKey/+=0123456789abcdefghijkl";
inline constexpr char kValidToken[] = "MIIEXAMPLEiamTOKEN+/=";
inline constexpr char kProjectId[] = "0123456789abcdef0123456789abcdef";
inline constexpr char kPipelineId[] = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
inline constexpr char kBuildId[] = "3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b";

/// The PKI is generated once per test binary: key generation is the slow part.
const testing::TestPki& SharedPki();

/// A stand-in that accepts kAccessKey/kSecretKey and kValidToken.
testing::StandinOptions StandinWithTestKeys();

struct GatewayOptions {
  /// Empty: AK/SK not configured.
  std::string access_key = kAccessKey;
  std::string secret_key = kSecretKey;
  std::string security_token;
  std::string project_id = kProjectId;
  /// Overrides the stand-in's endpoint when set (e.g. a closed port).
  std::string endpoint;
  /// Empty: trust the test CA.
  std::optional<std::string> ca_file;
  std::chrono::milliseconds upstream_timeout{30000};
  std::size_t max_connections = 8;
  std::chrono::milliseconds connect_timeout{5000};
  int max_in_flight = 1000;
  upstream::RetryOptions retry;
  /// When set, AK/SK come from this file (checked for changes every `credentials_check`)
  /// instead of access_key/secret_key.
  std::string credentials_file;
  std::chrono::milliseconds credentials_check{1000};
  /// TLS on the gRPC listener (the channel then uses `channel_credentials`).
  std::shared_ptr<grpc::ServerCredentials> listener_credentials;
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials;
  /// Adds the health-only listener on 127.0.0.1:0.
  bool health_listener = false;
  /// When set, the project id is looked up from IAM for this region, IAM being the stand-in
  /// (its handler answers `GET /v3/projects`); failed lookups are retried after
  /// `iam_first_retry`.
  std::string iam_region;
  std::chrono::milliseconds iam_first_retry{10};
  /// The service served; PipelineService when null.
  const google::protobuf::ServiceDescriptor* service = nullptr;
  /// When watch polls run (e.g. a ManualPollClock the test drives); null: real time.
  service::PollClock* poll_clock = nullptr;
};

/// An HTTP answer from the admin endpoint.
struct AdminReply {
  unsigned status = 0;
  std::string body;
};

/// What a Stop call returned, with its trailing metadata.
struct StopOutcome {
  grpc::Status status;
  pipeline::v1::StopResponse response;
  std::string request_id;
  std::optional<google::rpc::ErrorInfo> error_info;
};

/// A gateway built by the function main.cc builds it with (app::Gateway::Create), in process,
/// on 127.0.0.1:0, in front of a CodeArts stand-in, with a real gRPC channel to it.
class GatewayUnderTest {
 public:
  GatewayUnderTest(testing::CodeArtsStandin& standin, const GatewayOptions& options = {});
  ~GatewayUnderTest();

  pipeline::v1::PipelineService::Stub& stub() { return *stub_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  std::string address() const { return address_; }
  upstream::HttpsClient& client() { return gateway_->client(); }
  service::GatewayServer& server() { return gateway_->server(); }
  service::CallContext& context() { return gateway_->context(); }
  int admin_port() const { return gateway_->admin_port(); }

  /// GET `path` from the admin endpoint (a fresh HTTP/1.1 connection).
  AdminReply Admin(const std::string& path);

  /// A Stop call with a deadline (every call in these tests has one).
  StopOutcome Stop(const std::string& pipeline_id, const std::string& build_id,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10),
                   const std::string& token = "");

 private:
  std::unique_ptr<app::Gateway> gateway_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pipeline::v1::PipelineService::Stub> stub_;
};

/// One unary call of PipelineService through `stub` with a 10 s deadline, like every call here:
///   CallPipeline(gateway.stub(), &PipelineService::Stub::GetStatus, request, &response)
template <typename Request, typename Response>
grpc::Status CallPipeline(pipeline::v1::PipelineService::Stub& stub,
                          grpc::Status (pipeline::v1::PipelineService::Stub::*rpc)(
                              grpc::ClientContext*, const Request&, Response*),
                          const Request& request, Response* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return (stub.*rpc)(&context, request, response);
}

/// Decodes the google.rpc.ErrorInfo carried in `status`' details, if any.
std::optional<google::rpc::ErrorInfo> ErrorInfoOf(const grpc::Status& status);

/// A reply with `status` and `body` (JSON bodies get their Content-Type from the stand-in).
testing::StandinReply Reply(unsigned status, std::string body);

/// A stand-in handler that answers as CodeArts would, but only after `delay`.
testing::StandinHandler DelayedDefaultReply(testing::CodeArtsStandin& standin,
                                            std::chrono::milliseconds delay);

/// A stand-in handler that answers as CodeArts would once `gate` is open.
testing::StandinHandler GatedDefaultReply(testing::CodeArtsStandin& standin,
                                          std::shared_ptr<testing::ReplyGate> gate);

/// The value of the sample `name{labels}` in Prometheus text `exposition` (labels as written,
/// e.g. `method="Stop",code="OK"`), or -1 when absent.
double MetricValue(const std::string& exposition, const std::string& name,
                   const std::string& labels = "");

/// Replaces `path` atomically, as the kubelet swaps a Secret volume's files.
void ReplaceFile(const std::string& path, const std::string& contents);

/// The access key an SDK-HMAC-SHA256 request was signed with ("" when none).
std::string AccessKeyOf(const testing::RecordedRequest& request);

/// A loopback port where nothing listens (it was free a moment ago).
std::uint16_t ClosedPort();

/// A Stop call left in flight, for tests that cancel it or race it against something.
struct PendingStop {
  grpc::ClientContext context;
  pipeline::v1::StopRequest request;
  pipeline::v1::StopResponse response;
  std::promise<grpc::Status> done;
};
/// Starts Stop(kPipelineId, kBuildId) with a deadline `timeout` away; `done` gets the status.
std::unique_ptr<PendingStop> StartStop(pipeline::v1::PipelineService::Stub& stub,
                                       std::chrono::milliseconds timeout);

}  // namespace codearts::e2e

#endif  // CODEARTS_TESTS_E2E_GATEWAY_FIXTURE_H_
