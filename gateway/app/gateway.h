#ifndef CODEARTS_GATEWAY_APP_GATEWAY_H_
#define CODEARTS_GATEWAY_APP_GATEWAY_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "admin/admin_server.h"
#include "auth/clock.h"
#include "auth/credentials.h"
#include "iam/project_resolver.h"
#include "observability/metrics.h"
#include "routes/route_table.h"
#include "service/call_context.h"
#include "service/gateway_server.h"
#include "service/route_service.h"
#include "upstream/endpoint.h"
#include "upstream/https_client.h"

namespace codearts::app {

/// Everything the gateway is built from, already validated (main.cc fills it from Config; the
/// e2e fixture from its test options).
/// Where and how the IAM project id is looked up when none is configured.
struct IamSettings {
  upstream::Endpoint endpoint;
  iam::ProjectLookupOptions lookup;
};

struct GatewaySettings {
  /// The service to serve; its routes are read from its descriptors.
  const google::protobuf::ServiceDescriptor* service = nullptr;
  upstream::Endpoint endpoint;
  /// PEM file of CAs for the upstream; empty: the system store.
  std::string ca_file;
  upstream::ClientOptions client;
  /// AK/SK fixed at start (null: none), unless `credentials_file` is set.
  std::shared_ptr<const auth::AkSkCredentials> credentials;
  std::string credentials_file;
  std::chrono::milliseconds credentials_check{1000};
  /// Set: the AK/SK's project id is looked up from IAM (until then the gateway is not ready).
  std::optional<IamSettings> iam;
  service::ServiceOptions service_options;
  int io_threads = 1;
  service::ListenOptions listen;
  /// Empty: no admin endpoint.
  std::string admin_listen;
  std::string version = "dev";
  /// The wall clock for X-Sdk-Date; null: the system clock. Must outlive the gateway.
  const auth::Clock* clock = nullptr;
  /// When the watch polls run; null: real time (tests drive their own). Must outlive the
  /// gateway.
  service::PollClock* poll_clock = nullptr;
};

/// The whole gateway, composed in one place: the route table, the I/O threads, the upstream
/// client, credentials, metrics, the gRPC server and the admin endpoint. main.cc and the e2e
/// fixture both build it with Create, so the tests run the object graph that ships.
class Gateway {
 public:
  /// Builds every part; nothing listens yet. Fails with one line (a route that cannot be
  /// mapped, an unreadable CA or credentials file).
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(GatewaySettings settings);
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;
  /// Shuts down (at once) if Shutdown was not called.
  ~Gateway();

  /// Starts the I/O threads, the admin endpoint and the gRPC server (SERVING).
  absl::Status Start();
  /// Readiness fails; calls are still served.
  void BeginDrain();
  /// Drains the gRPC server until `drain_deadline`, then stops the admin endpoint and the I/O
  /// threads. Idempotent.
  void Shutdown(std::chrono::system_clock::time_point drain_deadline);

  int port() const { return server_->port(); }
  int health_port() const { return server_->health_port(); }
  int admin_port() const { return admin_ ? admin_->port() : 0; }
  const routes::RouteTable& routes() const { return table_; }
  upstream::HttpsClient& client() { return *client_; }
  service::GatewayServer& server() { return *server_; }
  service::CallContext& context() { return *context_; }
  observability::GatewayMetrics& metrics() { return metrics_; }

 private:
  explicit Gateway(GatewaySettings settings);

  GatewaySettings settings_;
  routes::RouteTable table_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<upstream::HttpsClient> client_;
  std::unique_ptr<upstream::HttpsClient> iam_client_;  // outlives credentials_
  std::unique_ptr<auth::CredentialSource> credentials_;
  iam::ProjectResolvingSource* resolver_ = nullptr;  // in credentials_ when looking up
  auth::SystemClock system_clock_;
  observability::GatewayMetrics metrics_;
  std::unique_ptr<service::CallContext> context_;
  std::unique_ptr<service::RouteService> route_service_;
  std::unique_ptr<service::GatewayServer> server_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::vector<std::thread> io_threads_;
  bool stopped_ = false;
};

}  // namespace codearts::app

#endif  // CODEARTS_GATEWAY_APP_GATEWAY_H_
