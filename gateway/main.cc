// codearts-gateway: serves codearts.pipeline.v1.PipelineService over gRPC and forwards each call
// to the CodeArts Pipeline REST API. This file is the composition root: it builds and owns every
// long-lived object and does nothing else.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "admin/admin_server.h"
#include "auth/clock.h"
#include "auth/credentials.h"
#include "auth/credentials_file.h"
#include "cli/command_line.h"
#include "config.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "service/gateway_server.h"
#include "service/listener_credentials.h"
#include "upstream/https_client.h"
#include "upstream/tls_context.h"
#include "version.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC listen address: host:port, or unix:/path. Loopback by default: the gateway holds "
          "credentials, so it is not exposed unless asked");
ABSL_FLAG(std::string, endpoint, "",
          "CodeArts Pipeline endpoint, https://host[:port]; wins over --region");
ABSL_FLAG(std::string, region, "",
          "Huawei Cloud region (e.g. cn-north-4) whose CodeArts Pipeline endpoint to use; "
          "default from HUAWEICLOUD_SDK_REGION");
ABSL_FLAG(std::string, project_id, "",
          "Project id sent as X-Project-Id; default from HUAWEICLOUD_SDK_PROJECT_ID");
ABSL_FLAG(std::string, ca_file, "",
          "PEM file of CAs to trust for the upstream; default: the system CA store");
ABSL_FLAG(std::string, credentials_file, "",
          "File of HUAWEICLOUD_SDK_AK=, HUAWEICLOUD_SDK_SK= (and optional "
          "HUAWEICLOUD_SDK_SECURITY_TOKEN=, HUAWEICLOUD_SDK_PROJECT_ID=) lines, re-read when it "
          "changes (a Kubernetes Secret volume); instead of the environment variables");
ABSL_FLAG(absl::Duration, upstream_timeout, absl::Seconds(30),
          "Longest time one call may spend upstream; also the cap on a caller's deadline");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(15),
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish");
ABSL_FLAG(int, io_threads, 1, "Threads running upstream I/O");
ABSL_FLAG(int, max_connections, 64, "Most upstream connections open at once");
ABSL_FLAG(int, max_in_flight, 1000,
          "Most calls in flight at once; beyond it calls fail RESOURCE_EXHAUSTED at once");
ABSL_FLAG(absl::Duration, drain_delay, absl::ZeroDuration(),
          "On SIGTERM/SIGINT, how long to keep serving new calls (while reporting NOT_SERVING "
          "and failing /readyz) before the listener closes; for classic sidecars whose app "
          "container gets SIGTERM at the same moment. A second signal cuts it short");
ABSL_FLAG(std::string, log_level, "info", "Lowest log level written: debug, info, warning, error");
ABSL_FLAG(std::string, log_format, "json",
          "Log lines on standard output as json (one object per line) or text");
ABSL_FLAG(std::string, admin_listen, "127.0.0.1:9464",
          "HTTP address for /metrics (Prometheus), /healthz and /readyz; empty to disable");
