// The run lifecycle of PipelineService end to end: each RPC over a real gRPC channel, through the
// gateway, to the stand-in over TLS, which verifies every signature with its own code. Checked per
// RPC: the REST request (method, target, body JSON, content type), the response fields, and the
// error rows that are particular to it.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "e2e/gateway_fixture.h"

namespace codearts::e2e {
namespace {

using std::chrono::seconds;
using testing::CodeArtsStandin;
using testing::RecordedRequest;
using testing::StandinReply;
using namespace codearts::pipeline::v1;  // NOLINT(google-build-using-namespace): the API's messages

constexpr char kCodeArtsProject[] = "b7a1c2d3e4f5061728394a5b6c7d8e9f";
constexpr char kRunId[] = "7e1d2c3b4a5968778695a4b3c2d1e0f9";

class RunLifecycleE2eTest : public ::testing::Test {
 protected:
  RunLifecycleE2eTest() {
    standin_.SetHandler([this](const RecordedRequest& request) {
      if (!request.auth_ok) return standin_.DefaultReply(request);
      std::lock_guard lock(mutex_);
      if (scripted_.empty()) return Reply(500, R"({"error_code":"TEST.0001"})");
      StandinReply reply = scripted_.front();
      scripted_.erase(scripted_.begin());
      return reply;
    });
  }

  void Script(std::vector<StandinReply> replies) {
    std::lock_guard lock(mutex_);
    scripted_ = std::move(replies);
  }

  // The one request the stand-in received, signature verified.
  RecordedRequest OnlyRequest() {
    const std::vector<RecordedRequest> requests = standin_.Requests();
    EXPECT_EQ(requests.size(), 1u);
    if (requests.empty()) return {};
    EXPECT_TRUE(requests[0].auth_ok) << requests[0].auth_error;
    return requests[0];
  }

  CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
  GatewayOptions options_ = [] {
    GatewayOptions options;
    options.retry.base_backoff = std::chrono::milliseconds(1);
    return options;
  }();
  std::mutex mutex_;
  std::vector<StandinReply> scripted_;  // guarded by mutex_
  GatewayUnderTest gateway_{standin_, options_};
};

// Bodies compared as JSON values, so that the test says what is sent, not how it is spelt.
void ExpectJson(const std::string& actual, const std::string& expected) {
  EXPECT_EQ(boost::json::serialize(boost::json::parse(actual)),
            boost::json::serialize(boost::json::parse(expected)))
      << actual;
}

TEST_F(RunLifecycleE2eTest, StartPostsTheBuildParametersAndReturnsTheBuildId) {
  Script({Reply(200, R"({"pipeline_id":")" + std::string(kPipelineId) +
                         R"(","build_id":"b-42","unknown":1})")});
  StartRequest request;
  request.set_pipeline_id(kPipelineId);
  Parameter* parameter = request.add_build_params();
  parameter->set_name("env");
  parameter->set_value("prod");
  StartResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::Start, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.build_id(), "b-42");
  EXPECT_EQ(response.pipeline_id(), kPipelineId);
  const RecordedRequest sent = OnlyRequest();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, std::string("/v3/pipelines/") + kPipelineId + "/start");
  EXPECT_EQ(sent.Header("Content-Type"), "application/json");
  ExpectJson(sent.body, R"({"build_params":[{"name":"env","value":"prod"}]})");
}

TEST_F(RunLifecycleE2eTest, StartAnswerWithoutABuildIdIsInternalNeverOk) {
  Script({Reply(200, R"({"pipeline_id":"p"})")});
  StartRequest request;
  request.set_pipeline_id(kPipelineId);
  StartResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::Start, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(status.error_message().find("StartNewPipeline"), std::string::npos)
      << status.error_message();
}

TEST_F(RunLifecycleE2eTest, StartIsNotSentAgainAfterA502) {
  Script({Reply(502, ""), Reply(200, R"({"build_id":"b-2"})")});
  StartRequest request;
  request.set_pipeline_id(kPipelineId);
  StartResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::Start, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(standin_.Requests().size(), 1u);  // a second start would be a second build
}

