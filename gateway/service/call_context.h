#ifndef CODEARTS_GATEWAY_SERVICE_CALL_CONTEXT_H_
#define CODEARTS_GATEWAY_SERVICE_CALL_CONTEXT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "auth/clock.h"
#include "auth/credentials.h"
#include "observability/metrics.h"
#include "routes/rest_call.h"
#include "upstream/https_client.h"

namespace codearts::service {

struct ServiceOptions {
  routes::RequestOptions request;
  /// Cap on the upstream exchange, also applied when the caller set no deadline.
  std::chrono::milliseconds upstream_timeout{30000};
  /// A call with less time than this left is answered DEADLINE_EXCEEDED without going upstream.
  std::chrono::milliseconds min_time_left{2};
  /// Calls in flight beyond this are refused at once with RESOURCE_EXHAUSTED.
  int max_in_flight = 1000;
  /// Open watch streams beyond this are refused at once with RESOURCE_EXHAUSTED.
  int max_watches = 10000;
};

/// Counts the calls in flight and lets shutdown wait until there are none.
class InFlightCalls {
 public:
  /// Counts one more call; returns how many are in flight now.
  int Enter() {
    unanswered_.fetch_add(1, std::memory_order_relaxed);
    return count_.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  /// The call's answer is about to be sent: it no longer counts in count(), so that a caller who
  /// has its answer never sees it there. Leave() follows once the answer has been handed to gRPC.
  void Answered() { unanswered_.fetch_sub(1, std::memory_order_relaxed); }
  void Leave() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      const std::lock_guard lock(mutex_);  // a waiter between its check and its wait sees this
      none_left_.notify_all();
    }
  }
  /// The calls whose answer has not been sent (what the calls_in_flight gauge shows).
  int count() const { return unanswered_.load(std::memory_order_relaxed); }
  /// False if calls were still in flight at `deadline`.
  bool WaitForNone(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return none_left_.wait_until(lock, deadline,
                                 [this] { return count_.load(std::memory_order_acquire) == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable none_left_;
  std::atomic<int> count_{0};       // entered and not left: what shutdown waits for
  std::atomic<int> unanswered_{0};  // entered and not answered
};

/// Something under way upstream that the drain deadline can end with a clear status.
class Abortable {
 public:
  virtual void Abort(const grpc::Status& status) = 0;

 protected:
  ~Abortable() = default;
};

/// The calls under way upstream, so that a drain deadline can end them all with a clear status
/// instead of leaving them to gRPC's bare cancellation.
class LiveCalls {
 public:
  void Add(const std::shared_ptr<Abortable>& call) {
    std::lock_guard lock(mutex_);
    calls_.emplace(call.get(), call);
  }
  void Remove(const Abortable* call) {
    std::lock_guard lock(mutex_);
    calls_.erase(call);
  }
  /// Ends every call under way with `status`.
  void AbortAll(const grpc::Status& status);

 private:
  std::mutex mutex_;
  std::unordered_map<const Abortable*, std::weak_ptr<Abortable>> calls_;
};

/// The long-lived objects every call uses; owned by whoever composed the gateway.
struct CallContext {
  CallContext(boost::asio::io_context& io_context, upstream::HttpsClient& https_client,
              const auth::CredentialSource& credential_source, const auth::Clock& wall_clock,
              observability::GatewayMetrics& gateway_metrics, ServiceOptions service_options)
      : io(io_context),
        client(https_client),
        credentials(credential_source),
        clock(wall_clock),
        metrics(gateway_metrics),
        options(std::move(service_options)) {}

  boost::asio::io_context& io;
  upstream::HttpsClient& client;
  const auth::CredentialSource& credentials;
  const auth::Clock& clock;
  observability::GatewayMetrics& metrics;
  ServiceOptions options;
  /// One thread runs `io`: handlers cannot run concurrently, so calls need no strand of their own
  /// (measured: about 2k instructions a call for the strand's bookkeeping).
  bool io_single_threaded = false;
  /// Calls received whose Finish has not been issued yet. Shutdown waits for none to be left
  /// before it shuts the completion queue down: a Finish on a shut-down queue is fatal.
  InFlightCalls in_flight;
  LiveCalls live;
  /// Watch streams received whose Finish has not been issued yet (not in `in_flight`: they are
  /// long-lived and end at once when the gateway drains).
  InFlightCalls watches;
  /// Runs being polled for watchers (one per poll loop).
  std::atomic<std::int64_t> watched_runs{0};
};

/// The scrape-time metric values of a running gateway: calls in flight, the upstream pool, and
/// the credential source's reloads.
observability::MetricsSnapshot TakeMetricsSnapshot(CallContext& context);

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_CALL_CONTEXT_H_
