#ifndef CODEARTS_GATEWAY_SERVICE_WATCH_CALL_H_
#define CODEARTS_GATEWAY_SERVICE_WATCH_CALL_H_

#include <google/protobuf/arena.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/byte_buffer.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "observability/access_log.h"
#include "service/call_context.h"
#include "service/cq_tag.h"
#include "service/route_service.h"
#include "service/watch_hub.h"

namespace codearts::service {

/// One server-streaming watch, from the request to Finish: checks the request and its
/// credentials on the completion-queue thread, joins the run's poll loop (WatchHub), then writes
/// each new state as it comes, one write at a time. A state that arrives while a write is under
/// way replaces the one waiting (a slow reader gets the latest state, and the gateway holds at
/// most one per stream); the final state is never replaced, and Finish(OK) follows it.
///
/// The object owns itself (`self_`) until its finish tag and its done tag have come back.
class WatchCall final : public CqHandler,
                        public WatchSink,
                        public std::enable_shared_from_this<WatchCall> {
 public:
  /// Starts waiting for the next call of the streaming route `route_index`.
  static void Spawn(CallContext& context, RouteService& service, WatchHub& hub,
                    std::size_t route_index, grpc::ServerCompletionQueue& cq);

  WatchCall(CallContext& context, RouteService& service, WatchHub& hub, std::size_t route_index,
            grpc::ServerCompletionQueue& cq);
  WatchCall(const WatchCall&) = delete;
  WatchCall& operator=(const WatchCall&) = delete;
  ~WatchCall();

  void OnTag(int kind, bool ok) override;

  void OnState(const std::shared_ptr<const WatchState>& state) override;
  void OnEnd(const grpc::Status& status) override;
  void OnPoll() override { polls_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void OnRequest();
  grpc::Status Prepare(WatchTarget* target);
  // With mutex_ held: the next write, the Finish, or nothing, as the stream's state says.
  void AdvanceLocked();
  void WriteLocked(const WatchState& state);
  void FinishLocked(const grpc::Status& status);

  CallContext& context_;
  RouteService& service_;
  WatchHub& hub_;
  const std::size_t route_index_;
  const routes::Route& route_;
  grpc::ServerCompletionQueue& cq_;
  grpc::ServerContext server_context_;
  google::protobuf::Arena arena_;
  google::protobuf::Message* request_;  // on arena_
  grpc::ServerAsyncWriter<grpc::ByteBuffer> writer_;
  enum TagKind { kRequest, kWrite, kFinish, kDone };
  CqTag request_tag_{this, kRequest};
  CqTag write_tag_{this, kWrite};
  CqTag finish_tag_{this, kFinish};
  CqTag done_tag_{this, kDone};
  std::shared_ptr<WatchCall> self_;  // the CQ's reference; see OnTag
  std::chrono::steady_clock::time_point started_{};
  std::atomic<int> polls_{0};

  std::mutex mutex_;
  observability::AccessRecord record_;         // guarded by mutex_ once joined
  bool writing_ = false;                       // guarded by mutex_
  std::shared_ptr<const WatchState> pending_;  // guarded by mutex_
  std::string last_key_;                       // guarded by mutex_
  bool final_written_ = false;                 // guarded by mutex_
  std::optional<grpc::Status> end_;            // guarded by mutex_
  bool finish_issued_ = false;                 // guarded by mutex_
  bool counted_ = false;                       // guarded by mutex_: in context_.watches

  // Touched only on the CQ thread.
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_WATCH_CALL_H_
