#include "cli/command_line.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/flags/flag.h"
#include "absl/time/time.h"

ABSL_FLAG(std::string, test_listen, "default", "test flag");
ABSL_FLAG(absl::Duration, test_timeout, absl::Seconds(30), "test flag");
ABSL_FLAG(bool, test_switch, false, "test flag");

namespace codearts::cli {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<Positional> Parse(std::vector<std::string> args) {
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (std::string& arg : args) argv.push_back(arg.data());
  return ParseFlags(static_cast<int>(argv.size()), argv.data());
}

class CommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::SetFlag(&FLAGS_test_listen, "default");
    absl::SetFlag(&FLAGS_test_timeout, absl::Seconds(30));
    absl::SetFlag(&FLAGS_test_switch, false);
  }
};

TEST_F(CommandLineTest, AcceptsDashedAndUnderscoredNames) {
  absl::StatusOr<Positional> positional =
      Parse({"prog", "--test-listen=a:1", "--test_timeout", "5s", "--test-switch", "rest"});
  ASSERT_TRUE(positional.ok()) << positional.status();
  EXPECT_EQ(absl::GetFlag(FLAGS_test_listen), "a:1");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_timeout), absl::Seconds(5));
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_switch));
  EXPECT_EQ(*positional, (Positional{"prog", "rest"}));
}

TEST_F(CommandLineTest, UnknownFlagsAndBadValuesAreErrorsNotExits) {
  EXPECT_EQ(Parse({"prog", "--no-such-flag=1"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Positional> bad = Parse({"prog", "--test-timeout=soon"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("test_timeout"), std::string::npos);
  EXPECT_EQ(Parse({"prog", "--test-listen"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CommandLineTest, EnvironmentSetsFlagsAndTheCommandLineWins) {
  ASSERT_TRUE(
      ApplyEnvironment("GATEWAY_", {"test_listen", "test_timeout"},
                       FakeEnv({{"GATEWAY_TEST_LISTEN", "env:1"}, {"GATEWAY_TEST_TIMEOUT", "2s"}}))
          .ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_listen), "env:1");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_timeout), absl::Seconds(2));
  ASSERT_TRUE(Parse({"prog", "--test-listen=cli:1"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_test_listen), "cli:1");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_timeout), absl::Seconds(2));
}

TEST_F(CommandLineTest, BadEnvironmentValueNamesTheVariable) {
  absl::Status status = ApplyEnvironment("GATEWAY_", {"test_timeout"},
                                         FakeEnv({{"GATEWAY_TEST_TIMEOUT", "forever"}}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("GATEWAY_TEST_TIMEOUT"), std::string::npos);
}

}  // namespace
}  // namespace codearts::cli
