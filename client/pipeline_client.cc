#include "client/pipeline_client.h"

#include <grpcpp/alarm.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
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
constexpr std::chrono::hours kMaxTimeout{24};

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

}  // namespace

namespace internal {

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

void FillResult(grpc::Status status, const grpc::ClientContext* context, grpc::Status* out_status,
                std::string* request_id, std::optional<google::rpc::ErrorInfo>* error_info) {
  *error_info = DecodeErrorInfo(status);
  *out_status = std::move(status);
  if (context != nullptr) *request_id = RequestIdOf(*context);
}

}  // namespace internal

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

void PipelineClient::Reject(std::unique_ptr<AsyncCall> call) {
  call->rejection = std::make_unique<grpc::Alarm>();
  AsyncCall* tag = call.release();
  tag->rejection->Set(&cq_, std::chrono::system_clock::now(), tag);
}

void PipelineClient::Register(AsyncCall* call) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.insert(call);
}

void PipelineClient::DrainCompletionQueue() {
  void* tag = nullptr;
  bool ok = false;
  // Next returns false only after Shutdown and once every queued tag has been delivered, so
  // each call's callback runs before the destructor's join returns.
  while (cq_.Next(&tag, &ok)) {
    std::unique_ptr<AsyncCall> call(static_cast<AsyncCall*>(tag));
    // `ok` is always true for a unary Finish and for an alarm that fired; the outcome of the call
    // is in `status`.
    if (call->sent) {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_.erase(call.get());
    }
    call->Complete();
  }
}

CallResult PipelineClient::Call(const google::protobuf::MethodDescriptor& method,
                                const google::protobuf::Message& request,
                                google::protobuf::Message* response, const CallOptions& options) {
  CallResult result;
  if (grpc::Status checked = internal::CheckOptions(options); !checked.ok()) {
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
  internal::PrepareContext(options, &context);
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
  internal::FillResult(std::move(status), &context, &result.status, &result.request_id,
                       &result.error_info);
  return result;
}

}  // namespace codearts::client
