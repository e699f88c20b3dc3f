// Every e2e scenario runs with the most verbose logging while the gateway's log (and stderr, where
// gRPC itself logs) is captured; when the scenario ends the capture is replayed and searched for
// any secret the scenario used: secret keys, security and IAM tokens, and signatures. One
// occurrence fails it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "e2e/gateway_fixture.h"
#include "observability/log.h"

namespace codearts::e2e {
namespace {

class SecretsNeverLogged : public ::testing::Environment {
 public:
  void SetUp() override {
    observability::SetLogLevel(observability::LogLevel::kDebug);
    std::fflush(stderr);
    char path[] = "/tmp/gateway-e2e-log-XXXXXX";
    capture_fd_ = mkstemp(path);
    ASSERT_GE(capture_fd_, 0);
    unlink(path);
    saved_stderr_ = dup(STDERR_FILENO);
    dup2(capture_fd_, STDERR_FILENO);
    observability::SetLogOutput(capture_fd_);
  }

  void TearDown() override {
    observability::SetLogOutput(STDOUT_FILENO);
    std::fflush(stderr);
    dup2(saved_stderr_, STDERR_FILENO);
    close(saved_stderr_);
    std::string captured;
    lseek(capture_fd_, 0, SEEK_SET);
    char buffer[8192];
    ssize_t n = 0;
    while ((n = read(capture_fd_, buffer, sizeof(buffer))) > 0) {
      captured.append(buffer, static_cast<std::size_t>(n));
    }
    close(capture_fd_);
    std::fwrite(captured.data(), 1, captured.size(), stderr);  // keep the log visible

    for (const char* secret :
         {kSecretKey, kValidToken, "sts-token-value", "expired-token", "not-the-right-secret",
          "Signature=", "X-Auth-Token:", "Authorization:"}) {
      EXPECT_EQ(captured.find(secret), std::string::npos)
          << "a secret (" << secret << ") appeared in the log";
    }
  }

 private:
  int capture_fd_ = -1;
  int saved_stderr_ = -1;
};

[[maybe_unused]] ::testing::Environment* const secrets_check_environment =
    ::testing::AddGlobalTestEnvironment(new SecretsNeverLogged);

}  // namespace
}  // namespace codearts::e2e
