#ifndef CODEARTS_GATEWAY_SERVICE_UNARY_CALL_H_
#define CODEARTS_GATEWAY_SERVICE_UNARY_CALL_H_

#include <google/protobuf/arena.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/async_unary_call.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

#include "observability/access_log.h"
#include "routes/rest_call.h"
#include "service/call_context.h"
#include "service/cq_inbox.h"
#include "service/cq_tag.h"
#include "service/route_service.h"

namespace codearts::service {

/// One unary RPC of any route, from the request to Finish, in one object:
///
/// 1. On the completion-queue thread: the request arrives (parsed into the route's request
///    type), the next call of the route is requested, and the call is admitted, validated
///    against the route's field rules, given its credentials and deadline budget, and turned
///    into its REST call (routes::BuildUpstreamCall).
/// 2. On its executor (a strand when several I/O threads run): the REST call is sent
/// (upstream::HttpsClient::Send), raced against the
///    deadline backstop, the caller's cancellation and the drain deadline; the outcome is
///    mapped to the gRPC status and response (routes::MapOutcome), once.
/// 3. Finish, exactly once: on the completion-queue thread (CqInbox), or on the I/O thread when
/// that
///    thread is idle.
///
/// The object owns itself (`self_`) until both its finish tag and its done tag
/// (AsyncNotifyWhenDone) have come back; code posted to Asio holds a shared_ptr of its own.
class UnaryCall final : public CqHandler,
                        public CqWork,
                        public Abortable,
                        public std::enable_shared_from_this<UnaryCall> {
 public:
  /// Starts waiting for the next call of route `route_index`.
  static void Spawn(CallContext& context, RouteService& service, std::size_t route_index,
                    CqInbox& queue);

  UnaryCall(CallContext& context, RouteService& service, std::size_t route_index, CqInbox& queue);
  UnaryCall(const UnaryCall&) = delete;
  UnaryCall& operator=(const UnaryCall&) = delete;
  ~UnaryCall();

  void OnTag(int kind, bool ok) override;
  /// Finishes the call with the outcome its exchange came to (see Complete).
  void RunOnCq() override;

  /// Ends the exchange with `status` unless it has already ended (the drain deadline).
  void Abort(const grpc::Status& status) override;

 private:
  static constexpr std::chrono::milliseconds kDeadlineGrace{5};
  // Calls in flight (this one included) up to which an idle CQ thread is not woken to Finish.
  static constexpr int kFinishHereMaxInFlight = 4;

  void OnRequest();
  /// Admission, metadata, validation, credentials, deadline; then hands the call to Asio.
  grpc::Status Prepare(routes::UpstreamCall* call, std::chrono::steady_clock::time_point* deadline);
  void StartExchange(routes::UpstreamCall call, std::chrono::steady_clock::time_point deadline);
  boost::asio::awaitable<void> Exchange(routes::UpstreamCall call);
  /// Called from the CQ thread when the caller cancels (or the server shuts the call down).
  void Cancel();
  /// Ends the exchange once, from its executor: the call is finished here when the CQ thread is
  /// idle, otherwise on the CQ thread (CqInbox).
  void Complete(const grpc::Status& status);
  /// The access line, the metrics, and gRPC's Finish (see Complete for the thread).
  void Finish(const grpc::Status& status);

  CallContext& context_;
  RouteService& service_;
  const std::size_t route_index_;
  const routes::Route& route_;
  CqInbox& queue_;
  grpc::ServerContext server_context_;
  google::protobuf::Arena arena_;
  google::protobuf::Message* request_;   // on arena_
  google::protobuf::Message* response_;  // on arena_
  grpc::ServerAsyncResponseWriter<google::protobuf::Message> responder_;
  enum TagKind { kRequest, kFinish, kDone };
  CqTag request_tag_{this, kRequest};
  CqTag finish_tag_{this, kFinish};
  CqTag done_tag_{this, kDone};
  std::shared_ptr<UnaryCall> self_;  // the CQ's reference; see OnTag
  std::chrono::steady_clock::time_point started_{};
  observability::AccessRecord record_;

  // The Asio side, touched only on executor_ once the exchange has started: the I/O thread's
  // own executor when there is one I/O thread (nothing can run beside it), else a strand.
  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer timer_;
  boost::asio::cancellation_signal cancel_;
  std::chrono::steady_clock::time_point deadline_{};
  bool exchange_started_ = false;  // set on the CQ thread before the hand-off
  bool completed_ = false;
  grpc::Status outcome_;  // set with completed_, read by RunOnCq after the inbox

  // Touched only on the CQ thread.
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_UNARY_CALL_H_
