// The real codearts-gateway binary as operators run it: start-up errors, a Unix socket listener,
// and a graceful drain on SIGTERM.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <future>
#include <string>
#include <vector>

#include "e2e/gateway_fixture.h"

extern char** environ;

namespace codearts::e2e {
namespace {

using std::chrono::seconds;

struct Child {
  pid_t pid = -1;
  std::string stdout_path;  // the log
  std::string stderr_path;  // start-up errors, --help
};

Child Spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env) {
  Child child;
  child.stderr_path = testing::WriteTempFile("stderr.log", "");
  child.stdout_path = testing::WriteTempFile("stdout.log", "");
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, child.stderr_path.c_str(),
                                   O_WRONLY | O_TRUNC, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, child.stdout_path.c_str(),
                                   O_WRONLY | O_TRUNC, 0);
  EXPECT_EQ(posix_spawn(&child.pid, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  return child;
}

// Waits for the child to exit, at most `timeout`; returns its exit code, or -1 (and kills it).
int WaitForExit(const Child& child, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    const pid_t done = waitpid(child.pid, &status, WNOHANG);
    if (done == child.pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child.pid, SIGKILL);
      waitpid(child.pid, &status, 0);
      return -1;
    }
    // Polling a child's exit: there is no event to wait on without a SIGCHLD handler.
    usleep(10 * 1000);
  }
}

std::string ReadFile(const std::string& path) {
  std::string contents;
  if (FILE* file = std::fopen(path.c_str(), "r")) {
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, n);
    std::fclose(file);
  }
  return contents;
}

TEST(GatewayProcessTest, UnknownRegionExitsTwoListingTheKnownOnes) {
  const Child child = Spawn({GATEWAY_BINARY, "--region=mars-1"}, {});
  EXPECT_EQ(WaitForExit(child, std::chrono::seconds(10)), 2);
  const std::string err = ReadFile(child.stderr_path);
  EXPECT_NE(err.find("unknown region \"mars-1\""), std::string::npos) << err;
  EXPECT_NE(err.find("cn-north-4"), std::string::npos) << err;
}

TEST(GatewayProcessTest, PlainHttpEndpointIsRefused) {
  const Child child = Spawn({GATEWAY_BINARY, "--endpoint=http://127.0.0.1:1"}, {});
  EXPECT_EQ(WaitForExit(child, std::chrono::seconds(10)), 2);
  EXPECT_NE(ReadFile(child.stderr_path).find("https://"), std::string::npos);
}

TEST(GatewayProcessTest, BadFlagValueFromTheEnvironmentExitsTwoNamingIt) {
  const Child child =
      Spawn({GATEWAY_BINARY, "--region=cn-north-4"}, {"GATEWAY_UPSTREAM_TIMEOUT=forever"});
  EXPECT_EQ(WaitForExit(child, std::chrono::seconds(10)), 2);
  EXPECT_NE(ReadFile(child.stderr_path).find("GATEWAY_UPSTREAM_TIMEOUT"), std::string::npos);
}

TEST(GatewayProcessTest, HelpListsEveryFlagWithItsDefault) {
  const Child child = Spawn({GATEWAY_BINARY, "--help"}, {});
  // Asking for help is not a failure: exit 0, the text on standard output.
  EXPECT_EQ(WaitForExit(child, std::chrono::seconds(10)), 0);
  const std::string help = ReadFile(child.stdout_path);
  EXPECT_EQ(ReadFile(child.stderr_path), "");
  for (const char* flag : {"listen",           "endpoint",        "region",
                           "project_id",       "ca_file",         "credentials_file",
                           "upstream_timeout", "connect_timeout", "drain_timeout",
                           "drain_delay",      "io_threads",      "max_connections",
                           "max_in_flight",    "log_level",       "log_format",
                           "admin_listen",     "health_listen",   "tls_cert",
                           "tls_key",          "client_ca",       "allow_insecure_listen"}) {
    const std::size_t at = help.find(std::string("--") + flag + " (");
    ASSERT_NE(at, std::string::npos) << flag << " missing from --help:\n" << help;
    const std::size_t next = help.find("\n    --", at + 1);
    EXPECT_NE(help.substr(at, next - at).find("default:"), std::string::npos) << flag;
  }
  EXPECT_NE(help.find("GATEWAY_<FLAG>"), std::string::npos);
}

TEST(GatewayProcessTest, NonLoopbackListenerWithoutTlsExitsTwo) {
  const Child child = Spawn({GATEWAY_BINARY, "--region=cn-north-4", "--listen=0.0.0.0:0"}, {});
  EXPECT_EQ(WaitForExit(child, std::chrono::seconds(10)), 2);
  const std::string err = ReadFile(child.stderr_path);
  EXPECT_NE(err.find("refusing to listen on non-loopback address 0.0.0.0:0 without TLS"),
            std::string::npos)
      << err;
  // One line, no stack of messages.
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
}

