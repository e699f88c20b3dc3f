#include "service/watch_hub.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "routes/rest_call.h"
#include "routes/status_mapping.h"
#include "routes/watch_rule.h"
#include "upstream/retry_policy.h"

namespace codearts::service {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// The longest a loop waits after failures, unless the interval itself is longer, and the most
// of a Retry-After it honours.
constexpr milliseconds kMaxBackoff{60000};
constexpr milliseconds kMaxRetryAfter{300000};

// Failures worth polling again for: CodeArts throttled, could not be reached, or took too long.
// Anything else (401, 403, 404, a bad answer) will not change by asking again.
bool IsTransient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// Watchers share a loop when they watch the same run of the same route with the same AK/SK.
std::string ShareKey(std::size_t route, const auth::AkSkCredentials& credentials,
                     const google::protobuf::Message& poll_request) {
  return absl::StrCat(route, "\n", credentials.access_key, "\n", credentials.project_id, "\n",
                      poll_request.SerializeAsString());
}

}  // namespace

/// Polls one run for its watchers: one poll at a time on its own strand, the next one scheduled
/// on the PollClock after the interval (or a backoff after a transient failure). Its watchers and
/// latest state are guarded by the hub's mutex; the rest is touched only on the strand.
class PollLoop : public std::enable_shared_from_this<PollLoop> {
 public:
  struct Member {
    std::shared_ptr<WatchSink> sink;
    milliseconds interval;
  };

  PollLoop(WatchHub& hub, std::size_t route_index, WatchTarget target)
      : hub_(hub),
        route_index_(route_index),
        watch_route_(hub.table_.routes[route_index]),
        poll_route_(hub.table_.routes[watch_route_.watch.poll_route]),
        poll_request_(std::move(target.poll_request)),
        credentials_(std::move(target.credentials)),
        aksk_(credentials_.token.empty()),
        trace_(std::move(target.trace)),
        resolving_(watch_route_.watch.run_field != nullptr &&
                   routes::RequestedRun(watch_route_.watch, *poll_request_).empty()),
        strand_(asio::make_strand(hub.context_.io)) {}

  // Guarded by the hub's mutex.
  std::vector<Member> members;
  std::shared_ptr<const WatchState> latest;
  std::string key;  // empty while not shared
  bool stopped = false;

  /// Whether watchers with the gateway's AK/SK may share this loop once its run is known.
  bool shareable() const { return aksk_; }
  bool resolving() const { return resolving_; }
  std::size_t route_index() const { return route_index_; }
  const google::protobuf::Message& poll_request() const { return *poll_request_; }

  void Start() {
    asio::post(strand_, [self = shared_from_this()] { self->SpawnPoll(); });
  }

  /// With the hub's mutex held: no more polls; the one in flight, if any, is cancelled.
  void StopLocked() {
    if (stopped) return;
    stopped = true;
    hub_.context_.watched_runs.fetch_sub(1);
    asio::post(strand_, [self = shared_from_this()] {
      if (self->timer_) self->timer_->Cancel();
      self->timer_.reset();
      self->cancel_.emit(asio::cancellation_type::terminal);
    });
  }

 private:
  bool Stopped() const {
    std::lock_guard lock(hub_.mutex_);
    return stopped;
  }

  milliseconds Interval() const {
    std::lock_guard lock(hub_.mutex_);
    milliseconds interval = watch_route_.watch.max_interval;
    for (const Member& member : members) interval = std::min(interval, member.interval);
    return interval;
  }

  std::vector<std::shared_ptr<WatchSink>> Sinks() const {
    std::lock_guard lock(hub_.mutex_);
    std::vector<std::shared_ptr<WatchSink>> sinks;
    sinks.reserve(members.size());
    for (const Member& member : members) sinks.push_back(member.sink);
    return sinks;
  }

  void SpawnPoll() {
    timer_.reset();
    asio::co_spawn(strand_, Poll(), [self = shared_from_this()](const std::exception_ptr& error) {
      if (error) {
        self->EndWatch(grpc::Status(grpc::StatusCode::INTERNAL, "internal error in the gateway"));
      }
    });
  }

  void ScheduleNext(milliseconds delay) {
    if (Stopped()) return;
    timer_ = hub_.clock_.Schedule(strand_, delay, [self = shared_from_this()] {
      if (!self->Stopped()) self->SpawnPoll();
    });
  }