TEST_F(RunLifecycleE2eTest, GetStatusReadsStagesAndJobs) {
  Script({Reply(200, R"({"pipeline_id":"p1","pipeline_name":"deploy","executor":"alice",)"
                     R"("build_id":"b-42","start_time":"2024-01-15 08:30:00","end_time":"",)"
                     R"("parameters":[{"name":"env","value":"prod"}],"elapsed_time":"00:01:02",)"
                     R"("status":"running","outcome":"","detail_url":"https://console/x",)"
                     R"("states":[{"id":"s1","name":"Build","type":"stage","status":"completed",)"
                     R"("outcome":"success","children":[{"id":"j1","name":"compile","type":"job",)"
                     R"("status":"completed","outcome":"success","children":[]}]}]})")});
  GetStatusRequest request;
  request.set_pipeline_id(kPipelineId);
  request.set_build_id("b-42");
  PipelineStatus status_message;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::GetStatus, request, &status_message);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(status_message.status(), "running");
  EXPECT_EQ(status_message.executor(), "alice");
  ASSERT_EQ(status_message.parameters_size(), 1);
  EXPECT_EQ(status_message.parameters(0).value(), "prod");
  ASSERT_EQ(status_message.states_size(), 1);
  ASSERT_EQ(status_message.states(0).children_size(), 1);
  EXPECT_EQ(status_message.states(0).children(0).name(), "compile");
  const RecordedRequest sent = OnlyRequest();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.target, std::string("/v3/pipelines/") + kPipelineId + "/status?build_id=b-42");
  EXPECT_EQ(sent.body, "");
}

TEST_F(RunLifecycleE2eTest, GetStatusWithoutABuildIdAsksForTheLatestAndIsRetriedAfterA502) {
  Script({Reply(502, ""), Reply(200, R"({"status":"completed","outcome":"success"})")});
  GetStatusRequest request;
  request.set_pipeline_id(kPipelineId);
  PipelineStatus response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::GetStatus, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.outcome(), "success");
  const std::vector<RecordedRequest> requests = standin_.Requests();
  ASSERT_EQ(requests.size(), 2u);  // a read may be repeated
  EXPECT_EQ(requests[1].target, std::string("/v3/pipelines/") + kPipelineId + "/status");
}

TEST_F(RunLifecycleE2eTest, RunPipelinePostsItsBodyWithTheV5ContentType) {
  Script({Reply(200, R"({"pipeline_run_id":")" + std::string(kRunId) + R"("})")});
  RunPipelineRequest request;
  request.set_project_id(kCodeArtsProject);
  request.set_pipeline_id(kPipelineId);
  request.set_description("release 1.2");
  RunSource* source = request.add_sources();
  source->set_type("code");
  source->mutable_params()->set_git_type("codehub");
  source->mutable_params()->mutable_build_params()->set_build_type("branch");
  source->mutable_params()->mutable_build_params()->set_target_branch("main");
  Parameter* variable = request.add_variables();
  variable->set_name("VERSION");
  variable->set_value("1.2");
  request.add_choose_stages("s1");
  RunPipelineResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::RunPipeline, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.pipeline_run_id(), kRunId);
  const RecordedRequest sent = OnlyRequest();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target,
            std::string("/v5/") + kCodeArtsProject + "/api/pipelines/" + kPipelineId + "/run");
  EXPECT_EQ(sent.Header("Content-Type"), "application/json;charset=UTF-8");
  // The CodeArts project id goes in the path; the IAM project id, as always, in X-Project-Id.
  EXPECT_EQ(sent.Header("X-Project-Id"), kProjectId);
  ExpectJson(sent.body,
             R"({"sources":[{"type":"code","params":{"git_type":"codehub",)"
             R"("build_params":{"build_type":"branch","target_branch":"main"}}}],)"
             R"("description":"release 1.2","variables":[{"name":"VERSION","value":"1.2"}],)"
             R"("choose_stages":["s1"]})");
}

TEST_F(RunLifecycleE2eTest, RunPipelineWithoutAProjectIdIsRefusedBeforeAnythingIsSent) {
  RunPipelineRequest request;
  request.set_pipeline_id(kPipelineId);
  RunPipelineResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::RunPipeline, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("project_id"), std::string::npos) << status.error_message();
  EXPECT_TRUE(standin_.Requests().empty());
}