TEST(GatewayProcessTest, ListenerKeyThatDoesNotMatchItsCertificateExitsTwo) {
  const testing::TestPki& pki = SharedPki();
  const std::string cert = testing::WriteTempFile("server.pem", pki.server_cert_pem);
  const std::string other_key = testing::WriteTempFile("other-key.pem", pki.wrong_host_key_pem);
  const Child child = Spawn(
      {GATEWAY_BINARY, "--region=cn-north-4", "--tls-cert=" + cert, "--tls-key=" + other_key}, {});
  EXPECT_EQ(WaitForExit(child, std::chrono::seconds(10)), 2);
  EXPECT_NE(ReadFile(child.stderr_path).find("does not match the certificate"), std::string::npos)
      << ReadFile(child.stderr_path);
}

TEST(GatewayProcessTest, BadLogFormatExitsTwo) {
  const Child child = Spawn({GATEWAY_BINARY, "--region=cn-north-4"}, {"GATEWAY_LOG_FORMAT=xml"});
  EXPECT_EQ(WaitForExit(child, std::chrono::seconds(10)), 2);
  EXPECT_NE(ReadFile(child.stderr_path).find("--log-format must be json or text"),
            std::string::npos);
}

TEST(GatewayProcessTest, ServesOnAUnixSocketAndDrainsInFlightCallsOnSigterm) {
  testing::StandinOptions options;
  options.access_key = kAccessKey;
  options.secret_key = kSecretKey;
  testing::CodeArtsStandin standin(options, SharedPki());
  standin.SetHandler([&standin](const testing::RecordedRequest& request) {
    testing::StandinReply reply = standin.DefaultReply(request);
    reply.delay = std::chrono::milliseconds(700);
    return reply;
  });
  const std::string ca_file = testing::WriteTempFile("ca.pem", SharedPki().ca_cert_pem);
  const std::string socket_path = ca_file.substr(0, ca_file.rfind('/')) + "/gateway.sock";
  // Credentials from a file, as a Kubernetes Secret volume provides them.
  const std::string credentials_file =
      testing::WriteTempFile("credentials", std::string("HUAWEICLOUD_SDK_AK=") + kAccessKey +
                                                "\nHUAWEICLOUD_SDK_SK=" + kSecretKey + "\n");
  const Child child = Spawn({GATEWAY_BINARY, "--endpoint=" + standin.endpoint(),
                             "--ca-file=" + ca_file, "--credentials-file=" + credentials_file},
                            {// Flags from the environment, as a Kubernetes manifest would set them.
                             "GATEWAY_LISTEN=unix:" + socket_path, "GATEWAY_DRAIN_TIMEOUT=10s",
                             "GATEWAY_ADMIN_LISTEN=127.0.0.1:0"});

  auto channel = grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials());
  auto stub = pipeline::v1::PipelineService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(20));
  context.set_wait_for_ready(true);  // the gateway may still be starting
  pipeline::v1::StopRequest request;
  request.set_pipeline_id(kPipelineId);
  request.set_build_id(kBuildId);
  pipeline::v1::StopResponse response;
  std::promise<grpc::Status> done;
  stub->async()->Stop(&context, &request, &response,
                      [&done](const grpc::Status& status) { done.set_value(status); });

  ASSERT_TRUE(standin.WaitForRequests(1, seconds(20))) << ReadFile(child.stdout_path);
  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  std::future<grpc::Status> result = done.get_future();
  ASSERT_EQ(result.wait_for(seconds(20)), std::future_status::ready);
  const grpc::Status status = result.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.pipeline_id(), kPipelineId);
  EXPECT_EQ(WaitForExit(child, std::chrono::seconds(20)), 0);

  // JSON lines on stdout: the start-up line with version and configuration (secrets redacted),
  // the access line, the drain.
  const std::string log = ReadFile(child.stdout_path);
  EXPECT_NE(log.find(R"("msg":"codearts-gateway serving","version":")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("credentials":"from file )"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("msg":"access","method":"Stop")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("code":"OK","http_status":200)"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("msg":"draining","signal":"SIGTERM")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("msg":"stopped")"), std::string::npos) << log;
  // The secret key never appears in the log, nor does the signature.
  EXPECT_EQ(log.find(kSecretKey), std::string::npos);
  EXPECT_EQ(log.find("Signature="), std::string::npos);
}

}  // namespace
}  // namespace codearts::e2e
