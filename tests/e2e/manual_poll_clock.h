#ifndef CODEARTS_TESTS_E2E_MANUAL_POLL_CLOCK_H_
#define CODEARTS_TESTS_E2E_MANUAL_POLL_CLOCK_H_

#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "service/poll_clock.h"

namespace codearts::e2e {

/// A PollClock the test moves by hand: nothing scheduled runs until FireAll, so a test decides
/// exactly when each watch poll happens and waits (on a condition, never a sleep) for the loops
/// to have scheduled theirs.
class ManualPollClock final : public service::PollClock {
 public:
  std::unique_ptr<service::PollTimer> Schedule(boost::asio::any_io_executor executor,
                                               std::chrono::milliseconds delay,
                                               std::function<void()> fire) override {
    auto entry = std::make_shared<Entry>(Entry{std::move(executor), std::move(fire)});
    std::lock_guard lock(mutex_);
    pending_.push_back(entry);
    delays_.push_back(delay);
    changed_.notify_all();
    return std::make_unique<Handle>(*this, entry);
  }

  /// Runs every scheduled poll now, as if its delay had passed; returns how many.
  std::size_t FireAll() {
    std::vector<std::shared_ptr<Entry>> due;
    {
      std::lock_guard lock(mutex_);
      due.swap(pending_);
      changed_.notify_all();
    }
    for (const auto& entry : due) boost::asio::post(entry->executor, entry->fire);
    return due.size();
  }

  /// Waits until at least `n` polls are scheduled (and neither fired nor cancelled).
  bool WaitForPending(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pending_.size() >= n; });
  }
  /// Waits until no poll is scheduled: every loop has stopped or is polling.
  bool WaitForNonePending(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pending_.empty(); });
  }
  std::size_t pending() {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  /// Every delay asked for so far, in order.
  std::vector<std::chrono::milliseconds> delays() {
    std::lock_guard lock(mutex_);
    return delays_;
  }

 private:
  struct Entry {
    boost::asio::any_io_executor executor;
    std::function<void()> fire;
  };
  class Handle final : public service::PollTimer {
   public:
    Handle(ManualPollClock& clock, std::shared_ptr<Entry> entry)
        : clock_(clock), entry_(std::move(entry)) {}
    ~Handle() override { Cancel(); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    void Cancel() override {
      std::lock_guard lock(clock_.mutex_);
      auto& pending = clock_.pending_;
      for (auto it = pending.begin(); it != pending.end(); ++it) {
        if (*it == entry_) {
          pending.erase(it);
          clock_.changed_.notify_all();
          return;
        }
      }
    }

   private:
    ManualPollClock& clock_;
    std::shared_ptr<Entry> entry_;
  };

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<Entry>> pending_;
  std::vector<std::chrono::milliseconds> delays_;
};

}  // namespace codearts::e2e

#endif  // CODEARTS_TESTS_E2E_MANUAL_POLL_CLOCK_H_
