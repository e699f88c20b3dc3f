#include "service/gateway_server.h"

#include "absl/strings/str_cat.h"
#include "api_descriptor_set.h"
#include "observability/log.h"
#include "observability/thread_name.h"
#include "service/unary_call.h"
#include "service/watch_call.h"

namespace codearts::service {
namespace {

// Requests are ids, filters and a few parameters; anything much larger is a mistake.
constexpr int kMaxRequestBytes = 64 * 1024;
constexpr int kMaxMetadataBytes = 64 * 1024;
// How long shutdown waits for cancelled calls to be finished (the Asio side does it at once).
constexpr std::chrono::seconds kFinishGrace{5};
// After the drain deadline the gateway ends its calls itself; gRPC's own cancellation, this much
// later, only catches what even that did not finish.
constexpr std::chrono::seconds kAbortGrace{1};

// A queue that never had a handler of ours on it (the server failed to start) is shut down and
// emptied, as gRPC requires before it is destroyed.
void ShutDownUnusedQueue(grpc::ServerCompletionQueue& cq) {
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace

GatewayServer::GatewayServer(CallContext& context, RouteService& service, PollClock* poll_clock)
    : context_(context),
      service_(service),
      hub_(context, service.table(), poll_clock != nullptr ? *poll_clock : real_clock_) {}

GatewayServer::~GatewayServer() { Shutdown(std::chrono::system_clock::now()); }

absl::Status GatewayServer::Start(const ListenOptions& options) {
  // gRPC's own health service uses the callback API, whose extra thread joins in polling every
  // connection (measured: about 7 us of CPU per call); HealthService runs on our queue instead.
  grpc::EnableDefaultHealthCheckService(false);
  absl::StatusOr<std::unique_ptr<ReflectionService>> reflection = ReflectionService::Create(
      proto::ApiDescriptorSet(),
      {service_.table().service->full_name(), grpc::health::v1::Health::service_full_name()});
  if (!reflection.ok()) {
    shut_down_ = true;
    return reflection.status();
  }
  reflection_ = *std::move(reflection);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      options.address,
      options.credentials ? options.credentials : grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(&service_);
  builder.RegisterService(health_.service());
  for (grpc::Service* reflection_service : reflection_->services()) {
    builder.RegisterService(reflection_service);
  }
  // Reflection is a synchronous service: one polling thread for it, never a second one spawned
  // under load (the gateway's thread count stays flat).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 1);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  // Room for a large IAM token in x-auth-token, and no more.
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  cq_ = builder.AddCompletionQueue();
  inbox_ = std::make_unique<CqInbox>(*cq_);
  server_ = builder.BuildAndStart();
  if (!server_) {
    ShutDownUnusedQueue(*cq_);
    shut_down_ = true;
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address));
  }
  if (!options.health_address.empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(options.health_address, grpc::InsecureServerCredentials(),
                                    &health_port_);
    health_builder.SetMaxReceiveMessageSize(1024);
    health_builder.RegisterService(probe_health_.service());
    probe_cq_ = health_builder.AddCompletionQueue();
    health_server_ = health_builder.BuildAndStart();
    if (!health_server_) {
      ShutDownUnusedQueue(*probe_cq_);
      server_->Shutdown(std::chrono::system_clock::now());
      ShutDownUnusedQueue(*cq_);
      shut_down_ = true;
      return absl::UnavailableError(
          absl::StrCat("cannot listen on health address ", options.health_address));
    }
  }
  SetHealth(kLivenessService, true);
  {
    std::lock_guard lock(health_mutex_);
    SetHealth("", dependencies_ready_.load());
    SetHealth(service_.table().service->full_name(), dependencies_ready_.load());
    ready_ = true;
  }
  // The first calls are requested before the threads that poll the queues start, so that what
  // this thread wrote is theirs to read without a lock (thread creation orders it; gRPC's
  // queue does too, but invisibly to ThreadSanitizer).
  for (std::size_t route = 0; route < service_.table().routes.size(); ++route) {
    if (service_.route(route).server_streaming) {
      WatchCall::Spawn(context_, service_, hub_, route, *cq_);
    } else {
      UnaryCall::Spawn(context_, service_, route, *inbox_);
    }
  }
  health_.Start(*cq_);
  cq_thread_ = std::thread([this] {
    observability::NameThisThread("gw-cq");
    inbox_->Poll();
  });
  if (health_server_) {
    probe_health_.Start(*probe_cq_);
    probe_thread_ = std::thread([this] {
      observability::NameThisThread("gw-probe-cq");
      PollCompletionQueue(*probe_cq_);
    });
  }
  return absl::OkStatus();
}

void GatewayServer::SetHealth(const std::string& name, bool serving) {
  health_.Set(name, serving);
  probe_health_.Set(name, serving);
}

void GatewayServer::PollCompletionQueue(grpc::ServerCompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
    auto* cq_tag = static_cast<CqTag*>(tag);
    cq_tag->handler->OnTag(cq_tag->kind, ok);
  }
}

