// PipelineClient, the library callers link, against the real gateway in process (built as
// main.cc builds it) in front of the CodeArts stand-in: the errors, details and trailers it decodes
// are the ones the gateway really sends.
#include "client/pipeline_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "e2e/gateway_fixture.h"

namespace codearts::client {
namespace {

using pipeline::v1::StopRequest;
using pipeline::v1::StopResponse;
using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using testing::RecordedRequest;
using testing::StandinReply;

// The stand-in answers 404 for pipelines whose id starts with "missing".
constexpr char kMissingPipeline[] = "missing";
constexpr char kHangingPipeline[] = "hangs";
constexpr char kErrorReason[] = "DEVPIPE.00011401";
// How long a test waits for an event that should come at once; only reached on failure.
constexpr auto kEventTimeout = 10s;

// Collects StopAsync results and the threads that delivered them.
class ResultRecorder {
 public:
  std::function<void(StopResult)> Callback() {
    return [this](StopResult result) {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(std::move(result));
      threads_.push_back(std::this_thread::get_id());
      changed_.notify_all();
    };
  }

  bool WaitFor(std::size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, kEventTimeout, [&] { return results_.size() >= count; });
  }

  std::vector<StopResult> Results() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }

  std::vector<std::thread::id> Threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<StopResult> results_;
  std::vector<std::thread::id> threads_;
};

StopRequest MakeRequest(const std::string& pipeline_id, const std::string& build_id) {
  StopRequest request;
  request.set_pipeline_id(pipeline_id);
  request.set_build_id(build_id);
  return request;
}

CallOptions WithTimeout(std::chrono::milliseconds timeout, std::string token = "") {
  CallOptions options;
  options.timeout = timeout;
  options.token = std::move(token);
  return options;
}

class PipelineClientTest : public ::testing::Test {
 protected:
  PipelineClientTest() {
    // CodeArts' own answers, each with the request id "req-<build id>"; the ones for
    // kHangingPipeline are held until the test ends.
    standin_.SetHandler([this](const RecordedRequest& request) {
      StandinReply reply = standin_.DefaultReply(request);
      for (const auto& [name, value] : request.query) {
        if (name == "build_id") reply.headers.emplace_back("X-Request-Id", "req-" + value);
      }
      if (request.path.find(kHangingPipeline) != std::string::npos) reply.gate = hold_;
      return reply;
    });
    client_ = std::make_unique<PipelineClient>(MakeInsecureChannel(gateway_.address()));
  }
  ~PipelineClientTest() override { hold_->Open(); }

  // The X-Auth-Token of every request CodeArts saw ("" when absent), in arrival order.
  std::vector<std::string> Tokens() {
    std::vector<std::string> tokens;
    for (const RecordedRequest& request : standin_.Requests()) {
      tokens.push_back(request.Header("X-Auth-Token").value_or(""));
    }
    return tokens;
  }

  const std::shared_ptr<testing::ReplyGate> hold_ = std::make_shared<testing::ReplyGate>();
  testing::CodeArtsStandin standin_{e2e::StandinWithTestKeys(), e2e::SharedPki()};
  e2e::GatewayUnderTest gateway_{standin_};
  std::unique_ptr<PipelineClient> client_;
};

TEST_F(PipelineClientTest, StopReturnsResponseAndRequestId) {
  const StopResult result = client_->Stop(MakeRequest("p1", "b1"), WithTimeout(5s));

  ASSERT_EQ(result.status.error_code(), grpc::StatusCode::OK) << result.status.error_message();
  EXPECT_EQ(result.response.pipeline_id(), "p1");
  EXPECT_EQ(result.response.pipeline_name(), "pipeline-p1");
  EXPECT_EQ(result.request_id, "req-b1");
  EXPECT_FALSE(result.error_info.has_value());
}

