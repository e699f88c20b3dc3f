// Google Benchmark micro-benchmarks of the per-call work that is the gateway's own: signing,
// building the REST request, mapping the answer, and the per-call metrics and access log.
//
//   build/release/tests/bench/micro_bench
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "auth/clock.h"
#include "auth/signer.h"
#include "codearts/pipeline/v1/pipeline.pb.h"
#include "observability/access_log.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "routes/rest_call.h"
#include "routes/route_table.h"
#include "routes/status_mapping.h"

namespace codearts {
namespace {

constexpr char kAccessKey[] = "HPUAEXAMPLEAKID12345";
constexpr char kSecretKey[] = "ExampleSecretKey/+=0123456789abcdefghijkl";

pipeline::v1::StopRequest Request() {
  pipeline::v1::StopRequest request;
  request.set_pipeline_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  request.set_build_id("3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b");
  return request;
}

void BmSignSdkHmacSha256(benchmark::State& state) {
  auth::SigningRequest request{"POST",
                               "/v3/pipelines/0f1e2d3c4b5a69788796a5b4c3d2e1f0/stop",
                               {{"build_id", "3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b"}},
                               {{"Content-Type", "application/json"},
                                {"Host", "cloudpipeline-ext.cn-north-4.myhuaweicloud.com"},
                                {"X-Project-Id", "0123456789abcdef0123456789abcdef"},
                                {"X-Sdk-Date", "20261128T060000Z"}},
                               ""};
  for (auto _ : state) {
    auto signature = auth::SignSdkHmacSha256(request, kAccessKey, kSecretKey);
    benchmark::DoNotOptimize(signature);
  }
}
BENCHMARK(BmSignSdkHmacSha256);

const routes::Route& StopRoute() {
  static const routes::RouteTable* table = new routes::RouteTable(*routes::BuildRouteTable(
      *pipeline::v1::StopRequest::descriptor()->file()->FindServiceByName("PipelineService")));
  return *table->Find("Stop");
}

// Validation, the request, and the prepare hook (date stamp + signature), as one call does.
void BmBuildAndSignStopCall(benchmark::State& state) {
  const pipeline::v1::StopRequest request = Request();
  const routes::Route& route = StopRoute();
  const routes::RequestOptions options{"0123456789abcdef0123456789abcdef",
                                       "codearts-gateway/bench"};
  auto credentials = std::make_shared<const auth::AkSkCredentials>(
      auth::AkSkCredentials{kAccessKey, kSecretKey, "", ""});
  auth::SystemClock clock;
  for (auto _ : state) {
    benchmark::DoNotOptimize(route.request_rules.Validate(request));
    routes::UpstreamCall call = *routes::BuildUpstreamCall(
        route, request, options, auth::CallCredentials{"", credentials}, clock);
    benchmark::DoNotOptimize(
        call.prepare("cloudpipeline-ext.cn-north-4.myhuaweicloud.com", call.request));
    benchmark::DoNotOptimize(call);
  }
}
BENCHMARK(BmBuildAndSignStopCall);

void BmMapStopResponseOk(benchmark::State& state) {
  upstream::HttpResponse http;
  http.status = 200;
  http.headers = {{"Content-Type", "application/json"},
                  {"X-Request-Id", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}};
  http.body =
      R"({"pipeline_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","pipeline_name":"pipeline-0f1e2d3c"})";
  for (auto _ : state) {
    pipeline::v1::StopResponse response;
    grpc::Status status = routes::MapHttpResponse(StopRoute(), http, "upstream.example", &response);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(routes::RequestIdOf(http));
  }
}
BENCHMARK(BmMapStopResponseOk);

void BmMapStopResponseError(benchmark::State& state) {
  upstream::HttpResponse http;
  http.status = 404;
  http.headers = {{"Content-Type", "application/json"},
                  {"X-Request-Id", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}};
  http.body = R"({"error_code":"DEVPIPE.00011401","error_msg":"pipeline not found"})";
  for (auto _ : state) {
    pipeline::v1::StopResponse response;
    grpc::Status status = routes::MapHttpResponse(StopRoute(), http, "upstream.example", &response);
    benchmark::DoNotOptimize(status);
  }
}
BENCHMARK(BmMapStopResponseError);

void BmRecordCallMetrics(benchmark::State& state) {
  observability::GatewayMetrics metrics("bench");
  observability::MethodMetrics& stop = metrics.ForMethod("Stop");
  for (auto _ : state) {
    stop.Record(0, std::chrono::microseconds(900));
    metrics.RecordUpstreamRequest(200, std::chrono::microseconds(700));
    metrics.RecordRetries(0);
  }
}
BENCHMARK(BmRecordCallMetrics);

// The JSON access line, written to /dev/null (one write(2), as in production).
void BmAccessLogJson(benchmark::State& state) {
  const int null_fd = open("/dev/null", O_WRONLY);
  observability::SetLogOutput(null_fd);
  observability::AccessRecord record;
  record.method = "Stop";
  record.peer = "ipv4:127.0.0.1:41234";
  record.pipeline_id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  record.build_id = "3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b";
  record.auth_mode = "aksk";
  record.http_status = 200;
  record.request_id = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
  record.latency = std::chrono::microseconds(1204);
  record.upstream_latency = std::chrono::microseconds(1011);
  record.upstream_attempts = 1;
  for (auto _ : state) observability::WriteAccessLog(record);
  observability::SetLogOutput(STDOUT_FILENO);
  close(null_fd);
}
BENCHMARK(BmAccessLogJson);

}  // namespace
}  // namespace codearts

BENCHMARK_MAIN();
