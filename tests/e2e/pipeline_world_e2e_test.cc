// The run lifecycle against the stand-in's stateful world: builds and runs started through the
// gateway move through their stages on a clock the test moves, and every read, stop and list
// reports what happened, with every signature verified.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "e2e/gateway_fixture.h"

namespace codearts::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace codearts::pipeline::v1;  // NOLINT(google-build-using-namespace): the API's messages

constexpr char kCodeArtsProject[] = "b7a1c2d3e4f5061728394a5b6c7d8e9f";
constexpr milliseconds kJob{1000};  // the stand-in's default job duration

class PipelineWorldE2eTest : public ::testing::Test {
 protected:
  testing::CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
  GatewayUnderTest gateway_{standin_};
};

TEST_F(PipelineWorldE2eTest, StartStatusStopFollowsTheBuild) {
  StartRequest start;
  start.set_pipeline_id(kPipelineId);
  Parameter* parameter = start.add_build_params();
  parameter->set_name("env");
  parameter->set_value("prod");
  StartResponse started;
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::Start, start, &started).ok());
  ASSERT_FALSE(started.build_id().empty());

  GetStatusRequest get;
  get.set_pipeline_id(kPipelineId);
  get.set_build_id(started.build_id());
  PipelineStatus status;
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::GetStatus, get, &status).ok());
  EXPECT_EQ(status.status(), "running");
  ASSERT_EQ(status.states_size(), 2);
  EXPECT_EQ(status.states(0).children(0).status(), "running");
  ASSERT_EQ(status.parameters_size(), 1);
  EXPECT_EQ(status.parameters(0).value(), "prod");

  standin_.world().Advance(kJob);  // compile done, unit-test running
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::GetStatus, get, &status).ok());
  EXPECT_EQ(status.states(0).children(0).outcome(), "success");
  EXPECT_EQ(status.states(0).children(1).status(), "running");

  StopRequest stop;
  stop.set_pipeline_id(kPipelineId);
  stop.set_build_id(started.build_id());
  StopResponse stopped;
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::Stop, stop, &stopped).ok());
  standin_.world().Advance(10 * kJob);
  // Without a build id: the latest build, which is this one.
  get.clear_build_id();
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::GetStatus, get, &status).ok());
  EXPECT_EQ(status.build_id(), started.build_id());
  EXPECT_EQ(status.status(), "completed");
  EXPECT_EQ(status.outcome(), "aborted");
  for (const auto& request : standin_.Requests()) EXPECT_TRUE(request.auth_ok);
}

TEST_F(PipelineWorldE2eTest, RunPipelineToTheEndThenStoppingItIsRefused) {
  RunPipelineRequest run;
  run.set_project_id(kCodeArtsProject);
  run.set_pipeline_id(kPipelineId);
  RunPipelineResponse ran;
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::RunPipeline, run, &ran).ok());

  GetPipelineRunRequest get;
  get.set_project_id(kCodeArtsProject);
  get.set_pipeline_id(kPipelineId);
  get.set_pipeline_run_id(ran.pipeline_run_id());
  PipelineRun detail;
  ASSERT_TRUE(
      CallPipeline(gateway_.stub(), &PipelineService::Stub::GetPipelineRun, get, &detail).ok());
  EXPECT_EQ(detail.status(), "RUNNING");
  EXPECT_EQ(detail.run_number(), 1);
  ASSERT_EQ(detail.stages_size(), 2);
  EXPECT_EQ(detail.stages(0).jobs(0).status(), "RUNNING");

  standin_.world().Advance(3 * kJob);
  ASSERT_TRUE(
      CallPipeline(gateway_.stub(), &PipelineService::Stub::GetPipelineRun, get, &detail).ok());
  EXPECT_EQ(detail.status(), "COMPLETED");
  EXPECT_EQ(detail.stages(1).jobs(0).status(), "COMPLETED");

  StopPipelineRunRequest stop;
  stop.set_project_id(kCodeArtsProject);
  stop.set_pipeline_id(kPipelineId);
  stop.set_pipeline_run_id(ran.pipeline_run_id());
  StopPipelineRunResponse stopped;
  const grpc::Status refused =
      CallPipeline(gateway_.stub(), &PipelineService::Stub::StopPipelineRun, stop, &stopped);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();

  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::RunPipeline, run, &ran)
                  .ok());  // a second run
  ListPipelineRunsRequest list;
  list.set_project_id(kCodeArtsProject);
  list.set_pipeline_id(kPipelineId);
  list.set_limit(1);
  ListPipelineRunsResponse runs;
  ASSERT_TRUE(
      CallPipeline(gateway_.stub(), &PipelineService::Stub::ListPipelineRuns, list, &runs).ok());
  EXPECT_EQ(runs.total(), 2);
  ASSERT_EQ(runs.pipeline_runs_size(), 1);  // one page of one, newest first
  EXPECT_EQ(runs.pipeline_runs(0).pipeline_run_id(), ran.pipeline_run_id());
  EXPECT_EQ(runs.pipeline_runs(0).status(), "RUNNING");

  stop.set_pipeline_run_id(ran.pipeline_run_id());
  ASSERT_TRUE(
      CallPipeline(gateway_.stub(), &PipelineService::Stub::StopPipelineRun, stop, &stopped).ok());
  EXPECT_TRUE(stopped.success());

  ListPipelinesRequest pipelines_request;
  pipelines_request.set_project_id(kCodeArtsProject);
  ListPipelinesResponse pipelines;
  ASSERT_TRUE(CallPipeline(gateway_.stub(), &PipelineService::Stub::ListPipelines,
                           pipelines_request, &pipelines)
                  .ok());
  ASSERT_EQ(pipelines.pipelines_size(), 1);
  EXPECT_EQ(pipelines.pipelines(0).latest_run().pipeline_run_id(), ran.pipeline_run_id());
  EXPECT_EQ(pipelines.pipelines(0).latest_run().status(), "CANCELED");
}

TEST_F(PipelineWorldE2eTest, AnUnknownPipelineIsNotFound) {
  GetStatusRequest get;
  get.set_pipeline_id("missing0000");
  PipelineStatus status;
  EXPECT_EQ(
      CallPipeline(gateway_.stub(), &PipelineService::Stub::GetStatus, get, &status).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace codearts::e2e
