#include "observability/metrics.h"

#include <prometheus/text_serializer.h>

#include <utility>
#include <vector>

#include "observability/access_log.h"

namespace codearts::observability {
namespace {

// From half a millisecond (a pooled call on loopback) to the 30 s default upstream timeout.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

double Seconds(std::chrono::microseconds duration) {
  return static_cast<double>(duration.count()) / 1e6;
}

// Counters fed from a source that counts on its own: add what it counted since the last scrape.
void CatchUp(prometheus::Counter& counter, std::uint64_t now, std::uint64_t before) {
  if (now > before) counter.Increment(static_cast<double>(now - before));
}

}  // namespace

GatewayMetrics::GatewayMetrics(std::string version)
    : registry_(std::make_shared<prometheus::Registry>()),
      calls_(prometheus::BuildCounter()
                 .Name("codearts_gateway_calls_total")
                 .Help("gRPC calls finished, by method and gRPC status code")
                 .Register(*registry_)),
      call_duration_(prometheus::BuildHistogram()
                         .Name("codearts_gateway_call_duration_seconds")
                         .Help("Time from receiving a gRPC call to sending its status")
                         .Register(*registry_)),
      upstream_requests_(prometheus::BuildCounter()
                             .Name("codearts_gateway_upstream_requests_total")
                             .Help("Requests sent to CodeArts, by HTTP status (\"none\" when the "
                                   "attempt ended without a response: connect, TLS or I/O error)")
                             .Register(*registry_)),
      upstream_duration_(prometheus::BuildHistogram()
                             .Name("codearts_gateway_upstream_request_duration_seconds")
                             .Help("Time of one upstream attempt, connection set-up included")
                             .Register(*registry_)
                             .Add({}, LatencyBuckets())),
      retries_(prometheus::BuildCounter()
                   .Name("codearts_gateway_upstream_retries_total")
                   .Help("Upstream requests sent again (connect failures, keep-alive races, "
                         "429/503)")
                   .Register(*registry_)
                   .Add({})),
      credential_errors_(prometheus::BuildCounter()
                             .Name("codearts_gateway_credential_errors_total")
                             .Help("Calls that failed authentication: reason=\"missing\" (no "
                                   "AK/SK and no token), \"rejected\" (CodeArts answered 401), "
                                   "\"signing\" (the request could not be signed)")
                             .Register(*registry_)),
      in_flight_(prometheus::BuildGauge()
                     .Name("codearts_gateway_calls_in_flight")
                     .Help("gRPC calls received and not finished yet")
                     .Register(*registry_)
                     .Add({})),
      watches_open_(prometheus::BuildGauge()
                        .Name("codearts_gateway_watches_open")
                        .Help("Watch streams open (Watch, WatchPipelineRun)")
                        .Register(*registry_)
                        .Add({})),
      watched_runs_(prometheus::BuildGauge()
                        .Name("codearts_gateway_watched_runs")
                        .Help("Distinct builds and runs polled for watchers (one poll loop "
                              "each, shared by the watchers using the gateway's AK/SK)")
                        .Register(*registry_)
                        .Add({})),
      watch_polls_(prometheus::BuildCounter()
                       .Name("codearts_gateway_watch_polls_total")
                       .Help("Polls of watched builds and runs, by outcome (the gRPC code the "
                             "answer maps to)")
                       .Register(*registry_)),
      connections_(prometheus::BuildGauge()
                       .Name("codearts_gateway_upstream_connections")
                       .Help("Upstream connections: state=\"open\" (all, including those being "
                             "established), \"idle\" (pooled), \"connecting\" (DNS, TCP or TLS "
                             "in progress)")
                       .Register(*registry_)),
      waiting_for_connection_(prometheus::BuildGauge()
                                  .Name("codearts_gateway_upstream_waiting_calls")
                                  .Help("Calls waiting for an upstream connection (the pool is at "
                                        "--max-connections)")
                                  .Register(*registry_)
                                  .Add({})),
      credential_reloads_(prometheus::BuildCounter()
                              .Name("codearts_gateway_credential_reloads_total")
                              .Help("Times a changed --credentials-file was loaded")
                              .Register(*registry_)
                              .Add({})),
      credential_reload_failures_(prometheus::BuildCounter()
                                      .Name("codearts_gateway_credential_reload_failures_total")
                                      .Help("Times a changed --credentials-file could not be used "
                                            "(the previous credentials were kept)")
                                      .Register(*registry_)
                                      .Add({})),
      tls_handshakes_(prometheus::BuildCounter()
                          .Name("codearts_gateway_upstream_tls_handshakes_total")
                          .Help("TLS handshakes with the upstream: resumed=\"true\" when an "
                                "earlier session was resumed (no certificate verification)")
                          .Register(*registry_)),
      connect_timeouts_(prometheus::BuildCounter()
                            .Name("codearts_gateway_upstream_connect_timeouts_total")
                            .Help("New upstream connections not established (TCP connect and "
                                  "TLS handshake) within --connect-timeout")
                            .Register(*registry_)
                            .Add({})) {
  prometheus::BuildGauge()
      .Name("codearts_gateway_build_info")
      .Help("Always 1; the version label says which build is running")
      .Register(*registry_)
      .Add({{"version", std::move(version)}})
      .Set(1);
  // Present from the start, so that rate() and absent() behave before the first event.
  for (const char* state : {"open", "idle", "connecting"}) connections_.Add({{"state", state}});
  watch_polls_.Add({{"outcome", GrpcCodeName(0)}});
  for (const char* resumed : {"true", "false"}) tls_handshakes_.Add({{"resumed", resumed}});
  for (const char* reason : {"missing", "rejected", "signing"}) {
    credential_errors_.Add({{"reason", reason}});
  }
}

MethodMetrics& GatewayMetrics::ForMethod(const std::string& method) {
  std::lock_guard lock(methods_mutex_);
  std::unique_ptr<MethodMetrics>& slot = methods_[method];
  if (!slot) {
    slot = std::make_unique<MethodMetrics>(
        calls_, call_duration_.Add({{"method", method}}, LatencyBuckets()), method);
    // Present from the start, so that rate() works from the first call.
    calls_.Add({{"method", method}, {"code", GrpcCodeName(0)}});
  }
  return *slot;
}

void MethodMetrics::Record(int grpc_code, std::chrono::microseconds latency) {
  if (grpc_code < 0 || grpc_code >= kGrpcCodes) grpc_code = 2;  // UNKNOWN
  auto& slot = by_code_[static_cast<std::size_t>(grpc_code)];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add returns the same child for the same labels, so a race here is harmless.
    counter = &calls_.Add({{"method", method_}, {"code", GrpcCodeName(grpc_code)}});
    slot.store(counter, std::memory_order_release);
  }
  counter->Increment();
  duration_.Observe(Seconds(latency));
}

