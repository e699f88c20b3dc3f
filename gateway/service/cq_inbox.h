#ifndef CODEARTS_GATEWAY_SERVICE_CQ_INBOX_H_
#define CODEARTS_GATEWAY_SERVICE_CQ_INBOX_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "service/cq_tag.h"

namespace codearts::service {

/// Work handed to the completion-queue thread.
class CqWork {
 public:
  virtual void RunOnCq() = 0;

 protected:
  ~CqWork() = default;
};

/// Hands work from other threads (the Asio I/O threads) to the thread that polls `cq`, so that
/// everything a call does with gRPC (Finish, and the finish and done tags) happens on that one
/// thread. Measured (README "Performance"): when the I/O thread called Finish itself, gRPC's
/// per-connection lock was taken from two threads, and gRPC then moved work to its executor
/// threads, one more wake-up per call or so.
///
/// The thread is woken by one grpc::Alarm, set with a deadline in the past (it completes at
/// once), and only when the inbox was empty: work posted while the thread is still draining the
/// last batch costs no wake-up at all.
///
/// When the thread is idle, waiting for the queue, and little is going on, handing work over
/// would only delay it by a wake-up: ThreadIsWaiting() lets the caller do the work itself then
/// (UnaryCall does, with few calls in flight; measured: about 40 us less at p50 at 1,000 calls/s
/// on a slow day).
class CqInbox final : public CqHandler {
 public:
  explicit CqInbox(grpc::ServerCompletionQueue& cq) : cq_(cq) {}
  CqInbox(const CqInbox&) = delete;
  CqInbox& operator=(const CqInbox&) = delete;

  grpc::ServerCompletionQueue& cq() { return cq_; }

  /// The completion-queue loop: hands each event to its CqHandler until the queue is shut down
  /// and drained. Run by one thread.
  void Poll();

  /// Whether the thread in Poll() is waiting for the queue (a hint: it may wake at any moment).
  bool ThreadIsWaiting() const { return waiting_.load(std::memory_order_relaxed); }

  /// Runs `work->RunOnCq()` on the completion-queue thread, soon. Thread-safe. The queue must
  /// not have been shut down (GatewayServer waits for every call to finish first).
  void Post(std::shared_ptr<CqWork> work);

  void OnTag(int kind, bool ok) override;

 private:
  grpc::ServerCompletionQueue& cq_;
  std::atomic<bool> waiting_{false};
  grpc::Alarm alarm_;
  CqTag tag_{this, 0};
  std::mutex mutex_;
  std::vector<std::shared_ptr<CqWork>> pending_;  // guarded by mutex_
  bool armed_ = false;                            // guarded by mutex_: the alarm is set
  std::vector<std::shared_ptr<CqWork>> running_;  // the CQ thread's batch
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_CQ_INBOX_H_
