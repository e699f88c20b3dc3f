#ifndef CODEARTS_GATEWAY_OBSERVABILITY_METRICS_H_
#define CODEARTS_GATEWAY_OBSERVABILITY_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace codearts::observability {

/// Values that live elsewhere (the connection pool, the credential source, the call counter) and
/// are read when Prometheus scrapes, rather than pushed on every change.
struct MetricsSnapshot {
  std::int64_t calls_in_flight = 0;
  std::int64_t watches_open = 0;
  std::int64_t watched_runs = 0;
  std::int64_t connections_open = 0;
  std::int64_t connections_idle = 0;
  std::int64_t connections_connecting = 0;
  std::int64_t calls_waiting_for_connection = 0;
  std::uint64_t credential_reloads = 0;
  std::uint64_t credential_reload_failures = 0;
  std::uint64_t tls_full_handshakes = 0;
  std::uint64_t tls_resumed_handshakes = 0;
  std::uint64_t connect_timeouts = 0;
};

/// Why a call could not be authenticated.
enum class CredentialError {
  kMissing,   // no AK/SK configured and no x-auth-token sent
  kRejected,  // CodeArts (APIG) answered 401: bad signature, unknown AK, expired token
  kSigning,   // the request could not be signed (the signer failed)
};

/// The call metrics of one RPC method, prepared at start: recording a call takes no lock and
/// no label lookup.
class MethodMetrics {
 public:
  static constexpr int kGrpcCodes = 17;

  MethodMetrics(prometheus::Family<prometheus::Counter>& calls, prometheus::Histogram& duration,
                std::string method)
      : calls_(calls), duration_(duration), method_(std::move(method)) {}

  /// One finished call with its gRPC status code number.
  void Record(int grpc_code, std::chrono::microseconds latency);

 private:
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Histogram& duration_;
  const std::string method_;
  // The counter of each code, created on first use (so /metrics lists codes that happened).
  std::array<std::atomic<prometheus::Counter*>, kGrpcCodes> by_code_{};
};

/// The gateway's Prometheus metrics (names prefixed `codearts_gateway_`). Thread-safe; the
/// Record* methods are cheap enough for the call path (atomic adds, one mutex per histogram).
class GatewayMetrics {
 public:
  explicit GatewayMetrics(std::string version);
  GatewayMetrics(const GatewayMetrics&) = delete;
  GatewayMetrics& operator=(const GatewayMetrics&) = delete;

  /// The call metrics of `method` ("Stop"); the same object for the same name. Prepare them at
  /// start, once per method: the returned object lives as long as this one.
  MethodMetrics& ForMethod(const std::string& method);
  /// One upstream request attempt: its HTTP status, or 0 when none was received.
  void RecordUpstreamRequest(unsigned http_status, std::chrono::microseconds duration);
  void RecordRetries(int retries);
  /// One poll of a watched run, by its outcome (the gRPC code it maps to).
  void RecordWatchPoll(int grpc_code);
  void RecordCredentialError(CredentialError error);

  /// Sets where scrape-time values come from; without one they read as zero.
  void SetSnapshotSource(std::function<MetricsSnapshot()> source);

  /// Every metric in the Prometheus text exposition format (version 0.0.4).
  std::string Serialize();

 private:
  prometheus::Counter& UpstreamCounter(unsigned http_status);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& call_duration_;
  prometheus::Family<prometheus::Counter>& upstream_requests_;
  prometheus::Histogram& upstream_duration_;
  prometheus::Counter& retries_;
  prometheus::Family<prometheus::Counter>& credential_errors_;
  prometheus::Gauge& in_flight_;
  prometheus::Gauge& watches_open_;
  prometheus::Gauge& watched_runs_;
  prometheus::Family<prometheus::Counter>& watch_polls_;
  prometheus::Family<prometheus::Gauge>& connections_;
  prometheus::Gauge& waiting_for_connection_;
  prometheus::Counter& credential_reloads_;
  prometheus::Counter& credential_reload_failures_;
  prometheus::Family<prometheus::Counter>& tls_handshakes_;
  prometheus::Counter& connect_timeouts_;

  std::mutex methods_mutex_;  // guards methods_
  std::map<std::string, std::unique_ptr<MethodMetrics>> methods_;
  // Upstream counters for statuses 0 (no answer) and 100-599, by status.
  std::array<std::atomic<prometheus::Counter*>, 600> upstream_by_status_{};

  std::mutex scrape_mutex_;  // one scrape at a time; guards the fields below
  std::function<MetricsSnapshot()> snapshot_source_;
  MetricsSnapshot last_snapshot_;
};

}  // namespace codearts::observability

#endif  // CODEARTS_GATEWAY_OBSERVABILITY_METRICS_H_
