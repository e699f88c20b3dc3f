#ifndef CODEARTS_GATEWAY_SERVICE_GATEWAY_SERVER_H_
#define CODEARTS_GATEWAY_SERVICE_GATEWAY_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "codearts/pipeline/v1/pipeline.grpc.pb.h"
#include "service/stop_call.h"

namespace codearts::service {

/// The gRPC side: PipelineService on one completion queue and its thread, plus the standard
/// health service and server reflection.
class GatewayServer {
 public:
  explicit GatewayServer(CallContext& context);
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;
  ~GatewayServer();

  /// Listens on `address` (`host:port`, or `unix:/path`), starts serving and reports SERVING.
  absl::Status Start(const std::string& address);

  /// The TCP port bound (useful with port 0).
  int port() const { return port_; }

  /// Stops accepting calls, lets in-flight calls finish until `drain_deadline` (then cancels
  /// them), and stops the completion-queue thread. Idempotent.
  void Shutdown(std::chrono::system_clock::time_point drain_deadline);

 private:
  void PollCompletionQueue();

  CallContext& context_;
  pipeline::v1::PipelineService::AsyncService service_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
  std::thread cq_thread_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_GATEWAY_SERVER_H_
