#include "auth/clock.h"

#include <ctime>

namespace codearts::auth {

// Every request of a second carries the same date, so each thread formats it once a second
// (strftime is most of the cost).
std::string FormatSdkDate(std::chrono::system_clock::time_point t) {
  struct Cached {
    std::time_t second = -1;
    std::string text;
  };
  thread_local Cached cached;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  if (seconds != cached.second) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[sizeof("YYYYMMDDTHHMMSSZ")];
    const std::size_t n = std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
    cached.text.assign(buffer, n);
    cached.second = seconds;
  }
  return cached.text;
}

}  // namespace codearts::auth
