#ifndef CODEARTS_GATEWAY_ADMIN_ADMIN_SERVER_H_
#define CODEARTS_GATEWAY_ADMIN_ADMIN_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace codearts::admin {

/// What the admin endpoint serves; each function is called on an I/O thread per request.
struct AdminHandlers {
  /// The body of GET /metrics (Prometheus text format).
  std::function<std::string()> metrics;
  /// GET /readyz answers 200 while this returns true, 503 otherwise (draining, not started).
  std::function<bool()> ready;
};

/// The operators' HTTP/1.1 endpoint, apart from the gRPC port: GET /metrics, /healthz (200 while
/// the process serves HTTP at all), /readyz. Plain HTTP: it carries no secrets, and Prometheus and
/// the kubelet speak it. Runs on the given io_context; requests are small and bounded, idle
/// connections are closed after a timeout.
class AdminServer {
 public:
  AdminServer(boost::asio::io_context& io, AdminHandlers handlers);
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;
  ~AdminServer();

  /// Binds `address` (`host:port`, `[v6]:port`; port 0 picks one) and starts accepting.
  absl::Status Start(const std::string& address);
  int port() const { return port_; }

  /// Stops accepting and closes open connections. Idempotent.
  void Stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
  int port_ = 0;
};

}  // namespace codearts::admin

#endif  // CODEARTS_GATEWAY_ADMIN_ADMIN_SERVER_H_
