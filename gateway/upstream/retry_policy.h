#ifndef CODEARTS_GATEWAY_UPSTREAM_RETRY_POLICY_H_
#define CODEARTS_GATEWAY_UPSTREAM_RETRY_POLICY_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>

#include "absl/status/status.h"

namespace codearts::upstream {

/// How hard the client tries again. Which failures may be retried at all is the request's
/// RequestPolicy (http_types.h); these bound how often and how fast.
struct RetryOptions {
  /// Attempts per call, the first included.
  int max_attempts = 3;
  /// Full-jitter exponential backoff: retry n waits a uniform random time in
  /// [0, min(max_backoff, base_backoff * 2^(n-1))], unless Retry-After says otherwise.
  std::chrono::milliseconds base_backoff{25};
  std::chrono::milliseconds max_backoff{1000};
  /// Retries earned per call, and the most that can be banked: retries stay at about
  /// `budget_ratio` of recent calls, so an outage cannot become a retry storm.
  double budget_ratio = 0.2;
  double budget_capacity = 10.0;
  /// After this many consecutive connection failures the upstream is taken as down: calls fail
  /// at once with UNAVAILABLE, except one probe per `probe_interval`.
  int down_after_connect_failures = 5;
  std::chrono::milliseconds probe_interval{1000};
};

/// A token bucket of retries: each call deposits `ratio` tokens (up to `capacity`), each retry
/// takes one. Starts full. Thread-safe.
class RetryBudget {
 public:
  RetryBudget(double ratio, double capacity);
  void RecordCall();
  /// Takes a token for one retry; false when the budget is spent.
  bool TryTakeRetry();

 private:
  std::mutex mutex_;
  const double ratio_;
  const double capacity_;
  double tokens_;
};

/// Tracks consecutive connection failures to tell callers fast that the upstream is down.
/// Thread-safe.
class UpstreamHealth {
 public:
  UpstreamHealth(int failure_threshold, std::chrono::milliseconds probe_interval);
  /// OK when a call may go upstream (always, unless the upstream is down; then once per probe
  /// interval, as the probe). UNAVAILABLE otherwise.
  absl::Status Admit(std::chrono::steady_clock::time_point now);
  void RecordConnectFailure(std::chrono::steady_clock::time_point now);
  void RecordConnectSuccess();

 private:
  std::mutex mutex_;
  const int failure_threshold_;
  const std::chrono::milliseconds probe_interval_;
  int consecutive_failures_ = 0;
  std::chrono::steady_clock::time_point next_probe_{};
};

/// The delay a `Retry-After` value asks for: delta-seconds or an HTTP-date (RFC 9110 10.2.3).
/// nullopt when it cannot be read.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

/// The full-jitter backoff before retry number `retry` (1 for the first retry).
std::chrono::milliseconds FullJitterBackoff(int retry, const RetryOptions& options,
                                            std::uint64_t random);

/// True for the HTTP statuses worth another attempt: for any request those with which CodeArts
/// says it did not process it (429, 503); for an idempotent one also 502 and 504.
inline bool IsRetryableHttpStatus(unsigned status, bool idempotent) {
  return status == 429 || status == 503 || (idempotent && (status == 502 || status == 504));
}

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_RETRY_POLICY_H_
