// codearts-standin: the CodeArts stand-in as a process, for the demo and for manual testing.
//
//   codearts-standin --ak=AK --sk=SK [--token=TOKEN] [--ca-out=PATH] [--port-file=PATH]
//                    [--cert=valid|wrong-host|expired|untrusted]
//
// Generates a fresh test PKI, serves https://127.0.0.1:<ephemeral port> until SIGTERM or SIGINT,
// then exits 0. Flag names may be spelled with '-' or '_'.

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/command_line.h"
#include "standin/standin.h"

ABSL_FLAG(std::string, ak, "", "Access key the stand-in accepts (SDK-HMAC-SHA256)");
ABSL_FLAG(std::string, sk, "", "Secret key the stand-in accepts (SDK-HMAC-SHA256)");
ABSL_FLAG(std::string, token, "", "X-Auth-Token value the stand-in accepts; empty refuses tokens");
ABSL_FLAG(std::string, ca_out, "", "If set, write the test CA certificate (PEM) to this path");
ABSL_FLAG(std::string, port_file, "", "If set, write the listening port to this path");
ABSL_FLAG(absl::Duration, delay, absl::ZeroDuration(),
          "Answer every request this much later (the wait does not block the server)");
ABSL_FLAG(absl::Duration, job_duration, absl::Seconds(2),
          "How long each job of a started build or run takes (three jobs in two stages)");
ABSL_FLAG(bool, quiet, false, "Do not log each request (for load tests)");
ABSL_FLAG(std::string, cert, "valid",
          "Server certificate to present: valid, wrong-host, expired or untrusted");

namespace {

using codearts::testing::CodeArtsStandin;
using codearts::testing::RecordedRequest;
using codearts::testing::ServerCert;
using codearts::testing::StandinReply;

bool ParseCert(std::string_view name, ServerCert& cert) {
  if (name == "valid") {
    cert = ServerCert::kValid;
  } else if (name == "wrong-host") {
    cert = ServerCert::kWrongHost;
  } else if (name == "expired") {
    cert = ServerCert::kExpired;
  } else if (name == "untrusted") {
    cert = ServerCert::kUntrusted;
  } else {
    return false;
  }
  return true;
}

// Writes through a temporary file and a rename, so that a script polling for `path` never reads
// a half-written file.
bool WriteFileAtomically(const std::string& path, std::string_view contents) {
  const std::string temporary = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<codearts::cli::Positional> positional = codearts::cli::ParseFlags(argc, argv);
  if (!positional.ok()) {
    std::cerr << "codearts-standin: " << positional.status().message() << "\n";
    return 2;
  }

  codearts::testing::StandinOptions options;
  options.access_key = absl::GetFlag(FLAGS_ak);
  options.secret_key = absl::GetFlag(FLAGS_sk);
  options.valid_token = absl::GetFlag(FLAGS_token);
  options.job_duration = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_job_duration));
  options.real_time_world = true;
  if (!ParseCert(absl::GetFlag(FLAGS_cert), options.cert)) {
    std::cerr << "codearts-standin: --cert must be valid, wrong-host, expired or untrusted\n";
    return 2;
  }
  if (options.access_key.empty() != options.secret_key.empty()) {
    std::cerr << "codearts-standin: --ak and --sk go together\n";
    return 2;
  }

  // Block the stop signals before any thread starts, so that every thread inherits the mask and
  // sigwait below is the only place they are delivered.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const codearts::testing::TestPki pki = codearts::testing::TestPki::Generate();
  const std::string ca_out = absl::GetFlag(FLAGS_ca_out);
  if (!ca_out.empty() && !WriteFileAtomically(ca_out, pki.ca_cert_pem)) {
    std::cerr << "codearts-standin: cannot write the CA certificate to " << ca_out << "\n";
    return 1;
  }

  CodeArtsStandin standin(std::move(options), pki);
  const auto delay = absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_delay));
  const bool quiet = absl::GetFlag(FLAGS_quiet);
  standin.SetHandler([&standin, delay, quiet](const RecordedRequest& request) {
    StandinReply reply = standin.DefaultReply(request);
    reply.delay = delay;
    if (quiet) return reply;
    // Never the Authorization header or the token: the log may end up in CI artifacts.
    std::cerr << absl::StrCat("codearts-standin: ", request.method, " ", request.target, " -> ",
                              reply.status, " auth_ok=", request.auth_ok ? "true" : "false",
                              " connection=", request.connection_id, "\n")
              << std::flush;
    return reply;
  });

  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty() && !WriteFileAtomically(port_file, absl::StrCat(standin.port(), "\n"))) {
    std::cerr << "codearts-standin: cannot write the port to " << port_file << "\n";
    return 1;
  }
  std::cout << "codearts-standin listening on " << standin.endpoint() << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cerr << "codearts-standin: signal " << signal_number << ", shutting down\n";
  return 0;
}
