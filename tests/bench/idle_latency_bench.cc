// Sporadic-traffic latency: a sidecar's calls arrive after idle gaps, which is where gRPC's
// callback API stalls (its threads sleep). This measures a Stop call through the client
// library's async path (completion-queue API) and the gateway, after 1.1 s of idle and
// back-to-back, and prints the percentiles. Not a test: it asserts nothing, it reports.
//
//   build/<preset>/tests/bench/idle_latency_bench [samples]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include "client/pipeline_client.h"
#include "e2e/gateway_fixture.h"
#include "observability/log.h"

namespace codearts::bench {
namespace {

using Clock = std::chrono::steady_clock;

double StopOnceMs(client::PipelineClient& client) {
  pipeline::v1::StopRequest request;
  request.set_pipeline_id(e2e::kPipelineId);
  request.set_build_id(e2e::kBuildId);
  client::CallOptions options;
  options.timeout = std::chrono::seconds(5);
  std::promise<grpc::StatusCode> done;
  const auto start = Clock::now();
  client.StopAsync(request, options, [&done](const client::StopResult& result) {
    done.set_value(result.status.error_code());
  });
  const grpc::StatusCode code = done.get_future().get();
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (code != grpc::StatusCode::OK) {
    std::fprintf(stderr, "call failed with code %d: the run is invalid\n", static_cast<int>(code));
    std::exit(1);
  }
  return ms;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index =
      static_cast<std::size_t>(std::lround(p * static_cast<double>(values.size() - 1)));
  return values[index];
}

int Run(int samples) {
  observability::SetLogLevel(observability::LogLevel::kWarning);
  testing::StandinOptions options;
  options.access_key = e2e::kAccessKey;
  options.secret_key = e2e::kSecretKey;
  testing::CodeArtsStandin standin(options, e2e::SharedPki());
  e2e::GatewayUnderTest gateway(standin);
  client::PipelineClient client(client::MakeInsecureChannel(gateway.address()));
  StopOnceMs(client);  // connect the channel and the upstream connection

  std::vector<double> busy;
  busy.reserve(static_cast<std::size_t>(samples));
  for (int i = 0; i < samples; ++i) busy.push_back(StopOnceMs(client));
  std::vector<double> after_idle;
  after_idle.reserve(static_cast<std::size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    // The idle gap is the thing measured, not a synchronisation.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    after_idle.push_back(StopOnceMs(client));
  }
  std::printf("%-28s %8s %8s %8s\n", "Stop via StopAsync (ms)", "p50", "p99", "max");
  std::printf("%-28s %8.3f %8.3f %8.3f\n", "back-to-back", Percentile(busy, 0.5),
              Percentile(busy, 0.99), Percentile(busy, 1.0));
  std::printf("%-28s %8.3f %8.3f %8.3f\n", "after 1.1 s idle", Percentile(after_idle, 0.5),
              Percentile(after_idle, 0.99), Percentile(after_idle, 1.0));
  std::printf("all %d calls OK\n", 2 * samples + 1);
  return 0;
}

}  // namespace
}  // namespace codearts::bench

int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::atoi(argv[1]) : 20;
  return codearts::bench::Run(samples > 0 ? samples : 20);
}
