#include "service/stop_call.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mapping/status_mapping.h"

namespace codearts::service {

namespace asio = boost::asio;
using std::chrono::steady_clock;

/// The Asio side of one call: runs the upstream exchange on its own strand, races it against the
/// deadline and the caller's cancellation, and finishes the gRPC call exactly once.
class StopExchange : public std::enable_shared_from_this<StopExchange> {
 public:
  StopExchange(CallContext& context, StopCall& call, pipeline::v1::StopRequest request,
               mapping::CallCredentials credentials, mapping::TraceContext trace,
               steady_clock::time_point deadline, observability::AccessRecord record)
      : context_(context),
        call_(&call),
        strand_(asio::make_strand(context.io)),
        timer_(strand_),
        request_(std::move(request)),
        credentials_(std::move(credentials)),
        trace_(std::move(trace)),
        deadline_(deadline),
        record_(std::move(record)) {}

  void Start() {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->completed_) return;
      // The client applies the same deadline to every socket step; this timer is the backstop
      // for steps it cannot bound (a slow DNS resolver), so the caller is always answered.
      self->timer_.expires_at(self->deadline_ + kDeadlineGrace);
      self->timer_.async_wait([self](boost::system::error_code ec) {
        if (ec || self->completed_) return;
        self->cancel_.emit(asio::cancellation_type::terminal);
        self->Complete(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                    absl::StrCat("deadline exceeded waiting for upstream ",
                                                 self->context_.client.endpoint().authority)),
                       nullptr);
      });
      asio::co_spawn(self->strand_, self->Run(), [self](const std::exception_ptr& error) {
        if (error && !self->completed_) {
          self->Complete(grpc::Status(grpc::StatusCode::INTERNAL, "internal error in the gateway"),
                         nullptr);
        }
      });
    });
  }

  /// Ends the exchange with `status` unless it has already ended (the drain deadline).
  void Abort(const grpc::Status& status) {
    asio::post(strand_, [self = shared_from_this(), status] {
      if (self->completed_) return;
      self->cancel_.emit(asio::cancellation_type::terminal);
      self->Complete(status, nullptr);
    });
  }

  /// Called from the CQ thread when the caller cancels (or the server shuts the call down).
  void Cancel() {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->completed_) return;
      self->cancel_.emit(asio::cancellation_type::terminal);
      // gRPC also cancels a call whose deadline passed; say which it was in the access log.
      if (steady_clock::now() >= self->deadline_) {
        self->Complete(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                    "deadline exceeded waiting for upstream"),
                       nullptr);
      } else {
        self->Complete(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled by the caller"),
                       nullptr);
      }
    });
  }

 private:
  static constexpr std::chrono::milliseconds kDeadlineGrace{5};

  asio::awaitable<void> Run() {
    if (completed_) co_return;  // cancelled before the coroutine started
    mapping::UpstreamCall call = mapping::BuildStopCall(
        request_, context_.options.request, std::move(credentials_), context_.clock, trace_);
    const auto upstream_start = steady_clock::now();
    upstream::ExchangeInfo info;
    absl::StatusOr<upstream::HttpResponse> response = co_await context_.client.Send(
        std::move(call.request), std::move(call.prepare), deadline_, cancel_.slot(), &info);
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
    if (!response.ok()) {
      Complete(mapping::FromAbslStatus(response.status()), nullptr);
      co_return;
    }
    record_.http_status = response->status;
    if (response->status == 401) {
      context_.metrics.RecordCredentialError(observability::CredentialError::kRejected);
    }
    record_.request_id = mapping::RequestIdOf(*response);
    pipeline::v1::StopResponse stop_response;
    grpc::Status status =
        mapping::MapStopResponse(*response, context_.client.endpoint().host, &stop_response);
    if (!status.ok() && !info.retry_note.empty()) {
      status = grpc::Status(status.error_code(),
                            absl::StrCat(status.error_message(), " ", info.retry_note),
                            status.error_details());
    }
    Complete(status, status.ok() ? &stop_response : nullptr);
  }

  void Complete(const grpc::Status& status, const pipeline::v1::StopResponse* response) {
    if (completed_) return;
    completed_ = true;
    timer_.cancel();
    context_.live.Remove(this);
    StopCall* call = std::exchange(call_, nullptr);
    call->Finish(status, response, std::move(record_));
  }

  CallContext& context_;
  StopCall* call_;  // valid until Complete: the call is deleted only after Finish's tag returns
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  asio::cancellation_signal cancel_;
  pipeline::v1::StopRequest request_;
  mapping::CallCredentials credentials_;
  mapping::TraceContext trace_;
  steady_clock::time_point deadline_;
  observability::AccessRecord record_;
  bool completed_ = false;
};

void LiveExchanges::Add(const std::shared_ptr<StopExchange>& exchange) {
  std::lock_guard lock(mutex_);
  exchanges_.emplace(exchange.get(), exchange);
}

void LiveExchanges::Remove(const StopExchange* exchange) {
  std::lock_guard lock(mutex_);
  exchanges_.erase(exchange);
}

void LiveExchanges::AbortAll(const grpc::Status& status) {
  std::vector<std::shared_ptr<StopExchange>> live;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, exchange] : exchanges_) {
      if (auto alive = exchange.lock()) live.push_back(std::move(alive));
    }
  }
  for (const auto& exchange : live) exchange->Abort(status);
}

