#include "service/health_service.h"

#include <optional>

namespace codearts::service {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

/// One Check: requested, answered from the status table, finished.
class HealthService::CheckCall final : public CqHandler {
 public:
  static void Spawn(HealthService& owner, grpc::ServerCompletionQueue& cq) {
    new CheckCall(owner, cq);  // owns itself: deleted once finished
  }

  void OnTag(int kind, bool ok) override {
    if (kind == kFinish || !ok) {
      delete this;
      return;
    }
    Spawn(owner_, cq_);
    std::optional<ServingStatus> status;
    {
      std::lock_guard lock(owner_.mutex_);
      if (auto it = owner_.statuses_.find(request_.service()); it != owner_.statuses_.end()) {
        status = it->second;
      }
    }
    if (!status) {
      responder_.FinishWithError(
          grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service " + request_.service()),
          &finish_tag_);
      return;
    }
    HealthCheckResponse response;
    response.set_status(*status);
    responder_.Finish(response, grpc::Status::OK, &finish_tag_);
  }

 private:
  enum Kind { kRequest, kFinish };
  CheckCall(HealthService& owner, grpc::ServerCompletionQueue& cq)
      : owner_(owner), cq_(cq), responder_(&context_) {
    owner_.service_.RequestCheck(&context_, &request_, &responder_, &cq_, &cq_, &request_tag_);
  }
  ~CheckCall() = default;

  HealthService& owner_;
  grpc::ServerCompletionQueue& cq_;
  grpc::ServerContext context_;
  HealthCheckRequest request_;
  grpc::ServerAsyncResponseWriter<HealthCheckResponse> responder_;
  CqTag request_tag_{this, kRequest};
  CqTag finish_tag_{this, kFinish};
};

/// One Watch stream: the current status at once, then each change, one write at a time (a
/// status that changes during a write is sent when it completes; only the latest counts). Its
/// state is guarded by the owner's mutex, since statuses change on other threads.
class HealthService::WatchCall final : public CqHandler {
 public:
  static void Spawn(HealthService& owner, grpc::ServerCompletionQueue& cq) {
    new WatchCall(owner, cq);  // owns itself: see MaybeDeleteLocked
  }

  void OnTag(int kind, bool ok) override {
    std::unique_lock lock(owner_.mutex_);
    switch (kind) {
      case kRequest:
        if (!ok) {
          // Never matched with a call (the server is shutting down): no done tag will come.
          lock.unlock();
          delete this;
          return;
        }
        started_ = true;
        lock.unlock();
        Spawn(owner_, cq_);
        lock.lock();
        if (owner_.ending_) {
          EndLocked();
        } else {
          owner_.watches_.insert(this);
          SendLocked(owner_.StatusOf(request_.service()));
        }
        return;
      case kWrite:
        writing_ = false;
        if (ok && ending_ && !finish_started_) {
          StartFinishLocked();  // EndLocked found this write in flight
        } else if (ok && !ending_ && pending_) {
          const ServingStatus next = *pending_;
          pending_.reset();
          SendLocked(next);
        }
        MaybeDeleteLocked(lock);
        return;
      case kFinish:
        finished_ = true;
        MaybeDeleteLocked(lock);
        return;
      case kDone:
        done_ = true;
        owner_.watches_.erase(this);
        MaybeDeleteLocked(lock);
        return;
      default:
        return;
    }
  }

  const std::string& service_name() const { return request_.service(); }

  // Requires the owner's mutex.
  void SendLocked(ServingStatus status) {
    if (ending_ || done_) return;
    if (writing_) {
      pending_ = status;
      return;
    }
    if (sent_ && status == last_sent_) return;
    sent_ = true;
    last_sent_ = status;
    response_.set_status(status);
    writing_ = true;
    writer_.Write(response_, &write_tag_);
  }

  // Requires the owner's mutex. Ends the stream with UNAVAILABLE, at once or when the write in
  // flight completes (the server's shutdown waits for the call meanwhile).
  void EndLocked() {
    if (ending_) return;
    ending_ = true;
    if (!writing_ && !done_) StartFinishLocked();
  }

 private:
  enum Kind { kRequest, kWrite, kFinish, kDone };
  WatchCall(HealthService& owner, grpc::ServerCompletionQueue& cq)
      : owner_(owner), cq_(cq), writer_(&context_) {
    {
      std::lock_guard lock(owner_.mutex_);
      ++owner_.live_watches_;
    }
    context_.AsyncNotifyWhenDone(&done_tag_);
    owner_.service_.RequestWatch(&context_, &request_, &writer_, &cq_, &cq_, &request_tag_);
  }
  ~WatchCall() {
    std::lock_guard lock(owner_.mutex_);
    if (--owner_.live_watches_ == 0) owner_.no_watches_.notify_all();
  }

  void StartFinishLocked() {
    finish_started_ = true;
    writer_.Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"),
                   &finish_tag_);
  }

  // Deletes the call once gRPC holds none of its tags.
  void MaybeDeleteLocked(std::unique_lock<std::mutex>& lock) {
    if (!started_ || !done_ || writing_ || (finish_started_ && !finished_)) return;
    lock.unlock();
    delete this;
  }

  HealthService& owner_;
  grpc::ServerCompletionQueue& cq_;
  grpc::ServerContext context_;
  HealthCheckRequest request_;
  HealthCheckResponse response_;  // kept alive while a write is in flight
  grpc::ServerAsyncWriter<HealthCheckResponse> writer_;
  CqTag request_tag_{this, kRequest};
  CqTag write_tag_{this, kWrite};
  CqTag finish_tag_{this, kFinish};
  CqTag done_tag_{this, kDone};
  // Guarded by the owner's mutex.
  bool started_ = false;
  bool writing_ = false;
  bool ending_ = false;
  bool finish_started_ = false;
  bool finished_ = false;
  bool done_ = false;
  bool sent_ = false;
  ServingStatus last_sent_ = HealthCheckResponse::UNKNOWN;
  std::optional<ServingStatus> pending_;
};

void HealthService::Start(grpc::ServerCompletionQueue& cq) {
  CheckCall::Spawn(*this, cq);
  WatchCall::Spawn(*this, cq);
}

HealthService::ServingStatus HealthService::StatusOf(const std::string& name) {
  auto it = statuses_.find(name);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthService::Set(const std::string& name, bool serving) {
  std::lock_guard lock(mutex_);
  const ServingStatus status =
      serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  statuses_[name] = status;
  for (WatchCall* watch : watches_) {
    if (watch->service_name() == name) watch->SendLocked(status);
  }
}

void HealthService::EndWatches() {
  std::lock_guard lock(mutex_);
  ending_ = true;
  for (WatchCall* watch : watches_) watch->EndLocked();
}

bool HealthService::WaitForWatchesToEnd(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return no_watches_.wait_until(lock, deadline, [this] { return live_watches_ == 0; });
}

}  // namespace codearts::service
