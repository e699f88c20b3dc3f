// Watch and WatchPipelineRun end to end: a real gRPC stream to the in-process gateway, which polls
// the stand-in's pipelines over TLS. The test drives both clocks by hand: the stand-in's world
// (builds move only when it advances) and the gateway's poll clock (a poll happens only when the
// test fires it), so every step is synchronised on a condition, never on time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e/gateway_fixture.h"
#include "e2e/manual_poll_clock.h"

namespace codearts::e2e {
namespace {

using pipeline::v1::PipelineRun;
using pipeline::v1::PipelineService;
using pipeline::v1::PipelineStatus;
using pipeline::v1::StartRequest;
using pipeline::v1::StartResponse;
using pipeline::v1::WatchPipelineRunRequest;
using pipeline::v1::WatchRequest;

constexpr std::chrono::milliseconds kJob{1000};  // the stand-in's default job duration

// "running/;running/,waiting/" for a build: the overall status and each stage's status.
std::string Summary(const PipelineStatus& status) {
  std::string text = status.status() + "/" + status.outcome() + ";";
  for (const auto& stage : status.states()) {
    text += stage.name() + "=" + stage.status() + "[";
    for (const auto& job : stage.children()) text += job.name() + "=" + job.status() + " ";
    text += "]";
  }
  return text;
}

// An open Watch stream with a deadline.
struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<PipelineStatus>> reader;
};

std::unique_ptr<Stream> OpenWatch(PipelineService::Stub& stub, const std::string& pipeline_id,
                                  const std::string& build_id, const std::string& token = "",
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto stream = std::make_unique<Stream>();
  stream->context.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!token.empty()) stream->context.AddMetadata("x-auth-token", token);
  WatchRequest request;
  request.set_pipeline_id(pipeline_id);
  request.set_build_id(build_id);
  stream->reader = stub.Watch(&stream->context, request);
  return stream;
}

