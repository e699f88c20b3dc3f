#include "standin/standin.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/clock.h"
#include "auth/signer.h"

namespace codearts::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

// Generous: they bound how long a broken build takes to fail, not how long a passing one takes.
constexpr std::chrono::seconds kIoTimeout{10};
constexpr std::chrono::milliseconds kWaitTimeout{10'000};
constexpr std::chrono::hours kForever{1};

constexpr std::string_view kAccessKey = "TESTAKSTANDIN0000001";
constexpr std::string_view kSecretKey = "test-secret-key-for-the-stand-in";
constexpr std::string_view kToken = "test-token-0123456789";

// A small HTTPS client that trusts the test CA. Each call runs its own io_context until the
// operation is done; every operation carries a timeout, so no call can hang.
class TestClient {
 public:
  TestClient(const TestPki& pki, std::uint16_t port)
      : tls_(asio::ssl::context::tls_client), port_(port) {
    tls_.add_certificate_authority(asio::buffer(pki.ca_cert_pem));
    tls_.set_verify_mode(asio::ssl::verify_peer);
  }

  error_code Connect() { return Run(DoConnect()); }

  error_code Send(Request request) { return Run(DoSend(std::move(request))); }

  std::pair<error_code, Response> Receive() { return Run(DoReceive()); }

  /// Send then Receive; an error makes the response status 0.
  Response RoundTrip(Request request) {
    if (const error_code ec = Send(std::move(request))) {
      ADD_FAILURE() << "send failed: " << ec.message();
      return {};
    }
    auto [ec, response] = Receive();
    if (ec) ADD_FAILURE() << "receive failed: " << ec.message();
    return response;
  }

  /// Closes the TCP socket without a TLS close_notify, as a cancelled gateway call does.
  void Abort() {
    error_code ignored;
    beast::get_lowest_layer(*stream_).socket().close(ignored);
  }

 private:
  template <typename T>
  T Run(asio::awaitable<T> operation) {
    std::future<T> result = asio::co_spawn(io_, std::move(operation), asio::use_future);
    io_.restart();
    io_.run();
    return result.get();
  }

  asio::awaitable<error_code> DoConnect() {
    stream_.emplace(io_, tls_);
    beast::tcp_stream& transport = beast::get_lowest_layer(*stream_);
    transport.expires_after(kIoTimeout);
    auto [connect_ec] = co_await transport.async_connect(
        asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port_), kAsTuple);
    if (connect_ec) co_return connect_ec;
    stream_->set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
    transport.expires_after(kIoTimeout);
    auto [handshake_ec] =
        co_await stream_->async_handshake(asio::ssl::stream_base::client, kAsTuple);
    co_return handshake_ec;
  }

  asio::awaitable<error_code> DoSend(Request request) {
    beast::get_lowest_layer(*stream_).expires_after(kIoTimeout);
    auto [ec, bytes] = co_await http::async_write(*stream_, request, kAsTuple);
    co_return ec;
  }

  asio::awaitable<std::pair<error_code, Response>> DoReceive() {
    beast::get_lowest_layer(*stream_).expires_after(kIoTimeout);
    Response response;
    auto [ec, bytes] = co_await http::async_read(*stream_, buffer_, response, kAsTuple);
    co_return std::make_pair(ec, std::move(response));
  }

  asio::io_context io_;
  asio::ssl::context tls_;
  const std::uint16_t port_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

std::string Host(std::uint16_t port) { return absl::StrCat("127.0.0.1:", port); }

// A Stop call signed the way the gateway signs it.
Request SignedStopRequest(
    std::uint16_t port, std::string_view secret_key,
    std::chrono::system_clock::time_point signed_at = std::chrono::system_clock::now()) {
  const std::string path = "/v3/pipelines/0123456789abcdef/stop";
  const std::vector<auth::NameValue> query = {{"build_id", "build 7"}};
  Request request{http::verb::post, absl::StrCat(path, "?", auth::CanonicalQueryString(query)), 11};
  const std::string sdk_date = auth::FormatSdkDate(signed_at);
  request.set(http::field::host, Host(port));
  request.set(http::field::content_type, "application/json");
  request.set(auth::kSdkDateHeader, sdk_date);
  request.set(http::field::user_agent, "standin-test");  // deliberately not signed
  request.body() = "{}";
  request.prepare_payload();

  const auth::SigningRequest signing{"POST",
                                     path,
                                     query,
                                     {{"Host", Host(port)},
                                      {"Content-Type", "application/json"},
                                      {std::string(auth::kSdkDateHeader), sdk_date}},
                                     request.body()};
  const absl::StatusOr<auth::SignatureParts> signature =
      auth::SignSdkHmacSha256(signing, kAccessKey, secret_key);
  EXPECT_TRUE(signature.ok()) << signature.status();
  if (signature.ok()) request.set(http::field::authorization, signature->authorization);
  return request;
}

Request TokenRequest(std::uint16_t port, http::verb method, std::string_view target,
                     std::string_view token) {
  Request request{method, target, 11};
  request.set(http::field::host, Host(port));
  request.set("X-Auth-Token", token);
  request.prepare_payload();
  return request;
}

// ---------------------------------------------------------------------------------------------
// The PKI

struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using CertPtr = std::unique_ptr<X509, X509Deleter>;

CertPtr ParseCert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return CertPtr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// X509_V_OK or the reason `cert` does not chain to `ca`.
int VerifyAgainst(const std::string& ca_pem, const std::string& cert_pem) {
  const CertPtr ca = ParseCert(ca_pem);
  const CertPtr cert = ParseCert(cert_pem);
  if (ca == nullptr || cert == nullptr) return -1;
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> context(X509_STORE_CTX_new(),
                                                                          &X509_STORE_CTX_free);
  X509_STORE_CTX_init(context.get(), store.get(), cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(context.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(context.get());
}

bool MatchesHost(const std::string& cert_pem, const std::string& host) {
  const CertPtr cert = ParseCert(cert_pem);
  return X509_check_host(cert.get(), host.data(), host.size(), 0, nullptr) == 1;
}

bool MatchesIp(const std::string& cert_pem, const std::string& ip) {
  const CertPtr cert = ParseCert(cert_pem);
  return X509_check_ip_asc(cert.get(), ip.c_str(), 0) == 1;
}

TEST(TestPkiTest, ServerCertificateVerifiesAgainstTheCaForEveryLoopbackName) {
  const TestPki pki = TestPki::Generate();
  EXPECT_EQ(VerifyAgainst(pki.ca_cert_pem, pki.server_cert_pem), X509_V_OK);
  EXPECT_TRUE(MatchesHost(pki.server_cert_pem, "localhost"));
  EXPECT_TRUE(MatchesIp(pki.server_cert_pem, "127.0.0.1"));
  EXPECT_TRUE(MatchesIp(pki.server_cert_pem, "::1"));
  EXPECT_TRUE(absl::StartsWith(pki.server_key_pem, "-----BEGIN PRIVATE KEY-----"));
}

TEST(TestPkiTest, EachBadCertificateFailsForItsOwnReason) {
  const TestPki pki = TestPki::Generate();

  EXPECT_EQ(VerifyAgainst(pki.ca_cert_pem, pki.wrong_host_cert_pem), X509_V_OK);
  EXPECT_FALSE(MatchesHost(pki.wrong_host_cert_pem, "localhost"));
  EXPECT_FALSE(MatchesIp(pki.wrong_host_cert_pem, "127.0.0.1"));
  EXPECT_TRUE(MatchesHost(pki.wrong_host_cert_pem, "wrong.example.invalid"));

  EXPECT_EQ(VerifyAgainst(pki.ca_cert_pem, pki.expired_cert_pem), X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_TRUE(MatchesIp(pki.expired_cert_pem, "127.0.0.1"));

  EXPECT_EQ(VerifyAgainst(pki.ca_cert_pem, pki.untrusted_cert_pem),
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  EXPECT_TRUE(MatchesIp(pki.untrusted_cert_pem, "127.0.0.1"));
}

TEST(TestPkiTest, EachGenerationIsFresh) {
  EXPECT_NE(TestPki::Generate().ca_cert_pem, TestPki::Generate().ca_cert_pem);
}

// ---------------------------------------------------------------------------------------------
// The server

class StandinTest : public ::testing::Test {
 protected:
  static StandinOptions Options() {
    StandinOptions options;
    options.access_key = std::string(kAccessKey);
    options.secret_key = std::string(kSecretKey);
    options.valid_token = std::string(kToken);
    return options;
  }

  std::unique_ptr<TestClient> ConnectedClient() {
    auto client = std::make_unique<TestClient>(pki_, standin_->port());
    const error_code ec = client->Connect();
    EXPECT_FALSE(ec) << ec.message();
    return client;
  }

  const TestPki pki_ = TestPki::Generate();
  std::unique_ptr<CodeArtsStandin> standin_ = std::make_unique<CodeArtsStandin>(Options(), pki_);
};

TEST_F(StandinTest, EndpointNamesTheLoopbackPort) {
  EXPECT_NE(standin_->port(), 0);
  EXPECT_EQ(standin_->endpoint(), absl::StrCat("https://127.0.0.1:", standin_->port()));
}

TEST_F(StandinTest, CorrectlySignedStopIsAnsweredAndRecorded) {
  const std::unique_ptr<TestClient> client = ConnectedClient();
  const Response response = client->RoundTrip(SignedStopRequest(standin_->port(), kSecretKey));

  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(),
            R"({"pipeline_id":"0123456789abcdef","pipeline_name":"pipeline-01234567"})");
  EXPECT_EQ(response[http::field::content_type], "application/json");
  const std::string request_id(response["X-Request-Id"]);
  EXPECT_EQ(request_id.size(), 32u);
  EXPECT_TRUE(std::all_of(request_id.begin(), request_id.end(), [](char c) {
    return absl::ascii_isxdigit(c);
  })) << request_id;

  ASSERT_TRUE(standin_->WaitForRequests(1, kWaitTimeout));
  const std::vector<RecordedRequest> requests = standin_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  const RecordedRequest& request = requests[0];
  EXPECT_TRUE(request.auth_ok) << request.auth_error;
  EXPECT_EQ(request.auth_error, "");
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v3/pipelines/0123456789abcdef/stop?build_id=build%207");
  EXPECT_EQ(request.path, "/v3/pipelines/0123456789abcdef/stop");
  EXPECT_EQ(request.query,
            (std::vector<std::pair<std::string, std::string>>{{"build_id", "build 7"}}));
  EXPECT_EQ(request.body, "{}");
  EXPECT_EQ(request.connection_id, 1u);
  EXPECT_EQ(request.Header("user-agent"), "standin-test");
  EXPECT_EQ(request.Header("HOST"), Host(standin_->port()));
  EXPECT_EQ(request.Header("X-Absent"), std::nullopt);
}

TEST_F(StandinTest, WrongSecretKeyGetsApigAuthError) {
  const std::unique_ptr<TestClient> client = ConnectedClient();
  const Response response =
      client->RoundTrip(SignedStopRequest(standin_->port(), "not-the-secret-key"));

  EXPECT_EQ(response.result_int(), 401u);
  EXPECT_EQ(response.body(),
            R"({"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication )"
            R"(information: signature mismatch"})");
  ASSERT_TRUE(standin_->WaitForRequests(1, kWaitTimeout));
  const RecordedRequest request = standin_->Requests().at(0);
  EXPECT_FALSE(request.auth_ok);
  EXPECT_TRUE(absl::StartsWith(request.auth_error, "signature mismatch")) << request.auth_error;
}

TEST_F(StandinTest, StaleSdkDateGetsApigAuthError) {
  const std::unique_ptr<TestClient> client = ConnectedClient();
  const Response response = client->RoundTrip(SignedStopRequest(
      standin_->port(), kSecretKey, std::chrono::system_clock::now() - std::chrono::hours(1)));

  EXPECT_EQ(response.result_int(), 401u);
  EXPECT_TRUE(absl::StrContains(response.body(), "APIGW.0301")) << response.body();
  EXPECT_TRUE(absl::StrContains(response.body(), "X-Sdk-Date is 3600 s away")) << response.body();
}

TEST_F(StandinTest, OnlyTheValidTokenIsAccepted) {
  const std::unique_ptr<TestClient> client = ConnectedClient();
  const std::string target = "/v3/pipelines/abc/stop?build_id=1";
  EXPECT_EQ(client->RoundTrip(TokenRequest(standin_->port(), http::verb::post, target, kToken))
                .result_int(),
            200u);
  const Response refused =
      client->RoundTrip(TokenRequest(standin_->port(), http::verb::post, target, "expired-token"));
  EXPECT_EQ(refused.result_int(), 401u);
  EXPECT_TRUE(absl::StrContains(refused.body(), "APIGW.0301")) << refused.body();
}

TEST_F(StandinTest, DefaultReplyMapsTheStopRouteErrors) {
  const std::unique_ptr<TestClient> client = ConnectedClient();
  const auto post = [&](std::string_view target) {
    return client->RoundTrip(TokenRequest(standin_->port(), http::verb::post, target, kToken));
  };

  const Response no_build = post("/v3/pipelines/abc/stop");
  EXPECT_EQ(no_build.result_int(), 400u);
  EXPECT_EQ(no_build.body(),
            R"({"error_code":"DEVPIPE.00011104","error_msg":"build_id is required"})");

  const Response no_pipeline = post("/v3/pipelines/missing-42/stop?build_id=1");
  EXPECT_EQ(no_pipeline.result_int(), 404u);
  EXPECT_EQ(no_pipeline.body(),
            R"({"error_code":"DEVPIPE.00011401","error_msg":"pipeline not found"})");

  const Response no_api = post("/v3/pipelines/abc/pause?build_id=1");
  EXPECT_EQ(no_api.result_int(), 404u);
  EXPECT_TRUE(absl::StrContains(no_api.body(), R"("error_code":"APIGW.0101")")) << no_api.body();
}

TEST_F(StandinTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::unique_ptr<TestClient> client = ConnectedClient();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(client->RoundTrip(SignedStopRequest(standin_->port(), kSecretKey)).result_int(),
              200u);
  }
  ASSERT_TRUE(standin_->WaitForRequests(3, kWaitTimeout));
  for (const RecordedRequest& request : standin_->Requests()) {
    EXPECT_EQ(request.connection_id, 1u);
  }
  EXPECT_EQ(standin_->ConnectionsAccepted(), 1u);
  EXPECT_EQ(standin_->ConnectionsClosed(), 0u);
}

TEST_F(StandinTest, ClientDisconnectIsCounted) {
  const std::unique_ptr<TestClient> client = ConnectedClient();
  EXPECT_EQ(client->RoundTrip(SignedStopRequest(standin_->port(), kSecretKey)).result_int(), 200u);
  EXPECT_EQ(standin_->ConnectionsClosed(), 0u);
  client->Abort();
  EXPECT_TRUE(standin_->WaitForConnectionsClosed(1, kWaitTimeout));
  EXPECT_EQ(standin_->ConnectionsAccepted(), 1u);
}

TEST_F(StandinTest, ClientDisconnectDuringReplyDelayIsNoticed) {
  standin_->SetHandler([](const RecordedRequest&) {
    StandinReply reply;
    reply.delay = kForever;
    return reply;
  });
  const std::unique_ptr<TestClient> client = ConnectedClient();
  ASSERT_FALSE(client->Send(SignedStopRequest(standin_->port(), kSecretKey)));
  ASSERT_TRUE(standin_->WaitForRequests(1, kWaitTimeout));
  client->Abort();
  EXPECT_TRUE(standin_->WaitForConnectionsClosed(1, kWaitTimeout));
}

TEST_F(StandinTest, DestructionDoesNotWaitForADelayedReply) {
  standin_->SetHandler([](const RecordedRequest&) {
    StandinReply reply;
    reply.delay = kForever;
    return reply;
  });
  const std::unique_ptr<TestClient> client = ConnectedClient();
  ASSERT_FALSE(client->Send(SignedStopRequest(standin_->port(), kSecretKey)));
  ASSERT_TRUE(standin_->WaitForRequests(1, kWaitTimeout));
  standin_.reset();
  const auto [ec, response] = client->Receive();
  EXPECT_EQ(ec, asio::ssl::error::stream_truncated) << ec.message();
}

TEST_F(StandinTest, CloseFaultClosesWithoutAnyReply) {
  standin_->SetHandler([](const RecordedRequest&) {
    StandinReply reply;
    reply.fault = StandinReply::Fault::kCloseWithoutReply;
    return reply;
  });
  const std::unique_ptr<TestClient> client = ConnectedClient();
  ASSERT_FALSE(client->Send(SignedStopRequest(standin_->port(), kSecretKey)));
  const auto [ec, response] = client->Receive();
  EXPECT_EQ(ec, asio::ssl::error::stream_truncated) << ec.message();
  EXPECT_TRUE(standin_->WaitForConnectionsClosed(1, kWaitTimeout));
}

TEST_F(StandinTest, ResetFaultResetsTheConnection) {
  standin_->SetHandler([](const RecordedRequest&) {
    StandinReply reply;
    reply.fault = StandinReply::Fault::kResetWithoutReply;
    return reply;
  });
  const std::unique_ptr<TestClient> client = ConnectedClient();
  ASSERT_FALSE(client->Send(SignedStopRequest(standin_->port(), kSecretKey)));
  const auto [ec, response] = client->Receive();
  EXPECT_EQ(ec, asio::error::connection_reset) << ec.message();
}

TEST_F(StandinTest, ScriptedReplyIsSentAfterItsDelayAndCanCloseTheConnection) {
  standin_->SetHandler([this](const RecordedRequest& request) {
    if (request.target != "/slow") return standin_->DefaultReply(request);
    StandinReply reply;
    reply.status = 503;
    reply.headers.emplace_back("X-Request-Id", "scripted");
    reply.body = R"({"error_code":"DEVPIPE.00011500","error_msg":"busy"})";
    reply.delay = std::chrono::milliseconds(50);
    reply.close_after = true;
    return reply;
  });
  const std::unique_ptr<TestClient> client = ConnectedClient();
  const Response response =
      client->RoundTrip(TokenRequest(standin_->port(), http::verb::get, "/slow", kToken));
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(response["X-Request-Id"], "scripted");
  EXPECT_EQ(response[http::field::content_type], "application/json");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(standin_->WaitForConnectionsClosed(1, kWaitTimeout));
}

TEST_F(StandinTest, HandlerCanScriptATruncatedBody) {
  standin_->SetHandler([](const RecordedRequest&) {
    StandinReply reply;
    reply.headers.emplace_back("Content-Length", "100");
    reply.body = R"({"pipeline_id":)";
    reply.close_after = true;
    return reply;
  });
  const std::unique_ptr<TestClient> client = ConnectedClient();
  ASSERT_FALSE(client->Send(SignedStopRequest(standin_->port(), kSecretKey)));
  const auto [ec, response] = client->Receive();
  EXPECT_EQ(ec, http::error::partial_message) << ec.message();
}

TEST_F(StandinTest, ServerPresentsTheChosenCertificate) {
  StandinOptions options = Options();
  options.cert = ServerCert::kWrongHost;
  CodeArtsStandin wrong_host(options, pki_);
  TestClient client(pki_, wrong_host.port());
  const error_code ec = client.Connect();
  EXPECT_TRUE(ec);
  EXPECT_TRUE(wrong_host.WaitForConnectionsClosed(1, kWaitTimeout));
  EXPECT_EQ(wrong_host.Requests().size(), 0u);
}

TEST(WriteTempFileTest, WritesTheContentsToAFreshFile) {
  const std::string first = WriteTempFile("ca.pem", "one");
  const std::string second = WriteTempFile("ca.pem", "two");
  EXPECT_NE(first, second);
  EXPECT_TRUE(absl::EndsWith(first, "/ca.pem"));
  std::ifstream in(first);
  const std::string contents((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(contents, "one");
  for (const std::string& path : {first, second}) {
    std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  }
}

}  // namespace
}  // namespace codearts::testing
