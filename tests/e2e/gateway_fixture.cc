#include "e2e/gateway_fixture.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "upstream/endpoint.h"
#include "upstream/tls_context.h"

namespace codearts::e2e {

const testing::TestPki& SharedPki() {
  static const testing::TestPki* pki = new testing::TestPki(testing::TestPki::Generate());
  return *pki;
}

std::optional<google::rpc::ErrorInfo> ErrorInfoOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return std::nullopt;
  }
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  return std::nullopt;
}

testing::StandinHandler DelayedDefaultReply(testing::CodeArtsStandin& standin,
                                            std::chrono::milliseconds delay) {
  return [&standin, delay](const testing::RecordedRequest& request) {
    testing::StandinReply reply = standin.DefaultReply(request);
    reply.delay = delay;
    return reply;
  };
}

std::uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();  // closed when `probe` goes
}

std::unique_ptr<PendingStop> StartStop(pipeline::v1::PipelineService::Stub& stub,
                                       std::chrono::milliseconds timeout) {
  auto call = std::make_unique<PendingStop>();
  call->context.set_deadline(std::chrono::system_clock::now() + timeout);
  call->request.set_pipeline_id(kPipelineId);
  call->request.set_build_id(kBuildId);
  PendingStop* raw = call.get();
  stub.async()->Stop(&raw->context, &raw->request, &raw->response,
                     [raw](const grpc::Status& status) { raw->done.set_value(status); });
  return call;
}

GatewayUnderTest::GatewayUnderTest(testing::CodeArtsStandin& standin, const GatewayOptions& options)
    : work_(boost::asio::make_work_guard(io_)) {
  static const std::string* ca_file =
      new std::string(testing::WriteTempFile("ca.pem", SharedPki().ca_cert_pem));
  auto tls = upstream::MakeClientTlsContext(options.ca_file.value_or(*ca_file));
  EXPECT_TRUE(tls.ok()) << tls.status();
  tls_ = std::move(*tls);

  auto endpoint =
      upstream::ParseEndpoint(options.endpoint.empty() ? standin.endpoint() : options.endpoint);
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  upstream::ClientOptions client_options;
  client_options.pool.max_connections = options.max_connections;
  client_options.retry = options.retry;
  client_ = std::make_unique<upstream::HttpsClient>(io_, *tls_, *endpoint, client_options);

  std::shared_ptr<const auth::AkSkCredentials> ak_sk;
  if (!options.access_key.empty()) {
    ak_sk = std::make_shared<auth::AkSkCredentials>(
        auth::AkSkCredentials{options.access_key, options.secret_key, options.security_token, ""});
  }
  credentials_ = std::make_unique<auth::StaticCredentialSource>(ak_sk);
  service::ServiceOptions service_options;
  service_options.request = {.project_id = options.project_id,
                             .user_agent = "codearts-gateway/test"};
  service_options.upstream_timeout = options.upstream_timeout;
  service_options.max_in_flight = options.max_in_flight;
  context_ =
      std::make_unique<service::CallContext>(io_, *client_, *credentials_, clock_, service_options);
  io_threads_.emplace_back([this] { io_.run(); });

  server_ = std::make_unique<service::GatewayServer>(*context_);
  const absl::Status started = server_->Start("127.0.0.1:0");
  EXPECT_TRUE(started.ok()) << started;
  address_ = absl::StrCat("127.0.0.1:", server_->port());
  channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  stub_ = pipeline::v1::PipelineService::NewStub(channel_);
}

GatewayUnderTest::~GatewayUnderTest() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_.reset();
  work_.reset();
  io_.stop();
  for (auto& thread : io_threads_) thread.join();
  client_.reset();
}

StopOutcome GatewayUnderTest::Stop(const std::string& pipeline_id, const std::string& build_id,
                                   std::chrono::milliseconds timeout, const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!token.empty()) context.AddMetadata("x-auth-token", token);
  pipeline::v1::StopRequest request;
  request.set_pipeline_id(pipeline_id);
  request.set_build_id(build_id);
  StopOutcome outcome;
  outcome.status = stub_->Stop(&context, request, &outcome.response);
  const auto& trailers = context.GetServerTrailingMetadata();
  if (auto it = trailers.find("x-request-id"); it != trailers.end()) {
    outcome.request_id = std::string(it->second.data(), it->second.size());
  }
  outcome.error_info = ErrorInfoOf(outcome.status);
  return outcome;
}

}  // namespace codearts::e2e
