#include "observability/access_log.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "observability/log.h"

namespace codearts::observability {
namespace {

// Caller-supplied values reach the log before validation has judged them (an invalid call is
// logged too), so they are bounded and stripped of anything that could forge a line or a field.
std::string Sanitize(std::string_view value) {
  constexpr std::size_t kMaxLoggedBytes = 128;
  if (value.empty()) return "-";
  std::string out;
  for (const char ch : value.substr(0, kMaxLoggedBytes)) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(c > 0x20 && c < 0x7f && c != '"' ? ch : '?');
  }
  if (value.size() > kMaxLoggedBytes) out += "...";
  return out;
}

}  // namespace

const char* GrpcCodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(std::size(kNames))) return "UNKNOWN";
  return kNames[code];
}

void WriteAccessLog(const AccessRecord& record) {
  if (!LogEnabled(LogLevel::kInfo)) return;
  std::string line = absl::StrFormat(
      "access method=%s peer=%s pipeline_id=%s build_id=%s auth=%s code=%s http_status=%u "
      "request_id=%s latency_ms=%.3f upstream_ms=%.3f attempts=%d reused_connection=%s",
      record.method, Sanitize(record.peer), Sanitize(record.pipeline_id), Sanitize(record.build_id),
      record.auth_mode, GrpcCodeName(record.grpc_code), record.http_status,
      record.request_id.empty() ? "-" : record.request_id,
      static_cast<double>(record.latency.count()) / 1000.0,
      static_cast<double>(record.upstream_latency.count()) / 1000.0, record.upstream_attempts,
      record.connection_reused ? "true" : "false");
  if (!record.message.empty()) {
    std::string message = record.message;
    for (char& ch : message) {
      if (ch == '"' || ch == '\n' || ch == '\r') ch = '\'';
    }
    absl::StrAppend(&line, " message=\"", message, "\"");
  }
  Log(LogLevel::kInfo, line);
}

}  // namespace codearts::observability
