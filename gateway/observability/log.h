#ifndef CODEARTS_GATEWAY_OBSERVABILITY_LOG_H_
#define CODEARTS_GATEWAY_OBSERVABILITY_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <variant>

#include "absl/types/span.h"

namespace codearts::observability {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kJson, kText };

/// Parses "debug", "info", "warning" or "error".
bool ParseLogLevel(std::string_view text, LogLevel* level);
/// Parses "json" or "text".
bool ParseLogFormat(std::string_view text, LogFormat* format);

/// Sets the lowest level that is written (default: info).
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
/// JSON lines (default) or `key=value` text.
void SetLogFormat(LogFormat format);
/// Where lines go (default: standard output). For tests.
void SetLogOutput(int fd);

/// One structured field of a log line. String values must outlive the Log call (they are
/// usually temporaries of the same full-expression).
struct LogField {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, double, bool> value;
};

/// Writes one line: timestamp, level, message and fields; as a JSON object
/// (`{"ts":…,"level":…,"msg":…,<fields>}`) or as text (`<ts> <LEVEL> <msg> key=value …`).
/// Thread-safe; a line is never interleaved with another (whole lines per write(2), at most
/// PIPE_BUF bytes in a batch). Callers must never pass secrets (SK, signatures, tokens).
void Log(LogLevel level, std::string_view message, absl::Span<const LogField> fields = {});
inline void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  Log(level, message, absl::Span<const LogField>(fields.begin(), fields.size()));
}

/// While one lives on a thread, the lines that thread logs are gathered and written together
/// when the outermost one ends (or sooner, once they fill PIPE_BUF bytes, which a pipe writes
/// whole): one write(2) for the access lines of a batch of calls instead of one each. Meant for
/// short stretches of work (the completion-queue thread's batch); a line waits at most that long.
class LogBatch {
 public:
  LogBatch();
  LogBatch(const LogBatch&) = delete;
  LogBatch& operator=(const LogBatch&) = delete;
  ~LogBatch();
};

}  // namespace codearts::observability

#endif  // CODEARTS_GATEWAY_OBSERVABILITY_LOG_H_