observability::MetricsSnapshot TakeMetricsSnapshot(CallContext& context) {
  const upstream::ClientStats client = context.client.GetStats();
  const auth::CredentialStats credentials = context.credentials.Stats();
  observability::MetricsSnapshot snapshot;
  snapshot.calls_in_flight = context.in_flight.count();
  snapshot.connections_open = static_cast<std::int64_t>(client.open);
  snapshot.connections_idle = static_cast<std::int64_t>(client.idle);
  snapshot.connections_connecting = static_cast<std::int64_t>(client.connecting);
  snapshot.calls_waiting_for_connection = static_cast<std::int64_t>(client.waiting);
  snapshot.credential_reloads = credentials.reloads;
  snapshot.credential_reload_failures = credentials.reload_failures;
  snapshot.tls_full_handshakes = client.full_handshakes;
  snapshot.tls_resumed_handshakes = client.resumed_handshakes;
  return snapshot;
}

void StopCall::Spawn(CallContext& context, pipeline::v1::PipelineService::AsyncService& service,
                     grpc::ServerCompletionQueue& cq) {
  new StopCall(context, service, cq);  // owns itself; see MaybeDelete
}

StopCall::StopCall(CallContext& context, pipeline::v1::PipelineService::AsyncService& service,
                   grpc::ServerCompletionQueue& cq)
    : context_(context), service_(service), cq_(cq), responder_(&server_context_) {
  server_context_.AsyncNotifyWhenDone(&done_tag_);
  service_.RequestStop(&server_context_, &request_, &responder_, &cq_, &cq_, &request_tag_);
}

StopCall::~StopCall() = default;

void StopCall::OnTag(int kind, bool ok) {
  switch (kind) {
    case kRequest:
      if (!ok) {
        // The server is shutting down and this request slot was never matched with an RPC; gRPC
        // delivers no done tag for an unstarted call.
        delete this;
        return;
      }
      Spawn(context_, service_, cq_);
      OnRequest();
      return;
    case kFinish:
      finished_ = true;
      MaybeDelete();
      return;
    case kDone:
      done_ = true;
      if (server_context_.IsCancelled() && exchange_) exchange_->Cancel();
      MaybeDelete();
      return;
    default:
      return;
  }
}

void StopCall::MaybeDelete() {
  if (finished_ && done_) delete this;
}

void StopCall::OnRequest() {
  started_ = steady_clock::now();
  const int in_flight = context_.in_flight.Enter();
  observability::AccessRecord record;
  record.method = "Stop";
  record.peer = server_context_.peer();
  record.pipeline_id = request_.pipeline_id();
  record.build_id = request_.build_id();
  record.auth_mode = "none";
  const auto& metadata = server_context_.client_metadata();
  const auto single_value = [&metadata](const char* key) -> std::string_view {
    const auto values = metadata.equal_range(key);
    if (values.first == values.second || std::next(values.first) != values.second) return {};
    return {values.first->second.data(), values.first->second.size()};
  };
  mapping::TraceContext trace = mapping::MakeTraceContext(
      single_value("traceparent"), single_value("tracestate"), single_value("x-request-id"));
  record.trace_id = trace.trace_id;
  record.caller_request_id = trace.request_id;

  if (in_flight > context_.options.max_in_flight) {
    Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("gateway overloaded: ", context_.options.max_in_flight,
                                     " calls already in flight (--max-in-flight)")),
           nullptr, std::move(record));
    return;
  }
  if (absl::Status valid = mapping::ValidateStopRequest(request_); !valid.ok()) {
    Finish(mapping::FromAbslStatus(valid), nullptr, std::move(record));
    return;
  }

  mapping::CallCredentials credentials;
  const auto tokens = metadata.equal_range("x-auth-token");
  if (tokens.first != tokens.second) {
    if (std::next(tokens.first) != tokens.second) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "x-auth-token must be sent at most once"),
             nullptr, std::move(record));
      return;
    }
    const std::string_view token(tokens.first->second.data(), tokens.first->second.size());
    if (absl::Status valid = mapping::ValidateAuthToken(token); !valid.ok()) {
      Finish(mapping::FromAbslStatus(valid), nullptr, std::move(record));
      return;
    }
    credentials.token = std::string(token);
    record.auth_mode = "token";
  } else {
    credentials.ak_sk = context_.credentials.Current();
    if (!credentials.ak_sk) {
      context_.metrics.RecordCredentialError(observability::CredentialError::kMissing);
      Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "no credentials: send an IAM token as x-auth-token metadata, or "
                          "configure the gateway with HUAWEICLOUD_SDK_AK and "
                          "HUAWEICLOUD_SDK_SK"),
             nullptr, std::move(record));
      return;
    }
    record.auth_mode = "aksk";
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
    Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "too little time left before the call's deadline to reach upstream"),
           nullptr, std::move(record));
    return;
  }

  exchange_ =
      std::make_shared<StopExchange>(context_, *this, request_, std::move(credentials),
                                     std::move(trace), now_steady + budget, std::move(record));
  context_.live.Add(exchange_);
  exchange_->Start();
}

void StopCall::Finish(const grpc::Status& status, const pipeline::v1::StopResponse* response,
                      observability::AccessRecord record) {
  if (!record.request_id.empty()) {
    server_context_.AddTrailingMetadata("x-request-id", record.request_id);
  }
  record.grpc_code = static_cast<int>(status.error_code());
  if (!status.ok()) record.message = status.error_message();
  record.latency =
      std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - started_);
  observability::WriteAccessLog(record);
  context_.metrics.RecordCall(record.method, record.grpc_code, record.latency);
  // Once Finish is issued the CQ thread may delete this call at any moment: keep what is needed.
  InFlightCalls& in_flight = context_.in_flight;
  if (response != nullptr) {
    responder_.Finish(*response, status, &finish_tag_);
  } else {
    responder_.FinishWithError(status, &finish_tag_);
  }
  in_flight.Leave();
}

}  // namespace codearts::service
