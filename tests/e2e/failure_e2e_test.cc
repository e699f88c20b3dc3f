// The gateway on a bad day: throttling, outages, refused and silent upstreams, overload. Each
// scenario asserts the exact status and that the gateway still serves the next call.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>

#include "e2e/gateway_fixture.h"

namespace codearts::e2e {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CodeArtsStandin;
using testing::RecordedRequest;
using testing::StandinReply;

testing::StandinOptions Credentials() {
  testing::StandinOptions options;
  options.access_key = kAccessKey;
  options.secret_key = kSecretKey;
  return options;
}

StandinReply Failure(unsigned status) {
  StandinReply reply;
  reply.status = status;
  reply.body = R"({"error_code":"DEVPIPE.00010001","error_msg":"scripted"})";
  return reply;
}

// Fast retries keep the suite quick; the policy is the same.
upstream::RetryOptions QuickRetries() {
  upstream::RetryOptions retry;
  retry.base_backoff = milliseconds(1);
  retry.max_backoff = milliseconds(5);
  return retry;
}

class FailureE2eTest : public ::testing::Test {
 protected:
  // After a fault, the gateway must serve the next call normally.
  void ExpectNextCallSucceeds(GatewayUnderTest& gateway) {
    standin_.SetHandler(nullptr);  // back to the default reply
    const StopOutcome next = gateway.Stop(kPipelineId, kBuildId);
    EXPECT_TRUE(next.status.ok()) << "next call: " << next.status.error_message();
  }

