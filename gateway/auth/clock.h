#ifndef CODEARTS_GATEWAY_AUTH_CLOCK_H_
#define CODEARTS_GATEWAY_AUTH_CLOCK_H_

#include <chrono>
#include <string>

namespace codearts::auth {

/// Wall-clock time source, injected so that signing can be tested with a frozen clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
};

/// The real clock.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
};

/// Formats `t` as the `X-Sdk-Date` value: UTC `YYYYMMDDTHHMMSSZ`.
std::string FormatSdkDate(std::chrono::system_clock::time_point t);

}  // namespace codearts::auth

#endif  // CODEARTS_GATEWAY_AUTH_CLOCK_H_
