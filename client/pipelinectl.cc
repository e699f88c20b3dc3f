// pipelinectl: a command-line client of the CodeArts Pipeline gateway, for operators and scripts.
//
//   pipelinectl stop --pipeline-id=ID --build-id=ID [--target=ADDR] [--token=T] [--timeout=10s]
//   pipelinectl start|status|runs|pipelines|run ...
//   pipelinectl watch --pipeline-id=ID [--build-id=ID] [--project-id=P] [--json]
//   pipelinectl call METHOD [-d JSON] [--target=ADDR] [--token=T] [--timeout=10s]
//   pipelinectl health [--target=ADDR] [--service=NAME] [--timeout=5s]
//   pipelinectl sign < request.json
//   pipelinectl bench (--concurrency=N | --rate=R) [--duration=10s] [--calls=N] [--channels=N]

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <unistd.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/command_line.h"
#include "client/load_runner.h"
#include "client/pipeline_client.h"
#include "client/sign_command.h"
#include "client/watch_view.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "Address of the gateway: host:port or unix:/path.");
ABSL_FLAG(std::string, pipeline_id, "",
          "stop, start, status, runs: id of the pipeline (required; no default).");
ABSL_FLAG(std::string, build_id, "",
          "stop: id of the build to stop (required); status: the build to read (default: the "
          "latest).");
ABSL_FLAG(std::string, token, "",
          "stop: IAM token to send as x-auth-token; when empty (the default) none is sent and the "
          "gateway signs with its own AK/SK.");
ABSL_FLAG(std::optional<absl::Duration>, timeout, std::nullopt,
          "Deadline of the call, such as 500ms or 30s (default 10s, 5s for health).");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "How long to wait for the gateway to take the connection before the call is sent (it "
          "may be starting or restarting); after that, UNAVAILABLE (exit 14).");
ABSL_FLAG(std::string, service, "",
          "health: service name to check; empty (the default) asks about the server as a whole.");
ABSL_FLAG(std::string, project_id, "",
          "runs, pipelines: the CodeArts project id (not the IAM project id).");
ABSL_FLAG(std::vector<std::string>, param, {},
          "start: build parameters as NAME=VALUE, comma-separated or the flag repeated.");
ABSL_FLAG(int64_t, offset, 0, "runs, pipelines: how many to skip.");
ABSL_FLAG(int64_t, limit, 10, "runs, pipelines: the most to list.");
ABSL_FLAG(std::string, data, "",
          "call: the request message as JSON with the proto's field names (as grpcurl's -d); "
          "'-' reads it from standard input; empty sends an empty request.");
ABSL_FLAG(std::string, d, "", "call: short for --data.");
ABSL_FLAG(bool, wait, false,
          "start, run: then follow the build or run to its end, as watch does, and exit as "
          "watch does.");
ABSL_FLAG(bool, json, false, "watch, --wait: print each message as one line of JSON.");
ABSL_FLAG(std::optional<absl::Duration>, poll_interval, std::nullopt,
          "watch, --wait: how often the gateway reads the state (1s to 60s; default 3s).");
ABSL_FLAG(int, concurrency, 0, "bench: calls kept in flight (closed loop).");
ABSL_FLAG(double, rate, 0, "bench: calls started per second on a fixed schedule (open loop).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "bench: measured time, after --warmup.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "bench: time run but not measured first.");
ABSL_FLAG(uint64_t, calls, 0,
          "bench: start exactly this many calls instead of running for --duration (no warm-up).");
ABSL_FLAG(int, channels, 1,
          "bench: gRPC channels (each with its own connection and completion-queue thread).");

