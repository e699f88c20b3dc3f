#include "upstream/retry_policy.h"

#include <gtest/gtest.h>

namespace codearts::upstream {
namespace {

using std::chrono::milliseconds;

TEST(ParseRetryAfterTest, DeltaSeconds) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(ParseRetryAfter("0", now), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("3", now), milliseconds(3000));
  EXPECT_EQ(ParseRetryAfter("-1", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", now), std::nullopt);
}

TEST(ParseRetryAfterTest, HttpDate) {
  // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480.
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1445412475));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now), milliseconds(5000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), milliseconds(0));
}

TEST(FullJitterBackoffTest, StaysWithinTheExponentialCap) {
  RetryOptions options;
  options.base_backoff = milliseconds(100);
  options.max_backoff = milliseconds(350);
  for (std::uint64_t random = 0; random < 1000; random += 7) {
    EXPECT_LE(FullJitterBackoff(1, options, random), milliseconds(100));
    EXPECT_LE(FullJitterBackoff(2, options, random), milliseconds(200));
    EXPECT_LE(FullJitterBackoff(3, options, random), milliseconds(350));
    EXPECT_LE(FullJitterBackoff(30, options, random), milliseconds(350));
  }
  EXPECT_EQ(FullJitterBackoff(2, options, 200), milliseconds(200));
}

TEST(RetryBudgetTest, AllowsAboutTheRatioOfCalls) {
  RetryBudget budget(0.2, 2.0);
  EXPECT_TRUE(budget.TryTakeRetry());
  EXPECT_TRUE(budget.TryTakeRetry());
  EXPECT_FALSE(budget.TryTakeRetry());
  for (int i = 0; i < 4; ++i) budget.RecordCall();
  EXPECT_FALSE(budget.TryTakeRetry());  // 0.8 tokens
  budget.RecordCall();
  EXPECT_TRUE(budget.TryTakeRetry());  // 1.0
  for (int i = 0; i < 100; ++i) budget.RecordCall();
  EXPECT_TRUE(budget.TryTakeRetry());
  EXPECT_TRUE(budget.TryTakeRetry());
  EXPECT_FALSE(budget.TryTakeRetry());  // capped at 2
}

TEST(UpstreamHealthTest, FailsFastAfterConsecutiveConnectFailuresAndProbes) {
  UpstreamHealth health(2, milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(health.Admit(t0).ok());
  health.RecordConnectFailure(t0);
  EXPECT_TRUE(health.Admit(t0).ok());
  health.RecordConnectFailure(t0);
  EXPECT_EQ(health.Admit(t0 + milliseconds(10)).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(health.Admit(t0 + milliseconds(1000)).ok());  // the probe
  EXPECT_EQ(health.Admit(t0 + milliseconds(1001)).code(), absl::StatusCode::kUnavailable);
  health.RecordConnectSuccess();
  EXPECT_TRUE(health.Admit(t0 + milliseconds(1002)).ok());
}

}  // namespace
}  // namespace codearts::upstream