  // One poll of the run, and what follows from its outcome.
  asio::awaitable<void> Poll() {
    if (Stopped()) co_return;
    CallContext& context = hub_.context_;
    auth::CallCredentials credentials = credentials_;
    grpc::Status status;
    std::optional<milliseconds> retry_after;
    std::unique_ptr<google::protobuf::Message> response(poll_route_.response_prototype->New());
    if (aksk_) {
      // The current key each time: a rotated credentials file is picked up mid-watch.
      credentials.ak_sk = context.credentials.Current();
      if (!credentials.ak_sk) {
        status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                              "the gateway's credentials are no longer configured");
      } else if (absl::Status ready = context.credentials.Ready(); !ready.ok()) {
        status = routes::FromAbslStatus(ready);
      }
    }
    if (status.ok()) {
      absl::StatusOr<routes::UpstreamCall> call =
          routes::BuildUpstreamCall(poll_route_, *poll_request_, context.options.request,
                                    std::move(credentials), context.clock, trace_);
      if (!call.ok()) {
        status = routes::FromAbslStatus(call.status());
      } else {
        upstream::RequestPolicy policy = call->policy;
        policy.caller_retries = true;  // this loop retries on its own schedule
        upstream::ExchangeInfo info;
        absl::StatusOr<upstream::HttpResponse> answer = co_await context.client.Send(
            std::move(call->request), std::move(call->prepare), policy,
            steady_clock::now() + context.options.upstream_timeout, cancel_.slot(), &info);
        for (const upstream::AttemptOutcome& outcome : info.outcomes) {
          context.metrics.RecordUpstreamRequest(outcome.http_status, outcome.duration);
        }
        context.metrics.RecordRetries(info.retries);
        if (info.prepare_failed) {
          context.metrics.RecordCredentialError(observability::CredentialError::kSigning);
        }
        if (Stopped()) co_return;
        if (answer.ok()) {
          if (answer->status == 401) {
            context.metrics.RecordCredentialError(observability::CredentialError::kRejected);
          }
          if (const auto value = answer->FindHeader("Retry-After")) {
            retry_after = upstream::ParseRetryAfter(*value, std::chrono::system_clock::now());
          }
        }
        status = routes::MapOutcome(poll_route_, answer, info, context.client.endpoint().host,
                                    response.get());
      }
    }
    context.metrics.RecordWatchPoll(static_cast<int>(status.error_code()));
    for (const auto& sink : Sinks()) sink->OnPoll();
    if (status.ok()) {
      failures_ = 0;
      Publish(*response);
    } else if (IsTransient(status.error_code())) {
      ++failures_;
      ScheduleNext(Backoff(retry_after));
    } else {
      EndWatch(status);
    }
  }

  milliseconds Backoff(std::optional<milliseconds> retry_after) const {
    const milliseconds interval = Interval();
    milliseconds delay = interval * (1 << std::min(failures_ - 1, 4));
    delay = std::min(delay, std::max(interval, kMaxBackoff));
    if (retry_after) delay = std::max(delay, std::min(*retry_after, kMaxRetryAfter));
    return delay;
  }

  void Publish(const google::protobuf::Message& response) {
    const routes::WatchSpec& spec = watch_route_.watch;
    bool resolved = false;
    if (resolving_) {
      const std::string run = routes::RunOf(spec, response);
      if (!run.empty()) {
        // From now on the loop follows this run, even when a newer one starts.
        poll_request_->GetReflection()->SetString(poll_request_.get(), spec.run_field, run);
        resolving_ = false;
        resolved = true;
      }
    }
    auto state = std::make_shared<WatchState>();
    state->key = routes::StateKey(spec, response);
    state->final = routes::IsFinalState(spec, response);
    bool own_buffer = false;
    if (!grpc::SerializationTraits<google::protobuf::Message>::Serialize(response, &state->message,
                                                                         &own_buffer)
             .ok()) {
      EndWatch(grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize the run's state"));
      return;
    }
    std::vector<std::shared_ptr<WatchSink>> sinks;
    {
      std::lock_guard lock(hub_.mutex_);
      if (stopped) return;
      latest = state;
      for (const Member& member : members) sinks.push_back(member.sink);
    }
    for (const auto& sink : sinks) sink->OnState(state);
    if (state->final) {
      // Each watcher finishes its stream once it has written the final state.
      hub_.Retire(*this);
      return;
    }
    if (resolved && aksk_ && credentials_.ak_sk) {
      hub_.Share(shared_from_this(), ShareKey(route_index_, *credentials_.ak_sk, *poll_request_));
    }
    ScheduleNext(Interval());
  }

  void EndWatch(const grpc::Status& status) {
    for (const auto& sink : hub_.Retire(*this)) sink->OnEnd(status);
  }

  WatchHub& hub_;
  const std::size_t route_index_;
  const routes::Route& watch_route_;
  const routes::Route& poll_route_;
  std::unique_ptr<google::protobuf::Message> poll_request_;
  const auth::CallCredentials credentials_;
  const bool aksk_;
  const routes::TraceContext trace_;
  // Touched only on the strand.
  bool resolving_;
  int failures_ = 0;
  asio::strand<asio::io_context::executor_type> strand_;
  std::unique_ptr<PollTimer> timer_;
  asio::cancellation_signal cancel_;
};

