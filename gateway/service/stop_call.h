#ifndef CODEARTS_GATEWAY_SERVICE_STOP_CALL_H_
#define CODEARTS_GATEWAY_SERVICE_STOP_CALL_H_

#include <grpcpp/grpcpp.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "auth/clock.h"
#include "auth/credentials.h"
#include "codearts/pipeline/v1/pipeline.grpc.pb.h"
#include "mapping/stop_request.h"
#include "observability/access_log.h"
#include "observability/metrics.h"
#include "service/cq_tag.h"
#include "upstream/https_client.h"

namespace codearts::service {

struct ServiceOptions {
  mapping::RequestOptions request;
  /// Cap on the upstream exchange, also applied when the caller set no deadline.
  std::chrono::milliseconds upstream_timeout{30000};
  /// A call with less time than this left is answered DEADLINE_EXCEEDED without going upstream.
  std::chrono::milliseconds min_time_left{2};
  /// Calls in flight beyond this are refused at once with RESOURCE_EXHAUSTED.
  int max_in_flight = 1000;
};

class StopExchange;

/// Counts the calls in flight and lets shutdown wait until there are none.
class InFlightCalls {
 public:
  /// Counts one more call; returns how many are in flight now.
  int Enter() {
    std::lock_guard lock(mutex_);
    return ++count_;
  }
  void Leave() {
    std::lock_guard lock(mutex_);
    if (--count_ == 0) none_left_.notify_all();
  }
  int count() {
    std::lock_guard lock(mutex_);
    return count_;
  }
  /// False if calls were still in flight at `deadline`.
  bool WaitForNone(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return none_left_.wait_until(lock, deadline, [this] { return count_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable none_left_;
  int count_ = 0;
};

/// The upstream exchanges under way, so that a drain deadline can end them all with a clear
/// status instead of leaving them to gRPC's bare cancellation.
class LiveExchanges {
 public:
  void Add(const std::shared_ptr<StopExchange>& exchange);
  void Remove(const StopExchange* exchange);
  /// Ends every exchange under way with `status` (each on its own strand).
  void AbortAll(const grpc::Status& status);

 private:
  std::mutex mutex_;
  std::unordered_map<const StopExchange*, std::weak_ptr<StopExchange>> exchanges_;
};

/// The long-lived objects every call uses; owned by main.
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
  /// Calls received whose Finish has not been issued yet. Shutdown waits for none to be left
  /// before it shuts the completion queue down: a Finish on a shut-down queue is fatal.
  InFlightCalls in_flight;
  LiveExchanges live;
};

/// The scrape-time metric values of a running gateway: calls in flight, the upstream pool, and
/// the credential source's reloads.
observability::MetricsSnapshot TakeMetricsSnapshot(CallContext& context);

/// One Stop RPC on the completion-queue side. Lifecycle: requests an RPC; when one arrives it
/// spawns the next StopCall, validates, and hands the work to Asio (StopExchange), which calls
/// Finish exactly once; the object deletes itself on the CQ thread once both the finish tag and
/// the done tag (AsyncNotifyWhenDone) have come back.
class StopCall final : public CqHandler {
 public:
  /// Starts waiting for the next Stop RPC.
  static void Spawn(CallContext& context, pipeline::v1::PipelineService::AsyncService& service,
                    grpc::ServerCompletionQueue& cq);

  void OnTag(int kind, bool ok) override;

  /// Sends the final status (and response when OK) and writes the access log. Called once, from
  /// the CQ thread for early errors or from the call's strand.
  void Finish(const grpc::Status& status, const pipeline::v1::StopResponse* response,
              observability::AccessRecord record);

 private:
  StopCall(CallContext& context, pipeline::v1::PipelineService::AsyncService& service,
           grpc::ServerCompletionQueue& cq);
  ~StopCall();
  void OnRequest();
  void MaybeDelete();

  CallContext& context_;
  pipeline::v1::PipelineService::AsyncService& service_;
  grpc::ServerCompletionQueue& cq_;
  grpc::ServerContext server_context_;
  pipeline::v1::StopRequest request_;
  grpc::ServerAsyncResponseWriter<pipeline::v1::StopResponse> responder_;
  enum TagKind { kRequest, kFinish, kDone };
  CqTag request_tag_{this, kRequest};
  CqTag finish_tag_{this, kFinish};
  CqTag done_tag_{this, kDone};
  std::chrono::steady_clock::time_point started_{};
  std::shared_ptr<StopExchange> exchange_;
  // Touched only on the CQ thread.
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_STOP_CALL_H_