void GatewayServer::BeginDrain() {
  {
    std::lock_guard lock(health_mutex_);
    if (!server_ || shut_down_ || !ready_.exchange(false)) return;
    SetHealth("", false);
    SetHealth(service_.table().service->full_name(), false);
  }
  hub_.Close(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the gateway is shutting down; watch again (another instance, or this "
                          "one once restarted, will serve the watch)"));
}

void GatewayServer::SetDependenciesReady(bool ready) {
  std::lock_guard lock(health_mutex_);
  dependencies_ready_ = ready;
  // Before Start and once draining, health is not ours to change here.
  if (!server_ || shut_down_ || !ready_.load()) return;
  SetHealth("", ready);
  SetHealth(service_.table().service->full_name(), ready);
}

void GatewayServer::Shutdown(std::chrono::system_clock::time_point drain_deadline) {
  if (shut_down_ || !server_) return;
  BeginDrain();
  shut_down_ = true;
  // Open Watch streams would hold the drain until its deadline: end them first.
  health_.EndWatches();
  // At the drain deadline, end what is still running with a status that says why; the CQ thread
  // keeps running meanwhile, so finish tags are processed.
  drain_timer_.emplace(context_.io);
  drain_timer_->expires_after(drain_deadline - std::chrono::system_clock::now());
  drain_timer_->async_wait([&context = context_](boost::system::error_code ec) {
    if (ec) return;
    context.live.AbortAll(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        "the gateway is shutting down and its drain deadline passed before CodeArts answered; "
        "the request may have been processed"));
  });
  // Closes the listener, then waits for in-flight calls (new calls on open connections are
  // refused from here on). The health listener goes last: probes keep getting answers.
  server_->Shutdown(drain_deadline + kAbortGrace);
  drain_timer_->cancel();
  if (health_server_) {
    probe_health_.EndWatches();
    health_server_->Shutdown(std::chrono::system_clock::now());
    probe_health_.WaitForWatchesToEnd(std::chrono::steady_clock::now() + kFinishGrace);
    probe_cq_->Shutdown();
    if (probe_thread_.joinable()) probe_thread_.join();
  }
  // Calls that gRPC cancelled (caller gone, drain deadline) are finished on the Asio side a
  // moment later; their Finish must reach the completion queue before it shuts down.
  if (!health_.WaitForWatchesToEnd(std::chrono::steady_clock::now() + kFinishGrace) ||
      !context_.in_flight.WaitForNone(std::chrono::steady_clock::now() + kFinishGrace) ||
      !context_.watches.WaitForNone(std::chrono::steady_clock::now() + kFinishGrace)) {
    observability::Log(observability::LogLevel::kError,
                       "calls still unfinished at shutdown; shutting the queue down anyway");
  }
  cq_->Shutdown();
  if (cq_thread_.joinable()) cq_thread_.join();
}

}  // namespace codearts::service
