#ifndef CODEARTS_CLIENT_PIPELINE_CLIENT_H_
#define CODEARTS_CLIENT_PIPELINE_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>

#include "codearts/pipeline/v1/pipeline.grpc.pb.h"
#include "codearts/pipeline/v1/pipeline.pb.h"
#include "google/rpc/error_details.pb.h"

namespace codearts::client {

/// Per-call settings.
struct CallOptions {
  /// The call's deadline, counted from when the call starts. Must be positive (a call without a
  /// deadline could wait forever on a gateway that hangs) and at most 24 hours.
  std::chrono::milliseconds timeout{10000};
  /// An IAM token, sent as request metadata `x-auth-token` when non-empty; the gateway then
  /// forwards it to CodeArts instead of signing with its own AK/SK.
  std::string token;
};

/// The outcome of one Stop call.
struct StopResult {
  grpc::Status status;
  /// Valid only when `status.ok()`.
  pipeline::v1::StopResponse response;
  /// CodeArts' request id from trailing metadata `x-request-id`; empty if the gateway sent none
  /// (for example when the call failed before reaching CodeArts).
  std::string request_id;
  /// The `google.rpc.ErrorInfo` from the status details, when the gateway attached one. Its reason
  /// is CodeArts' error code; its metadata holds `http_status` and `request_id`.
  std::optional<google::rpc::ErrorInfo> error_info;
};

/// A plaintext channel to the gateway at `target` ("host:port" or "unix:/path"). The gateway runs
/// as a local sidecar, so the channel is not encrypted.
/// What any call returned beside its response message (see PipelineClient::Call).
struct CallResult {
  grpc::Status status;
  /// As in StopResult.
  std::string request_id;
  std::optional<google::rpc::ErrorInfo> error_info;
};

std::shared_ptr<grpc::Channel> MakeInsecureChannel(const std::string& target);

/// A client for codearts.pipeline.v1.PipelineService. Thread-safe: Stop and StopAsync may be
/// called concurrently from any threads, but not concurrently with the destructor.
class PipelineClient {
 public:
  /// Starts the thread that delivers StopAsync results.
  explicit PipelineClient(std::shared_ptr<grpc::Channel> channel);
  /// Cancels the StopAsync calls still in flight (their callbacks run with CANCELLED), waits for
  /// every callback to finish and joins the completion-queue thread. Must not be called from a
  /// StopAsync callback.
  ~PipelineClient();

  PipelineClient(const PipelineClient&) = delete;
  PipelineClient& operator=(const PipelineClient&) = delete;

  /// Stops a pipeline build, blocking until the gateway answers or the deadline passes. A
  /// `options.timeout` out of range fails with INVALID_ARGUMENT without calling the gateway.
  StopResult Stop(const pipeline::v1::StopRequest& request, const CallOptions& options);

  /// Starts Stop without blocking. `done` runs exactly once, on the client's completion-queue
  /// thread (also when the call fails before it is sent, or is cancelled by the destructor). It
  /// should return quickly and must not throw: it delays every other callback of this client.
  void StopAsync(const pipeline::v1::StopRequest& request, const CallOptions& options,
                 std::function<void(StopResult)> done);

  /// Calls any unary method of the gateway by its descriptor (for example
  /// `PipelineService::descriptor()->FindMethodByName("GetStatus")`), blocking until the gateway
  /// answers or the deadline passes. `request` must be of the method's input type and `response`
  /// of its output type (else INVALID_ARGUMENT, nothing sent); `response` is set only when OK.
  CallResult Call(const google::protobuf::MethodDescriptor& method,
                  const google::protobuf::Message& request, google::protobuf::Message* response,
                  const CallOptions& options);

 private:
  struct AsyncCall;

  void DrainCompletionQueue();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pipeline::v1::PipelineService::Stub> stub_;
  // Completion-queue API rather than the callback API (stub->async()): with Debian's gRPC 1.51
  // the callback API's first call after about a second of idle time stalls 13-52 ms while its
  // sleeping internal threads wake up; a CQ drained by our own thread answers in about 1 ms.
  grpc::CompletionQueue cq_;
  std::mutex mu_;
  // Calls whose tag has not come back yet, so that the destructor can cancel them.
  std::unordered_set<AsyncCall*> in_flight_;  // Guarded by mu_.
  std::thread cq_thread_;                     // Last: started after everything it uses.
};

}  // namespace codearts::client

#endif  // CODEARTS_CLIENT_PIPELINE_CLIENT_H_
