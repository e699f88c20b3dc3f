#include "client/load_runner.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

namespace codearts::client {
namespace {

using Clock = std::chrono::steady_clock;

// Shared by the generator and the completions; kept alive by every pending call.
struct RunState {
  std::mutex mutex;
  std::condition_variable idle;
  std::uint64_t outstanding = 0;
  std::uint64_t started = 0;
  std::vector<std::uint32_t> latencies_us;
  std::map<int, std::uint64_t> codes;
  Clock::time_point last_finish{};
};

double Percentile(const std::vector<std::uint32_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

}  // namespace

LoadReport RunLoad(const LoadOptions& options, const StartCall& start_call) {
  auto state = std::make_shared<RunState>();
  const bool fixed_count = options.calls > 0;
  const Clock::time_point first = Clock::now();
  const Clock::time_point measure_from = fixed_count ? first : first + options.warmup;
  const Clock::time_point measure_until = measure_from + options.duration;
  state->latencies_us.reserve(fixed_count ? options.calls : 1 << 20);

  const auto finish = [state, fixed_count, measure_from, measure_until](Clock::time_point scheduled,
                                                                        int code) {
    const Clock::time_point now = Clock::now();
    std::lock_guard lock(state->mutex);
    if (fixed_count || (scheduled >= measure_from && scheduled < measure_until)) {
      state->latencies_us.push_back(static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - scheduled).count()));
      ++state->codes[code];
      state->last_finish = now;
    }
    if (--state->outstanding == 0) state->idle.notify_all();
  };
  // Claims the right to start one more call, or says the run is over.
  const auto claim = [state, fixed_count, total = options.calls,
                      measure_until](Clock::time_point now) {
    std::lock_guard lock(state->mutex);
    if (fixed_count ? state->started >= total : now >= measure_until) return false;
    ++state->started;
    ++state->outstanding;
    return true;
  };

  if (options.concurrency > 0) {
    // Each completion starts the next call before it counts itself finished, so the count of
    // outstanding calls reaches zero only once the run is over. Completions hold the loop.
    auto launch = std::make_shared<std::function<void()>>();
    *launch = [claim, finish, start_call, weak = std::weak_ptr(launch)] {
      const Clock::time_point now = Clock::now();
      if (!claim(now)) return;
      start_call([next = weak.lock(), finish, now](int code) {
        (*next)();
        finish(now, code);
      });
    };
    for (int i = 0; i < options.concurrency; ++i) (*launch)();
  } else {
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / std::max(options.rate, 1e-3)));
    for (std::uint64_t i = 0;; ++i) {
      const Clock::time_point scheduled = first + period * static_cast<Clock::rep>(i);
      std::this_thread::sleep_until(scheduled);
      if (!claim(scheduled)) break;
      start_call([finish, scheduled](int code) { finish(scheduled, code); });
    }
  }

  std::unique_lock lock(state->mutex);
  state->idle.wait(lock, [&] { return state->outstanding == 0; });

  LoadReport report;
  std::vector<std::uint32_t>& latencies = state->latencies_us;
  std::sort(latencies.begin(), latencies.end());
  report.calls = latencies.size();
  report.codes = state->codes;
  report.ok = state->codes.count(0) != 0 ? state->codes.at(0) : 0;
  report.seconds = fixed_count ? std::chrono::duration<double>(state->last_finish - first).count()
                               : std::chrono::duration<double>(options.duration).count();
  report.calls_per_second =
      report.seconds > 0 ? static_cast<double>(report.calls) / report.seconds : 0;
  report.p50_us = Percentile(latencies, 0.50);
  report.p90_us = Percentile(latencies, 0.90);
  report.p99_us = Percentile(latencies, 0.99);
  report.p999_us = Percentile(latencies, 0.999);
  report.max_us = latencies.empty() ? 0 : latencies.back();
  report.mean_us = latencies.empty() ? 0
                                     : std::accumulate(latencies.begin(), latencies.end(), 0.0) /
                                           static_cast<double>(latencies.size());
  return report;
}

std::string FormatLoadReport(const LoadReport& report,
                             const std::function<std::string(int code)>& code_name) {
  std::string codes;
  for (const auto& [code, count] : report.codes) {
    if (!codes.empty()) codes += ",";
    codes += code_name(code) + ":" + std::to_string(count);
  }
  char text[1024];
  std::snprintf(text, sizeof(text),
                "calls      %llu in %.2f s (%.0f/s)\n"
                "statuses   %s\n"
                "latency    p50 %.0f us  p90 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us  "
                "mean %.0f us\n"
                "RESULT calls=%llu ok=%llu failed=%llu seconds=%.3f rps=%.1f p50_us=%.0f "
                "p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f mean_us=%.0f codes=%s\n",
                static_cast<unsigned long long>(report.calls), report.seconds,
                report.calls_per_second, codes.empty() ? "-" : codes.c_str(), report.p50_us,
                report.p90_us, report.p99_us, report.p999_us, report.max_us, report.mean_us,
                static_cast<unsigned long long>(report.calls),
                static_cast<unsigned long long>(report.ok),
                static_cast<unsigned long long>(report.calls - report.ok), report.seconds,
                report.calls_per_second, report.p50_us, report.p90_us, report.p99_us,
                report.p999_us, report.max_us, report.mean_us, codes.empty() ? "-" : codes.c_str());
  return text;
}

}  // namespace codearts::client
