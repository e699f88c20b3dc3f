// codearts-gateway: serves codearts.pipeline.v1.PipelineService over gRPC and forwards each call
// to the CodeArts Pipeline REST API. This file is the composition root: it builds and owns every
// long-lived object and does nothing else.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "app/gateway.h"
#include "cli/command_line.h"
#include "codearts/pipeline/v1/pipeline.grpc.pb.h"
#include "config.h"
#include "observability/log.h"
#include "service/listener_credentials.h"
#include "version.h"

#ifdef GATEWAY_WITH_MIMALLOC
#include <mimalloc.h>
#endif

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
ABSL_FLAG(std::string, iam_endpoint, "",
          "IAM endpoint for looking up the project id when none is configured (as the SDKs do: "
          "GET /v3/projects?name=REGION); default: HUAWEICLOUD_SDK_IAM_ENDPOINT, else "
          "https://iam.REGION.myhuaweicloud.com");
ABSL_FLAG(absl::Duration, upstream_timeout, absl::Seconds(30),
          "Longest time one call may spend upstream; also the cap on a caller's deadline");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "Longest time a new upstream connection may take (TCP connect plus TLS handshake); "
          "beyond it that attempt fails like a refused connect and is retried");
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

// What serves malloc/free in this process, for the start-up line.
std::string AllocatorName() {
#ifdef GATEWAY_WITH_MIMALLOC
  const int version = mi_version();  // e.g. 209 for 2.0.9
  return absl::StrCat("mimalloc ", version / 100, ".", version / 10 % 10, ".", version % 10);
#else
  return "glibc";
#endif
}

namespace log = codearts::observability;

// The flags that GATEWAY_<NAME> environment variables may set: every flag defined in this file.
std::vector<std::string> GatewayFlags() {
  std::vector<std::string> names;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "gateway/main.cc")) names.emplace_back(name);
  }
  return names;
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
  const char* const usage =
      "Serves codearts.pipeline.v1.PipelineService over gRPC and forwards each call to the "
      "CodeArts Pipeline REST API (the route declared in the proto), signed with "
      "HUAWEICLOUD_SDK_AK/SK.\n"
      "Every flag can also be set with the environment variable GATEWAY_<FLAG> (for example\n"
      "GATEWAY_LISTEN, GATEWAY_UPSTREAM_TIMEOUT); a flag on the command line wins. Flag names\n"
      "may be written with '-' or '_' (--log-level, --log_level). Durations: 500ms, 30s, 1m.";
  absl::SetProgramUsageMessage(usage);
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
  if (const std::optional<int> exit_code = codearts::cli::HandleHelp(
          argc, argv,
          {.usage = absl::StrCat("Usage: codearts-gateway [flags]\n", usage),
           .is_own_flag = [](std::string_view file) { return file.ends_with("gateway/main.cc"); },
           .version = usage_config.version_string()},
          std::cout)) {
    return *exit_code;
  }
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
  raw.iam_endpoint = absl::GetFlag(FLAGS_iam_endpoint);
  raw.upstream_timeout = ToMillis(absl::GetFlag(FLAGS_upstream_timeout));
  raw.connect_timeout = ToMillis(absl::GetFlag(FLAGS_connect_timeout));
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

  codearts::app::GatewaySettings settings;
  settings.service = codearts::pipeline::v1::StopRequest::descriptor()->file()->FindServiceByName(
      "PipelineService");
  settings.endpoint = config->endpoint;
  settings.ca_file = config->ca_file;
  settings.client.pool.max_connections = config->max_connections;
  settings.client.pool.connect_timeout = config->connect_timeout;
  settings.credentials = config->credentials;
  settings.credentials_file = config->credentials_file;
  if (config->iam) {
    settings.iam = codearts::app::IamSettings{
        .endpoint = config->iam->endpoint,
        .lookup = {.region = config->iam->region, .user_agent = codearts::kUserAgent}};
  }
  settings.service_options.request = {.project_id = config->project_id,
                                      .user_agent = codearts::kUserAgent};
  settings.service_options.upstream_timeout = config->upstream_timeout;
  settings.service_options.max_in_flight = config->max_in_flight;
  settings.io_threads = config->io_threads;
  settings.listen = std::move(listen_options);
  settings.admin_listen = config->admin_listen;
  settings.version = codearts::kGatewayVersion;
  absl::StatusOr<std::unique_ptr<codearts::app::Gateway>> gateway =
      codearts::app::Gateway::Create(std::move(settings));
  if (!gateway.ok()) FailStartup(gateway.status().message());
  if (absl::Status started = (*gateway)->Start(); !started.ok()) {
    gateway->reset();
    FailStartup(started.message());
  }
  {
    std::vector<std::pair<std::string, std::string>> described = codearts::DescribeConfig(*config);
    described.emplace_back("grpc_port", std::to_string((*gateway)->port()));
    if (!config->admin_listen.empty()) {
      described.emplace_back("admin_port", std::to_string((*gateway)->admin_port()));
    }
    if (!config->health_listen.empty()) {
      described.emplace_back("health_port", std::to_string((*gateway)->health_port()));
    }
    described.emplace_back("routes", std::to_string((*gateway)->routes().routes.size()));
    const std::string allocator = AllocatorName();  // outlives `fields`, which view it
    std::vector<log::LogField> fields;
    fields.push_back({"version", codearts::kGatewayVersion});
    fields.push_back({"allocator", allocator});
    for (const auto& [key, value] : described) fields.push_back({key, value});
    log::Log(log::LogLevel::kInfo, "codearts-gateway serving", fields);
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  // Readiness fails at once, so traffic moves away, but calls are still served: through the drain
  // delay even new ones, then the ones in flight until the drain deadline.
  (*gateway)->BeginDrain();
  log::Log(log::LogLevel::kInfo, "draining",
           {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
            {"drain_delay_ms", static_cast<std::int64_t>(config->drain_delay.count())},
            {"drain_timeout_ms", static_cast<std::int64_t>(config->drain_timeout.count())},
            {"in_flight", static_cast<std::int64_t>((*gateway)->context().in_flight.count())}});
  if (config->drain_delay > std::chrono::milliseconds::zero()) {
    const timespec delay{
        .tv_sec = static_cast<time_t>(config->drain_delay.count() / 1000),
        .tv_nsec = static_cast<long>((config->drain_delay.count() % 1000) * 1000000)};
    sigtimedwait(&stop_signals, nullptr, &delay);  // a second signal ends the delay early
  }

  (*gateway)->Shutdown(std::chrono::system_clock::now() + config->drain_timeout);
  gateway->reset();
  log::Log(log::LogLevel::kInfo, "stopped");
  return 0;
}
