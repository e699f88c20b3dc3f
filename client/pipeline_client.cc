#include "client/pipeline_client.h"

#include <grpcpp/alarm.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/async_unary_call.h>
#include <grpcpp/support/byte_buffer.h>

#include <string>
#include <utility>
#include <vector>

#include "google/rpc/status.pb.h"

namespace codearts::client {
namespace {

constexpr char kAuthTokenKey[] = "x-auth-token";
constexpr char kRequestIdKey[] = "x-request-id";

// Far above any sensible Stop call, and far below where now() + timeout would overflow.
constexpr std::chrono::hours kMaxTimeout{24};

grpc::Status CheckOptions(const CallOptions& options) {
  if (options.timeout <= std::chrono::milliseconds::zero() || options.timeout > kMaxTimeout) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "CallOptions.timeout must be positive (every call needs a deadline) and at most 24h"};
  }
  return grpc::Status::OK;
}

void PrepareContext(const CallOptions& options, grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + options.timeout);
  if (!options.token.empty()) context->AddMetadata(kAuthTokenKey, options.token);
}

std::optional<google::rpc::ErrorInfo> DecodeErrorInfo(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const google::protobuf::Any& detail : details.details()) {
    google::rpc::ErrorInfo info;
    if (detail.Is<google::rpc::ErrorInfo>() && detail.UnpackTo(&info)) return info;
  }
  return std::nullopt;
}

// Only for a context whose call has finished: before that the trailers are not there.
std::string RequestIdOf(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kRequestIdKey);
  return it == trailers.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

StopResult MakeResult(grpc::Status status, pipeline::v1::StopResponse response,
                      const grpc::ClientContext* finished_context) {
  StopResult result;
  result.error_info = DecodeErrorInfo(status);
  result.status = std::move(status);
  if (result.status.ok()) result.response = std::move(response);
  if (finished_context != nullptr) result.request_id = RequestIdOf(*finished_context);
  return result;
}

}  // namespace

// One StopAsync call; its address is the completion-queue tag. Owned by the CQ loop from the
// moment the tag is queued, freed after its tag comes back.
struct PipelineClient::AsyncCall {
  grpc::ClientContext context;
  pipeline::v1::StopResponse response;
  grpc::Status status;
  std::function<void(StopResult)> done;
  std::unique_ptr<grpc::ClientAsyncResponseReader<pipeline::v1::StopResponse>> reader;
  // Set instead of `reader` for a call rejected before it is sent: the alarm fires at once and
  // brings the rejection to the CQ thread, so that `done` never runs on the caller's thread.
  std::unique_ptr<grpc::Alarm> rejection;
};

std::shared_ptr<grpc::Channel> MakeInsecureChannel(const std::string& target) {
  return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
}

PipelineClient::PipelineClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(channel),
      stub_(pipeline::v1::PipelineService::NewStub(std::move(channel))),
      cq_thread_([this] { DrainCompletionQueue(); }) {}

PipelineClient::~PipelineClient() {
  {
    // A pending unary call only completes when it finishes or its deadline passes; cancelling
    // makes each one come back promptly so that Shutdown's drain below does not wait for them.
    std::lock_guard<std::mutex> lock(mu_);
    for (AsyncCall* call : in_flight_) call->context.TryCancel();
  }
  cq_.Shutdown();
  cq_thread_.join();
}

StopResult PipelineClient::Stop(const pipeline::v1::StopRequest& request,
                                const CallOptions& options) {
  if (grpc::Status invalid = CheckOptions(options); !invalid.ok()) {
    return MakeResult(std::move(invalid), {}, nullptr);
  }
  grpc::ClientContext context;
  PrepareContext(options, &context);
  pipeline::v1::StopResponse response;
  grpc::Status status = stub_->Stop(&context, request, &response);
  return MakeResult(std::move(status), std::move(response), &context);
}

void PipelineClient::StopAsync(const pipeline::v1::StopRequest& request, const CallOptions& options,
                               std::function<void(StopResult)> done) {
  auto call = std::make_unique<AsyncCall>();
  call->done = std::move(done);
  call->status = CheckOptions(options);
  if (!call->status.ok()) {
    call->rejection = std::make_unique<grpc::Alarm>();
    AsyncCall* tag = call.release();
    tag->rejection->Set(&cq_, std::chrono::system_clock::now(), tag);
    return;
  }
  PrepareContext(options, &call->context);
  call->reader = stub_->PrepareAsyncStop(&call->context, request, &cq_);
  AsyncCall* tag = call.release();
  {
    // Registered before the tag can come back, so the CQ thread always finds it.
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.insert(tag);
  }
  tag->reader->StartCall();
  tag->reader->Finish(&tag->response, &tag->status, tag);
}

void PipelineClient::DrainCompletionQueue() {
  void* tag = nullptr;
  bool ok = false;
  // Next returns false only after Shutdown and once every queued tag has been delivered, so
  // each call's `done` runs before the destructor's join returns.
  while (cq_.Next(&tag, &ok)) {
    std::unique_ptr<AsyncCall> call(static_cast<AsyncCall*>(tag));
    // `ok` is always true for a unary Finish and for an alarm that fired; the outcome of the call
    // is in `status`.
    StopResult result;
    if (call->reader != nullptr) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        in_flight_.erase(call.get());
      }
      result = MakeResult(std::move(call->status), std::move(call->response), &call->context);
    } else {
      result = MakeResult(std::move(call->status), {}, nullptr);
    }
    std::function<void(StopResult)> done = std::move(call->done);
    call.reset();
    if (done) done(std::move(result));
  }
}

CallResult PipelineClient::Call(const google::protobuf::MethodDescriptor& method,
                                const google::protobuf::Message& request,
                                google::protobuf::Message* response, const CallOptions& options) {
  CallResult result;
  if (grpc::Status checked = CheckOptions(options); !checked.ok()) {
    result.status = std::move(checked);
    return result;
  }
  if (method.client_streaming() || method.server_streaming() ||
      request.GetDescriptor() != method.input_type() ||
      response->GetDescriptor() != method.output_type()) {
    result.status = {grpc::StatusCode::INVALID_ARGUMENT,
                     "Call needs a unary method and messages of its input and output types"};
    return result;
  }
  std::string bytes;
  request.SerializeToString(&bytes);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer send(&slice, 1);
  grpc::ByteBuffer received;
  grpc::ClientContext context;
  PrepareContext(options, &context);
  // A queue of the call's own, so that a blocking call needs no thread and no callback API.
  grpc::CompletionQueue cq;
  grpc::GenericStub generic(channel_);
  const std::string path = "/" + method.service()->full_name() + "/" + method.name();
  std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::ByteBuffer>> reader =
      generic.PrepareUnaryCall(&context, path, send, &cq);
  reader->StartCall();
  grpc::Status status;
  int tag = 0;
  reader->Finish(&received, &status, &tag);
  void* got = nullptr;
  bool ok = false;
  cq.Next(&got, &ok);
  cq.Shutdown();
  while (cq.Next(&got, &ok)) {
  }
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    std::string answer;
    if (received.Dump(&slices).ok()) {
      for (const grpc::Slice& part : slices) {
        answer.append(reinterpret_cast<const char*>(part.begin()), part.size());
      }
    }
    if (!response->ParseFromString(answer)) {
      status = {grpc::StatusCode::INTERNAL,
                "the gateway's answer does not parse as " + method.output_type()->full_name()};
    }
  }
  result.error_info = DecodeErrorInfo(status);
  result.status = std::move(status);
  result.request_id = RequestIdOf(context);
  return result;
}

}  // namespace codearts::client
