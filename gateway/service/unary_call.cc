#include "service/unary_call.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "routes/status_mapping.h"
#include "routes/trace_context.h"
#include "service/call_setup.h"

namespace codearts::service {

namespace asio = boost::asio;
using std::chrono::steady_clock;

void LiveCalls::AbortAll(const grpc::Status& status) {
  std::vector<std::shared_ptr<Abortable>> live;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, call] : calls_) {
      if (auto alive = call.lock()) live.push_back(std::move(alive));
    }
  }
  for (const auto& call : live) call->Abort(status);
}

observability::MetricsSnapshot TakeMetricsSnapshot(CallContext& context) {
  const upstream::ClientStats client = context.client.GetStats();
  const auth::CredentialStats credentials = context.credentials.Stats();
  observability::MetricsSnapshot snapshot;
  snapshot.calls_in_flight = context.in_flight.count();
  snapshot.watches_open = context.watches.count();
  snapshot.watched_runs = context.watched_runs.load();
  snapshot.connections_open = static_cast<std::int64_t>(client.open);
  snapshot.connections_idle = static_cast<std::int64_t>(client.idle);
  snapshot.connections_connecting = static_cast<std::int64_t>(client.connecting);
  snapshot.calls_waiting_for_connection = static_cast<std::int64_t>(client.waiting);
  snapshot.credential_reloads = credentials.reloads;
  snapshot.credential_reload_failures = credentials.reload_failures;
  snapshot.tls_full_handshakes = client.full_handshakes;
  snapshot.connect_timeouts = client.connect_timeouts;
  snapshot.tls_resumed_handshakes = client.resumed_handshakes;
  return snapshot;
}

void UnaryCall::Spawn(CallContext& context, RouteService& service, std::size_t route_index,
                      CqInbox& queue) {
  auto call = std::make_shared<UnaryCall>(context, service, route_index, queue);
  UnaryCall& ref = *call;
  ref.self_ = std::move(call);
  ref.server_context_.AsyncNotifyWhenDone(&ref.done_tag_);
  service.RequestUnary(route_index, &ref.server_context_, ref.request_, &ref.responder_,
                       &queue.cq(), &ref.request_tag_);
}

UnaryCall::UnaryCall(CallContext& context, RouteService& service, std::size_t route_index,
                     CqInbox& queue)
    : context_(context),
      service_(service),
      route_index_(route_index),
      route_(service.route(route_index)),
      queue_(queue),
      request_(route_.request_prototype->New(&arena_)),
      response_(route_.response_prototype->New(&arena_)),
      responder_(&server_context_),
      executor_(context.io_single_threaded ? asio::any_io_executor(context.io.get_executor())
                                           : asio::any_io_executor(asio::make_strand(context.io))),
      timer_(executor_) {}

UnaryCall::~UnaryCall() = default;

void UnaryCall::OnTag(int kind, bool ok) {
  switch (kind) {
    case kRequest:
      if (!ok) {
        // The server is shutting down and this request slot was never matched with an RPC; gRPC
        // delivers no done tag for an unstarted call.
        self_.reset();
        return;
      }
      Spawn(context_, service_, route_index_, queue_);
      OnRequest();
      return;
    case kFinish:
      finished_ = true;
      break;
    case kDone:
      done_ = true;
      if (server_context_.IsCancelled() && exchange_started_) Cancel();
      break;
    default:
      return;
  }
  if (finished_ && done_) self_.reset();  // the last CQ reference; Asio may still hold one
}

void UnaryCall::OnRequest() {
  started_ = steady_clock::now();
  record_.method = route_.name;
  record_.peer = server_context_.peer();
  const google::protobuf::Reflection* reflection = request_->GetReflection();
  if (route_.log_pipeline_id != nullptr) {
    record_.pipeline_id = reflection->GetString(*request_, route_.log_pipeline_id);
  }
  if (route_.log_build_id != nullptr) {
    record_.build_id = reflection->GetString(*request_, route_.log_build_id);
  }
  record_.auth_mode = "none";
  routes::UpstreamCall call;
  steady_clock::time_point deadline;
  const int in_flight = context_.in_flight.Enter();
  if (in_flight > context_.options.max_in_flight) {
    Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("gateway overloaded: ", context_.options.max_in_flight,
                                     " calls already in flight (--max-in-flight)")));
    return;
  }
  if (grpc::Status prepared = Prepare(&call, &deadline); !prepared.ok()) {
    Finish(prepared);
    return;
  }
  StartExchange(std::move(call), deadline);
}

grpc::Status UnaryCall::Prepare(routes::UpstreamCall* call, steady_clock::time_point* deadline) {
  routes::TraceContext trace = TraceOf(server_context_);
  record_.trace_id = trace.trace_id;
  record_.caller_request_id = trace.request_id;

  if (absl::Status valid = route_.request_rules.Validate(*request_); !valid.ok()) {
    return routes::FromAbslStatus(valid);
  }

  auth::CallCredentials credentials;
  if (grpc::Status resolved =
          ResolveCredentials(context_, server_context_, &credentials, &record_.auth_mode);
      !resolved.ok()) {
    return resolved;
  }

  // The caller's deadline, capped by the configured upstream timeout.
  const auto now_steady = steady_clock::now();
  auto budget =
      std::chrono::duration_cast<steady_clock::duration>(context_.options.upstream_timeout);
  const auto caller_deadline = server_context_.deadline();
  if (caller_deadline != std::chrono::system_clock::time_point::max()) {
    const auto left = caller_deadline - std::chrono::system_clock::now();
    budget = std::min(budget, std::chrono::duration_cast<steady_clock::duration>(left));
  }
  if (budget < context_.options.min_time_left) {
    return {grpc::StatusCode::DEADLINE_EXCEEDED,
            "too little time left before the call's deadline to reach upstream"};
  }
  *deadline = now_steady + budget;

  absl::StatusOr<routes::UpstreamCall> built = routes::BuildUpstreamCall(
      route_, *request_, context_.options.request, std::move(credentials), context_.clock, trace);
  if (!built.ok()) return routes::FromAbslStatus(built.status());
  *call = *std::move(built);
  return grpc::Status::OK;
}