class WatchTest : public ::testing::Test {
 protected:
  std::string StartBuild() {
    StartRequest request;
    request.set_pipeline_id(kPipelineId);
    StartResponse response;
    const grpc::Status status =
        CallPipeline(gateway_.stub(), &PipelineService::Stub::Start, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.build_id();
  }

  // Moves the build on by one job and lets the loops poll once (after they scheduled it).
  void NextPoll(std::size_t loops = 1) {
    standin_.world().Advance(kJob);
    ASSERT_TRUE(clock_.WaitForPending(loops));
    clock_.FireAll();
  }

  std::uint64_t Reads() { return standin_.world().StatusReads(); }

  double Metric(const std::string& name, const std::string& labels = "") {
    return MetricValue(gateway_.Admin("/metrics").body, name, labels);
  }

  ManualPollClock clock_;
  testing::CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
  GatewayUnderTest gateway_{standin_, GatewayOptions{.poll_clock = &clock_}};
};

TEST_F(WatchTest, OneWatcherSeesEveryChangeInOrderAndEndsOk) {
  const std::string build_id = StartBuild();
  auto stream = OpenWatch(gateway_.stub(), kPipelineId, build_id);
  std::vector<std::string> seen;
  PipelineStatus message;
  ASSERT_TRUE(stream->reader->Read(&message));  // the current state, before any poll is fired
  seen.push_back(Summary(message));
  EXPECT_EQ(message.build_id(), build_id);
  while (true) {
    NextPoll();
    if (!stream->reader->Read(&message)) break;
    seen.push_back(Summary(message));
    if (message.status() == "completed") {
      EXPECT_FALSE(stream->reader->Read(&message));  // nothing after the final state
      break;
    }
  }
  const grpc::Status status = stream->reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::vector<std::string> expected = {
      "running/;Build=running[compile=running unit-test=waiting ]Deploy=waiting[deploy=waiting ]",
      "running/;Build=running[compile=completed unit-test=running ]Deploy=waiting[deploy=waiting ]",
      "running/;Build=completed[compile=completed unit-test=completed "
      "]Deploy=running[deploy=running ]",
      "completed/success;Build=completed[compile=completed unit-test=completed "
      "]Deploy=completed[deploy=completed ]",
  };
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(Reads(), 4U);  // one poll per state: nothing polled twice, nothing after the end
  EXPECT_TRUE(clock_.WaitForNonePending());
  EXPECT_EQ(Metric("codearts_gateway_watch_polls_total", R"(outcome="OK")"), 4);
  EXPECT_EQ(Metric("codearts_gateway_calls_total", R"(code="OK",method="Watch")"), 1);
}

TEST_F(WatchTest, AHundredWatchersShareOnePollPerInterval) {
  const std::string build_id = StartBuild();
  constexpr int kWatchers = 100;
  constexpr int kStates = 4;
  std::vector<std::vector<std::string>> seen(kWatchers);
  std::vector<grpc::Status> statuses(kWatchers);
  // Round r ends when every watcher has read its r-th message; the test then moves the build on.
  std::vector<std::unique_ptr<std::latch>> rounds;
  rounds.reserve(kStates);
  for (int r = 0; r < kStates; ++r) rounds.push_back(std::make_unique<std::latch>(kWatchers));
  std::vector<std::thread> readers;
  readers.reserve(kWatchers);
  for (int w = 0; w < kWatchers; ++w) {
    readers.emplace_back([&, w] {
      auto stream = OpenWatch(gateway_.stub(), kPipelineId, build_id);
      PipelineStatus message;
      int read = 0;
      while (stream->reader->Read(&message)) {
        seen[static_cast<std::size_t>(w)].push_back(Summary(message));
        if (read < kStates) rounds[static_cast<std::size_t>(read)]->count_down();
        ++read;
      }
      for (; read < kStates; ++read) rounds[static_cast<std::size_t>(read)]->count_down();
      statuses[static_cast<std::size_t>(w)] = stream->reader->Finish();
    });
  }
  rounds[0]->wait();
  EXPECT_EQ(Reads(), 1U) << "every watcher joined the first watcher's poll";
  EXPECT_EQ(Metric("codearts_gateway_watched_runs"), 1);
  EXPECT_EQ(Metric("codearts_gateway_watches_open"), kWatchers);
  for (int r = 1; r < kStates; ++r) {
    NextPoll();
    rounds[static_cast<std::size_t>(r)]->wait();
    EXPECT_EQ(Reads(), static_cast<std::uint64_t>(r + 1)) << "one upstream GET per interval";
  }
  for (auto& reader : readers) reader.join();
  for (int w = 0; w < kWatchers; ++w) {
    EXPECT_TRUE(statuses[static_cast<std::size_t>(w)].ok())
        << statuses[static_cast<std::size_t>(w)].error_message();
    EXPECT_EQ(seen[static_cast<std::size_t>(w)], seen[0]) << "watcher " << w;
  }
  ASSERT_EQ(seen[0].size(), static_cast<std::size_t>(kStates));
  EXPECT_EQ(seen[0].back().substr(0, 18), "completed/success;");
}

TEST_F(WatchTest, TokenWatchersPollWithTheirOwnTokenAndNeverShare) {
  const std::string build_id = StartBuild();
  auto signed_watch = OpenWatch(gateway_.stub(), kPipelineId, build_id);
  PipelineStatus message;
  ASSERT_TRUE(signed_watch->reader->Read(&message));
  auto token_watch = OpenWatch(gateway_.stub(), kPipelineId, build_id, kValidToken);
  ASSERT_TRUE(token_watch->reader->Read(&message));
  EXPECT_EQ(message.build_id(), build_id);
  // A token the stand-in refuses gets its own 401, not the others' state.
  auto bad_token_watch = OpenWatch(gateway_.stub(), kPipelineId, build_id, "MIIEotherTOKEN");
  EXPECT_FALSE(bad_token_watch->reader->Read(&message));
  EXPECT_EQ(bad_token_watch->reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Reads(), 2U);  // the signed watcher's poll and the good token's; the 401 is no read

  NextPoll(2);  // two loops: one per identity
  ASSERT_TRUE(signed_watch->reader->Read(&message));
  ASSERT_TRUE(token_watch->reader->Read(&message));
  int signed_polls = 0;
  int token_polls = 0;
  for (const testing::RecordedRequest& request : standin_.Requests()) {
    if (request.path != std::string("/v3/pipelines/") + kPipelineId + "/status") continue;
    const auto token = request.Header("X-Auth-Token");
    if (token && *token == kValidToken) {
      ++token_polls;
      EXPECT_FALSE(request.Header("Authorization").has_value());
    } else if (!token) {
      ++signed_polls;
      EXPECT_EQ(AccessKeyOf(request), kAccessKey);
    }
  }
  EXPECT_EQ(signed_polls, 2);
  EXPECT_EQ(token_polls, 2);
  signed_watch->context.TryCancel();
  token_watch->context.TryCancel();
  signed_watch->reader->Finish();
  token_watch->reader->Finish();
}

TEST_F(WatchTest, ThrottledPollIsRetriedAfterRetryAfterWithoutEndingTheStream) {
  const std::string build_id = StartBuild();
  auto stream = OpenWatch(gateway_.stub(), kPipelineId, build_id);
  PipelineStatus message;
  ASSERT_TRUE(stream->reader->Read(&message));
  std::atomic<int> throttled{0};
  standin_.SetHandler([this, &throttled](const testing::RecordedRequest& request) {
    if (request.method == "GET" && throttled.fetch_add(1) == 0) {
      testing::StandinReply reply =
          Reply(429, R"({"error_code":"APIGW.0308","error_msg":"throttled"})");
      reply.headers.emplace_back("Retry-After", "7");
      return reply;
    }
    return standin_.DefaultReply(request);
  });
  NextPoll();  // answered 429
  ASSERT_TRUE(clock_.WaitForPending(1));
  EXPECT_GE(clock_.delays().back(), std::chrono::seconds(7)) << "Retry-After is honoured";
  clock_.FireAll();  // the retry
  ASSERT_TRUE(stream->reader->Read(&message));
  EXPECT_EQ(Summary(message).substr(0, 40), "running/;Build=running[compile=completed");
  EXPECT_EQ(throttled.load(), 2);
  EXPECT_EQ(Metric("codearts_gateway_watch_polls_total", R"(outcome="RESOURCE_EXHAUSTED")"), 1);
  stream->context.TryCancel();
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(WatchTest, UnknownPipelineEndsNotFound) {
  auto stream = OpenWatch(gateway_.stub(), "missing-pipeline", "");
  PipelineStatus message;
  EXPECT_FALSE(stream->reader->Read(&message));
  const grpc::Status status = stream->reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_TRUE(clock_.WaitForNonePending());
  EXPECT_EQ(clock_.delays().size(), 0U) << "a 404 is not polled again";
}

TEST_F(WatchTest, BadRequestsAreRefusedBeforeAnyPoll) {
  auto empty_pipeline = OpenWatch(gateway_.stub(), "", "");
  PipelineStatus message;
  EXPECT_FALSE(empty_pipeline->reader->Read(&message));
  EXPECT_EQ(empty_pipeline->reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  WatchRequest request;
  request.set_pipeline_id(kPipelineId);
  request.mutable_poll_interval()->set_nanos(500'000'000);  // 0.5 s: below the 1 s floor
  auto reader = gateway_.stub().Watch(&context, request);
  EXPECT_FALSE(reader->Read(&message));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("poll_interval"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Reads(), 0U);
}

TEST_F(WatchTest, LatestBuildIsResolvedOnceAndFollowed) {
  const std::string first = StartBuild();
  auto stream = OpenWatch(gateway_.stub(), kPipelineId, "");  // the latest: `first`
  PipelineStatus message;
  ASSERT_TRUE(stream->reader->Read(&message));
  EXPECT_EQ(message.build_id(), first);
  const std::string second = StartBuild();  // now the latest, but not the one watched
  NextPoll();
  ASSERT_TRUE(stream->reader->Read(&message));
  EXPECT_EQ(message.build_id(), first);
  stream->context.TryCancel();
  stream->reader->Finish();
  EXPECT_NE(second, first);
}

TEST_F(WatchTest, DeadlineEndsTheStreamAndStopsPolling) {
  const std::string build_id = StartBuild();
  auto stream =
      OpenWatch(gateway_.stub(), kPipelineId, build_id, "", std::chrono::milliseconds(500));
  PipelineStatus message;
  ASSERT_TRUE(stream->reader->Read(&message));
  // No poll is fired: the build never changes, and the deadline ends the stream.
  EXPECT_FALSE(stream->reader->Read(&message));
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(clock_.WaitForNonePending()) << "the loop stopped with its last watcher";
  EXPECT_EQ(clock_.FireAll(), 0U);
  EXPECT_EQ(Reads(), 1U);
}

TEST_F(WatchTest, CancelStopsPollingAtOnce) {
  const std::string build_id = StartBuild();
  auto stream = OpenWatch(gateway_.stub(), kPipelineId, build_id);
  PipelineStatus message;
  ASSERT_TRUE(stream->reader->Read(&message));
  ASSERT_TRUE(clock_.WaitForPending(1));
  stream->context.TryCancel();
  EXPECT_EQ(stream->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(clock_.WaitForNonePending()) << "the next poll was called off";
  standin_.world().Advance(kJob);
  EXPECT_EQ(clock_.FireAll(), 0U);
  EXPECT_EQ(Reads(), 1U) << "the stand-in saw polling stop";
}

TEST_F(WatchTest, DrainEndsOpenStreamsAtOnceButServesUnaryCalls) {
  const std::string build_id = StartBuild();
  auto stream = OpenWatch(gateway_.stub(), kPipelineId, build_id);
  PipelineStatus message;
  ASSERT_TRUE(stream->reader->Read(&message));
  gateway_.server().BeginDrain();
  EXPECT_FALSE(stream->reader->Read(&message));
  const grpc::Status ended = stream->reader->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(ended.error_message().find("watch again"), std::string::npos) << ended.error_message();

  auto late = OpenWatch(gateway_.stub(), kPipelineId, build_id);
  EXPECT_FALSE(late->reader->Read(&message));
  EXPECT_EQ(late->reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(gateway_.Stop(kPipelineId, build_id).status.ok()) << "unary calls still served";
  EXPECT_EQ(gateway_.context().watches.count(), 0);
}

TEST_F(WatchTest, WatchPipelineRunFollowsAV5RunToItsEnd) {
  pipeline::v1::RunPipelineRequest run;
  run.set_project_id(kProjectId);
  run.set_pipeline_id(kPipelineId);
  pipeline::v1::RunPipelineResponse started;
  ASSERT_TRUE(
      CallPipeline(gateway_.stub(), &PipelineService::Stub::RunPipeline, run, &started).ok());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  WatchPipelineRunRequest request;
  request.set_project_id(kProjectId);
  request.set_pipeline_id(kPipelineId);
  request.set_pipeline_run_id(started.pipeline_run_id());
  auto reader = gateway_.stub().WatchPipelineRun(&context, request);
  std::vector<std::string> statuses;
  PipelineRun message;
  ASSERT_TRUE(reader->Read(&message));
  statuses.push_back(message.status());
  while (message.status() == "RUNNING") {
    NextPoll();
    if (!reader->Read(&message)) break;
    statuses.push_back(message.status());
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(statuses, (std::vector<std::string>{"RUNNING", "RUNNING", "RUNNING", "COMPLETED"}));
  EXPECT_EQ(message.id(), started.pipeline_run_id());
}

}  // namespace
}  // namespace codearts::e2e