prometheus::Counter& GatewayMetrics::UpstreamCounter(unsigned http_status) {
  if (http_status != 0 && (http_status < 100 || http_status >= upstream_by_status_.size())) {
    return upstream_requests_.Add({{"status", std::to_string(http_status)}});
  }
  auto& slot = upstream_by_status_[http_status];
  if (prometheus::Counter* counter = slot.load(std::memory_order_acquire)) return *counter;
  prometheus::Counter& counter = upstream_requests_.Add(
      {{"status", http_status == 0 ? std::string("none") : std::to_string(http_status)}});
  slot.store(&counter, std::memory_order_release);
  return counter;
}

void GatewayMetrics::RecordUpstreamRequest(unsigned http_status,
                                           std::chrono::microseconds duration) {
  UpstreamCounter(http_status).Increment();
  upstream_duration_.Observe(Seconds(duration));
}

void GatewayMetrics::RecordRetries(int retries) {
  if (retries > 0) retries_.Increment(retries);
}

void GatewayMetrics::RecordWatchPoll(int grpc_code) {
  watch_polls_.Add({{"outcome", GrpcCodeName(grpc_code)}}).Increment();
}

void GatewayMetrics::RecordCredentialError(CredentialError error) {
  const char* reason = "missing";
  if (error == CredentialError::kRejected) reason = "rejected";
  if (error == CredentialError::kSigning) reason = "signing";
  credential_errors_.Add({{"reason", reason}}).Increment();
}

void GatewayMetrics::SetSnapshotSource(std::function<MetricsSnapshot()> source) {
  std::lock_guard lock(scrape_mutex_);
  snapshot_source_ = std::move(source);
}

std::string GatewayMetrics::Serialize() {
  std::lock_guard lock(scrape_mutex_);
  if (snapshot_source_) {
    const MetricsSnapshot now = snapshot_source_();
    in_flight_.Set(static_cast<double>(now.calls_in_flight));
    watches_open_.Set(static_cast<double>(now.watches_open));
    watched_runs_.Set(static_cast<double>(now.watched_runs));
    connections_.Add({{"state", "open"}}).Set(static_cast<double>(now.connections_open));
    connections_.Add({{"state", "idle"}}).Set(static_cast<double>(now.connections_idle));
    connections_.Add({{"state", "connecting"}})
        .Set(static_cast<double>(now.connections_connecting));
    waiting_for_connection_.Set(static_cast<double>(now.calls_waiting_for_connection));
    CatchUp(credential_reloads_, now.credential_reloads, last_snapshot_.credential_reloads);
    CatchUp(credential_reload_failures_, now.credential_reload_failures,
            last_snapshot_.credential_reload_failures);
    CatchUp(tls_handshakes_.Add({{"resumed", "false"}}), now.tls_full_handshakes,
            last_snapshot_.tls_full_handshakes);
    CatchUp(tls_handshakes_.Add({{"resumed", "true"}}), now.tls_resumed_handshakes,
            last_snapshot_.tls_resumed_handshakes);
    CatchUp(connect_timeouts_, now.connect_timeouts, last_snapshot_.connect_timeouts);
    last_snapshot_ = now;
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace codearts::observability
