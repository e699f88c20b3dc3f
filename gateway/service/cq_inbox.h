#ifndef CODEARTS_GATEWAY_SERVICE_CQ_INBOX_H_
#define CODEARTS_GATEWAY_SERVICE_CQ_INBOX_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

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
class CqInbox final : public CqHandler {
 public:
  explicit CqInbox(grpc::ServerCompletionQueue& cq) : cq_(cq) {}
  CqInbox(const CqInbox&) = delete;
  CqInbox& operator=(const CqInbox&) = delete;

  grpc::ServerCompletionQueue& cq() { return cq_; }

  /// Runs `work->RunOnCq()` on the completion-queue thread, soon. Thread-safe. The queue must
  /// not have been shut down (GatewayServer waits for every call to finish first).
  void Post(std::shared_ptr<CqWork> work);

  void OnTag(int kind, bool ok) override;

 private:
  grpc::ServerCompletionQueue& cq_;
  grpc::Alarm alarm_;
  CqTag tag_{this, 0};
  std::mutex mutex_;
  std::vector<std::shared_ptr<CqWork>> pending_;  // guarded by mutex_
  bool armed_ = false;                            // guarded by mutex_: the alarm is set
  std::vector<std::shared_ptr<CqWork>> running_;  // the CQ thread's batch
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_CQ_INBOX_H_