TEST_F(PipelineClientTest, StopSendsTokenOnlyWhenGiven) {
  // The stand-in accepts only e2e::kValidToken: a refused token shows it was sent.
  EXPECT_EQ(
      client_->Stop(MakeRequest("p1", "b0"), WithTimeout(5s, "iam-token")).status.error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(
      client_->Stop(MakeRequest("p1", "b1"), WithTimeout(5s, e2e::kValidToken)).status.ok());
  ASSERT_TRUE(client_->Stop(MakeRequest("p1", "b2"), WithTimeout(5s)).status.ok());

  EXPECT_EQ(Tokens(), (std::vector<std::string>{"iam-token", e2e::kValidToken, ""}));
}

TEST_F(PipelineClientTest, StopDecodesErrorInfo) {
  const StopResult result = client_->Stop(MakeRequest(kMissingPipeline, "b7"), WithTimeout(5s));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(result.status.error_message(),
            "DEVPIPE.00011401: pipeline not found (HTTP 404) [request id req-b7]");
  EXPECT_EQ(result.request_id, "req-b7");
  ASSERT_TRUE(result.error_info.has_value());
  EXPECT_EQ(result.error_info->reason(), kErrorReason);
  EXPECT_EQ(result.error_info->domain(), "127.0.0.1");
  EXPECT_EQ(result.error_info->metadata().at("http_status"), "404");
  EXPECT_EQ(result.error_info->metadata().at("request_id"), "req-b7");
}

TEST_F(PipelineClientTest, StopRefusedByTheGatewayHasNoErrorInfoAndNoRequestId) {
  const StopResult result = client_->Stop(MakeRequest("bad id", "b1"), WithTimeout(5s));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(result.status.error_message(),
            "pipeline_id has a character outside [A-Za-z0-9_-] at position 3");
  EXPECT_FALSE(result.error_info.has_value());
  EXPECT_EQ(result.request_id, "");
  EXPECT_TRUE(standin_.Requests().empty());
}

TEST_F(PipelineClientTest, StopHonoursDeadline) {
  const auto start = std::chrono::steady_clock::now();
  const StopResult result = client_->Stop(MakeRequest(kHangingPipeline, "b1"), WithTimeout(200ms));
  const auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // gRPC's deadline is on the system clock and its timers fire a few ms early (197 ms seen):
  // what matters is that the call waited for its deadline, not for the hanging server.
  EXPECT_GE(elapsed, 180ms);
  EXPECT_LT(elapsed, 5s);
}

TEST_F(PipelineClientTest, StopRejectsNonPositiveTimeoutWithoutCalling) {
  const StopResult result = client_->Stop(MakeRequest("p1", "b1"), WithTimeout(0ms));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Tokens().empty());
}

