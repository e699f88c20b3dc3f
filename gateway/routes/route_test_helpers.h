#ifndef CODEARTS_GATEWAY_ROUTES_ROUTE_TEST_HELPERS_H_
#define CODEARTS_GATEWAY_ROUTES_ROUTE_TEST_HELPERS_H_

// For the unit tests of routes/: the routes of the compiled-in services.

#include <chrono>

#include "auth/clock.h"
#include "codearts/pipeline/v1/pipeline.grpc.pb.h"
#include "routes/route_table.h"

namespace codearts::routes {

/// The route table of `service`, built once per service; the test fails if it cannot be built.
inline const RouteTable& TableOf(const google::protobuf::ServiceDescriptor* service) {
  static auto* tables = new std::vector<std::pair<const void*, RouteTable>>();
  for (const auto& [key, table] : *tables) {
    if (key == service) return table;
  }
  absl::StatusOr<RouteTable> built = BuildRouteTable(*service);
  if (!built.ok()) std::abort();
  tables->emplace_back(service, *std::move(built));
  return tables->back().second;
}

/// PipelineService.Stop's route, exactly as the gateway serves it.
inline const Route& StopRoute() {
  return *TableOf(
              pipeline::v1::StopRequest::descriptor()->file()->FindServiceByName("PipelineService"))
              .Find("Stop");
}

/// 2024-01-15T08:30:00Z, the time the signing vectors were made at.
class FrozenClock final : public auth::Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1705307400));
  }
};

}  // namespace codearts::routes

#endif  // CODEARTS_GATEWAY_ROUTES_ROUTE_TEST_HELPERS_H_
