// The real pipelinectl binary against the in-process gateway and the stand-in's pipelines: each
// run-lifecycle subcommand prints the response as JSON and exits with the gRPC code.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/gateway_fixture.h"
#include "e2e/manual_poll_clock.h"

extern char** environ;

namespace codearts::e2e {
namespace {

struct Ran {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A pipelinectl process started and not waited for yet.
struct Running {
  pid_t pid = -1;
  std::string out_path;
  int out_pipe = -1;     // with Output::kPipe: the read end of its stdout
  std::string received;  // what has been read from out_pipe so far
};

enum class Output { kFile, kPipe };

// Starts pipelinectl with `args`, stdout to a file or a pipe the test reads (every call has
// --timeout, so it ends by itself).
Running SpawnPipelinectl(const std::vector<std::string>& args,
                         const std::string& timeout = "--timeout=10s",
                         Output output = Output::kFile) {
  Running running;
  running.out_path = testing::WriteTempFile("pipelinectl.out", "");
  const std::string& out_path = running.out_path;
  int pipe_ends[2] = {-1, -1};
  if (output == Output::kPipe && pipe2(pipe_ends, O_CLOEXEC) != 0) return running;
  std::vector<std::string> all = {PIPELINECTL_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  all.push_back(timeout);
  std::vector<char*> argv;
  argv.reserve(all.size() + 1);
  for (std::string& arg : all) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (output == Output::kPipe) {
    posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_TRUNC,
                                     0);
  }
  const std::string err_path = out_path + ".err";
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (posix_spawn(&running.pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    running.pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  if (output == Output::kPipe) {
    close(pipe_ends[1]);
    running.out_pipe = pipe_ends[0];
  }
  return running;
}

// Reads from `running`'s stdout pipe until it holds `lines` complete lines, waiting for the
// process at most `timeout` in all; false when they did not come (or it ended first).
bool WaitForLines(Running& running, std::size_t lines, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (static_cast<std::size_t>(
             std::count(running.received.begin(), running.received.end(), '\n')) < lines) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd readable{.fd = running.out_pipe, .events = POLLIN, .revents = 0};
    if (poll(&readable, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[4096];
    const ssize_t got = read(running.out_pipe, chunk, sizeof chunk);
    if (got <= 0) return false;
    running.received.append(chunk, static_cast<std::size_t>(got));
  }
  return true;
}

// Waits for `running` to exit; its exit status and what it printed.
Ran WaitFor(const Running& running) {
  Ran ran;
  int status = 0;
  if (running.pid > 0 && waitpid(running.pid, &status, 0) == running.pid && WIFEXITED(status)) {
    ran.exit_code = WEXITSTATUS(status);
  }
  if (running.out_pipe >= 0) {
    ran.out = running.received;
    char chunk[4096];
    for (ssize_t got = 0; (got = read(running.out_pipe, chunk, sizeof chunk)) > 0;) {
      ran.out.append(chunk, static_cast<std::size_t>(got));
    }
    close(running.out_pipe);
  } else {
    std::ifstream in(running.out_path);
    std::stringstream text;
    text << in.rdbuf();
    ran.out = text.str();
  }
  std::ifstream err(running.out_path + ".err");
  std::stringstream err_text;
  err_text << err.rdbuf();
  ran.err = err_text.str();
  return ran;
}

Ran RunPipelinectl(const std::vector<std::string>& args) { return WaitFor(SpawnPipelinectl(args)); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
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

// Nothing listens: pipelinectl waits --connect-timeout for the connection (gRPC retrying with its
// backoff meanwhile), then says so and exits 14, without a call having been sent.
TEST_F(PipelinectlTest, NoGatewayIsUnavailableAfterTheConnectTimeout) {
  const std::uint16_t port = ClosedPort();
  const Ran ran =
      RunPipelinectl({"status", "--target=127.0.0.1:" + std::to_string(port),
                      std::string("--pipeline-id=") + kPipelineId, "--connect-timeout=1s"});
  EXPECT_EQ(ran.exit_code, 14) << ran.err;
  EXPECT_NE(ran.err.find("could not connect to 127.0.0.1:" + std::to_string(port) + " within 1s"),
            std::string::npos)
      << ran.err;
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

// watch and start --wait against a gateway whose polls the test fires: one line per change when
// stdout is not a terminal, and the build's result as the exit status.
class PipelinectlWatchTest : public ::testing::Test {
 protected:
  std::string Target() { return "--target=" + gateway_.address(); }
  // Poll `polled` (from 1): once the gateway has scheduled its next poll and pipelinectl has
  // printed the state the last one found, moves the build on by one job and fires the poll. A
  // poll is fired only after the previous state reached the reader, so none is coalesced. When
  // either does not happen, pipelinectl is ended and what it printed is the failure.
  void NextPoll(Running& running, std::size_t polled) {
    const char* missing = nullptr;
    if (!clock_.WaitForPending(1, std::chrono::seconds(30))) {
      missing = "no poll scheduled within 30 s";
    } else if (!WaitForLines(running, polled, std::chrono::seconds(30))) {
      missing = "no line for the last state within 30 s";
    }
    if (missing != nullptr) {
      kill(running.pid, SIGKILL);
      const Ran ran = WaitFor(running);
      FAIL() << missing << "; pipelinectl exited " << ran.exit_code << ", stdout: " << ran.out
             << " stderr: " << ran.err;
    }
    standin_.world().Advance(std::chrono::seconds(1));
    clock_.FireAll();
  }

  ManualPollClock clock_;
  testing::CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
  GatewayUnderTest gateway_{standin_, GatewayOptions{.poll_clock = &clock_}};
};

TEST_F(PipelinectlWatchTest, WatchPrintsOneLinePerChangeAndExitsZeroOnSuccess) {
  pipeline::v1::StartRequest start;
  start.set_pipeline_id(kPipelineId);
  pipeline::v1::StartResponse started;
  ASSERT_TRUE(
      CallPipeline(gateway_.stub(), &pipeline::v1::PipelineService::Stub::Start, start, &started)
          .ok());
  Running running =
      SpawnPipelinectl({"watch", Target(), std::string("--pipeline-id=") + kPipelineId,
                        "--build-id=" + started.build_id()},
                       "--timeout=60s", Output::kPipe);
  for (int job = 0; job < 3; ++job) {
    NextPoll(running, static_cast<std::size_t>(job) + 1);
    if (HasFatalFailure()) return;
  }
  const Ran ran = WaitFor(running);
  EXPECT_EQ(ran.exit_code, 0) << ran.out << ran.err;
  const std::vector<std::string> lines = Lines(ran.out);
  EXPECT_EQ(lines.size(), 4U) << ran.out;  // one line per state: each was read before the next
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.front().find("build=" + started.build_id() +
                               " status=running outcome=- stages=Build:running[compile:running,"
                               "unit-test:waiting],Deploy:waiting[deploy:waiting]"),
            std::string::npos)
      << ran.out;
  EXPECT_NE(lines.back().find("status=completed outcome=success stages=Build:completed["),
            std::string::npos)
      << ran.out;
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_NE(lines[i], lines[i - 1]) << ran.out;
}

TEST_F(PipelinectlWatchTest, StartWaitExitsTwentyWhenTheBuildFails) {
  Running running =
      SpawnPipelinectl({"start", "--wait", "--json", Target(), "--pipeline-id=failing-pipeline"},
                       "--timeout=60s", Output::kPipe);
  for (int job = 0; job < 2; ++job) {
    NextPoll(running, static_cast<std::size_t>(job) + 1);
    if (HasFatalFailure()) return;
  }
  const Ran ran = WaitFor(running);
  EXPECT_EQ(ran.exit_code, 20) << ran.out << ran.err;
  const std::vector<std::string> lines = Lines(ran.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find(R"("outcome":"error")"), std::string::npos) << ran.out;
}

}  // namespace
}  // namespace codearts::e2e