  CodeArtsStandin standin_{Credentials(), SharedPki()};
};

TEST_F(FailureE2eTest, ThrottledCallIsRetriedAfterRetryAfterAndSignedAgain) {
  std::atomic<int> seen{0};
  standin_.SetHandler([this, &seen](const RecordedRequest& request) {
    if (seen.fetch_add(1) == 0) {
      StandinReply reply = Failure(429);
      reply.headers.emplace_back("Retry-After", "1");
      return reply;
    }
    return standin_.DefaultReply(request);
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(10));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const std::vector<RecordedRequest> requests = standin_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(requests[0].auth_ok) << requests[0].auth_error;
  EXPECT_TRUE(requests[1].auth_ok) << requests[1].auth_error;
  // Waited at least the second Retry-After asked for, and stamped a fresh date.
  EXPECT_GT(*requests[1].Header("X-Sdk-Date"), *requests[0].Header("X-Sdk-Date"));
  EXPECT_NE(*requests[1].Header("Authorization"), *requests[0].Header("Authorization"));
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, RetryAfterBeyondTheDeadlineIsNotWaitedFor) {
  standin_.SetHandler([](const RecordedRequest&) {
    StandinReply reply = Failure(429);
    reply.headers.emplace_back("Retry-After", "30");
    return reply;
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(2));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(standin_.Requests().size(), 1u);
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, UnavailableStormIsBoundedByTheRetryBudget) {
  standin_.SetHandler([](const RecordedRequest&) { return Failure(503); });
  GatewayOptions options;
  options.retry = QuickRetries();
  options.retry.budget_capacity = 2;
  GatewayUnderTest gateway(standin_, options);
  constexpr int kCalls = 20;
  for (int i = 0; i < kCalls; ++i) {
    const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
    EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  // Without a budget 20 calls would make 60 requests; with it, at most 2 banked retries plus
  // 0.2 per call.
  const std::size_t requests = standin_.Requests().size();
  EXPECT_GT(requests, static_cast<std::size_t>(kCalls));
  EXPECT_LE(requests, static_cast<std::size_t>(kCalls + 2 + kCalls / 5));
  const StopOutcome last = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_NE(last.status.error_message().find("attempt"), std::string::npos)
      << last.status.error_message();
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, ExhaustedAttemptsAreReportedInTheStatus) {
  standin_.SetHandler([](const RecordedRequest&) { return Failure(503); });
  GatewayOptions options;
  options.retry = QuickRetries();
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(outcome.status.error_message().find("[3 attempts; attempts exhausted]"),
            std::string::npos)
      << outcome.status.error_message();
  EXPECT_EQ(standin_.Requests().size(), 3u);
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, BadGatewayAndGatewayTimeoutAreNeverRetried) {
  GatewayOptions options;
  options.retry = QuickRetries();
  GatewayUnderTest gateway(standin_, options);
  standin_.SetHandler([](const RecordedRequest&) { return Failure(502); });
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  standin_.SetHandler([](const RecordedRequest&) { return Failure(504); });
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId).status.error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(standin_.Requests().size(), 2u);
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, RefusedConnectionsAreRetriedThenReported) {
  GatewayOptions options;
  options.retry = QuickRetries();
  options.endpoint = "https://127.0.0.1:" + std::to_string(ClosedPort());
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(outcome.status.error_message().find("connect failed"), std::string::npos);
  EXPECT_NE(outcome.status.error_message().find("[3 attempts"), std::string::npos)
      << outcome.status.error_message();
}

TEST_F(FailureE2eTest, KnownDownUpstreamFailsFastUntilTheNextProbe) {
  GatewayOptions options;
  options.retry = QuickRetries();
  options.retry.down_after_connect_failures = 3;
  options.retry.probe_interval = seconds(60);
  options.endpoint = "https://127.0.0.1:" + std::to_string(ClosedPort());
  GatewayUnderTest gateway(standin_, options);
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);  // three refused attempts: now known down
  const StopOutcome fast = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(fast.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(fast.status.error_message().find("upstream is down"), std::string::npos)
      << fast.status.error_message();
}

TEST_F(FailureE2eTest, CallsBeyondTheInFlightCapAreRefusedAtOnce) {
  // The first two calls are held upstream until the test has seen the third refused.
  const auto gate = std::make_shared<testing::ReplyGate>();
  standin_.SetHandler(GatedDefaultReply(standin_, gate));
  GatewayOptions options;
  options.max_in_flight = 2;
  GatewayUnderTest gateway(standin_, options);
  auto first = std::async(std::launch::async, [&] { return gateway.Stop(kPipelineId, kBuildId); });
  auto second = std::async(std::launch::async, [&] { return gateway.Stop(kPipelineId, kBuildId); });
  ASSERT_TRUE(standin_.WaitForRequests(2, seconds(10)));
  const StopOutcome refused = gateway.Stop(kPipelineId, kBuildId);
  gate->Open();
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.status.error_message().find("--max-in-flight"), std::string::npos);
  EXPECT_TRUE(first.get().status.ok());
  EXPECT_TRUE(second.get().status.ok());
  EXPECT_EQ(standin_.Requests().size(), 2u);
  EXPECT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
}

StandinReply Raw(std::vector<StandinReply::RawPart> parts, bool hang = false) {
  StandinReply reply;
  reply.raw = std::move(parts);
  reply.hang_after_raw = hang;
  return reply;
}

constexpr char kOkBody[] =
    R"({"pipeline_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","pipeline_name":"p"})";

std::string OkHeaders(std::size_t content_length) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(content_length) + "\r\n\r\n";
}

TEST_F(FailureE2eTest, CloseMidHeadersIsUnavailable) {
  standin_.SetHandler([](const RecordedRequest&) {
    return Raw({{"HTTP/1.1 200 OK\r\nContent-Ty", {}}});
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(outcome.status.error_message().find("read response failed"), std::string::npos)
      << outcome.status.error_message();
  EXPECT_NE(outcome.status.error_message().find("may have been processed"), std::string::npos);
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, CloseMidBodyIsUnavailableNeverOk) {
  standin_.SetHandler([](const RecordedRequest&) {
    return Raw({{OkHeaders(std::strlen(kOkBody)) + std::string(kOkBody).substr(0, 20), {}}});
  });
  GatewayUnderTest gateway(standin_);
  EXPECT_EQ(gateway.Stop(kPipelineId, kBuildId).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, HeadersThenSilencePastTheDeadline) {
  GatewayUnderTest gateway(standin_);
  // A first call opens the channel and the upstream connection, so that the deadline below is
  // spent upstream even where the first call is slow to set up (ThreadSanitizer); 2 s leaves room
  // for a loaded machine to stall the call on its way in.
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
  standin_.SetHandler([](const RecordedRequest&) {
    return Raw({{OkHeaders(std::strlen(kOkBody)), {}}}, /*hang=*/true);
  });
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(2));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(standin_.WaitForConnectionsClosed(1, seconds(5)));  // never reused
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, BodyTricklingSlowerThanTheDeadline) {
  standin_.SetHandler([](const RecordedRequest&) {
    std::vector<StandinReply::RawPart> parts = {{OkHeaders(std::strlen(kOkBody)), {}}};
    for (const char c : std::string(kOkBody))
      parts.push_back({std::string(1, c), milliseconds(50)});
    return Raw(std::move(parts));
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, milliseconds(400));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, TenMebibyteBodyIsInternalAndTheNextCallWorks) {
  std::atomic<int> seen{0};
  standin_.SetHandler([this, &seen](const RecordedRequest& request) {
    if (seen.fetch_add(1) > 0) return standin_.DefaultReply(request);
    StandinReply reply;
    reply.body = std::string(std::size_t{10} * 1024 * 1024, 'x');
    return reply;
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(outcome.status.error_message().find("too large"), std::string::npos);
  EXPECT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());
}

TEST_F(FailureE2eTest, MalformedStatusLineIsUnavailableNamingTheFault) {
  standin_.SetHandler([](const RecordedRequest&) {
    return Raw({{"HTTP/1.1 2x0 OK\r\n\r\n", {}}});
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(outcome.status.error_message().find("bad status"), std::string::npos)
      << outcome.status.error_message();
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, InterimResponsesAreSkipped) {
  standin_.SetHandler([](const RecordedRequest&) {
    return Raw({{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" +
                     OkHeaders(std::strlen(kOkBody)) + kOkBody,
                 {}}});
  });
  GatewayUnderTest gateway(standin_);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ExpectNextCallSucceeds(gateway);
}

TEST_F(FailureE2eTest, ChunkedAndCloseDelimitedBodiesAreRead) {
  GatewayUnderTest gateway(standin_);
  standin_.SetHandler([](const RecordedRequest&) {
    const std::string body(kOkBody);
    char size[16];
    std::snprintf(size, sizeof(size), "%zx", body.size() - 10);
    return Raw({{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(size) +
                     "\r\n" + body.substr(0, body.size() - 10) + "\r\na\r\n" +
                     body.substr(body.size() - 10) + "\r\n0\r\n\r\n",
                 {}}});
  });
  StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  standin_.SetHandler([](const RecordedRequest&) {
    return Raw({{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(kOkBody), {}}});
  });
  outcome = gateway.Stop(kPipelineId, kBuildId);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.response.pipeline_id(), kPipelineId);
  ExpectNextCallSucceeds(gateway);
}

int ThreadCount() {
  int count = 0;
  if (FILE* status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof(line), status) != nullptr) {
      if (std::sscanf(line, "Threads: %d", &count) == 1) break;
    }
    std::fclose(status);
  }
  return count;
}

TEST_F(FailureE2eTest, ThousandConcurrentCallsAgainstASlowUpstreamAllSucceed) {
  constexpr int kCalls = 1000;
  standin_.SetHandler(DelayedDefaultReply(standin_, seconds(1)));
  GatewayOptions options;
  options.max_connections = kCalls;
  GatewayUnderTest gateway(standin_, options);
  ASSERT_TRUE(gateway.Stop(kPipelineId, kBuildId).status.ok());  // warm: channel and threads up
  const int threads_before = ThreadCount();

  struct Call {
    grpc::ClientContext context;
    pipeline::v1::StopRequest request;
    pipeline::v1::StopResponse response;
  };
  std::vector<std::unique_ptr<Call>> calls;
  calls.reserve(kCalls);
  std::atomic<int> ok{0};
  std::atomic<int> finished{0};
  std::promise<void> all_done;
  int threads_during = 0;
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() + seconds(60));
    call->request.set_pipeline_id(kPipelineId);
    call->request.set_build_id(kBuildId);
    gateway.stub().async()->Stop(&call->context, &call->request, &call->response,
                                 [&](const grpc::Status& status) {
                                   if (status.ok()) ok.fetch_add(1);
                                   if (finished.fetch_add(1) + 1 == kCalls) all_done.set_value();
                                 });
    calls.push_back(std::move(call));
  }
  // Every call is in flight at once: the upstream holds each for a second.
  ASSERT_TRUE(standin_.WaitForRequests(static_cast<std::size_t>(kCalls) / 2 + 1, seconds(60)));
  threads_during = ThreadCount();
  ASSERT_EQ(all_done.get_future().wait_for(seconds(90)), std::future_status::ready);
  EXPECT_EQ(ok.load(), kCalls);
  // The gateway's threads do not grow per call (a few for gRPC's client side are allowed).
  EXPECT_LT(threads_during - threads_before, 8)
      << "threads before " << threads_before << ", during " << threads_during;
}

// A listener that never accepts, with its accept queue full: the kernel drops further SYNs, so
// a connect to it hangs, as it does to a host that has gone away.
class UnacceptingServer {
 public:
  UnacceptingServer() {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listener_, 0) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;  // full() stays false and the test says so
    }
    port_ = ntohs(address.sin_port);
    for (int i = 0; i < 16 && !full_; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      fillers_.push_back(fd);
      // Non-blocking: EINPROGRESS is the expected answer; poll tells whether it completed.
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) continue;
      pollfd wait{fd, POLLOUT, 0};
      full_ = poll(&wait, 1, 200) == 0;  // this one did not complete: the queue is full
    }
  }
  ~UnacceptingServer() {
    for (const int fd : fillers_) close(fd);
    close(listener_);
  }
  std::uint16_t port() const { return port_; }
  bool full() const { return full_; }

  // Connections to this port still in SYN_SENT, from /proc/net/tcp.
  int ConnectsInProgress() const {
    char wanted[16];
    std::snprintf(wanted, sizeof(wanted), ":%04X 02", port_);
    int count = 0;
    if (FILE* table = std::fopen("/proc/net/tcp", "r")) {
      char line[512];
      while (std::fgets(line, sizeof(line), table) != nullptr) {
        // "sl local_address rem_address st ...": the remote port, then the state.
        if (std::strstr(line, wanted) != nullptr) ++count;
      }
      std::fclose(table);
    }
    return count;
  }

  // Waits (bounded) until the number of connects in progress is `expected`.
  bool WaitForConnectsInProgress(int expected, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (ConnectsInProgress() != expected) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      // The kernel offers no event for another socket's state; poll its table.
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }

 private:
  int listener_ = -1;
  std::uint16_t port_ = 0;
  bool full_ = false;
  std::vector<int> fillers_;
};