namespace codearts::client {
namespace {

constexpr char kSummary[] = "command-line client of the CodeArts Pipeline gateway.";
constexpr char kUsage[] =
    R"(Usage:
  pipelinectl stop --pipeline-id=ID --build-id=ID [--target=ADDR] [--token=T] [--timeout=10s]
      Stops a pipeline build. Prints the StopResponse as JSON on stdout and CodeArts'
      request id on stderr. The exit status is the gRPC status code (0 for OK).
  pipelinectl start --pipeline-id=ID [--param=NAME=VALUE,...]     (Start, v3)
  pipelinectl status --pipeline-id=ID [--build-id=ID]               (GetStatus; latest build
                                                                     without --build-id)
  pipelinectl runs --project-id=P --pipeline-id=ID [--limit=10 --offset=0]   (ListPipelineRuns)
  pipelinectl pipelines --project-id=P [--limit=10 --offset=0]               (ListPipelines)
  pipelinectl run --project-id=P --pipeline-id=ID [--param=NAME=VALUE,...]   (RunPipeline, v5)
      Each prints the response as JSON and exits with the gRPC status code; --target,
      --token and --timeout (default 10s) as for stop. start and run take --wait.
  pipelinectl watch --pipeline-id=ID [--build-id=ID] [--project-id=P] [--json]
                    [--poll-interval=3s] [--timeout=1h]
      Follows a build (Watch, v3) or, with --project-id, a run (WatchPipelineRun, v5; the run
      id in --build-id) to its end; without --build-id the latest one. On a terminal, a live
      view redrawn in place on each change; otherwise one line per change; --json prints each
      message as JSON. Exit status: 0 the build succeeded, 20 it failed, 21 it was aborted
      (v5: CANCELED), a gRPC error's code (1-16) when the watch failed, 2 for usage errors.
  pipelinectl call METHOD [-d JSON] [--target=ADDR] [--token=T] [--timeout=10s]
      Calls any RPC of codearts.pipeline.v1.PipelineService (Start, GetStatus, Stop,
      RunPipeline, GetPipelineRun, StopPipelineRun, ListPipelineRuns, ListPipelines) with
      the request given as JSON, like grpcurl but from the compiled-in descriptors. Prints
      the response as JSON; the exit status is the gRPC status code.
  pipelinectl health [--target=ADDR] [--service=NAME] [--timeout=5s]
      Asks grpc.health.v1.Health/Check, waiting up to the timeout for a gateway that is
      still starting. Prints the serving status; exits 0 only for SERVING.
  pipelinectl sign < request.json
      Computes an SDK-HMAC-SHA256 signature, to compare with the canonical request APIG
      echoes in an APIGW.0301 error. Input: {"method", "url", "headers": {...}, "body",
      "ak", "sk"}; prints canonical_request, string_to_sign, signed_headers, signature
      and authorization as JSON.

  pipelinectl bench (--concurrency=N | --rate=R) [--duration=10s] [--warmup=1s] [--calls=N]
                   [--channels=1] [--target=ADDR] [--pipeline-id=ID --build-id=ID]
      Load generator: Stop calls on the async client, each with --timeout (default 10s), kept
      N in flight or started R per second. Prints status counts and latency percentiles and a
      RESULT line; exits 0 only if every call was OK.

Every command but sign, health and bench first waits up to --connect-timeout (default 10s)
for the gateway to take the connection (it may be starting or restarting), then exits 14
(UNAVAILABLE) if it has not.

Flag names may be spelt with '-' or '_'. Usage errors exit with status 2.
Run 'pipelinectl --help' to list every flag.)";

constexpr int kUsageExitCode = 2;
constexpr absl::Duration kDefaultStopTimeout = absl::Seconds(10);
constexpr absl::Duration kDefaultHealthTimeout = absl::Seconds(5);
// Keeps now() + timeout far from overflowing; a CLI call longer than a day is a mistake.
constexpr absl::Duration kMaxTimeout = absl::Hours(24);

constexpr absl::Duration kDefaultWatchTimeout = absl::Hours(1);

int UsageError(std::string_view message) {
  std::cerr << "pipelinectl: " << message << "\n\n" << kUsage << "\n";
  return kUsageExitCode;
}

// The --timeout flag or `fallback`, or a usage error message.
std::optional<std::chrono::milliseconds> TimeoutFlag(absl::Duration fallback, std::string* error) {
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout).value_or(fallback);
  if (timeout <= absl::ZeroDuration() || timeout > kMaxTimeout) {
    *error =
        absl::StrCat("--timeout must be positive and at most ", absl::FormatDuration(kMaxTimeout),
                     ", got ", absl::FormatDuration(timeout));
    return std::nullopt;
  }
  // Rounded up, so that a sub-millisecond timeout still gives the call a moment.
  return absl::ToChronoMilliseconds(absl::Ceil(timeout, absl::Milliseconds(1)));
}

google::protobuf::util::JsonPrintOptions JsonOptions() {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  return options;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, JsonOptions()).ok()) {
    // Only messages with unresolvable Any fields fail to print; fall back to the text form.
    return message.ShortDebugString();
  }
  return json;
}

void PrintError(const grpc::Status& status) {
  const auto code = static_cast<int>(status.error_code());
  std::cerr << "error: " << absl::StatusCodeToString(static_cast<absl::StatusCode>(code)) << " ("
            << code << "): " << status.error_message() << "\n";
}

