#include "e2e/gateway_fixture.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "upstream/endpoint.h"

namespace codearts::e2e {

const testing::TestPki& SharedPki() {
  static const testing::TestPki* pki = new testing::TestPki(testing::TestPki::Generate());
  return *pki;
}

testing::StandinOptions StandinWithTestKeys() {
  testing::StandinOptions options;
  options.access_key = kAccessKey;
  options.secret_key = kSecretKey;
  options.valid_token = kValidToken;
  return options;
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

testing::StandinReply Reply(unsigned status, std::string body) {
  testing::StandinReply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

testing::StandinHandler DelayedDefaultReply(testing::CodeArtsStandin& standin,
                                            std::chrono::milliseconds delay) {
  return [&standin, delay](const testing::RecordedRequest& request) {
    testing::StandinReply reply = standin.DefaultReply(request);
    reply.delay = delay;
    return reply;
  };
}

testing::StandinHandler GatedDefaultReply(testing::CodeArtsStandin& standin,
                                          std::shared_ptr<testing::ReplyGate> gate) {
  return [&standin, gate = std::move(gate)](const testing::RecordedRequest& request) {
    testing::StandinReply reply = standin.DefaultReply(request);
    reply.gate = gate;
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

GatewayUnderTest::GatewayUnderTest(testing::CodeArtsStandin& standin,
                                   const GatewayOptions& options) {
  static const std::string* ca_file =
      new std::string(testing::WriteTempFile("ca.pem", SharedPki().ca_cert_pem));
  app::GatewaySettings settings;
  settings.service =
      options.service != nullptr
          ? options.service
          : pipeline::v1::StopRequest::descriptor()->file()->FindServiceByName("PipelineService");
  auto endpoint =
      upstream::ParseEndpoint(options.endpoint.empty() ? standin.endpoint() : options.endpoint);
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  if (endpoint.ok()) settings.endpoint = *endpoint;
  settings.ca_file = options.ca_file.value_or(*ca_file);
  settings.client.pool.max_connections = options.max_connections;
  settings.client.pool.connect_timeout = options.connect_timeout;
  settings.client.retry = options.retry;
  settings.credentials_file = options.credentials_file;
  settings.credentials_check = options.credentials_check;
  if (!options.access_key.empty()) {
    settings.credentials = std::make_shared<auth::AkSkCredentials>(
        auth::AkSkCredentials{options.access_key, options.secret_key, options.security_token, ""});
  }
  if (!options.iam_region.empty() && endpoint.ok()) {
    settings.iam = app::IamSettings{.endpoint = *endpoint,
                                    .lookup = {.region = options.iam_region,
                                               .user_agent = "codearts-gateway/test",
                                               .check_interval = std::chrono::milliseconds(50),
                                               .first_retry = options.iam_first_retry,
                                               .max_retry = options.iam_first_retry}};
  }
  settings.service_options.request = {.project_id = options.project_id,
                                      .user_agent = "codearts-gateway/test"};
  settings.service_options.upstream_timeout = options.upstream_timeout;
  settings.service_options.max_in_flight = options.max_in_flight;
  settings.listen.address = "127.0.0.1:0";
  settings.listen.credentials = options.listener_credentials;
  if (options.health_listener) settings.listen.health_address = "127.0.0.1:0";
  settings.admin_listen = "127.0.0.1:0";
  settings.version = "test";
  settings.poll_clock = options.poll_clock;
  auto gateway = app::Gateway::Create(std::move(settings));
  if (!gateway.ok()) {
    ADD_FAILURE() << gateway.status();
    std::abort();  // every test here needs the gateway
  }
  gateway_ = *std::move(gateway);
  const absl::Status started = gateway_->Start();
  EXPECT_TRUE(started.ok()) << started;
  address_ = absl::StrCat("127.0.0.1:", gateway_->port());
  channel_ = grpc::CreateChannel(address_, options.channel_credentials
                                               ? options.channel_credentials
                                               : grpc::InsecureChannelCredentials());
  stub_ = pipeline::v1::PipelineService::NewStub(channel_);
}

GatewayUnderTest::~GatewayUnderTest() {
  gateway_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

AdminReply GatewayUnderTest::Admin(const std::string& path) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(admin_port())});
  http::request<http::empty_body> request(http::verb::get, path, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return {response.result_int(), response.body()};
}

double MetricValue(const std::string& exposition, const std::string& name,
                   const std::string& labels) {
  const std::string prefix = labels.empty() ? name + " " : absl::StrCat(name, "{", labels, "} ");
  std::size_t at = 0;
  while ((at = exposition.find(prefix, at)) != std::string::npos) {
    if (at == 0 || exposition[at - 1] == '\n') {
      const std::size_t end = exposition.find('\n', at);
      return std::stod(exposition.substr(at + prefix.size(), end - at - prefix.size()));
    }
    at += prefix.size();
  }
  return -1;
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

void ReplaceFile(const std::string& path, const std::string& contents) {
  const std::string staging = testing::WriteTempFile("staged", contents);
  ASSERT_EQ(std::rename(staging.c_str(), path.c_str()), 0) << path;
}

std::string AccessKeyOf(const testing::RecordedRequest& request) {
  const std::string authorization = request.Header("Authorization").value_or("");
  const std::size_t at = authorization.find("Access=");
  if (at == std::string::npos) return {};
  const std::size_t end = authorization.find(',', at);
  return authorization.substr(at + 7, end - at - 7);
}

}  // namespace codearts::e2e
