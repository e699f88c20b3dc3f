// The direct leg of the gateway benchmark: the same REST call the gateway makes
// (POST /v3/pipelines/{id}/stop?build_id=…), sent straight to an HTTPS server with the gateway's
// own HTTPS client and driven by the same load engine as `pipelinectl bench`, so that the two
// legs differ only by the gateway. The request is built and signed (HUAWEICLOUD_SDK_AK/SK) by the
// gateway's own mapping code. Counts every answer: anything but HTTP 200 is a failed call.
//
//   https_load --endpoint=https://127.0.0.1:8443 --ca-file=ca.pem (--concurrency=N | --rate=R)
//              [--duration=10s] [--warmup=1s] [--calls=N] [--max-connections=N]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "auth/clock.h"
#include "cli/command_line.h"
#include "client/load_runner.h"
#include "codearts/pipeline/v1/pipeline.pb.h"
#include "routes/rest_call.h"
#include "routes/route_table.h"
#include "upstream/endpoint.h"
#include "upstream/https_client.h"
#include "upstream/tls_context.h"

ABSL_FLAG(std::string, endpoint, "", "https://host:port of the server");
ABSL_FLAG(std::string, ca_file, "", "PEM CA to trust");
ABSL_FLAG(int, concurrency, 0, "calls kept in flight (closed loop)");
ABSL_FLAG(double, rate, 0, "calls started per second (open loop)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time, after --warmup");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "time run but not measured first");
ABSL_FLAG(uint64_t, calls, 0, "start exactly this many calls instead");
ABSL_FLAG(int, max_connections, 1024, "most connections open at once");

namespace asio = boost::asio;

int main(int argc, char** argv) {
  auto positional = codearts::cli::ParseFlags(argc, argv);
  if (!positional.ok()) {
    std::cerr << "https_load: " << positional.status().message() << "\n";
    return 2;
  }
  auto endpoint = codearts::upstream::ParseEndpoint(absl::GetFlag(FLAGS_endpoint));
  auto tls = codearts::upstream::MakeClientTlsContext(absl::GetFlag(FLAGS_ca_file));
  if (!endpoint.ok() || !tls.ok()) {
    std::cerr << "https_load: bad --endpoint or --ca-file\n";
    return 2;
  }
  const char* access_key = std::getenv("HUAWEICLOUD_SDK_AK");
  const char* secret_key = std::getenv("HUAWEICLOUD_SDK_SK");
  if (access_key == nullptr || secret_key == nullptr) {
    std::cerr << "https_load: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK\n";
    return 2;
  }
  asio::io_context io(1);
  auto work = asio::make_work_guard(io);
  codearts::upstream::ClientOptions client_options;
  client_options.pool.max_connections =
      static_cast<std::size_t>(absl::GetFlag(FLAGS_max_connections));
  client_options.retry.max_attempts = 1;  // a benchmark counts failures, it does not hide them
  codearts::upstream::HttpsClient client(io, **tls, *endpoint, client_options);
  // Stops and joins the I/O thread on every way out of main.
  struct IoThread {
    asio::io_context& io;
    std::thread thread{[this] { io.run(); }};
    ~IoThread() {
      io.stop();
      thread.join();
    }
  } io_thread{io};

  // The gateway's own request: same headers, signed the same way before each attempt.
  codearts::pipeline::v1::StopRequest stop;
  stop.set_pipeline_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  stop.set_build_id("3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b");
  codearts::auth::SystemClock clock;
  const auto routes = codearts::routes::BuildRouteTable(
      *codearts::pipeline::v1::StopRequest::descriptor()->file()->FindServiceByName(
          "PipelineService"));
  if (!routes.ok()) {
    std::cerr << "https_load: " << routes.status() << "\n";
    return 2;
  }
  const auto built = codearts::routes::BuildUpstreamCall(
      *routes->Find("Stop"), stop,
      {.project_id = "0123456789abcdef0123456789abcdef", .user_agent = "codearts-bench"},
      {.token = "",
       .ak_sk = std::make_shared<const codearts::auth::AkSkCredentials>(
           codearts::auth::AkSkCredentials{access_key, secret_key, "", ""})},
      clock);
  if (!built.ok()) {
    std::cerr << "https_load: " << built.status() << "\n";
    return 2;
  }
  const codearts::routes::UpstreamCall& call = *built;
  const codearts::upstream::HttpRequest& request = call.request;
  const codearts::upstream::PrepareRequest& sign = call.prepare;

  codearts::client::LoadOptions load;
  load.concurrency = absl::GetFlag(FLAGS_concurrency);
  load.rate = absl::GetFlag(FLAGS_rate);
  load.duration = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_duration));
  load.warmup = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_warmup));
  load.calls = absl::GetFlag(FLAGS_calls);
  if ((load.concurrency > 0) == (load.rate > 0)) {
    std::cerr << "https_load: give one of --concurrency, --rate\n";
    return 2;
  }
  const auto report = codearts::client::RunLoad(load, [&](std::function<void(int)> done) {
    asio::co_spawn(
        asio::make_strand(io),
        [&client, &request, &sign, done = std::move(done)]() -> asio::awaitable<void> {
          auto response = co_await client.Send(
              request, sign, {}, std::chrono::steady_clock::now() + std::chrono::seconds(10), {},
              nullptr);
          // 0 for HTTP 200; otherwise the HTTP status, or 1 for a transport failure.
          done(!response.ok()            ? 1
               : response->status == 200 ? 0
                                         : static_cast<int>(response->status));
        },
        asio::detached);
  });
  std::cout << codearts::client::FormatLoadReport(report, [](int code) {
    if (code == 0) return std::string("OK");
    if (code == 1) return std::string("TRANSPORT_ERROR");
    return "HTTP_" + std::to_string(code);
  });
  work.reset();
  return report.calls > 0 && report.ok == report.calls ? 0 : 1;
}
