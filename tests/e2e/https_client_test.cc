// The upstream HTTPS client and its pool on their own (no gRPC): concurrency across strands and
// I/O threads, the connection cap, pool waits bounded by the deadline, cancellation, and limits.
// This is the part of the gateway where its own threads meet, so it is what TSan is run on.
#include "upstream/https_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "e2e/gateway_fixture.h"
#include "upstream/tls_context.h"
#include "upstream/tls_stream.h"

namespace codearts::e2e {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CodeArtsStandin;
using ::testing::ElementsAre;
using testing::RecordedRequest;
using testing::StandinReply;

class HttpsClientTest : public ::testing::Test {
 protected:
  void StartClient(std::size_t max_connections, int threads = 2) {
    auto tls =
        upstream::MakeClientTlsContext(testing::WriteTempFile("ca.pem", SharedPki().ca_cert_pem));
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = std::move(*tls);
    auto endpoint = upstream::ParseEndpoint(upstream().endpoint());
    ASSERT_TRUE(endpoint.ok());
    upstream::ClientOptions options = options_;
    options.pool.max_connections = max_connections;
    client_ = std::make_unique<upstream::HttpsClient>(io_, *tls_, *endpoint, options);
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override {
    if (client_) client_->Close();
    work_.reset();
    for (auto& thread : threads_) thread.join();
    client_.reset();
  }

  // Starts one exchange on a strand of its own, as the gateway does for each call.
  std::future<absl::StatusOr<upstream::HttpResponse>> Send(
      milliseconds timeout, asio::cancellation_slot cancel = {},
      asio::strand<asio::io_context::executor_type>* strand = nullptr,
      upstream::ExchangeInfo* info = nullptr) {
    auto promise = std::make_shared<std::promise<absl::StatusOr<upstream::HttpResponse>>>();
    auto future = promise->get_future();
    upstream::HttpRequest request;
    request.method = "GET";
    request.target = "/anything";
    auto executor = strand != nullptr ? *strand : asio::make_strand(io_);
    asio::co_spawn(
        executor,
        client_->Send(request, nullptr, {}, std::chrono::steady_clock::now() + timeout, cancel,
                      info),
        [promise](const std::exception_ptr& error, absl::StatusOr<upstream::HttpResponse> result) {
          if (error) result = absl::InternalError("exception");
          promise->set_value(std::move(result));
        });
    return future;
  }

  // The client talks to standin_ unless a test gives it a stand-in of its own (before
  // StartClient).
  CodeArtsStandin& upstream() { return own_standin_ ? *own_standin_ : standin_; }
  void UseStandin(const testing::StandinOptions& options) {
    own_standin_ = std::make_unique<CodeArtsStandin>(options, SharedPki());
  }

  // From now on the upstream answers each request once the returned gate is opened.
  std::shared_ptr<testing::ReplyGate> HoldReplies() {
    auto gate = std::make_shared<testing::ReplyGate>();
    upstream().SetHandler([gate](const RecordedRequest&) {
      StandinReply reply = Ok(milliseconds(0));
      reply.gate = gate;
      return reply;
    });
    return gate;
  }

  // Holds two calls upstream until both have arrived, so that one takes the pooled connection
  // and the other opens a new one.
  void SendTwoAtOnce() {
    const std::size_t before = upstream().Requests().size();
    const auto gate = HoldReplies();
    auto first = Send(seconds(10));
    auto second = Send(seconds(10));
    ASSERT_TRUE(upstream().WaitForRequests(before + 2, seconds(10)));
    gate->Open();
    ASSERT_TRUE(first.get().ok());
    ASSERT_TRUE(second.get().ok());
  }

  static StandinReply Ok(milliseconds delay = milliseconds(0)) {
    StandinReply reply;
    reply.body = R"({"ok":true})";
    reply.delay = delay;
    return reply;
  }

  CodeArtsStandin standin_{testing::StandinOptions{}, SharedPki()};
  std::unique_ptr<CodeArtsStandin> own_standin_;
  upstream::ClientOptions options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{asio::make_work_guard(io_)};
  std::unique_ptr<asio::ssl::context> tls_;
  std::unique_ptr<upstream::HttpsClient> client_;
  std::vector<std::thread> threads_;
};

TEST_F(HttpsClientTest, ConcurrentExchangesShareABoundedPool) {
  standin_.SetHandler([](const RecordedRequest&) { return Ok(milliseconds(20)); });
  StartClient(/*max_connections=*/4);
  std::vector<std::future<absl::StatusOr<upstream::HttpResponse>>> results;
  results.reserve(64);
  for (int i = 0; i < 64; ++i) results.push_back(Send(seconds(20)));
  for (auto& result : results) {
    ASSERT_EQ(result.wait_for(seconds(30)), std::future_status::ready);
    absl::StatusOr<upstream::HttpResponse> response = result.get();
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200u);
  }
  EXPECT_LE(standin_.ConnectionsAccepted(), 4u);
  const upstream::ConnectionPool::Stats stats = client_->pool().GetStats();
  EXPECT_EQ(stats.waiting, 0u);
  EXPECT_LE(stats.open, 4u);
  // Every connection is back in the pool, or still being opened: an opening started for a call
  // that another connection's release served first goes on and lands in the pool later.
  EXPECT_EQ(stats.idle + stats.connecting, stats.open);
}

TEST_F(HttpsClientTest, NewConnectionsResumeTheTlsSessionOfAnEarlierOne) {
  StartClient(/*max_connections=*/4);
  ASSERT_TRUE(Send(seconds(10)).get().ok());
  EXPECT_EQ(client_->GetStats().full_handshakes, 1u);
  EXPECT_EQ(client_->GetStats().resumed_handshakes, 0u);
  // Two at once: one takes the pooled connection, the other opens a new one, resuming the first
  // one's session.
  SendTwoAtOnce();
  EXPECT_EQ(standin_.ConnectionsAccepted(), 2u);
  EXPECT_EQ(client_->GetStats().full_handshakes, 1u);
  EXPECT_EQ(client_->GetStats().resumed_handshakes, 1u);
  // The server speaks TLS 1.3: the resuming connection offers it too.
  EXPECT_THAT(standin_.ClientHellosOfferingTls13(), ElementsAre(true, true));
}

// A server that answered an offer of TLS 1.3 with TLS 1.2 is offered TLS 1.2 alone when its
// session is resumed: no TLS 1.3 key share to compute for a protocol it does not speak.
TEST_F(HttpsClientTest, ResumingATls12SessionOffersTls12Alone) {
  testing::StandinOptions tls12_only;
  tls12_only.max_tls_version = TLS1_2_VERSION;
  UseStandin(tls12_only);
  StartClient(/*max_connections=*/4);
  ASSERT_TRUE(Send(seconds(10)).get().ok());
  SendTwoAtOnce();
  EXPECT_EQ(client_->GetStats().full_handshakes, 1u);
  EXPECT_EQ(client_->GetStats().resumed_handshakes, 1u);
  EXPECT_THAT(upstream().ClientHellosOfferingTls13(), ElementsAre(true, false));
}

TEST_F(HttpsClientTest, AServerThatMovedToTls13OnlyIsOfferedItOnTheSameAttempt) {
  testing::StandinOptions tls12_only;
  tls12_only.max_tls_version = TLS1_2_VERSION;
  UseStandin(tls12_only);
  StartClient(/*max_connections=*/4);
  ASSERT_TRUE(Send(seconds(10)).get().ok());  // TLS 1.3 offered, TLS 1.2 answered
  upstream().RequireTls13();
  // One call on the pooled connection holds it, so the next needs a new one.
  const auto gate = HoldReplies();
  auto pooled = Send(seconds(10));
  ASSERT_TRUE(upstream().WaitForRequests(2, seconds(10)));
  upstream::ExchangeInfo info;
  auto fresh = Send(seconds(10), {}, nullptr, &info);
  ASSERT_TRUE(upstream().WaitForRequests(3, seconds(10)));
  gate->Open();
  ASSERT_TRUE(pooled.get().ok());
  ASSERT_TRUE(fresh.get().ok());
  // The offer of TLS 1.2 alone was refused and made again with TLS 1.3, within the attempt.
  EXPECT_EQ(info.attempts, 1);
  EXPECT_THAT(upstream().ClientHellosOfferingTls13(), ElementsAre(true, false, true));
  EXPECT_EQ(client_->GetStats().full_handshakes, 2u);
}

TEST_F(HttpsClientTest, AHeldFinishedAndALargeFirstWriteGetThroughASmallSendBuffer) {
  // With a send buffer far smaller than one TLS record, the first write's sendmsg takes the
  // handshake's held Finished and only part of the record: the rest must follow, in order.
  auto tls =
      upstream::MakeClientTlsContext(testing::WriteTempFile("ca.pem", SharedPki().ca_cert_pem));
  ASSERT_TRUE(tls.ok()) << tls.status();
  auto endpoint = upstream::ParseEndpoint(upstream().endpoint());
  ASSERT_TRUE(endpoint.ok());
  std::string body(std::size_t{200} * 1024, ' ');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  const std::string request = absl::StrCat("POST /anything HTTP/1.1\r\nHost: ", endpoint->authority,
                                           "\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
  asio::io_context io;
  upstream::TlsStream stream(io, **tls);
  boost::system::error_code handshake_ec;
  boost::system::error_code write_ec;
  boost::system::error_code read_ec;
  std::string answer;
  const asio::ip::tcp::endpoint server(asio::ip::make_address(endpoint->host), endpoint->port);
  const auto exchange = [&]() -> asio::awaitable<void> {
    auto [connect_ec] =
        co_await stream.socket().async_connect(server, asio::as_tuple(asio::use_awaitable));
    if (connect_ec) {
      handshake_ec = connect_ec;
      co_return;
    }
    stream.socket().set_option(asio::socket_base::send_buffer_size(4096));
    handshake_ec = co_await stream.Handshake();
    if (handshake_ec) co_return;
    write_ec = co_await stream.Write(asio::buffer(request));
    if (write_ec) co_return;
    std::array<char, 4096> buffer{};
    while (answer.find("\r\n\r\n") == std::string::npos) {
      auto [ec, read] = co_await stream.ReadSome(asio::buffer(buffer));
      if (ec) {
        read_ec = ec;
        co_return;
      }
      answer.append(buffer.data(), read);
    }
  };
  asio::co_spawn(io, exchange, asio::detached);
  io.run_for(seconds(10));  // a bound, not a wait: the exchange ends the loop when it is done
  ASSERT_FALSE(handshake_ec) << handshake_ec.message();
  ASSERT_FALSE(write_ec) << write_ec.message();
  ASSERT_FALSE(read_ec) << read_ec.message();
  EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 "));
  ASSERT_TRUE(upstream().WaitForRequests(1, seconds(10)));
  EXPECT_EQ(upstream().Requests().back().body, body);
}

TEST_F(HttpsClientTest, WithoutATls12WindowEveryConnectionOffersTls13) {
  testing::StandinOptions tls12_only;
  tls12_only.max_tls_version = TLS1_2_VERSION;
  UseStandin(tls12_only);
  options_.tls12_only_for = std::chrono::steady_clock::duration::zero();
  StartClient(/*max_connections=*/4);
  ASSERT_TRUE(Send(seconds(10)).get().ok());
  SendTwoAtOnce();
  EXPECT_EQ(client_->GetStats().resumed_handshakes, 1u);
  EXPECT_THAT(upstream().ClientHellosOfferingTls13(), ElementsAre(true, true));
}

TEST_F(HttpsClientTest, WaitingForAFullPoolIsBoundedByTheDeadline) {
  standin_.SetHandler([](const RecordedRequest&) { return Ok(milliseconds(600)); });
  StartClient(/*max_connections=*/1);
  auto busy = Send(seconds(10));
  ASSERT_TRUE(standin_.WaitForRequests(1, seconds(10)));
  absl::StatusOr<upstream::HttpResponse> waited = Send(milliseconds(100)).get();
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(waited.status().message().find("pool exhausted"), std::string::npos);
  EXPECT_TRUE(busy.get().ok());
}

TEST_F(HttpsClientTest, CancellingAWaitForThePoolEndsItAtOnce) {
  standin_.SetHandler([](const RecordedRequest&) { return Ok(milliseconds(600)); });
  StartClient(/*max_connections=*/1);
  auto busy = Send(seconds(10));
  ASSERT_TRUE(standin_.WaitForRequests(1, seconds(10)));
  auto strand = asio::make_strand(io_);
  asio::cancellation_signal cancel;
  auto waiting = Send(seconds(10), cancel.slot(), &strand);
  // Emit on the waiter's strand, as the gateway does.
  asio::post(strand, [&cancel] { cancel.emit(asio::cancellation_type::terminal); });
  ASSERT_EQ(waiting.wait_for(seconds(5)), std::future_status::ready);
  EXPECT_EQ(waiting.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(busy.get().ok());
}

TEST_F(HttpsClientTest, CancellingAnExchangeClosesItsConnection) {
  standin_.SetHandler([](const RecordedRequest&) { return Ok(seconds(20)); });
  StartClient(/*max_connections=*/2);
  auto strand = asio::make_strand(io_);
  asio::cancellation_signal cancel;
  auto result = Send(seconds(30), cancel.slot(), &strand);
  ASSERT_TRUE(standin_.WaitForRequests(1, seconds(10)));
  asio::post(strand, [&cancel] { cancel.emit(asio::cancellation_type::terminal); });
  ASSERT_EQ(result.wait_for(seconds(5)), std::future_status::ready);
  EXPECT_EQ(result.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(standin_.WaitForConnectionsClosed(1, seconds(5)));
  EXPECT_EQ(client_->pool().GetStats().open, 0u);
}

TEST_F(HttpsClientTest, OversizedResponseIsInternalAndTheConnectionDropped) {
  standin_.SetHandler([](const RecordedRequest&) {
    StandinReply reply;
    reply.body = std::string(std::size_t{2} * 1024 * 1024, 'x');
    return reply;
  });
  StartClient(/*max_connections=*/2);
  absl::StatusOr<upstream::HttpResponse> result = Send(seconds(10)).get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(result.status().message().find("too large"), std::string::npos);
  EXPECT_EQ(client_->pool().GetStats().open, 0u);
}

TEST_F(HttpsClientTest, TruncatedBodyIsUnavailable) {
  standin_.SetHandler([](const RecordedRequest&) {
    StandinReply reply;
    reply.body = R"({"pipeline_id":)";
    reply.headers.emplace_back("Content-Length", "100");
    reply.close_after = true;
    return reply;
  });
  StartClient(/*max_connections=*/2);
  absl::StatusOr<upstream::HttpResponse> result = Send(seconds(10)).get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("read response"), std::string::npos);
}

// A call that gives up while its connection is being opened leaves the opening to the pool, and
// the next call adopts it rather than opening another: with a cap of one connection, the second
// call waits on that handshake ("during connect"), not for a free slot ("pool exhausted").
TEST_F(HttpsClientTest, AnOpeningWhoseCallHasGoneIsAdoptedByTheNextCall) {
  standin_.StallHandshakes([](std::uint64_t) { return true; });
  StartClient(/*max_connections=*/1);
  const absl::StatusOr<upstream::HttpResponse> first = Send(milliseconds(200)).get();
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(first.status().message().find("during connect"), std::string::npos) << first.status();
  const absl::StatusOr<upstream::HttpResponse> second = Send(milliseconds(200)).get();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(second.status().message().find("during connect"), std::string::npos) << second.status();
  const upstream::ConnectionPool::Stats stats = client_->pool().GetStats();
  EXPECT_EQ(stats.open, 1u);
  EXPECT_EQ(stats.connecting, 1u);
  EXPECT_EQ(stats.waiting, 0u);
}

}  // namespace
}  // namespace codearts::e2e
