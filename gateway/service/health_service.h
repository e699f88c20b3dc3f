#ifndef CODEARTS_GATEWAY_SERVICE_HEALTH_SERVICE_H_
#define CODEARTS_GATEWAY_SERVICE_HEALTH_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "service/cq_tag.h"

namespace codearts::service {

/// grpc.health.v1.Health (Check and Watch) served on the gateway's own completion queue.
/// gRPC's built-in implementation uses the callback API, whose extra thread took part in polling
/// every connection and cost about a sixth of the gateway's CPU per call; this one adds no thread.
/// Thread-safe: statuses may be set from any thread.
class HealthService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  HealthService() = default;
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  /// What to register with the server builder.
  grpc::Service* service() { return &service_; }

  /// Starts answering on `cq` (after the server has started).
  void Start(grpc::ServerCompletionQueue& cq);

  /// Sets a service's status (`""` is the server as a whole) and tells its watchers.
  void Set(const std::string& name, bool serving);

  /// Ends every Watch stream (the server is going away); later statuses are not sent. Call
  /// before shutting the server down, so that open streams do not hold the drain.
  void EndWatches();

  /// After the server has shut down (its queue still running): waits until every Watch call,
  /// including the one waiting for a request, is gone, so that no operation follows the queue's
  /// shutdown. False if some were left at `deadline`.
  bool WaitForWatchesToEnd(std::chrono::steady_clock::time_point deadline);

 private:
  class CheckCall;
  class WatchCall;

  ServingStatus StatusOf(const std::string& name);  // requires mutex_

  grpc::health::v1::Health::AsyncService service_;
  std::mutex mutex_;
  std::map<std::string, ServingStatus> statuses_;  // guarded by mutex_
  std::set<WatchCall*> watches_;                   // guarded by mutex_
  bool ending_ = false;                            // guarded by mutex_
  int live_watches_ = 0;                           // guarded by mutex_
  std::condition_variable no_watches_;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_HEALTH_SERVICE_H_
