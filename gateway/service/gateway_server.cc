#include "service/gateway_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "observability/log.h"

namespace codearts::service {
namespace {

// A Stop request is two short ids; anything much larger is not a Stop request.
constexpr int kMaxRequestBytes = 16 * 1024;
constexpr int kMaxMetadataBytes = 64 * 1024;
constexpr char kServiceName[] = "codearts.pipeline.v1.PipelineService";
// How long shutdown waits for cancelled calls to be finished (the Asio side does it at once).
constexpr std::chrono::seconds kFinishGrace{5};

}  // namespace

GatewayServer::GatewayServer(CallContext& context) : context_(context) {}

GatewayServer::~GatewayServer() { Shutdown(std::chrono::system_clock::now()); }

absl::Status GatewayServer::Start(const std::string& address) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(&service_);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  // Room for a large IAM token in x-auth-token, and no more.
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  cq_ = builder.AddCompletionQueue();
  server_ = builder.BuildAndStart();
  if (!server_) {
    cq_->Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) {
    }
    shut_down_ = true;
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  cq_thread_ = std::thread([this] { PollCompletionQueue(); });
  StopCall::Spawn(context_, service_, *cq_);
  server_->GetHealthCheckService()->SetServingStatus(kServiceName, true);
  server_->GetHealthCheckService()->SetServingStatus(true);
  return absl::OkStatus();
}

void GatewayServer::PollCompletionQueue() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) {
    auto* call_tag = static_cast<StopCall::Tag*>(tag);
    call_tag->call->OnTag(call_tag->kind, ok);
  }
}

void GatewayServer::Shutdown(std::chrono::system_clock::time_point drain_deadline) {
  if (shut_down_ || !server_) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  // Waits for in-flight calls until the deadline, then cancels the rest; the CQ thread keeps
  // running meanwhile, so their finish tags are processed.
  server_->Shutdown(drain_deadline);
  // Calls that gRPC cancelled (caller gone, drain deadline) are finished on the Asio side a
  // moment later; their Finish must reach the completion queue before it shuts down.
  if (!context_.in_flight.WaitForNone(std::chrono::steady_clock::now() + kFinishGrace)) {
    observability::Log(observability::LogLevel::kError,
                       "calls still unfinished at shutdown; shutting the queue down anyway");
  }
  cq_->Shutdown();
  if (cq_thread_.joinable()) cq_thread_.join();
}

}  // namespace codearts::service