TEST_F(FailureE2eTest, UpstreamThatNeverAcceptsHitsTheDeadlineDuringConnect) {
  UnacceptingServer server;
  ASSERT_TRUE(server.full());
  const int before = server.ConnectsInProgress();
  GatewayOptions options;
  options.endpoint = "https://127.0.0.1:" + std::to_string(server.port());
  // The gateway's own timeout, so that its answer (not the client library's) is what we read.
  options.upstream_timeout = milliseconds(300);
  options.connect_timeout = milliseconds(1000);
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(10));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(outcome.status.error_message().find("timed out during connect"), std::string::npos)
      << outcome.status.error_message();
  // The connect went on for the pool, and was given up at the connect timeout.
  EXPECT_TRUE(server.WaitForConnectsInProgress(before, seconds(10)));
}

TEST_F(FailureE2eTest, CancelDuringConnectEndsTheCallAtOnce) {
  UnacceptingServer server;
  ASSERT_TRUE(server.full());
  const int before = server.ConnectsInProgress();
  GatewayOptions options;
  options.endpoint = "https://127.0.0.1:" + std::to_string(server.port());
  options.connect_timeout = milliseconds(1000);
  GatewayUnderTest gateway(standin_, options);

  std::unique_ptr<PendingStop> call = StartStop(gateway.stub(), seconds(30));
  ASSERT_TRUE(server.WaitForConnectsInProgress(before + 1, seconds(10)));
  call->context.TryCancel();
  auto result = call->done.get_future();
  ASSERT_EQ(result.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(result.get().error_code(), grpc::StatusCode::CANCELLED);
  // The connect goes on for the pool until the connect timeout; then the socket is gone.
  EXPECT_TRUE(server.WaitForConnectsInProgress(before, seconds(10)));
}

// A TCP server that accepts connections and never says a word: TLS never completes.
class SilentServer {
 public:
  SilentServer() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SilentServer() {
    asio::post(io_, [this] {
      acceptor_.close();
      for (auto& socket : sockets_) socket->close();
    });
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::future<void> accepted() { return accepted_.get_future(); }
  std::future<void> peer_closed() { return peer_closed_.get_future(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;
      auto shared = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
      sockets_.push_back(shared);
      if (sockets_.size() == 1) {
        accepted_.set_value();
        // Read until the client goes away: that is how we know the gateway let go.
        auto buffer = std::make_shared<std::array<char, 4096>>();
        ReadUntilClosed(shared, buffer);
      }
      Accept();
    });
  }
  void ReadUntilClosed(const std::shared_ptr<asio::ip::tcp::socket>& socket,
                       const std::shared_ptr<std::array<char, 4096>>& buffer) {
    socket->async_read_some(asio::buffer(*buffer),
                            [this, socket, buffer](boost::system::error_code ec, std::size_t) {
                              if (ec == asio::error::operation_aborted) return;
                              if (ec) {
                                peer_closed_.set_value();
                                return;
                              }
                              ReadUntilClosed(socket, buffer);
                            });
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets_;
  std::promise<void> accepted_;
  std::promise<void> peer_closed_;
  std::thread thread_;
};

TEST_F(FailureE2eTest, UpstreamThatNeverCompletesTlsHitsTheDeadline) {
  SilentServer silent;
  GatewayOptions options;
  options.endpoint = "https://127.0.0.1:" + std::to_string(silent.port());
  options.connect_timeout = milliseconds(1500);
  GatewayUnderTest gateway(standin_, options);
  auto closed = silent.peer_closed();
  // Long enough for the connection to be made even on a loaded sanitizer run (a call that ran
  // out of time before connecting would leave nothing for the server to see closed).
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, milliseconds(1000));
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Closed by the connect timeout, 1.5 s after the connect began.
  EXPECT_EQ(closed.wait_for(seconds(10)), std::future_status::ready);
}

TEST_F(FailureE2eTest, CancelDuringTheTlsHandshakeEndsTheCallAndTheConnectTimeoutTheConnection) {
  SilentServer silent;
  GatewayOptions options;
  options.endpoint = "https://127.0.0.1:" + std::to_string(silent.port());
  options.connect_timeout = milliseconds(1000);
  GatewayUnderTest gateway(standin_, options);
  auto accepted = silent.accepted();
  auto closed = silent.peer_closed();

  std::unique_ptr<PendingStop> call = StartStop(gateway.stub(), seconds(30));
  ASSERT_EQ(accepted.wait_for(seconds(10)), std::future_status::ready);
  call->context.TryCancel();
  auto result = call->done.get_future();
  ASSERT_EQ(result.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(result.get().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(closed.wait_for(seconds(10)), std::future_status::ready);
}

// An overloaded load balancer accepts TCP and never answers the ClientHello. The attempt fails
// at the connect timeout like a refused connect, and the retry on a fresh connection succeeds.
TEST_F(FailureE2eTest, StalledTlsHandshakeFailsAtTheConnectTimeoutAndIsRetried) {
  standin_.StallHandshakes([](std::uint64_t connection) { return connection == 1; });
  GatewayOptions options;
  options.connect_timeout = milliseconds(500);
  GatewayUnderTest gateway(standin_, options);
  const StopOutcome outcome = gateway.Stop(kPipelineId, kBuildId, seconds(10));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(standin_.HandshakesStalled(), 1u);
  EXPECT_EQ(standin_.ConnectionsAccepted(), 2u);
  EXPECT_EQ(standin_.Requests().size(), 1u);
  const std::string metrics = gateway.Admin("/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "codearts_gateway_upstream_connect_timeouts_total"), 1);
  EXPECT_EQ(MetricValue(metrics, "codearts_gateway_upstream_retries_total"), 1);
}

// With one handshake in five stalled (and a connect timeout longer than the calls' deadline), a
// call whose connection stalls is served by the first connection that becomes usable: none is
// pinned to a stalled handshake, so every call succeeds. The 300 calls take half a second here;
// under ThreadSanitizer they took up to 20 s, and calls then reached the gateway with their
// 20 s deadline spent, so the deadline is 60 s (a pinned call would still wait the 120 s).
TEST_F(FailureE2eTest, CallsAreNotPinnedToAStalledHandshake) {
  constexpr int kCalls = 300;
  standin_.StallHandshakes([](std::uint64_t connection) { return connection % 5 == 0; });
  GatewayOptions options;
  options.max_connections = 64;
  options.connect_timeout = seconds(120);
  GatewayUnderTest gateway(standin_, options);
  std::vector<std::unique_ptr<PendingStop>> calls;
  calls.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) calls.push_back(StartStop(gateway.stub(), seconds(60)));
  int ok = 0;
  for (auto& call : calls) {
    auto done = call->done.get_future();
    ASSERT_EQ(done.wait_for(seconds(90)), std::future_status::ready);
    const grpc::Status status = done.get();
    if (status.ok()) {
      ++ok;
    } else {
      ADD_FAILURE() << status.error_code() << " " << status.error_message();
    }
  }
  EXPECT_EQ(ok, kCalls);
  EXPECT_GE(standin_.HandshakesStalled(), 1u);
  EXPECT_LE(standin_.ConnectionsAccepted(), 64u);
}

}  // namespace
}  // namespace codearts::e2e
