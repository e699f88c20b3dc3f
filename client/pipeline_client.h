#ifndef CODEARTS_CLIENT_PIPELINE_CLIENT_H_
#define CODEARTS_CLIENT_PIPELINE_CLIENT_H_

#include <grpcpp/alarm.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/async_unary_call.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>

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

/// The outcome of one call of any RPC.
template <typename Response>
struct Result {
  grpc::Status status;
  /// Valid only when `status.ok()`.
  Response response;
  /// CodeArts' request id from trailing metadata `x-request-id`; empty if the gateway sent none
  /// (for example when the call failed before reaching CodeArts).
  std::string request_id;
  /// The `google.rpc.ErrorInfo` from the status details, when the gateway attached one. Its reason
  /// is CodeArts' error code; its metadata holds `http_status` and `request_id`.
  std::optional<google::rpc::ErrorInfo> error_info;
};

using StopResult = Result<pipeline::v1::StopResponse>;

/// What a call by method descriptor returned beside its response message (PipelineClient::Call).
struct CallResult {
  grpc::Status status;
  std::string request_id;
  std::optional<google::rpc::ErrorInfo> error_info;
};

/// An RPC of the service, named by its stub's PrepareAsync method, for example
/// `&pipeline::v1::PipelineService::Stub::PrepareAsyncGetStatus`.
template <typename Request, typename Response>
using Rpc = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> (
    pipeline::v1::PipelineService::Stub::*)(grpc::ClientContext*, const Request&,
                                            grpc::CompletionQueue*);

/// A plaintext channel to the gateway at `target` ("host:port" or "unix:/path"). The gateway runs
/// as a local sidecar, so the channel is not encrypted.
std::shared_ptr<grpc::Channel> MakeInsecureChannel(const std::string& target);

namespace internal {
grpc::Status CheckOptions(const CallOptions& options);
void PrepareContext(const CallOptions& options, grpc::ClientContext* context);
/// Status, request id and error details of a finished call (`context` null: never sent).
void FillResult(grpc::Status status, const grpc::ClientContext* context, grpc::Status* out_status,
                std::string* request_id, std::optional<google::rpc::ErrorInfo>* error_info);
}  // namespace internal

/// The C++ client of the gateway: every RPC, blocking (Call) or not (CallAsync), from one
/// template over the method; Stop and StopAsync are the same two for Stop.
class PipelineClient {
 public:
  /// Starts the thread that delivers CallAsync results.
  explicit PipelineClient(std::shared_ptr<grpc::Channel> channel);
  /// Cancels the asynchronous calls still in flight (their callbacks run with CANCELLED), waits
  /// for every callback to finish and joins the completion-queue thread. Must not be called from
  /// a callback.
  ~PipelineClient();

  PipelineClient(const PipelineClient&) = delete;
  PipelineClient& operator=(const PipelineClient&) = delete;

  /// Calls `rpc`, blocking until the gateway answers or the deadline passes. A
  /// `options.timeout` out of range fails with INVALID_ARGUMENT without calling the gateway.
  ///   client.Call(&PipelineService::Stub::PrepareAsyncGetStatus, request, options)
  template <typename Request, typename Response>
  Result<Response> Call(Rpc<Request, Response> rpc, const Request& request,
                        const CallOptions& options);

  /// Starts `rpc` without blocking. `done` runs exactly once, on the client's completion-queue
  /// thread (also when the call fails before it is sent, or is cancelled by the destructor). It
  /// should return quickly and must not throw: it delays every other callback of this client.
  template <typename Request, typename Response>
  void CallAsync(Rpc<Request, Response> rpc, const Request& request, const CallOptions& options,
                 std::type_identity_t<std::function<void(Result<Response>)>> done);

  /// Stops a pipeline build (Call of Stop).
  StopResult Stop(const pipeline::v1::StopRequest& request, const CallOptions& options) {
    return Call(&pipeline::v1::PipelineService::Stub::PrepareAsyncStop, request, options);
  }
  /// CallAsync of Stop.
  void StopAsync(const pipeline::v1::StopRequest& request, const CallOptions& options,
                 std::function<void(StopResult)> done) {
    CallAsync(&pipeline::v1::PipelineService::Stub::PrepareAsyncStop, request, options,
              std::move(done));
  }

