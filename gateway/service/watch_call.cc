#include "service/watch_call.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "routes/status_mapping.h"
#include "routes/watch_rule.h"
#include "service/call_setup.h"

namespace codearts::service {

using std::chrono::steady_clock;

void WatchCall::Spawn(CallContext& context, RouteService& service, WatchHub& hub,
                      std::size_t route_index, grpc::ServerCompletionQueue& cq) {
  auto call = std::make_shared<WatchCall>(context, service, hub, route_index, cq);
  WatchCall& ref = *call;
  ref.self_ = std::move(call);
  ref.server_context_.AsyncNotifyWhenDone(&ref.done_tag_);
  service.RequestStreaming(route_index, &ref.server_context_, ref.request_, &ref.writer_, &cq,
                           &ref.request_tag_);
}

WatchCall::WatchCall(CallContext& context, RouteService& service, WatchHub& hub,
                     std::size_t route_index, grpc::ServerCompletionQueue& cq)
    : context_(context),
      service_(service),
      hub_(hub),
      route_index_(route_index),
      route_(service.route(route_index)),
      cq_(cq),
      request_(route_.request_prototype->New(&arena_)),
      writer_(&server_context_) {}

WatchCall::~WatchCall() = default;

void WatchCall::OnTag(int kind, bool ok) {
  switch (kind) {
    case kRequest:
      if (!ok) {
        self_.reset();  // shutting down: never matched with an RPC, no done tag follows
        return;
      }
      Spawn(context_, service_, hub_, route_index_, cq_);
      OnRequest();
      return;
    case kWrite: {
      std::lock_guard lock(mutex_);
      writing_ = false;
      if (!ok && !end_) {
        end_ = grpc::Status(grpc::StatusCode::CANCELLED, "the stream to the caller broke");
      }
      AdvanceLocked();
      return;
    }
    case kFinish:
      finished_ = true;
      break;
    case kDone:
      done_ = true;
      if (server_context_.IsCancelled()) {
        // The caller cancelled or its deadline passed: stop polling for it at once.
        hub_.Leave(this);
        std::lock_guard lock(mutex_);
        if (!end_) {
          const bool expired = std::chrono::system_clock::now() >= server_context_.deadline();
          end_ = expired
                     ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                    "the call's deadline passed while watching")
                     : grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled by the caller");
        }
        AdvanceLocked();
      }
      break;
    default:
      return;
  }
  if (finished_ && done_) self_.reset();
}

void WatchCall::OnRequest() {
  started_ = steady_clock::now();
  WatchTarget target;
  grpc::Status prepared;
  {
    std::lock_guard lock(mutex_);
    record_.stream = true;
    record_.method = route_.name;
    record_.peer = server_context_.peer();
    record_.auth_mode = "none";
    const google::protobuf::Reflection* reflection = request_->GetReflection();
    if (route_.log_pipeline_id != nullptr) {
      record_.pipeline_id = reflection->GetString(*request_, route_.log_pipeline_id);
    }
    if (route_.log_build_id != nullptr) {
      record_.build_id = reflection->GetString(*request_, route_.log_build_id);
    }
    counted_ = true;
    if (context_.watches.Enter() > context_.options.max_watches) {
      prepared = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              absl::StrCat("gateway overloaded: ", context_.options.max_watches,
                                           " watches already open"));
    } else {
      prepared = Prepare(&target);
    }
    if (!prepared.ok()) {
      end_ = prepared;
      AdvanceLocked();
      return;
    }
  }
  // Outside the lock: the hub may hand the first state over right away.
  hub_.Join(shared_from_this(), std::move(target));
}

grpc::Status WatchCall::Prepare(WatchTarget* target) {
  const routes::TraceContext trace = TraceOf(server_context_);
  record_.trace_id = trace.trace_id;
  record_.caller_request_id = trace.request_id;
  if (absl::Status valid = route_.request_rules.Validate(*request_); !valid.ok()) {
    return routes::FromAbslStatus(valid);
  }
  absl::StatusOr<std::chrono::milliseconds> interval = routes::PollInterval(route_, *request_);
  if (!interval.ok()) return routes::FromAbslStatus(interval.status());
  const routes::Route& poll = service_.route(route_.watch.poll_route);
  std::unique_ptr<google::protobuf::Message> poll_request(poll.request_prototype->New());
  routes::FillPollRequest(route_.watch, *request_, poll_request.get());
  if (absl::Status valid = poll.request_rules.Validate(*poll_request); !valid.ok()) {
    return routes::FromAbslStatus(valid);
  }
  auth::CallCredentials credentials;
  if (grpc::Status resolved =
          ResolveCredentials(context_, server_context_, &credentials, &record_.auth_mode);
      !resolved.ok()) {
    return resolved;
  }
  target->route = route_index_;
  target->poll_request = std::move(poll_request);
  target->credentials = std::move(credentials);
  target->interval = *interval;
  target->trace = trace;
  return grpc::Status::OK;
}

void WatchCall::OnState(const std::shared_ptr<const WatchState>& state) {
  std::lock_guard lock(mutex_);
  if (finish_issued_ || end_ || final_written_) return;
  if (state->key == last_key_ && !state->final) return;  // no change: nothing to send
  if (pending_ && pending_->final) return;               // the final state is never replaced
  last_key_ = state->key;
  pending_ = state;
  if (!writing_) AdvanceLocked();
}

void WatchCall::OnEnd(const grpc::Status& status) {
  std::lock_guard lock(mutex_);
  if (finish_issued_ || end_) return;
  end_ = status;
  if (!writing_) AdvanceLocked();
}

void WatchCall::AdvanceLocked() {
  if (writing_ || finish_issued_) return;
  if (final_written_) {
    FinishLocked(grpc::Status::OK);
  } else if (end_) {
    FinishLocked(*end_);
  } else if (pending_) {
    const std::shared_ptr<const WatchState> state = std::move(pending_);
    pending_.reset();
    WriteLocked(*state);
  }
}

void WatchCall::WriteLocked(const WatchState& state) {
  writing_ = true;
  ++record_.messages_sent;
  if (state.final) final_written_ = true;
  writer_.Write(state.message, &write_tag_);  // copies the message (its slices are shared)
}

void WatchCall::FinishLocked(const grpc::Status& status) {
  finish_issued_ = true;
  pending_.reset();
  hub_.Leave(this);
  record_.grpc_code = static_cast<int>(status.error_code());
  if (!status.ok()) record_.message = status.error_message();
  record_.polls = polls_.load(std::memory_order_relaxed);
  record_.latency =
      std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - started_);
  observability::WriteAccessLog(record_);
  service_.metrics(route_index_).Record(record_.grpc_code, record_.latency);
  if (counted_) context_.watches.Answered();
  writer_.Finish(status, &finish_tag_);
  if (counted_) {
    counted_ = false;
    context_.watches.Leave();
  }
}

}  // namespace codearts::service