// --timeout (default 10 s), --token: the options of a call subcommand, or a usage error.
std::optional<CallOptions> CallOptionsFromFlags(std::string* error) {
  std::optional<std::chrono::milliseconds> timeout = TimeoutFlag(kDefaultStopTimeout, error);
  if (!timeout) return std::nullopt;
  CallOptions options;
  options.timeout = *timeout;
  options.token = absl::GetFlag(FLAGS_token);
  return options;
}

// The response as JSON on stdout, or the error on stderr, then CodeArts' request id and the
// error details; returns the exit status, the gRPC code.
int Report(const grpc::Status& status, const google::protobuf::Message& response,
           const std::string& request_id, const std::optional<google::rpc::ErrorInfo>& error_info) {
  if (status.ok()) {
    std::cout << ToJson(response) << "\n";
  } else {
    PrintError(status);
  }
  if (!request_id.empty()) std::cerr << "request_id: " << request_id << "\n";
  if (error_info) std::cerr << "error_info: " << ToJson(*error_info) << "\n";
  return static_cast<int>(status.error_code());
}

// The channel to --target once it is connected. A connection attempt that fails (a gateway
// restarting, a handshake cut short) is retried with gRPC's backoff until --connect-timeout, as
// grpcurl waits for its connection, instead of failing the call at the first attempt. Null
// after printing the error.
std::shared_ptr<grpc::Channel> ConnectedChannel() {
  const std::string target = absl::GetFlag(FLAGS_target);
  std::shared_ptr<grpc::Channel> channel = MakeInsecureChannel(target);
  const absl::Duration wait = absl::GetFlag(FLAGS_connect_timeout);
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + wait))) {
    PrintError(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("could not connect to ", target, " within ", absl::FormatDuration(wait))));
    return nullptr;
  }
  return channel;
}

int RunStop() {
  pipeline::v1::StopRequest request;
  request.set_pipeline_id(absl::GetFlag(FLAGS_pipeline_id));
  request.set_build_id(absl::GetFlag(FLAGS_build_id));
  if (request.pipeline_id().empty()) return UsageError("stop needs --pipeline-id");
  if (request.build_id().empty()) return UsageError("stop needs --build-id");
  std::string error;
  const std::optional<CallOptions> options = CallOptionsFromFlags(&error);
  if (!options) return UsageError(error);
  const std::shared_ptr<grpc::Channel> channel = ConnectedChannel();
  if (channel == nullptr) return static_cast<int>(grpc::StatusCode::UNAVAILABLE);
  PipelineClient client(channel);
  const StopResult result = client.Stop(request, *options);
  return Report(result.status, result.response, result.request_id, result.error_info);
}

// One call of `method` with the options from the flags; prints and returns as Report does.
int CallAndReport(const google::protobuf::MethodDescriptor& method,
                  const google::protobuf::Message& request) {
  std::string error;
  const std::optional<CallOptions> options = CallOptionsFromFlags(&error);
  if (!options) return UsageError(error);
  std::unique_ptr<google::protobuf::Message> response(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(method.output_type())
          ->New());
  const std::shared_ptr<grpc::Channel> channel = ConnectedChannel();
  if (channel == nullptr) return static_cast<int>(grpc::StatusCode::UNAVAILABLE);
  PipelineClient client(channel);
  const CallResult result = client.Call(method, request, response.get(), *options);
  return Report(result.status, *response, result.request_id, result.error_info);
}

int RunCall(const std::string& method_name) {
  namespace pb = google::protobuf;
  const pb::ServiceDescriptor* service =
      pipeline::v1::StopRequest::descriptor()->file()->FindServiceByName("PipelineService");
  const pb::MethodDescriptor* method = service->FindMethodByName(method_name);
  if (method == nullptr || method->client_streaming() || method->server_streaming()) {
    std::string known;
    for (int i = 0; i < service->method_count(); ++i) {
      if (service->method(i)->server_streaming()) continue;
      absl::StrAppend(&known, known.empty() ? "" : ", ", service->method(i)->name());
    }
    return UsageError(absl::StrCat("call: no unary method \"", method_name, "\" in ",
                                   service->full_name(), " (known: ", known, ")"));
  }
  std::string json = absl::GetFlag(FLAGS_data);
  if (json.empty()) json = absl::GetFlag(FLAGS_d);
  if (json == "-") json.assign(std::istreambuf_iterator<char>(std::cin), {});
  if (json.empty()) json = "{}";
  const pb::Message* prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(method->input_type());
  std::unique_ptr<pb::Message> request(prototype->New());
  if (const auto parsed = pb::util::JsonStringToMessage(json, request.get()); !parsed.ok()) {
    return UsageError(absl::StrCat("call: the request is not a ", method->input_type()->full_name(),
                                   " in JSON: ", std::string(parsed.message())));
  }
  return CallAndReport(*method, *request);
}