  /// Calls any unary method of the gateway by its descriptor (for example
  /// `PipelineService::descriptor()->FindMethodByName("GetStatus")`), blocking until the gateway
  /// answers or the deadline passes. `request` must be of the method's input type and `response`
  /// of its output type (else INVALID_ARGUMENT, nothing sent); `response` is set only when OK.
  /// For tools that know the method only at run time (pipelinectl call).
  CallResult Call(const google::protobuf::MethodDescriptor& method,
                  const google::protobuf::Message& request, google::protobuf::Message* response,
                  const CallOptions& options);

 private:
  // One asynchronous call; its address is the completion-queue tag. Owned by the CQ loop from the
  // moment the tag is queued, freed after its tag comes back.
  struct AsyncCall {
    virtual ~AsyncCall() = default;
    // Builds the result and runs the callback (on the CQ thread, with no lock held).
    virtual void Complete() = 0;
    grpc::ClientContext context;
    grpc::Status status;
    bool sent = false;
    // Set for a call rejected before it is sent: the alarm fires at once and brings the
    // rejection to the CQ thread, so that the callback never runs on the caller's thread.
    std::unique_ptr<grpc::Alarm> rejection;
  };
  template <typename Response>
  struct TypedCall final : AsyncCall {
    void Complete() override {
      Result<Response> result;
      internal::FillResult(std::move(status), sent ? &context : nullptr, &result.status,
                           &result.request_id, &result.error_info);
      if (result.status.ok()) result.response = std::move(response);
      std::function<void(Result<Response>)> callback = std::move(done);
      if (callback) callback(std::move(result));
    }
    Response response;
    std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;
    std::function<void(Result<Response>)> done;
  };

  void Reject(std::unique_ptr<AsyncCall> call);
  void Register(AsyncCall* call);
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

template <typename Request, typename Response>
Result<Response> PipelineClient::Call(Rpc<Request, Response> rpc, const Request& request,
                                      const CallOptions& options) {
  Result<Response> result;
  if (grpc::Status invalid = internal::CheckOptions(options); !invalid.ok()) {
    internal::FillResult(std::move(invalid), nullptr, &result.status, &result.request_id,
                         &result.error_info);
    return result;
  }
  grpc::ClientContext context;
  internal::PrepareContext(options, &context);
  // A queue of the call's own: a blocking call needs no thread and no callback API.
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader =
      ((*stub_).*rpc)(&context, request, &cq);
  reader->StartCall();
  Response response;
  grpc::Status status;
  int tag = 0;
  reader->Finish(&response, &status, &tag);
  void* got = nullptr;
  bool ok = false;
  cq.Next(&got, &ok);
  cq.Shutdown();
  while (cq.Next(&got, &ok)) {
  }
  internal::FillResult(std::move(status), &context, &result.status, &result.request_id,
                       &result.error_info);
  if (result.status.ok()) result.response = std::move(response);
  return result;
}

template <typename Request, typename Response>
void PipelineClient::CallAsync(Rpc<Request, Response> rpc, const Request& request,
                               const CallOptions& options,
                               std::type_identity_t<std::function<void(Result<Response>)>> done) {
  auto call = std::make_unique<TypedCall<Response>>();
  call->done = std::move(done);
  call->status = internal::CheckOptions(options);
  if (!call->status.ok()) {
    Reject(std::move(call));
    return;
  }
  internal::PrepareContext(options, &call->context);
  call->reader = ((*stub_).*rpc)(&call->context, request, &cq_);
  call->sent = true;
  TypedCall<Response>* tag = call.release();
  Register(tag);  // before the tag can come back, so the CQ thread always finds it
  tag->reader->StartCall();
  tag->reader->Finish(&tag->response, &tag->status, static_cast<AsyncCall*>(tag));
}

}  // namespace codearts::client

#endif  // CODEARTS_CLIENT_PIPELINE_CLIENT_H_
