#include "app/gateway.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "auth/credentials_file.h"
#include "observability/thread_name.h"
#include "upstream/tls_context.h"

namespace codearts::app {

Gateway::Gateway(GatewaySettings settings)
    : settings_(std::move(settings)),
      io_(settings_.io_threads),
      work_(boost::asio::make_work_guard(io_)),
      metrics_(settings_.version) {}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewaySettings settings) {
  if (settings.service == nullptr) return absl::InvalidArgumentError("no service to serve");
  absl::StatusOr<routes::RouteTable> table = routes::BuildRouteTable(*settings.service);
  if (!table.ok()) return table.status();
  absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> tls =
      upstream::MakeClientTlsContext(settings.ca_file);
  if (!tls.ok()) return tls.status();
  std::unique_ptr<auth::CredentialSource> credentials;
  if (settings.credentials_file.empty()) {
    credentials = std::make_unique<auth::StaticCredentialSource>(settings.credentials);
  } else {
    absl::StatusOr<std::unique_ptr<auth::FileCredentialSource>> from_file =
        auth::FileCredentialSource::Open(settings.credentials_file, settings.credentials_check);
    if (!from_file.ok()) return from_file.status();
    credentials = *std::move(from_file);
  }

  std::unique_ptr<Gateway> gateway(new Gateway(std::move(settings)));
  Gateway& g = *gateway;
  g.table_ = *std::move(table);
  g.tls_ = *std::move(tls);
  g.client_ = std::make_unique<upstream::HttpsClient>(g.io_, *g.tls_, g.settings_.endpoint,
                                                      g.settings_.client);
  const auth::Clock& clock = g.settings_.clock ? *g.settings_.clock : g.system_clock_;
  if (g.settings_.iam) {
    upstream::ClientOptions iam_options;
    iam_options.pool.max_connections = 2;
    iam_options.pool.connect_timeout = g.settings_.client.pool.connect_timeout;
    g.iam_client_ = std::make_unique<upstream::HttpsClient>(g.io_, *g.tls_,
                                                            g.settings_.iam->endpoint, iam_options);
    auto resolver = std::make_unique<iam::ProjectResolvingSource>(
        std::move(credentials), *g.iam_client_, clock, g.io_, g.settings_.iam->lookup);
    g.resolver_ = resolver.get();
    credentials = std::move(resolver);
  }
  g.credentials_ = std::move(credentials);
  g.context_ = std::make_unique<service::CallContext>(g.io_, *g.client_, *g.credentials_, clock,
                                                      g.metrics_, g.settings_.service_options);
  g.context_->io_single_threaded = g.settings_.io_threads == 1;
  g.metrics_.SetSnapshotSource(
      [context = g.context_.get()] { return service::TakeMetricsSnapshot(*context); });
  g.route_service_ = std::make_unique<service::RouteService>(g.table_, g.metrics_);
  g.server_ = std::make_unique<service::GatewayServer>(*g.context_, *g.route_service_,
                                                       g.settings_.poll_clock);
  if (!g.settings_.admin_listen.empty()) {
    g.admin_ = std::make_unique<admin::AdminServer>(
        g.io_, admin::AdminHandlers{.metrics = [&g] { return g.metrics_.Serialize(); },
                                    .ready = [&g] { return g.server_->ready(); }});
  }
  return gateway;
}

Gateway::~Gateway() { Shutdown(std::chrono::system_clock::now()); }

absl::Status Gateway::Start() {
  io_threads_.reserve(static_cast<std::size_t>(settings_.io_threads));
  for (int i = 0; i < settings_.io_threads; ++i) {
    io_threads_.emplace_back([this, i] {
      observability::NameThisThread(absl::StrCat("gw-io-", i));
      io_.run();
    });
  }
  if (admin_) {
    if (absl::Status started = admin_->Start(settings_.admin_listen); !started.ok()) {
      return started;
    }
  }
  if (resolver_ != nullptr) {
    // Not ready until the project id is known; the resolver says when it is.
    server_->SetDependenciesReady(false);
    resolver_->OnReadyChanged(
        [server = server_.get()](bool ready) { server->SetDependenciesReady(ready); });
  }
  if (absl::Status started = server_->Start(settings_.listen); !started.ok()) return started;
  if (resolver_ != nullptr) resolver_->Start();
  return absl::OkStatus();
}

void Gateway::BeginDrain() { server_->BeginDrain(); }

void Gateway::Shutdown(std::chrono::system_clock::time_point drain_deadline) {
  if (stopped_) return;
  stopped_ = true;
  // Order matters: the gRPC server drains first (its calls finish on the I/O threads), then the
  // I/O threads stop (the admin endpoint's handlers with them), and only then are the objects
  // they use destroyed.
  server_->Shutdown(drain_deadline);
  if (resolver_ != nullptr) resolver_->Stop();
  client_->Close();
  if (iam_client_) iam_client_->Close();
  if (admin_) admin_->Stop();
  work_.reset();
  io_.stop();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
}

}  // namespace codearts::app