ABSL_FLAG(std::string, health_listen, "",
          "Extra plaintext gRPC address serving only grpc.health.v1.Health, for kubelet's native "
          "gRPC probes (they connect to the pod IP without TLS); empty to disable");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain for TLS on --listen (with --tls-key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls-cert");
ABSL_FLAG(std::string, client_ca, "",
          "PEM CA bundle: require callers to present a client certificate signed by it (mTLS)");
ABSL_FLAG(bool, allow_insecure_listen, false,
          "Allow --listen on a non-loopback address without TLS (anyone who reaches the port "
          "can use the gateway's credentials)");

namespace {

namespace log = codearts::observability;

// The flags that GATEWAY_<NAME> environment variables may set.
const std::vector<std::string>& GatewayFlags() {
  static const auto* const names = new std::vector<std::string>{
      "listen",      "endpoint",         "region",           "project_id",
      "ca_file",     "credentials_file", "upstream_timeout", "drain_timeout",
      "drain_delay", "io_threads",       "max_connections",  "max_in_flight",
      "log_level",   "log_format",       "admin_listen",     "health_listen",
      "tls_cert",    "tls_key",          "client_ca",        "allow_insecure_listen"};
  return *names;
}

std::chrono::milliseconds ToMillis(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

[[noreturn]] void FailStartup(absl::string_view message) {
  std::fprintf(stderr, "codearts-gateway: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  // gRPC's mutexes are abseil's; its deadlock detector (on unless abseil was built with NDEBUG)
  // records every lock order in a global graph: measurable CPU on every call, and no use in a
  // release binary.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "Serves codearts.pipeline.v1.PipelineService/Stop over gRPC and forwards it to CodeArts "
      "Pipeline (POST /v3/pipelines/{id}/stop), signed with HUAWEICLOUD_SDK_AK/SK.\n"
      "Every flag can also be set with the environment variable GATEWAY_<FLAG> (for example\n"
      "GATEWAY_LISTEN, GATEWAY_UPSTREAM_TIMEOUT); a flag on the command line wins. Flag names\n"
      "may be written with '-' or '_' (--log-level, --log_level). Durations: 500ms, 30s, 1m.");
  absl::FlagsUsageConfig usage_config;
  // --help lists this binary's own flags (not those of the libraries it links), with defaults.
  const auto is_gateway_flag = [](absl::string_view file) {
    return absl::EndsWith(file, "gateway/main.cc");
  };
  usage_config.contains_help_flags = is_gateway_flag;
  usage_config.contains_helpshort_flags = is_gateway_flag;
  usage_config.normalize_filename = [](absl::string_view file) {
    const std::size_t at = file.rfind("gateway/");
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  usage_config.version_string = [] {
    return absl::StrCat("codearts-gateway ", codearts::kGatewayVersion, "\n");
  };
  absl::SetFlagsUsageConfig(usage_config);
  // Every flag can come from the environment too (GATEWAY_LISTEN, ...); the command line wins.
  if (absl::Status from_env = codearts::cli::ApplyEnvironment("GATEWAY_", GatewayFlags(),
                                                              codearts::ProcessEnvironment());
      !from_env.ok()) {
    FailStartup(from_env.message());
  }
  absl::StatusOr<codearts::cli::Positional> positional = codearts::cli::ParseFlags(argc, argv);
  if (!positional.ok()) FailStartup(positional.status().message());
  if (positional->size() > 1) {
    FailStartup(absl::StrCat("unexpected argument \"", (*positional)[1], "\""));
  }

  codearts::RawConfig raw;
  raw.listen = absl::GetFlag(FLAGS_listen);
  raw.endpoint = absl::GetFlag(FLAGS_endpoint);
  raw.region = absl::GetFlag(FLAGS_region);
  raw.project_id = absl::GetFlag(FLAGS_project_id);
  raw.ca_file = absl::GetFlag(FLAGS_ca_file);
  raw.credentials_file = absl::GetFlag(FLAGS_credentials_file);
  raw.upstream_timeout = ToMillis(absl::GetFlag(FLAGS_upstream_timeout));
  raw.drain_timeout = ToMillis(absl::GetFlag(FLAGS_drain_timeout));
  raw.io_threads = absl::GetFlag(FLAGS_io_threads);
  raw.max_connections = absl::GetFlag(FLAGS_max_connections);
  raw.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  raw.log_level = absl::GetFlag(FLAGS_log_level);
  raw.log_format = absl::GetFlag(FLAGS_log_format);
  raw.drain_delay = ToMillis(absl::GetFlag(FLAGS_drain_delay));
  raw.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  raw.health_listen = absl::GetFlag(FLAGS_health_listen);
  raw.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  raw.tls_key = absl::GetFlag(FLAGS_tls_key);
  raw.client_ca = absl::GetFlag(FLAGS_client_ca);
  raw.allow_insecure_listen = absl::GetFlag(FLAGS_allow_insecure_listen);

  absl::StatusOr<codearts::Config> config =
      codearts::BuildConfig(raw, codearts::ProcessEnvironment());
  if (!config.ok()) FailStartup(config.status().message());
  log::LogLevel level = log::LogLevel::kInfo;
  if (!log::ParseLogLevel(config->log_level, &level)) {
    FailStartup(absl::StrCat("--log-level must be debug, info, warning or error, not \"",
                             config->log_level, "\""));
  }
  log::SetLogLevel(level);
  log::LogFormat format = log::LogFormat::kJson;
  log::ParseLogFormat(config->log_format, &format);  // validated by BuildConfig
  log::SetLogFormat(format);

  codearts::service::ListenOptions listen_options;
  listen_options.address = config->listen;
  listen_options.health_address = config->health_listen;
  if (!config->tls_cert.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> listener_tls =
        codearts::service::MakeListenerCredentials(config->tls_cert, config->tls_key,
                                                   config->client_ca);
    if (!listener_tls.ok()) FailStartup(listener_tls.status().message());
    listen_options.credentials = *std::move(listener_tls);
  }

  // Signals are taken synchronously by this thread (sigwait); every thread started below
  // inherits the mask, so none of them is interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> tls =
      codearts::upstream::MakeClientTlsContext(config->ca_file);
  if (!tls.ok()) FailStartup(tls.status().message());

  boost::asio::io_context io(config->io_threads);
  auto work = boost::asio::make_work_guard(io);
  codearts::upstream::ClientOptions client_options;
  client_options.pool.max_connections = config->max_connections;
  auto client = std::make_unique<codearts::upstream::HttpsClient>(io, **tls, config->endpoint,
                                                                  client_options);
  std::unique_ptr<codearts::auth::CredentialSource> credentials;
  if (config->credentials_file.empty()) {
    credentials = std::make_unique<codearts::auth::StaticCredentialSource>(config->credentials);
  } else {
    absl::StatusOr<std::unique_ptr<codearts::auth::FileCredentialSource>> from_file =
        codearts::auth::FileCredentialSource::Open(config->credentials_file);
    if (!from_file.ok()) FailStartup(from_file.status().message());
    credentials = *std::move(from_file);
  }
  codearts::auth::SystemClock clock;
  codearts::observability::GatewayMetrics metrics(codearts::kGatewayVersion);
  codearts::service::ServiceOptions service_options;
  service_options.request = {.project_id = config->project_id, .user_agent = codearts::kUserAgent};
  service_options.upstream_timeout = config->upstream_timeout;
  service_options.max_in_flight = config->max_in_flight;
  codearts::service::CallContext context(io, *client, *credentials, clock, metrics,
                                         service_options);
  metrics.SetSnapshotSource([&context] { return codearts::service::TakeMetricsSnapshot(context); });

  std::vector<std::thread> io_threads;
  io_threads.reserve(static_cast<std::size_t>(config->io_threads));
  for (int i = 0; i < config->io_threads; ++i) io_threads.emplace_back([&io] { io.run(); });
  const auto stop_io = [&] {
    work.reset();
    io.stop();
    for (auto& thread : io_threads) thread.join();
  };

  auto server = std::make_unique<codearts::service::GatewayServer>(context);
  std::unique_ptr<codearts::admin::AdminServer> admin;
  if (!config->admin_listen.empty()) {
    admin = std::make_unique<codearts::admin::AdminServer>(
        io, codearts::admin::AdminHandlers{.metrics = [&metrics] { return metrics.Serialize(); },
                                           .ready = [&server] { return server->ready(); }});
    if (absl::Status started = admin->Start(config->admin_listen); !started.ok()) {
      stop_io();
      admin.reset();
      FailStartup(started.message());
    }
  }
  if (absl::Status started = server->Start(listen_options); !started.ok()) {
    stop_io();
    admin.reset();
    FailStartup(started.message());
  }
  {
    std::vector<std::pair<std::string, std::string>> described = codearts::DescribeConfig(*config);
    described.emplace_back("grpc_port", std::to_string(server->port()));
    if (admin) described.emplace_back("admin_port", std::to_string(admin->port()));
    if (!config->health_listen.empty()) {
      described.emplace_back("health_port", std::to_string(server->health_port()));
    }
    std::vector<log::LogField> fields;
    fields.push_back({"version", codearts::kGatewayVersion});
    for (const auto& [key, value] : described) fields.push_back({key, value});
    log::Log(log::LogLevel::kInfo, "codearts-gateway serving", fields);
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  // Readiness fails at once, so traffic moves away, but calls are still served: through the drain
  // delay even new ones, then the ones in flight until the drain deadline.
  server->BeginDrain();
  log::Log(log::LogLevel::kInfo, "draining",
           {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
            {"drain_delay_ms", static_cast<std::int64_t>(config->drain_delay.count())},
            {"drain_timeout_ms", static_cast<std::int64_t>(config->drain_timeout.count())},
            {"in_flight", static_cast<std::int64_t>(context.in_flight.count())}});
  if (config->drain_delay > std::chrono::milliseconds::zero()) {
    const timespec delay{
        .tv_sec = static_cast<time_t>(config->drain_delay.count() / 1000),
        .tv_nsec = static_cast<long>((config->drain_delay.count() % 1000) * 1000000)};
    sigtimedwait(&stop_signals, nullptr, &delay);  // a second signal ends the delay early
  }

  // Order matters: the gRPC server drains first (its calls finish on the I/O threads), then the
  // I/O threads stop (the admin endpoint's handlers with them), and only then are the objects
  // they use destroyed.
  server->Shutdown(std::chrono::system_clock::now() + config->drain_timeout);
  if (admin) admin->Stop();
  stop_io();
  admin.reset();
  server.reset();
  client.reset();
  log::Log(log::LogLevel::kInfo, "stopped");
  return 0;
}
