#include "routes/trace_context.h"

#include <algorithm>

namespace codearts::routes {
namespace {

constexpr std::size_t kMaxRequestIdLength = 128;
// W3C caps tracestate at 32 list members; 512 bytes is what implementations must propagate.
constexpr std::size_t kMaxTraceStateLength = 512;

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsAllZeros(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c == '0'; });
}

}  // namespace

std::string TraceIdOf(std::string_view traceparent) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  constexpr std::size_t kLength = 55;
  if (traceparent.size() < kLength) return {};
  const std::string_view version = traceparent.substr(0, 2);
  const std::string_view trace_id = traceparent.substr(3, 32);
  const std::string_view parent_id = traceparent.substr(36, 16);
  const std::string_view flags = traceparent.substr(53, 2);
  if (traceparent[2] != '-' || traceparent[35] != '-' || traceparent[52] != '-') return {};
  if (!IsLowerHex(version) || version == "ff" || !IsLowerHex(trace_id) || !IsLowerHex(parent_id) ||
      !IsLowerHex(flags)) {
    return {};
  }
  if (IsAllZeros(trace_id) || IsAllZeros(parent_id)) return {};
  // Version 00 has exactly these fields; later versions may append "-…".
  if (traceparent.size() > kLength && (version == "00" || traceparent[kLength] != '-')) return {};
  return std::string(trace_id);
}

bool IsForwardableHeaderValue(std::string_view value, std::size_t max_length) {
  if (value.empty() || value.size() > max_length) return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7f;
  });
}

TraceContext MakeTraceContext(std::string_view traceparent, std::string_view tracestate,
                              std::string_view request_id) {
  TraceContext trace;
  trace.trace_id = TraceIdOf(traceparent);
  if (!trace.trace_id.empty()) {
    trace.traceparent = std::string(traceparent);
    // tracestate may contain spaces after commas; it must stay printable and bounded.
    const bool printable = std::all_of(tracestate.begin(), tracestate.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte >= 0x20 && byte < 0x7f;
    });
    if (!tracestate.empty() && tracestate.size() <= kMaxTraceStateLength && printable) {
      trace.tracestate = std::string(tracestate);
    }
  }
  if (IsForwardableHeaderValue(request_id, kMaxRequestIdLength)) {
    trace.request_id = std::string(request_id);
  }
  return trace;
}

}  // namespace codearts::routes
