#include "client/pipeline_client.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace codearts::client {
namespace {

using pipeline::v1::StopRequest;
using pipeline::v1::StopResponse;
using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

constexpr char kMissingPipeline[] = "missing";
constexpr char kBareErrorPipeline[] = "bare-error";
constexpr char kHangingPipeline[] = "hangs";
constexpr char kErrorReason[] = "DEVPIPE.00011104";
constexpr char kErrorDomain[] = "cloudpipeline-ext.cn-north-4.myhuaweicloud.com";
// How long a test waits for an event that should come at once; only reached on failure.
constexpr auto kEventTimeout = 10s;

// Answers with the cancellation once the call is cancelled (deadline or client going away), as
// the gateway does when CodeArts hangs.
class FinishOnCancelReactor final : public grpc::ServerUnaryReactor {
 public:
  void OnCancel() override { Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")); }
  void OnDone() override { delete this; }
};

// A test double for the gateway: echoes the request, reports the token it saw and sends
// CodeArts-like errors for some pipeline ids.
class FakeGateway final : public pipeline::v1::PipelineService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Stop(grpc::CallbackServerContext* context, const StopRequest* request,
                                 StopResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto& metadata = context->client_metadata();
      auto token = metadata.find("x-auth-token");
      tokens_.push_back(token == metadata.end()
                            ? std::string()
                            : std::string(token->second.data(), token->second.size()));
      calls_changed_.notify_all();
    }
    if (request->pipeline_id() == kHangingPipeline) return new FinishOnCancelReactor();

    context->AddTrailingMetadata("x-request-id", "req-" + request->build_id());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->pipeline_id() == kMissingPipeline) {
      reactor->Finish(NotFound(request->build_id()));
    } else if (request->pipeline_id() == kBareErrorPipeline) {
      reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no details"));
    } else {
      response->set_pipeline_id(request->pipeline_id());
      response->set_pipeline_name("name-of-" + request->pipeline_id());
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  // The x-auth-token of every call so far ("" when absent), in arrival order.
  std::vector<std::string> Tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens_;
  }

  bool WaitForCalls(std::size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return calls_changed_.wait_for(lock, kEventTimeout, [&] { return tokens_.size() >= count; });
  }

 private:
  static grpc::Status NotFound(const std::string& build_id) {
    google::rpc::ErrorInfo info;
    info.set_reason(kErrorReason);
    info.set_domain(kErrorDomain);
    (*info.mutable_metadata())["http_status"] = "404";
    (*info.mutable_metadata())["request_id"] = "req-" + build_id;
    google::rpc::Status details;
    details.set_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
    details.set_message("DEVPIPE.00011104: pipeline not found");
    details.add_details()->PackFrom(info);
    return {grpc::StatusCode::NOT_FOUND, details.message(), details.SerializeAsString()};
  }

  std::mutex mu_;
  std::condition_variable calls_changed_;
  std::vector<std::string> tokens_;
};

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
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    client_ =
        std::make_unique<PipelineClient>(MakeInsecureChannel("127.0.0.1:" + std::to_string(port)));
  }

  void TearDown() override {
    client_.reset();
    // The deadline cancels any call a failed test left hanging.
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + 5s);
  }

  FakeGateway fake_;  // Outlives server_, which refers to it.
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<PipelineClient> client_;
};

TEST_F(PipelineClientTest, StopReturnsResponseAndRequestId) {
  const StopResult result = client_->Stop(MakeRequest("p1", "b1"), WithTimeout(5s));

  ASSERT_EQ(result.status.error_code(), grpc::StatusCode::OK) << result.status.error_message();
  EXPECT_EQ(result.response.pipeline_id(), "p1");
  EXPECT_EQ(result.response.pipeline_name(), "name-of-p1");
  EXPECT_EQ(result.request_id, "req-b1");
  EXPECT_FALSE(result.error_info.has_value());
}