WatchHub::WatchHub(CallContext& context, const routes::RouteTable& table, PollClock& clock)
    : context_(context), table_(table), clock_(clock) {}

WatchHub::~WatchHub() = default;

void WatchHub::Join(const std::shared_ptr<WatchSink>& sink, WatchTarget target) {
  const routes::Route& route = table_.routes[target.route];
  std::shared_ptr<const WatchState> latest;
  std::shared_ptr<PollLoop> started;
  {
    std::unique_lock lock(mutex_);
    if (closed_) {
      const grpc::Status status = close_status_;
      lock.unlock();
      sink->OnEnd(status);
      return;
    }
    std::string key;
    const bool named = route.watch.run_field == nullptr ||
                       !routes::RequestedRun(route.watch, *target.poll_request).empty();
    if (target.credentials.token.empty() && target.credentials.ak_sk && named) {
      key = ShareKey(target.route, *target.credentials.ak_sk, *target.poll_request);
    }
    const milliseconds interval = target.interval;
    std::shared_ptr<PollLoop> loop;
    if (auto found = key.empty() ? shared_.end() : shared_.find(key); found != shared_.end()) {
      loop = found->second;
      latest = loop->latest;
    } else {
      loop = std::make_shared<PollLoop>(*this, target.route, std::move(target));
      loop->key = key;
      if (!key.empty()) shared_.emplace(key, loop);
      context_.watched_runs.fetch_add(1);
      started = loop;
    }
    loop->members.push_back({sink, interval});
    loop_of_sink_[sink.get()] = loop;
  }
  if (started) started->Start();
  if (latest) sink->OnState(latest);
}

void WatchHub::Leave(const WatchSink* sink) {
  std::lock_guard lock(mutex_);
  const auto found = loop_of_sink_.find(sink);
  if (found == loop_of_sink_.end()) return;
  std::shared_ptr<PollLoop> loop = found->second;
  loop_of_sink_.erase(found);
  auto& members = loop->members;
  members.erase(std::remove_if(members.begin(), members.end(),
                               [sink](const PollLoop::Member& m) { return m.sink.get() == sink; }),
                members.end());
  if (!members.empty()) return;
  if (!loop->key.empty()) {
    if (auto shared = shared_.find(loop->key); shared != shared_.end() && shared->second == loop) {
      shared_.erase(shared);
    }
  }
  loop->StopLocked();
}

std::vector<std::shared_ptr<WatchSink>> WatchHub::Retire(PollLoop& loop) {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<WatchSink>> sinks;
  for (const PollLoop::Member& member : loop.members) {
    sinks.push_back(member.sink);
    loop_of_sink_.erase(member.sink.get());
  }
  loop.members.clear();
  if (!loop.key.empty()) {
    if (auto shared = shared_.find(loop.key);
        shared != shared_.end() && shared->second.get() == &loop) {
      shared_.erase(shared);
    }
  }
  loop.StopLocked();
  return sinks;
}

void WatchHub::Share(const std::shared_ptr<PollLoop>& loop, std::string key) {
  std::vector<std::shared_ptr<WatchSink>> moved;
  std::shared_ptr<const WatchState> latest;
  {
    std::lock_guard lock(mutex_);
    if (loop->stopped || closed_) return;
    const auto found = shared_.find(key);
    if (found == shared_.end()) {
      loop->key = key;
      shared_.emplace(std::move(key), loop);
      return;
    }
    // Another loop already polls this run: its watchers and this loop's become one group.
    const std::shared_ptr<PollLoop>& target = found->second;
    for (PollLoop::Member& member : loop->members) {
      loop_of_sink_[member.sink.get()] = target;
      moved.push_back(member.sink);
      target->members.push_back(std::move(member));
    }
    loop->members.clear();
    loop->StopLocked();
    latest = target->latest;
  }
  if (latest) {
    for (const auto& sink : moved) sink->OnState(latest);
  }
}

void WatchHub::Close(const grpc::Status& status) {
  std::vector<std::shared_ptr<WatchSink>> sinks;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    close_status_ = status;
    for (auto& [sink, loop] : loop_of_sink_) {
      for (const PollLoop::Member& member : loop->members) {
        if (member.sink.get() == sink) sinks.push_back(member.sink);
      }
      loop->StopLocked();
    }
    loop_of_sink_.clear();
    shared_.clear();
  }
  for (const auto& sink : sinks) sink->OnEnd(status);
}

bool WatchHub::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace codearts::service