TEST_F(RunLifecycleE2eTest, GetPipelineRunReadsStagesJobsAndStepsWithMillisecondTimes) {
  Script(
      {Reply(200, R"({"id":")" + std::string(kRunId) +
                      R"(","pipeline_id":"p1","name":"deploy","status":"RUNNING","run_number":12,)"
                      R"("trigger_type":"Manual","start_time":1705307400123,"end_time":0,)"
                      R"("current_system_time":"ignored","detail_url":"https://console/r",)"
                      R"("artifacts":[{"name":"app.tgz","packageType":"tgz","downloadUrl":"u"}],)"
                      R"("stages":[{"id":"s1","name":"Build","sequence":0,"status":"COMPLETED",)"
                      R"("start_time":1705307400123,"end_time":1705307460123,"jobs":[{"id":"j1",)"
                      R"("name":"compile","status":"COMPLETED","steps":[{"id":"t1","name":"mvn",)"
                      R"("task":"official_maven_build","status":"COMPLETED",)"
                      R"("inputs":[{"key":"k","value":{"any":"json"}}]}]}]}]})")});
  GetPipelineRunRequest request;
  request.set_project_id(kCodeArtsProject);
  request.set_pipeline_id(kPipelineId);
  request.set_pipeline_run_id(kRunId);
  PipelineRun run;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::GetPipelineRun, request, &run);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(run.id(), kRunId);
  EXPECT_EQ(run.run_number(), 12);
  EXPECT_EQ(run.start_time(), 1705307400123);
  ASSERT_EQ(run.artifacts_size(), 1);
  EXPECT_EQ(run.artifacts(0).package_type(), "tgz");  // CodeArts spells this one in camelCase
  ASSERT_EQ(run.stages_size(), 1);
  EXPECT_EQ(run.stages(0).end_time(), 1705307460123);
  ASSERT_EQ(run.stages(0).jobs_size(), 1);
  ASSERT_EQ(run.stages(0).jobs(0).steps_size(), 1);
  EXPECT_EQ(run.stages(0).jobs(0).steps(0).task(), "official_maven_build");
  const RecordedRequest sent = OnlyRequest();
  EXPECT_EQ(sent.method, "GET");
  EXPECT_EQ(sent.target, std::string("/v5/") + kCodeArtsProject + "/api/pipelines/" + kPipelineId +
                             "/pipeline-runs/detail?pipeline_run_id=" + kRunId);
}

TEST_F(RunLifecycleE2eTest, GetPipelineRunOfAnUnknownRunIsNotFoundWithCodeArtsError) {
  StandinReply reply = Reply(404, R"({"error_code":"DEVPIPE.00011104","error_msg":"no such run"})");
  reply.headers.emplace_back("X-Request-Id", "req-404");
  Script({reply});
  GetPipelineRunRequest request;
  request.set_project_id(kCodeArtsProject);
  request.set_pipeline_id(kPipelineId);
  request.set_pipeline_run_id("nope");
  PipelineRun run;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::GetPipelineRun, request, &run);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("DEVPIPE.00011104: no such run"), std::string::npos)
      << status.error_message();
  const std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "DEVPIPE.00011104");
  EXPECT_EQ(info->metadata().at("request_id"), "req-404");
}

TEST_F(RunLifecycleE2eTest, StopPipelineRunPostsToTheRunAndIsOkOnlyWhenCodeArtsSaysSuccess) {
  Script({Reply(200, R"({"success":true})")});
  StopPipelineRunRequest request;
  request.set_project_id(kCodeArtsProject);
  request.set_pipeline_id(kPipelineId);
  request.set_pipeline_run_id(kRunId);
  StopPipelineRunResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::StopPipelineRun, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.success());
  const RecordedRequest sent = OnlyRequest();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, std::string("/v5/") + kCodeArtsProject + "/api/pipelines/" + kPipelineId +
                             "/pipeline-runs/" + kRunId + "/stop");
  EXPECT_EQ(sent.body, "");
}

TEST_F(RunLifecycleE2eTest, StopPipelineRunAnsweredWithSuccessFalseIsFailedPrecondition) {
  for (const char* body : {R"({"success":false})", R"({})"}) {
    Script({Reply(200, body)});
    StopPipelineRunRequest request;
    request.set_project_id(kCodeArtsProject);
    request.set_pipeline_id(kPipelineId);
    request.set_pipeline_run_id(kRunId);
    StopPipelineRunResponse response;
    const grpc::Status status =
        CallPipeline(gateway_.stub(), &PipelineService::Stub::StopPipelineRun, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << body;
    EXPECT_NE(status.error_message().find(R"("success": false)"), std::string::npos)
        << status.error_message();
    const std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(status);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->reason(), "OPERATION_NOT_SUCCESSFUL");
  }
}

TEST_F(RunLifecycleE2eTest, StopPipelineRunWithAMalformedRunIdIsRefusedBeforeAnythingIsSent) {
  StopPipelineRunRequest request;
  request.set_project_id(kCodeArtsProject);
  request.set_pipeline_id(kPipelineId);
  request.set_pipeline_run_id("../../other");
  StopPipelineRunResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::StopPipelineRun, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("pipeline_run_id"), std::string::npos)
      << status.error_message();
  EXPECT_TRUE(standin_.Requests().empty());
}