void UnaryCall::StartExchange(routes::UpstreamCall call, steady_clock::time_point deadline) {
  exchange_started_ = true;
  deadline_ = deadline;
  context_.live.Add(shared_from_this());
  asio::post(executor_, [self = shared_from_this(), call = std::move(call)]() mutable {
    if (self->completed_) return;  // aborted or cancelled before the executor got to it
    // The client applies the same deadline to every socket step; this timer is the backstop
    // for steps it cannot bound (a slow DNS resolver), so the caller is always answered.
    self->timer_.expires_at(self->deadline_ + kDeadlineGrace);
    self->timer_.async_wait([self](boost::system::error_code ec) {
      if (ec || self->completed_) return;
      self->cancel_.emit(asio::cancellation_type::terminal);
      self->Complete(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                  absl::StrCat("deadline exceeded waiting for upstream ",
                                               self->context_.client.endpoint().authority)));
    });
    asio::co_spawn(
        self->executor_, self->Exchange(std::move(call)), [self](const std::exception_ptr& error) {
          if (error && !self->completed_) {
            self->Complete(
                grpc::Status(grpc::StatusCode::INTERNAL, "internal error in the gateway"));
          }
        });
  });
}

asio::awaitable<void> UnaryCall::Exchange(routes::UpstreamCall call) {
  const auto upstream_start = steady_clock::now();
  upstream::ExchangeInfo info;
  absl::StatusOr<upstream::HttpResponse> response =
      co_await context_.client.Send(std::move(call.request), std::move(call.prepare), call.policy,
                                    deadline_, cancel_.slot(), &info);
  record_.upstream_latency =
      std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - upstream_start);
  record_.upstream_attempts = info.attempts;
  record_.connection_reused = info.reused_connection;
  for (const upstream::AttemptOutcome& outcome : info.outcomes) {
    context_.metrics.RecordUpstreamRequest(outcome.http_status, outcome.duration);
  }
  context_.metrics.RecordRetries(info.retries);
  if (info.prepare_failed) {
    context_.metrics.RecordCredentialError(observability::CredentialError::kSigning);
  }
  if (completed_) co_return;
  if (response.ok()) {
    record_.http_status = response->status;
    record_.request_id = routes::RequestIdOf(*response);
    if (response->status == 401) {
      context_.metrics.RecordCredentialError(observability::CredentialError::kRejected);
    }
  }
  Complete(routes::MapOutcome(route_, response, info, context_.client.endpoint().host, response_));
}

void UnaryCall::Abort(const grpc::Status& status) {
  asio::post(executor_, [self = shared_from_this(), status] {
    if (self->completed_) return;
    self->cancel_.emit(asio::cancellation_type::terminal);
    self->Complete(status);
  });
}

void UnaryCall::Cancel() {
  asio::post(executor_, [self = shared_from_this()] {
    if (self->completed_) return;
    self->cancel_.emit(asio::cancellation_type::terminal);
    // gRPC also cancels a call whose deadline passed; say which it was in the access log.
    if (steady_clock::now() >= self->deadline_) {
      self->Complete(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                  "deadline exceeded waiting for upstream"));
    } else {
      self->Complete(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled by the caller"));
    }
  });
}

void UnaryCall::Complete(const grpc::Status& status) {
  if (completed_) return;
  completed_ = true;
  outcome_ = status;
  timer_.cancel();
  context_.live.Remove(this);
  // Under light load the answer goes out at once, from here, without a hand-off to wait for;
  // under load the CQ thread finishes calls in batches, with nothing contending.
  if (queue_.ThreadIsWaiting() && context_.in_flight.count() <= kFinishHereMaxInFlight) {
    Finish(status);
  } else {
    queue_.Post(shared_from_this());
  }
}

void UnaryCall::RunOnCq() { Finish(outcome_); }

void UnaryCall::Finish(const grpc::Status& status) {
  if (!record_.request_id.empty()) {
    server_context_.AddTrailingMetadata("x-request-id", record_.request_id);
  }
  record_.grpc_code = static_cast<int>(status.error_code());
  if (!status.ok()) record_.message = status.error_message();
  record_.latency =
      std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - started_);
  observability::WriteAccessLog(record_);
  service_.metrics(route_index_).Record(record_.grpc_code, record_.latency);
  context_.in_flight.Answered();
  if (status.ok()) {
    responder_.Finish(*response_, status, &finish_tag_);
  } else {
    responder_.FinishWithError(status, &finish_tag_);
  }
  context_.in_flight.Leave();
}

}  // namespace codearts::service