// Prints each state `reader` delivers (a live view on a terminal, a line per change otherwise, or
// JSON lines), then returns the exit status: the build's result, or the gRPC code of an error.
template <typename Message>
int Follow(grpc::ClientReader<Message>& reader) {
  const bool json = absl::GetFlag(FLAGS_json);
  const bool terminal = !json && isatty(STDOUT_FILENO) == 1;
  Message message;
  RunView view;
  std::size_t frame_lines = 0;
  while (reader.Read(&message)) {
    view = ViewOf(message, absl::Now());
    if (json) {
      std::cout << ToJson(message) << std::endl;
    } else if (terminal) {
      // Up over the previous frame and clear it, then draw the new one in its place.
      if (frame_lines > 0) std::cout << "\x1b[" << frame_lines << "A\x1b[J";
      const std::string frame = RenderFrame(view);
      frame_lines = static_cast<std::size_t>(std::count(frame.begin(), frame.end(), '\n'));
      std::cout << frame << std::flush;
    } else {
      std::cout << RenderLine(view) << std::endl;
    }
  }
  const grpc::Status status = reader.Finish();
  if (!status.ok()) {
    PrintError(status);
    return static_cast<int>(status.error_code());
  }
  return ExitCodeOf(view.result);
}

// watch, start --wait, run --wait: follows `run_id` (empty: the latest) of --pipeline-id, a v5
// run when --project-id is set.
int RunWatch(const std::string& run_id) {
  namespace v1 = pipeline::v1;
  const std::string pipeline_id = absl::GetFlag(FLAGS_pipeline_id);
  const std::string project_id = absl::GetFlag(FLAGS_project_id);
  if (pipeline_id.empty()) return UsageError("watch needs --pipeline-id");
  std::string error;
  const std::optional<std::chrono::milliseconds> timeout =
      TimeoutFlag(kDefaultWatchTimeout, &error);
  if (!timeout) return UsageError(error);
  google::protobuf::Duration interval;
  if (const std::optional<absl::Duration> every = absl::GetFlag(FLAGS_poll_interval)) {
    const absl::Duration whole = absl::Trunc(*every, absl::Seconds(1));
    interval.set_seconds(absl::ToInt64Seconds(whole));
    interval.set_nanos(static_cast<std::int32_t>(absl::ToInt64Nanoseconds(*every - whole)));
  }
  const std::shared_ptr<grpc::Channel> channel = ConnectedChannel();
  if (channel == nullptr) return static_cast<int>(grpc::StatusCode::UNAVAILABLE);
  auto stub = v1::PipelineService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + *timeout);
  if (const std::string token = absl::GetFlag(FLAGS_token); !token.empty()) {
    context.AddMetadata("x-auth-token", token);
  }
  if (project_id.empty()) {
    v1::WatchRequest request;
    request.set_pipeline_id(pipeline_id);
    request.set_build_id(run_id);
    if (interval.seconds() != 0 || interval.nanos() != 0)
      *request.mutable_poll_interval() = interval;
    return Follow(*stub->Watch(&context, request));
  }
  v1::WatchPipelineRunRequest request;
  request.set_project_id(project_id);
  request.set_pipeline_id(pipeline_id);
  request.set_pipeline_run_id(run_id);
  if (interval.seconds() != 0 || interval.nanos() != 0) *request.mutable_poll_interval() = interval;
  return Follow(*stub->WatchPipelineRun(&context, request));
}

// --param=NAME=VALUE,... into `add()`'s parameters; false (after a usage message) when malformed.
template <typename Add>
bool ParamsFromFlag(Add add, int* exit_code) {
  for (const std::string& param : absl::GetFlag(FLAGS_param)) {
    const std::size_t equals = param.find('=');
    if (equals == std::string::npos || equals == 0) {
      *exit_code = UsageError(absl::StrCat("--param wants NAME=VALUE, got \"", param, "\""));
      return false;
    }
    pipeline::v1::Parameter* parameter = add();
    parameter->set_name(param.substr(0, equals));
    parameter->set_value(param.substr(equals + 1));
  }
  return true;
}

