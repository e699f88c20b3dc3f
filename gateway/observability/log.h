#ifndef CODEARTS_GATEWAY_OBSERVABILITY_LOG_H_
#define CODEARTS_GATEWAY_OBSERVABILITY_LOG_H_

#include <string_view>

namespace codearts::observability {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

/// Parses "debug", "info", "warning" or "error".
bool ParseLogLevel(std::string_view text, LogLevel* level);

/// Sets the lowest level that is written (default: info).
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

/// Writes one line to stderr: timestamp, level, message. Thread-safe; a line is never interleaved
/// with another. Callers must never pass secrets (SK, signatures, tokens).
void Log(LogLevel level, std::string_view message);

}  // namespace codearts::observability

#endif  // CODEARTS_GATEWAY_OBSERVABILITY_LOG_H_