TEST_F(RunLifecycleE2eTest, ListPipelineRunsPostsTheFiltersAndReadsThePage) {
  Script({Reply(200, R"({"offset":0,"limit":2,"total":7,"pipeline_runs":[{"pipeline_id":"p1",)"
                     R"("pipeline_run_id":"r1","status":"FAILED","run_number":7,)"
                     R"("start_time":1705307400123,"stage_status_list":[{"id":"s1",)"
                     R"("name":"Build","sequence":0,"status":"FAILED",)"
                     R"("start_time":"2024-01-15 08:30:00"}],"build_params":{"tag":"v1"}},)"
                     R"({"pipeline_run_id":"r2","status":"COMPLETED"}]})")});
  ListPipelineRunsRequest request;
  request.set_project_id(kCodeArtsProject);
  request.set_pipeline_id(kPipelineId);
  request.add_status("FAILED");
  request.add_status("COMPLETED");
  request.set_limit(2);
  request.set_sort_key("start_time");
  request.set_sort_dir("desc");
  ListPipelineRunsResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::ListPipelineRuns, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.total(), 7);
  ASSERT_EQ(response.pipeline_runs_size(), 2);
  EXPECT_EQ(response.pipeline_runs(0).run_number(), 7);
  ASSERT_EQ(response.pipeline_runs(0).stage_status_list_size(), 1);
  EXPECT_EQ(response.pipeline_runs(0).stage_status_list(0).status(), "FAILED");
  const RecordedRequest sent = OnlyRequest();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.target, std::string("/v5/") + kCodeArtsProject + "/api/pipelines/" + kPipelineId +
                             "/pipeline-runs/list");
  EXPECT_EQ(sent.Header("Content-Type"), "application/json;charset=UTF-8");
  ExpectJson(sent.body, R"({"status":["FAILED","COMPLETED"],"limit":2,"sort_key":"start_time",)"
                        R"("sort_dir":"desc"})");
}

TEST_F(RunLifecycleE2eTest, ListPipelinesPostsTheQueryAndReadsEachLatestRun) {
  Script({Reply(503, ""),
          Reply(200, R"({"offset":0,"limit":10,"total":1,"current_system_time":1705307400123,)"
                     R"("pipelines":[{"pipeline_id":"p1","name":"deploy","project_id":")" +
                         std::string(kCodeArtsProject) +
                         R"(","create_time":1700000000000,"is_publish":false,)"
                         R"("latest_run":{"pipeline_run_id":"r9","status":"RUNNING",)"
                         R"("run_number":9},"tag_list":[]}]})")});
  ListPipelinesRequest request;
  request.set_project_id(kCodeArtsProject);
  request.set_name("deploy");
  request.set_limit(10);
  ListPipelinesResponse response;
  const grpc::Status status =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::ListPipelines, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.pipelines_size(), 1);
  EXPECT_EQ(response.pipelines(0).create_time(), 1700000000000);
  EXPECT_EQ(response.pipelines(0).latest_run().pipeline_run_id(), "r9");
  const std::vector<RecordedRequest> requests = standin_.Requests();
  ASSERT_EQ(requests.size(), 2u);  // 503 then 200
  EXPECT_TRUE(requests[1].auth_ok) << requests[1].auth_error;
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[1].target, std::string("/v5/") + kCodeArtsProject + "/api/pipelines/list");
  ExpectJson(requests[1].body, R"({"name":"deploy","limit":10})");
}

// Every RPC is counted by its own name, with no code of its own.
TEST_F(RunLifecycleE2eTest, EveryRpcHasItsOwnMetrics) {
  Script({Reply(200, R"({"build_id":"b"})"), Reply(200, R"({"status":"running"})")});
  StartRequest start;
  start.set_pipeline_id(kPipelineId);
  StartResponse started;
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::Start, start, &started).ok());
  GetStatusRequest get;
  get.set_pipeline_id(kPipelineId);
  PipelineStatus got;
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::GetStatus, get, &got).ok());
  const std::string metrics = gateway_.Admin("/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "codearts_gateway_calls_total", R"(code="OK",method="Start")"), 1);
  EXPECT_EQ(MetricValue(metrics, "codearts_gateway_calls_total", R"(code="OK",method="GetStatus")"),
            1);
}

}  // namespace
}  // namespace codearts::e2e
