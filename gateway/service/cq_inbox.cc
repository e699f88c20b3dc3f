#include "service/cq_inbox.h"

#include <grpc/support/time.h>

#include <utility>

#include "observability/log.h"

namespace codearts::service {

void CqInbox::Poll() {
  void* tag = nullptr;
  bool ok = false;
  while (true) {
    waiting_.store(true, std::memory_order_relaxed);
    const bool got = cq_.Next(&tag, &ok);
    waiting_.store(false, std::memory_order_relaxed);
    if (!got) return;
    auto* cq_tag = static_cast<CqTag*>(tag);
    cq_tag->handler->OnTag(cq_tag->kind, ok);
  }
}

void CqInbox::Post(std::shared_ptr<CqWork> work) {
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(work));
  if (armed_) return;  // the thread is woken already and takes this batch too
  armed_ = true;
  alarm_.Set(&cq_, gpr_inf_past(GPR_CLOCK_MONOTONIC), &tag_);
}

void CqInbox::OnTag(int /*kind*/, bool /*ok*/) {
  {
    std::lock_guard lock(mutex_);
    running_.swap(pending_);
    armed_ = false;
  }
  // The batch's access lines go out together, in one write(2) per 4 KiB.
  const observability::LogBatch lines;
  for (const std::shared_ptr<CqWork>& work : running_) work->RunOnCq();
  running_.clear();  // keeps its capacity: the next batch allocates nothing
}

}  // namespace codearts::service