// start --wait and run --wait: the call, its response on stdout, then the watch.
template <typename Response>
int StartAndWatch(const google::protobuf::MethodDescriptor& method,
                  const google::protobuf::Message& request,
                  const std::string& (Response::*run_id)() const) {
  std::string error;
  const std::optional<CallOptions> options = CallOptionsFromFlags(&error);
  if (!options) return UsageError(error);
  Response response;
  const std::shared_ptr<grpc::Channel> channel = ConnectedChannel();
  if (channel == nullptr) return static_cast<int>(grpc::StatusCode::UNAVAILABLE);
  PipelineClient client(channel);
  const CallResult result = client.Call(method, request, &response, *options);
  if (!result.status.ok()) {
    return Report(result.status, response, result.request_id, result.error_info);
  }
  std::cerr << method.name() << ": " << ToJson(response) << "\n";
  return RunWatch((response.*run_id)());
}

// Start, status, runs and pipelines: the request built from the flags the other subcommands
// use, then the same call and report as `call`.
int RunShortcut(std::string_view subcommand) {
  namespace v1 = pipeline::v1;
  const std::string pipeline_id = absl::GetFlag(FLAGS_pipeline_id);
  const std::string project_id = absl::GetFlag(FLAGS_project_id);
  const auto method = [](const char* name) {
    return v1::StopRequest::descriptor()
        ->file()
        ->FindServiceByName("PipelineService")
        ->FindMethodByName(name);
  };
  if (subcommand != "pipelines" && pipeline_id.empty()) {
    return UsageError(absl::StrCat(std::string(subcommand), " needs --pipeline-id"));
  }
  if ((subcommand == "runs" || subcommand == "pipelines" || subcommand == "run") &&
      project_id.empty()) {
    return UsageError(
        absl::StrCat(std::string(subcommand), " needs --project-id (the CodeArts project)"));
  }
  int exit_code = 0;
  if (subcommand == "start") {
    v1::StartRequest request;
    request.set_pipeline_id(pipeline_id);
    if (!ParamsFromFlag([&request] { return request.add_build_params(); }, &exit_code)) {
      return exit_code;
    }
    if (absl::GetFlag(FLAGS_wait)) {
      return StartAndWatch(*method("Start"), request, &v1::StartResponse::build_id);
    }
    return CallAndReport(*method("Start"), request);
  }
  if (subcommand == "run") {
    v1::RunPipelineRequest request;
    request.set_project_id(project_id);
    request.set_pipeline_id(pipeline_id);
    if (!ParamsFromFlag([&request] { return request.add_variables(); }, &exit_code)) {
      return exit_code;
    }
    if (absl::GetFlag(FLAGS_wait)) {
      return StartAndWatch(*method("RunPipeline"), request,
                           &v1::RunPipelineResponse::pipeline_run_id);
    }
    return CallAndReport(*method("RunPipeline"), request);
  }
  if (subcommand == "status") {
    v1::GetStatusRequest request;
    request.set_pipeline_id(pipeline_id);
    request.set_build_id(absl::GetFlag(FLAGS_build_id));
    return CallAndReport(*method("GetStatus"), request);
  }
  if (subcommand == "runs") {
    v1::ListPipelineRunsRequest request;
    request.set_project_id(project_id);
    request.set_pipeline_id(pipeline_id);
    request.set_offset(absl::GetFlag(FLAGS_offset));
    request.set_limit(absl::GetFlag(FLAGS_limit));
    return CallAndReport(*method("ListPipelineRuns"), request);
  }
  v1::ListPipelinesRequest request;
  request.set_project_id(project_id);
  request.set_offset(absl::GetFlag(FLAGS_offset));
  request.set_limit(absl::GetFlag(FLAGS_limit));
  return CallAndReport(*method("ListPipelines"), request);
}

int RunHealth() {
  std::string error;
  std::optional<std::chrono::milliseconds> timeout = TimeoutFlag(kDefaultHealthTimeout, &error);
  if (!timeout) return UsageError(error);

  auto stub = grpc::health::v1::Health::NewStub(MakeInsecureChannel(absl::GetFlag(FLAGS_target)));
  grpc::ClientContext context;
  // Waits through connection failures until the deadline, so that scripts can use this to wait
  // for a gateway that is still starting.
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + *timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    PrintError(status);
    return static_cast<int>(status.error_code());
  }
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()) << "\n";
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

