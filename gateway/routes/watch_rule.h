#ifndef CODEARTS_GATEWAY_ROUTES_WATCH_RULE_H_
#define CODEARTS_GATEWAY_ROUTES_WATCH_RULE_H_

#include <google/protobuf/message.h>

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "routes/route_table.h"

namespace codearts::routes {

/// The poll interval a streaming request asks for: the rule's default when unset or zero,
/// INVALID_ARGUMENT naming the field when outside the rule's bounds.
absl::StatusOr<std::chrono::milliseconds> PollInterval(const Route& route,
                                                       const google::protobuf::Message& request);

/// Fills `poll_request` (of the polled route's type) from the streaming request's fields.
void FillPollRequest(const WatchSpec& spec, const google::protobuf::Message& request,
                     google::protobuf::Message* poll_request);

/// The run a streaming request names (empty: the latest), read from a filled poll request.
std::string RequestedRun(const WatchSpec& spec, const google::protobuf::Message& poll_request);
/// The run an answer is about.
std::string RunOf(const WatchSpec& spec, const google::protobuf::Message& response);

/// The values of the rule's state fields, in a form that differs exactly when one of them
/// does: two answers with the same key are the same state.
std::string StateKey(const WatchSpec& spec, const google::protobuf::Message& response);

/// Whether `response` is the run's final state (its end field holds an end value).
bool IsFinalState(const WatchSpec& spec, const google::protobuf::Message& response);

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_WATCH_RULE_H_
