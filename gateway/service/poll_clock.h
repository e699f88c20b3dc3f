#ifndef CODEARTS_GATEWAY_SERVICE_POLL_CLOCK_H_
#define CODEARTS_GATEWAY_SERVICE_POLL_CLOCK_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <utility>

namespace codearts::service {

/// A scheduled call that can be called off.
class PollTimer {
 public:
  virtual ~PollTimer() = default;
  /// After this the call never runs (unless it is running already).
  virtual void Cancel() = 0;
};

/// When the watch poll loops run next. Production uses AsioPollClock; tests drive one by hand,
/// so that a test decides when each poll happens instead of waiting for the interval.
class PollClock {
 public:
  virtual ~PollClock() = default;
  /// Runs `fire` on `executor` once `delay` has passed, unless cancelled first.
  virtual std::unique_ptr<PollTimer> Schedule(boost::asio::any_io_executor executor,
                                              std::chrono::milliseconds delay,
                                              std::function<void()> fire) = 0;
};

/// The real clock: an Asio steady_timer per scheduled call.
class AsioPollClock final : public PollClock {
 public:
  std::unique_ptr<PollTimer> Schedule(boost::asio::any_io_executor executor,
                                      std::chrono::milliseconds delay,
                                      std::function<void()> fire) override {
    auto timer = std::make_unique<Timer>(executor);
    timer->timer->expires_after(delay);
    timer->timer->async_wait([fire = std::move(fire)](boost::system::error_code ec) {
      if (!ec) fire();
    });
    return timer;
  }

 private:
  struct Timer final : PollTimer {
    explicit Timer(const boost::asio::any_io_executor& executor)
        : timer(std::make_shared<boost::asio::steady_timer>(executor)) {}
    // Cancel and destruction run on the executor's strand, so the timer is never touched from
    // two threads at once.
    ~Timer() override { timer->cancel(); }
    void Cancel() override { timer->cancel(); }
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_POLL_CLOCK_H_
