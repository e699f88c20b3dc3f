#include "observability/access_log.h"

#include <cstdint>
#include <iterator>

#include "observability/log.h"

namespace codearts::observability {
namespace {

// Caller-supplied values reach the log before validation has judged them (an invalid call is
// logged too), so they are bounded and stripped of anything that could forge a line or a field.
std::string Sanitize(std::string_view value) {
  constexpr std::size_t kMaxLoggedBytes = 128;
  if (value.empty()) return "-";
  const std::string_view kept = value.substr(0, kMaxLoggedBytes);
  std::string out(kept.size() + (value.size() > kMaxLoggedBytes ? 3 : 0), '.');
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const auto c = static_cast<unsigned char>(kept[i]);
    out[i] = c > 0x20 && c < 0x7f && c != '"' ? kept[i] : '?';
  }
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
  const std::string peer = Sanitize(record.peer);
  const std::string pipeline_id = Sanitize(record.pipeline_id);
  const std::string build_id = Sanitize(record.build_id);
  const std::string caller_request_id = Sanitize(record.caller_request_id);
  if (record.stream) {
    // A watch: one line when the stream ends, with what it sent and how often it polled.
    const LogField fields[] = {
        {"method", record.method},
        {"peer", peer},
        {"pipeline_id", pipeline_id},
        {"build_id", build_id},
        {"auth", record.auth_mode},
        {"code", GrpcCodeName(record.grpc_code)},
        {"trace_id", record.trace_id.empty() ? "-" : std::string_view(record.trace_id)},
        {"caller_request_id", caller_request_id},
        {"duration_ms", static_cast<double>(record.latency.count()) / 1000.0},
        {"messages", static_cast<std::int64_t>(record.messages_sent)},
        {"polls", static_cast<std::int64_t>(record.polls)},
        {"message", record.message},
    };
    const std::size_t count = record.message.empty() ? std::size(fields) - 1 : std::size(fields);
    Log(LogLevel::kInfo, "access", absl::Span<const LogField>(fields, count));
    return;
  }
  const LogField fields[] = {
      {"method", record.method},
      {"peer", peer},
      {"pipeline_id", pipeline_id},
      {"build_id", build_id},
      {"auth", record.auth_mode},
      {"code", GrpcCodeName(record.grpc_code)},
      {"http_status", static_cast<std::int64_t>(record.http_status)},
      {"request_id", record.request_id.empty() ? "-" : std::string_view(record.request_id)},
      {"trace_id", record.trace_id.empty() ? "-" : std::string_view(record.trace_id)},
      {"caller_request_id", caller_request_id},
      {"latency_ms", static_cast<double>(record.latency.count()) / 1000.0},
      {"upstream_ms", static_cast<double>(record.upstream_latency.count()) / 1000.0},
      {"attempts", static_cast<std::int64_t>(record.upstream_attempts)},
      {"reused_connection", record.connection_reused},
      {"message", record.message},
  };
  // The message field only when there is one.
  const std::size_t count = record.message.empty() ? std::size(fields) - 1 : std::size(fields);
  Log(LogLevel::kInfo, "access", absl::Span<const LogField>(fields, count));
}

}  // namespace codearts::observability