int RunSign() {
  const std::string input{std::istreambuf_iterator<char>(std::cin),
                          std::istreambuf_iterator<char>()};
  if (std::cin.bad()) {
    std::cerr << "error: cannot read the request from stdin\n";
    return kUsageExitCode;
  }
  absl::StatusOr<std::string> output = SignCommand(input);
  if (!output.ok()) {
    std::cerr << "error: " << output.status().message() << "\n";
    return kUsageExitCode;
  }
  std::cout << *output << "\n";
  return 0;
}

int RunBench() {
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const double rate = absl::GetFlag(FLAGS_rate);
  if ((concurrency > 0) == (rate > 0))
    return UsageError("bench needs one of --concurrency, --rate");
  if (concurrency < 0 || rate < 0) return UsageError("--concurrency and --rate must be positive");
  const int channels = absl::GetFlag(FLAGS_channels);
  if (channels < 1 || channels > 64) return UsageError("--channels must be between 1 and 64");
  std::string error;
  std::optional<std::chrono::milliseconds> timeout = TimeoutFlag(kDefaultStopTimeout, &error);
  if (!timeout) return UsageError(error);

  pipeline::v1::StopRequest request;
  request.set_pipeline_id(absl::GetFlag(FLAGS_pipeline_id).empty()
                              ? "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
                              : absl::GetFlag(FLAGS_pipeline_id));
  request.set_build_id(absl::GetFlag(FLAGS_build_id).empty() ? "3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b"
                                                             : absl::GetFlag(FLAGS_build_id));
  CallOptions call_options;
  call_options.timeout = *timeout;
  call_options.token = absl::GetFlag(FLAGS_token);

  // One channel per client: gRPC would otherwise share one connection among them.
  std::vector<std::unique_ptr<PipelineClient>> clients;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("grpc.channel_id", i);  // distinct arguments: a connection of its own
    clients.push_back(std::make_unique<PipelineClient>(grpc::CreateCustomChannel(
        absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials(), arguments)));
  }
  std::atomic<std::uint64_t> next_client{0};

  LoadOptions load;
  load.concurrency = concurrency;
  load.rate = rate;
  load.duration = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_duration));
  load.warmup = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_warmup));
  load.calls = absl::GetFlag(FLAGS_calls);
  const LoadReport report = RunLoad(load, [&](std::function<void(int)> done) {
    PipelineClient& client = *clients[next_client.fetch_add(1) % clients.size()];
    client.StopAsync(request, call_options, [done = std::move(done)](const StopResult& result) {
      done(static_cast<int>(result.status.error_code()));
    });
  });
  std::cout << FormatLoadReport(report, [](int code) {
    return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  });
  return report.calls > 0 && report.ok == report.calls ? 0 : 1;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrCat(kSummary, "\n\n", kUsage));
  if (const std::optional<int> exit_code = cli::HandleHelp(
          argc, argv,
          {.usage = absl::StrCat("pipelinectl: ", kSummary, "\n\n", kUsage),
           .is_own_flag =
               [](std::string_view file) { return file.ends_with("client/pipelinectl.cc"); },
           .version = "pipelinectl " CODEARTS_VERSION "\n"},
          std::cout)) {
    return *exit_code;
  }
  absl::StatusOr<cli::Positional> positional = cli::ParseFlags(argc, argv);
  if (!positional.ok()) return UsageError(std::string(positional.status().message()));
  if (positional->size() < 2) return UsageError("missing subcommand");
  if ((*positional)[1] == "call") {
    if (positional->size() != 3) return UsageError("call needs exactly one METHOD");
    return RunCall((*positional)[2]);
  }
  if (positional->size() > 2) {
    return UsageError(absl::StrCat("unexpected argument \"", (*positional)[2], "\""));
  }
  const std::string_view subcommand = (*positional)[1];
  if (subcommand == "stop") return RunStop();
  if (subcommand == "watch") return RunWatch(absl::GetFlag(FLAGS_build_id));
  if (subcommand == "start" || subcommand == "status" || subcommand == "runs" ||
      subcommand == "pipelines" || subcommand == "run") {
    return RunShortcut(subcommand);
  }
  if (subcommand == "health") return RunHealth();
  if (subcommand == "sign") return RunSign();
  if (subcommand == "bench") return RunBench();
  return UsageError(absl::StrCat("unknown subcommand \"", std::string(subcommand), "\""));
}

}  // namespace
}  // namespace codearts::client

int main(int argc, char** argv) { return codearts::client::Main(argc, argv); }
