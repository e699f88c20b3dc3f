// The real pipelinectl binary against the in-process gateway and the stand-in's pipelines: each
// run-lifecycle subcommand prints the response as JSON and exits with the gRPC code.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/gateway_fixture.h"

extern char** environ;

namespace codearts::e2e {
namespace {

struct Ran {
  int exit_code = -1;
  std::string out;
};

// Runs pipelinectl with `args` (every call has --timeout, so it ends by itself).
Ran RunPipelinectl(const std::vector<std::string>& args) {
  const std::string out_path = testing::WriteTempFile("pipelinectl.out", "");
  std::vector<std::string> all = {PIPELINECTL_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  all.emplace_back("--timeout=10s");
  std::vector<char*> argv;
  argv.reserve(all.size() + 1);
  for (std::string& arg : all) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_TRUNC,
                                   0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  Ran ran;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    if (waitpid(pid, &status, 0) == pid && WIFEXITED(status)) ran.exit_code = WEXITSTATUS(status);
  }
  posix_spawn_file_actions_destroy(&actions);
  std::ifstream in(out_path);
  std::stringstream text;
  text << in.rdbuf();
  ran.out = text.str();
  return ran;
}

class PipelinectlTest : public ::testing::Test {
 protected:
  std::string Target() { return "--target=" + gateway_.address(); }

  testing::CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
  GatewayUnderTest gateway_{standin_};
};

TEST_F(PipelinectlTest, StartStatusStopAndCall) {
  const Ran started = RunPipelinectl(
      {"start", Target(), std::string("--pipeline-id=") + kPipelineId, "--param=env=ci,v=2"});
  ASSERT_EQ(started.exit_code, 0) << started.out;
  const std::size_t at = started.out.find(R"("build_id":")");
  ASSERT_NE(at, std::string::npos) << started.out;
  const std::string build_id =
      started.out.substr(at + 12, started.out.find('"', at + 12) - at - 12);

  const Ran status = RunPipelinectl(
      {"status", Target(), std::string("--pipeline-id=") + kPipelineId, "--build-id=" + build_id});
  ASSERT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find(R"("status":"running")"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(R"({"name":"v","value":"2"})"), std::string::npos) << status.out;

  const Ran stopped = RunPipelinectl(
      {"stop", Target(), std::string("--pipeline-id=") + kPipelineId, "--build-id=" + build_id});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.out;

  const Ran called = RunPipelinectl({"call", "GetStatus", Target(),
                                     std::string(R"(-d={"pipeline_id":")") + kPipelineId +
                                         R"(","build_id":")" + build_id + R"("})"});
  ASSERT_EQ(called.exit_code, 0) << called.out;
  EXPECT_NE(called.out.find(R"("outcome":"aborted")"), std::string::npos) << called.out;
}

TEST_F(PipelinectlTest, ExitCodesAreTheGrpcCodes) {
  EXPECT_EQ(RunPipelinectl({"status", Target(), "--pipeline-id=missing0000"}).exit_code, 5);
  EXPECT_EQ(RunPipelinectl({"runs", Target(), "--pipeline-id=p"}).exit_code, 2);  // no project
  EXPECT_EQ(RunPipelinectl({"call", "NoSuchMethod", Target()}).exit_code, 2);
  const Ran listed =
      RunPipelinectl({"pipelines", Target(), "--project-id=b7a1c2d3e4f5061728394a5b6c7d8e9f"});
  EXPECT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_NE(listed.out.find(R"("total":0)"), std::string::npos) << listed.out;
}

}  // namespace
}  // namespace codearts::e2e
