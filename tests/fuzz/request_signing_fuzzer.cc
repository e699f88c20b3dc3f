// libFuzzer target: what callers and configuration hand the gateway. The input is split on NUL
// into fields for request validation, token validation, endpoint parsing and the signer; none may
// crash, and whatever validation accepts must build a request whose target is exactly the
// canonical one and whose signature the signer reproduces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "auth/clock.h"
#include "auth/request_auth.h"
#include "auth/signer.h"
#include "codearts/pipeline/v1/pipeline.pb.h"
#include "routes/rest_call.h"
#include "routes/route_table.h"
#include "upstream/endpoint.h"

namespace {

class FrozenClock final : public codearts::auth::Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1705307400));
  }
};

std::vector<std::string> Fields(std::string_view input, std::size_t count) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < count; ++i) {
    const std::size_t end = input.find('\0', start);
    if (end == std::string_view::npos) break;
    fields.emplace_back(input.substr(start, end - start));
    start = end + 1;
  }
  fields.emplace_back(input.substr(std::min(start, input.size())));
  fields.resize(count);
  return fields;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> f = Fields(input, 8);

  static const codearts::routes::RouteTable* table =
      new codearts::routes::RouteTable(*codearts::routes::BuildRouteTable(
          *codearts::pipeline::v1::StopRequest::descriptor()->file()->FindServiceByName(
              "PipelineService")));
  const codearts::routes::Route& stop = *table->Find("Stop");
  (void)codearts::auth::ValidateAuthToken(f[2]);
  (void)codearts::upstream::ParseEndpoint(f[3]);

  codearts::auth::SigningRequest signing{f[4], f[5], {{f[0], f[1]}}, {{f[6], f[7]}}, f[7]};
  signing.headers.emplace_back("X-Sdk-Date", "20240115T083000Z");
  (void)codearts::auth::SignSdkHmacSha256(signing, f[0], f[1]);

  codearts::pipeline::v1::StopRequest request;
  request.set_pipeline_id(f[0]);
  request.set_build_id(f[1]);
  if (!stop.request_rules.Validate(request).ok()) return 0;

  FrozenClock clock;
  auto credentials = std::make_shared<codearts::auth::AkSkCredentials>(
      codearts::auth::AkSkCredentials{"AK", f[6], "", ""});
  auto built = codearts::routes::BuildUpstreamCall(
      stop, request, {"", "fuzz"}, codearts::auth::CallCredentials{"", credentials}, clock);
  if (!built.ok()) std::abort();  // validation accepted it, so the route must build it
  codearts::routes::UpstreamCall& call = *built;
  // Valid ids need no escaping: the wire target is the canonical one, byte for byte.
  const std::string expected = "/v3/pipelines/" + f[0] + "/stop?build_id=" + f[1];
  if (call.request.target != expected) std::abort();
  if (!call.prepare("host.example", call.request).ok()) std::abort();
  return 0;
}
