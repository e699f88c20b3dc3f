#include "upstream/retry_policy.h"

#include <algorithm>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace codearts::upstream {

RetryBudget::RetryBudget(double ratio, double capacity)
    : ratio_(ratio), capacity_(capacity), tokens_(capacity) {}

void RetryBudget::RecordCall() {
  std::lock_guard lock(mutex_);
  tokens_ = std::min(capacity_, tokens_ + ratio_);
}

bool RetryBudget::TryTakeRetry() {
  std::lock_guard lock(mutex_);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

UpstreamHealth::UpstreamHealth(int failure_threshold, std::chrono::milliseconds probe_interval)
    : failure_threshold_(failure_threshold), probe_interval_(probe_interval) {}

absl::Status UpstreamHealth::Admit(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (consecutive_failures_ < failure_threshold_) return absl::OkStatus();
  if (now >= next_probe_) {
    next_probe_ = now + probe_interval_;  // this call is the probe; the others keep failing fast
    return absl::OkStatus();
  }
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_probe_ - now);
  return absl::UnavailableError(absl::StrCat(
      "upstream is down (", consecutive_failures_,
      " consecutive connection failures); failing fast, next probe in ", wait.count(), " ms"));
}

void UpstreamHealth::RecordConnectFailure(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  ++consecutive_failures_;
  if (consecutive_failures_ == failure_threshold_) next_probe_ = now + probe_interval_;
}

void UpstreamHealth::RecordConnectSuccess() {
  std::lock_guard lock(mutex_);
  consecutive_failures_ = 0;
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(
    std::string_view value, std::chrono::system_clock::time_point now) {
  const std::string text(value);
  std::int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return std::chrono::milliseconds(std::min<std::int64_t>(seconds, 86400) * 1000);
  }
  absl::Time when;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", text, absl::UTCTimeZone(), &when, &error)) {
    return std::nullopt;
  }
  const absl::Duration delay = when - absl::FromChrono(now);
  if (delay <= absl::ZeroDuration()) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(delay));
}

std::chrono::milliseconds FullJitterBackoff(int retry, const RetryOptions& options,
                                            std::uint64_t random) {
  const int doublings = std::clamp(retry - 1, 0, 20);
  const std::int64_t cap = std::min<std::int64_t>(options.max_backoff.count(),
                                                  options.base_backoff.count() << doublings);
  if (cap <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(random % static_cast<std::uint64_t>(cap + 1)));
}

}  // namespace codearts::upstream