TEST_F(PipelineClientTest, StopAsyncRunsCallbackOnceOnCompletionQueueThread) {
  ResultRecorder recorder;
  client_->StopAsync(MakeRequest("p2", "b2"), WithTimeout(5s, e2e::kValidToken),
                     recorder.Callback());
  ASSERT_TRUE(recorder.WaitFor(1));
  client_.reset();  // Drains the queue: a second callback would show up now.

  const std::vector<StopResult> results = recorder.Results();
  ASSERT_EQ(results.size(), 1U);
  EXPECT_EQ(results[0].status.error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(results[0].response.pipeline_id(), "p2");
  EXPECT_EQ(results[0].response.pipeline_name(), "pipeline-p2");
  EXPECT_EQ(results[0].request_id, "req-b2");
  EXPECT_NE(recorder.Threads()[0], std::this_thread::get_id());
  EXPECT_EQ(Tokens(), std::vector<std::string>{e2e::kValidToken});
}

TEST_F(PipelineClientTest, StopAsyncDecodesErrorInfo) {
  ResultRecorder recorder;
  client_->StopAsync(MakeRequest(kMissingPipeline, "b3"), WithTimeout(5s), recorder.Callback());
  ASSERT_TRUE(recorder.WaitFor(1));

  const StopResult result = recorder.Results()[0];
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(result.request_id, "req-b3");
  ASSERT_TRUE(result.error_info.has_value());
  EXPECT_EQ(result.error_info->reason(), kErrorReason);
}

TEST_F(PipelineClientTest, StopAsyncHonoursDeadline) {
  ResultRecorder recorder;
  client_->StopAsync(MakeRequest(kHangingPipeline, "b1"), WithTimeout(200ms), recorder.Callback());
  ASSERT_TRUE(recorder.WaitFor(1));

  EXPECT_EQ(recorder.Results()[0].status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(PipelineClientTest, StopRejectsTimeoutAboveOneDay) {
  const StopResult result =
      client_->Stop(MakeRequest("p1", "b1"), WithTimeout(std::chrono::hours(25)));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Tokens().empty());
}

TEST_F(PipelineClientTest, StopAsyncRejectsNonPositiveTimeoutOnCompletionQueueThread) {
  ResultRecorder recorder;
  client_->StopAsync(MakeRequest("p1", "b1"), WithTimeout(-1ms), recorder.Callback());
  ASSERT_TRUE(recorder.WaitFor(1));

  EXPECT_EQ(recorder.Results()[0].status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(recorder.Threads()[0], std::this_thread::get_id());
  EXPECT_TRUE(Tokens().empty());
}

TEST_F(PipelineClientTest, StopAsyncCompletesManyConcurrentCalls) {
  constexpr int kCalls = 64;
  ResultRecorder recorder;
  for (int i = 0; i < kCalls; ++i) {
    // StrCat, not "p" + std::to_string(i): GCC 12's -Wrestrict misfires on that at -O3.
    client_->StopAsync(MakeRequest(absl::StrCat("p", i), "b"), WithTimeout(5s),
                       recorder.Callback());
  }
  ASSERT_TRUE(recorder.WaitFor(kCalls));
  client_.reset();

  const std::vector<StopResult> results = recorder.Results();
  ASSERT_EQ(results.size(), static_cast<std::size_t>(kCalls));
  for (const StopResult& result : results) {
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::OK);
  }
}

TEST_F(PipelineClientTest, DestructorCancelsPendingCallsAndRunsTheirCallbacks) {
  ResultRecorder recorder;
  // A deadline far beyond the test's patience: only the destructor can end this call quickly.
  client_->StopAsync(MakeRequest(kHangingPipeline, "b1"), WithTimeout(60s), recorder.Callback());
  ASSERT_TRUE(standin_.WaitForRequests(1, kEventTimeout));

  const auto start = std::chrono::steady_clock::now();
  client_.reset();
  const auto elapsed = std::chrono::steady_clock::now() - start;

  const std::vector<StopResult> results = recorder.Results();
  ASSERT_EQ(results.size(), 1U);
  EXPECT_EQ(results[0].status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(elapsed, 5s);
}

// Every RPC goes through the same two templates: here Start, GetStatus and ListPipelineRuns
// against the stand-in's pipelines, blocking and not.
TEST_F(PipelineClientTest, EveryRpcThroughTheSameTemplatesSyncAndAsync) {
  using pipeline::v1::PipelineService;
  pipeline::v1::StartRequest start;
  start.set_pipeline_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  const Result<pipeline::v1::StartResponse> started =
      client_->Call(&PipelineService::Stub::PrepareAsyncStart, start, WithTimeout(10s));
  ASSERT_TRUE(started.status.ok()) << started.status.error_message();
  ASSERT_FALSE(started.response.build_id().empty());

  pipeline::v1::GetStatusRequest get;
  get.set_pipeline_id(start.pipeline_id());
  get.set_build_id(started.response.build_id());
  std::mutex mu;
  std::condition_variable changed;
  std::optional<Result<pipeline::v1::PipelineStatus>> status;
  client_->CallAsync(&PipelineService::Stub::PrepareAsyncGetStatus, get, WithTimeout(10s),
                     [&](Result<pipeline::v1::PipelineStatus> result) {
                       std::lock_guard<std::mutex> lock(mu);
                       status = std::move(result);
                       changed.notify_all();
                     });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(changed.wait_for(lock, kEventTimeout, [&] { return status.has_value(); }));
  }
  ASSERT_TRUE(status->status.ok()) << status->status.error_message();
  EXPECT_EQ(status->response.build_id(), started.response.build_id());
  EXPECT_EQ(status->response.status(), "running");

  pipeline::v1::GetStatusRequest unknown;
  unknown.set_pipeline_id("missing0000");
  const Result<pipeline::v1::PipelineStatus> not_found =
      client_->Call(&PipelineService::Stub::PrepareAsyncGetStatus, unknown, WithTimeout(10s));
  EXPECT_EQ(not_found.status.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(not_found.error_info.has_value());
  EXPECT_EQ(not_found.error_info->reason(), kErrorReason);
}

}  // namespace
}  // namespace codearts::client
