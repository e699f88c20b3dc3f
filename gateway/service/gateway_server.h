#ifndef CODEARTS_GATEWAY_SERVICE_GATEWAY_SERVER_H_
#define CODEARTS_GATEWAY_SERVICE_GATEWAY_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "service/call_context.h"
#include "service/cq_inbox.h"
#include "service/health_service.h"
#include "service/poll_clock.h"
#include "service/reflection_service.h"
#include "service/route_service.h"
#include "service/watch_hub.h"

namespace codearts::service {

/// The names the health service answers for, besides the routed service's own name. The empty
/// name and the service name turn NOT_SERVING when the gateway drains (readiness);
/// kLivenessService stays SERVING for as long as the process serves at all (liveness), so a
/// draining gateway is not restarted.
inline constexpr char kLivenessService[] = "liveness";

struct ListenOptions {
  /// `host:port` or `unix:/path`.
  std::string address;
  /// TLS (and mTLS) for the listener; insecure when null.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  /// When set, a second, plaintext listener for kubelet's native gRPC probes, which connect to
  /// the pod IP without TLS. It is a separate server that registers no PipelineService.
  std::string health_address;
};

/// The gRPC side: the routed service and grpc.health.v1.Health on one completion queue and its
/// thread, plus server reflection.
class GatewayServer {
 public:
  /// `poll_clock` schedules the watch polls; null: real time.
  GatewayServer(CallContext& context, RouteService& service, PollClock* poll_clock = nullptr);
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;
  ~GatewayServer();

  /// Listens, starts serving and reports SERVING.
  absl::Status Start(const ListenOptions& options);

  /// The TCP port bound (useful with port 0); health_port() for the health listener.
  int port() const { return port_; }
  int health_port() const { return health_port_; }

  /// True once started, while what the calls depend on is ready (SetDependenciesReady), and
  /// until the drain begins: what /readyz reports.
  bool ready() const { return ready_.load() && dependencies_ready_.load(); }
  /// Whether what calls depend on besides CodeArts (the IAM project id) is there; health and
  /// /readyz report NOT_SERVING while it is not. True unless said otherwise.
  void SetDependenciesReady(bool ready);

  /// The first step of a graceful stop: health turns NOT_SERVING (but "liveness") and ready()
  /// false, while unary calls, new ones included, are still served. Watch streams end at once
  /// with UNAVAILABLE (they are long-lived: the caller should watch again elsewhere), and new
  /// ones are refused so. Idempotent.
  void BeginDrain();

  /// Stops accepting calls and lets in-flight calls finish until `drain_deadline`; the ones
  /// still running then are ended UNAVAILABLE ("the gateway is shutting down"). Then stops the
  /// completion-queue thread. Idempotent.
  void Shutdown(std::chrono::system_clock::time_point drain_deadline);

 private:
  static void PollCompletionQueue(grpc::ServerCompletionQueue& cq);
  void SetHealth(const std::string& name, bool serving);

  CallContext& context_;
  RouteService& service_;
  AsioPollClock real_clock_;
  WatchHub hub_;
  std::unique_ptr<ReflectionService> reflection_;  // outlives server_
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<CqInbox> inbox_;  // work for cq_'s thread; goes after the queue is drained
  std::unique_ptr<grpc::Server> server_;
  HealthService health_;
  std::thread cq_thread_;
  // The health-only listener: a server of its own, with its own queue and thread.
  std::unique_ptr<grpc::Server> health_server_;
  HealthService probe_health_;
  std::unique_ptr<grpc::ServerCompletionQueue> probe_cq_;
  std::thread probe_thread_;
  std::optional<boost::asio::steady_timer> drain_timer_;
  int port_ = 0;
  int health_port_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<bool> dependencies_ready_{true};
  std::mutex health_mutex_;  // one health transition at a time
  bool shut_down_ = false;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_GATEWAY_SERVER_H_
