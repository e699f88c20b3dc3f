// pipelinectl: a command-line client of the CodeArts Pipeline gateway, for operators and scripts.
//
//   pipelinectl stop --pipeline-id=ID --build-id=ID [--target=ADDR] [--token=T] [--timeout=10s]
//   pipelinectl health [--target=ADDR] [--service=NAME] [--timeout=5s]
//   pipelinectl sign < request.json

#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/command_line.h"
#include "client/pipeline_client.h"
#include "client/sign_command.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "Address of the gateway: host:port or unix:/path.");
ABSL_FLAG(std::string, pipeline_id, "",
          "stop: id of the pipeline whose build to stop (required; no default).");
ABSL_FLAG(std::string, build_id, "", "stop: id of the build to stop (required; no default).");
ABSL_FLAG(std::string, token, "",
          "stop: IAM token to send as x-auth-token; when empty (the default) none is sent and the "
          "gateway signs with its own AK/SK.");
ABSL_FLAG(std::optional<absl::Duration>, timeout, std::nullopt,
          "Deadline of the call, such as 500ms or 30s (default 10s for stop, 5s for health).");
ABSL_FLAG(std::string, service, "",
          "health: service name to check; empty (the default) asks about the server as a whole.");

namespace codearts::client {
namespace {

constexpr char kSummary[] = "command-line client of the CodeArts Pipeline gateway.";
constexpr char kUsage[] =
    R"(Usage:
  pipelinectl stop --pipeline-id=ID --build-id=ID [--target=ADDR] [--token=T] [--timeout=10s]
      Stops a pipeline build. Prints the StopResponse as JSON on stdout and CodeArts'
      request id on stderr. The exit status is the gRPC status code (0 for OK).
  pipelinectl health [--target=ADDR] [--service=NAME] [--timeout=5s]
      Asks grpc.health.v1.Health/Check, waiting up to the timeout for a gateway that is
      still starting. Prints the serving status; exits 0 only for SERVING.
  pipelinectl sign < request.json
      Computes an SDK-HMAC-SHA256 signature, to compare with the canonical request APIG
      echoes in an APIGW.0301 error. Input: {"method", "url", "headers": {...}, "body",
      "ak", "sk"}; prints canonical_request, string_to_sign, signed_headers, signature
      and authorization as JSON.

Flag names may be spelt with '-' or '_'. Usage errors exit with status 2.
Run 'pipelinectl --help' to list every flag.)";

constexpr int kUsageExitCode = 2;
constexpr absl::Duration kDefaultStopTimeout = absl::Seconds(10);
constexpr absl::Duration kDefaultHealthTimeout = absl::Seconds(5);
// Keeps now() + timeout far from overflowing; a CLI call longer than a day is a mistake.
constexpr absl::Duration kMaxTimeout = absl::Hours(24);

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

int RunStop() {
  pipeline::v1::StopRequest request;
  request.set_pipeline_id(absl::GetFlag(FLAGS_pipeline_id));
  request.set_build_id(absl::GetFlag(FLAGS_build_id));
  if (request.pipeline_id().empty()) return UsageError("stop needs --pipeline-id");
  if (request.build_id().empty()) return UsageError("stop needs --build-id");
  std::string error;
  std::optional<std::chrono::milliseconds> timeout = TimeoutFlag(kDefaultStopTimeout, &error);
  if (!timeout) return UsageError(error);

  CallOptions options;
  options.timeout = *timeout;
  options.token = absl::GetFlag(FLAGS_token);
  PipelineClient client(MakeInsecureChannel(absl::GetFlag(FLAGS_target)));
  const StopResult result = client.Stop(request, options);

  if (result.status.ok()) {
    std::cout << ToJson(result.response) << "\n";
  } else {
    PrintError(result.status);
  }
  if (!result.request_id.empty()) std::cerr << "request_id: " << result.request_id << "\n";
  if (result.error_info) std::cerr << "error_info: " << ToJson(*result.error_info) << "\n";
  return static_cast<int>(result.status.error_code());
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

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrCat(kSummary, "\n\n", kUsage));
  absl::StatusOr<cli::Positional> positional = cli::ParseFlags(argc, argv);
  if (!positional.ok()) return UsageError(std::string(positional.status().message()));
  if (positional->size() < 2) return UsageError("missing subcommand");
  if (positional->size() > 2) {
    return UsageError(absl::StrCat("unexpected argument \"", (*positional)[2], "\""));
  }
  const std::string_view subcommand = (*positional)[1];
  if (subcommand == "stop") return RunStop();
  if (subcommand == "health") return RunHealth();
  if (subcommand == "sign") return RunSign();
  return UsageError(absl::StrCat("unknown subcommand \"", std::string(subcommand), "\""));
}

}  // namespace
}  // namespace codearts::client

int main(int argc, char** argv) { return codearts::client::Main(argc, argv); }
