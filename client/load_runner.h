#ifndef CODEARTS_CLIENT_LOAD_RUNNER_H_
#define CODEARTS_CLIENT_LOAD_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace codearts::client {

/// How to drive load. Exactly one of `concurrency` (closed loop: that many calls always
/// outstanding) and `rate` (open loop: calls started on a fixed schedule, whatever the answers
/// do) is set.
struct LoadOptions {
  int concurrency = 0;
  double rate = 0;
  /// Measured time, after `warmup`. With `calls` set, the run ends when that many calls have
  /// been started instead (and nothing is excluded as warm-up).
  std::chrono::milliseconds duration{10000};
  std::chrono::milliseconds warmup{1000};
  std::uint64_t calls = 0;
};

/// Starts one call; the call must invoke `done` exactly once, from any thread, with its status
/// code (0 is success; gRPC status code numbers for gRPC calls).
using StartCall = std::function<void(std::function<void(int code)> done)>;

struct LoadReport {
  std::uint64_t calls = 0;  // measured calls (finished)
  std::uint64_t ok = 0;
  std::map<int, std::uint64_t> codes;  // code -> count, measured calls only
  double seconds = 0;                  // measured wall time
  double calls_per_second = 0;
  // Latency percentiles in microseconds. Open loop: from the call's scheduled start, so a
  // stalled generator or server cannot hide its queueing (no coordinated omission).
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};

/// Runs the load and waits for every started call to finish.
LoadReport RunLoad(const LoadOptions& options, const StartCall& start_call);

/// One human-readable block, then one `RESULT key=value …` line for scripts.
std::string FormatLoadReport(const LoadReport& report,
                             const std::function<std::string(int code)>& code_name);

}  // namespace codearts::client

#endif  // CODEARTS_CLIENT_LOAD_RUNNER_H_
