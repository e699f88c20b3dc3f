#include "auth/clock.h"

#include <ctime>

namespace codearts::auth {

std::string FormatSdkDate(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[sizeof("YYYYMMDDTHHMMSSZ")];
  const std::size_t n = std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
  return {buffer, n};
}

}  // namespace codearts::auth
