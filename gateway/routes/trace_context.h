#ifndef CODEARTS_GATEWAY_ROUTES_TRACE_CONTEXT_H_
#define CODEARTS_GATEWAY_ROUTES_TRACE_CONTEXT_H_

#include <string>
#include <string_view>

namespace codearts::routes {

/// The caller's trace context, passed on to CodeArts as (unsigned) headers and written to the
/// access log. Invalid values are dropped, as W3C Trace Context asks of a participant that cannot
/// parse them: a malformed trace header is not a reason to fail a Stop.
struct TraceContext {
  std::string traceparent;  // `traceparent`, forwarded as is when valid
  std::string tracestate;   // `tracestate`, forwarded only with a valid traceparent
  std::string trace_id;     // the 32 hex digits of the trace id, for the log
  std::string request_id;   // the caller's `x-request-id`, forwarded as `X-Request-Id`
};

/// The trace id of a valid W3C `traceparent` (version 00, or a later version's first four
/// fields), or empty when it is not valid.
std::string TraceIdOf(std::string_view traceparent);

/// True for a value safe to forward as a header and to log: 1-`max_length` printable ASCII
/// characters without spaces.
bool IsForwardableHeaderValue(std::string_view value, std::size_t max_length);

/// Builds the trace context from the raw metadata values (empty when absent).
TraceContext MakeTraceContext(std::string_view traceparent, std::string_view tracestate,
                              std::string_view request_id);

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_TRACE_CONTEXT_H_
