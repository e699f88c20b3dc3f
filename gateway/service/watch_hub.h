#ifndef CODEARTS_GATEWAY_SERVICE_WATCH_HUB_H_
#define CODEARTS_GATEWAY_SERVICE_WATCH_HUB_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/request_auth.h"
#include "routes/route_table.h"
#include "routes/trace_context.h"
#include "service/call_context.h"
#include "service/poll_clock.h"

namespace codearts::service {

/// One state of a watched run, serialized once for every watcher.
struct WatchState {
  grpc::ByteBuffer message;
  /// routes::StateKey of the message: equal keys, same state.
  std::string key;
  bool final = false;
};

/// The receiving end of a watch: a stream to a caller. Called from the poll loops' strands,
/// possibly after Leave (a call already under way), so implementations must ignore what comes
/// once they have ended.
class WatchSink {
 public:
  /// A state of the run; `state->final` for the last one.
  virtual void OnState(const std::shared_ptr<const WatchState>& state) = 0;
  /// The watch cannot go on: a mapped error that will not change (401, 403, 404) or the drain.
  virtual void OnEnd(const grpc::Status& status) = 0;
  /// The loop polled once on this watcher's behalf (for its access-log line).
  virtual void OnPoll() = 0;

 protected:
  ~WatchSink() = default;
};

/// What a watcher asks for.
struct WatchTarget {
  /// The streaming route's index in the table.
  std::size_t route = 0;
  /// The polled route's request, filled from the streaming request.
  std::unique_ptr<google::protobuf::Message> poll_request;
  auth::CallCredentials credentials;
  std::chrono::milliseconds interval{3000};
  routes::TraceContext trace;
};

class PollLoop;

/// The poll loops of every open watch. Watchers of the same run of the same route that use the
/// gateway's own AK/SK share one loop, which polls at the shortest interval any of them asked for
/// and hands every change to all of them; a watcher with its own token always has a loop of its
/// own. A watcher of "the latest run" gets a loop of its own for the first poll, which names the
/// run; from then on it shares like the others. A loop stops when its last watcher leaves.
/// Thread-safe.
class WatchHub {
 public:
  WatchHub(CallContext& context, const routes::RouteTable& table, PollClock& clock);
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;
  ~WatchHub();

  /// Adds `sink`. Its first state comes at once if the run's loop already has one, otherwise
  /// after that loop's first poll. After Close, `sink` is ended at once with the drain status.
  void Join(const std::shared_ptr<WatchSink>& sink, WatchTarget target);
  /// Removes `sink` (idempotent); the loop stops, its poll in flight cancelled, when it was the
  /// last one.
  void Leave(const WatchSink* sink);
  /// Ends every watch with `status` and refuses new ones with it (the drain). Idempotent.
  void Close(const grpc::Status& status);
  bool closed() const;

 private:
  friend class PollLoop;
  // Called by a loop that published its final state or hit an error that ends the watch: it
  // stops, and its watchers (returned) leave it.
  std::vector<std::shared_ptr<WatchSink>> Retire(PollLoop& loop);
  // A private loop learnt which run it follows: share it (or join the loop that polls it).
  void Share(const std::shared_ptr<PollLoop>& loop, std::string key);

  CallContext& context_;
  const routes::RouteTable& table_;
  PollClock& clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<PollLoop>> shared_;             // guarded
  std::unordered_map<const WatchSink*, std::shared_ptr<PollLoop>> loop_of_sink_;  // guarded
  bool closed_ = false;                                                           // guarded
  grpc::Status close_status_;                                                     // guarded
};

}  // namespace codearts::service

#endif  // CODEARTS_GATEWAY_SERVICE_WATCH_HUB_H_