TEST_F(PipelineClientTest, StopSendsTokenOnlyWhenGiven) {
  ASSERT_TRUE(client_->Stop(MakeRequest("p1", "b1"), WithTimeout(5s, "iam-token")).status.ok());
  ASSERT_TRUE(client_->Stop(MakeRequest("p1", "b2"), WithTimeout(5s)).status.ok());

  EXPECT_EQ(fake_.Tokens(), (std::vector<std::string>{"iam-token", ""}));
}

TEST_F(PipelineClientTest, StopDecodesErrorInfo) {
  const StopResult result = client_->Stop(MakeRequest(kMissingPipeline, "b7"), WithTimeout(5s));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(result.status.error_message(), "DEVPIPE.00011104: pipeline not found");
  EXPECT_EQ(result.request_id, "req-b7");
  ASSERT_TRUE(result.error_info.has_value());
  EXPECT_EQ(result.error_info->reason(), kErrorReason);
  EXPECT_EQ(result.error_info->domain(), kErrorDomain);
  EXPECT_EQ(result.error_info->metadata().at("http_status"), "404");
  EXPECT_EQ(result.error_info->metadata().at("request_id"), "req-b7");
}

TEST_F(PipelineClientTest, StopWithoutErrorDetailsHasNoErrorInfo) {
  const StopResult result = client_->Stop(MakeRequest(kBareErrorPipeline, "b1"), WithTimeout(5s));

  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_FALSE(result.error_info.has_value());
  EXPECT_EQ(result.request_id, "req-b1");
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
  EXPECT_TRUE(fake_.Tokens().empty());
}

TEST_F(PipelineClientTest, StopAsyncRunsCallbackOnceOnCompletionQueueThread) {
  ResultRecorder recorder;
  client_->StopAsync(MakeRequest("p2", "b2"), WithTimeout(5s, "t"), recorder.Callback());
  ASSERT_TRUE(recorder.WaitFor(1));
  client_.reset();  // Drains the queue: a second callback would show up now.

  const std::vector<StopResult> results = recorder.Results();
  ASSERT_EQ(results.size(), 1U);
  EXPECT_EQ(results[0].status.error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(results[0].response.pipeline_id(), "p2");
  EXPECT_EQ(results[0].response.pipeline_name(), "name-of-p2");
  EXPECT_EQ(results[0].request_id, "req-b2");
  EXPECT_NE(recorder.Threads()[0], std::this_thread::get_id());
  EXPECT_EQ(fake_.Tokens(), std::vector<std::string>{"t"});
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
  EXPECT_TRUE(fake_.Tokens().empty());
}

TEST_F(PipelineClientTest, StopAsyncRejectsNonPositiveTimeoutOnCompletionQueueThread) {
  ResultRecorder recorder;
  client_->StopAsync(MakeRequest("p1", "b1"), WithTimeout(-1ms), recorder.Callback());
  ASSERT_TRUE(recorder.WaitFor(1));

  EXPECT_EQ(recorder.Results()[0].status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(recorder.Threads()[0], std::this_thread::get_id());
  EXPECT_TRUE(fake_.Tokens().empty());
}

TEST_F(PipelineClientTest, StopAsyncCompletesManyConcurrentCalls) {
  constexpr int kCalls = 64;
  ResultRecorder recorder;
  for (int i = 0; i < kCalls; ++i) {
    client_->StopAsync(MakeRequest("p" + std::to_string(i), "b"), WithTimeout(5s),
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
  ASSERT_TRUE(fake_.WaitForCalls(1));

  const auto start = std::chrono::steady_clock::now();
  client_.reset();
  const auto elapsed = std::chrono::steady_clock::now() - start;

  const std::vector<StopResult> results = recorder.Results();
  ASSERT_EQ(results.size(), 1U);
  EXPECT_EQ(results[0].status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_LT(elapsed, 5s);
}

}  // namespace
}  // namespace codearts::client
