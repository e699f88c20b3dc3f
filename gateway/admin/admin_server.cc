#include "admin/admin_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <chrono>
#include <list>
#include <mutex>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace codearts::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kAsTuple = asio::as_tuple(asio::use_awaitable);

// A scraper or probe sends one small GET; anything slower or larger is not one.
constexpr std::chrono::seconds kIdleTimeout{30};
constexpr std::chrono::seconds kIoTimeout{10};
constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;

absl::StatusOr<tcp::endpoint> ParseAddress(const std::string& address) {
  std::string_view host;
  std::string_view port_text;
  const std::string_view text = address;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("admin address \"", address, "\" must be host:port or [v6]:port"));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("admin address \"", address, "\" must be host:port"));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin address \"", address, "\" has an invalid port"));
  }
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code parse_error;
  const asio::ip::address ip = asio::ip::make_address(std::string(host), parse_error);
  if (parse_error) {
    return absl::InvalidArgumentError(absl::StrCat(
        "admin address \"", address, "\" needs a numeric IP address (or localhost) as host"));
  }
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

http::response<http::string_body> Respond(const http::request<http::empty_body>& request,
                                          const AdminHandlers& handlers) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  std::string_view target = request.target();
  target = target.substr(0, target.find('?'));
  if (request.method() != http::verb::get) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET");
    response.body() = "only GET is served here\n";
  } else if (target == "/metrics") {
    response.result(http::status::ok);
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = handlers.metrics ? handlers.metrics() : std::string();
  } else if (target == "/healthz") {
    response.result(http::status::ok);
    response.body() = "ok\n";
  } else if (target == "/readyz") {
    const bool ready = handlers.ready && handlers.ready();
    response.result(ready ? http::status::ok : http::status::service_unavailable);
    response.body() = ready ? "ready\n" : "not ready: draining or not started\n";
  } else {
    response.result(http::status::not_found);
    response.body() = "not found; try /metrics, /healthz or /readyz\n";
  }
  response.prepare_payload();
  return response;
}

}  // namespace

struct AdminServer::State : std::enable_shared_from_this<AdminServer::State> {
  State(asio::io_context& io_context, AdminHandlers admin_handlers)
      : io(io_context),
        acceptor(asio::make_strand(io_context)),
        handlers(std::move(admin_handlers)) {}

  asio::awaitable<void> Accept() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kAsTuple);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) continue;  // e.g. EMFILE: keep serving the connections we have
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      std::list<std::shared_ptr<beast::tcp_stream>>::iterator position;
      {
        std::lock_guard lock(mutex);
        if (stopped) co_return;
        position = connections.insert(connections.end(), stream);
      }
      asio::co_spawn(stream->get_executor(), Serve(stream, position), asio::detached);
    }
  }

  asio::awaitable<void> Serve(std::shared_ptr<beast::tcp_stream> stream,
                              std::list<std::shared_ptr<beast::tcp_stream>>::iterator position) {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(0);
      stream->expires_after(kIdleTimeout);
      auto [read_ec, read_bytes] = co_await http::async_read(*stream, buffer, parser, kAsTuple);
      if (read_ec) break;
      const http::response<http::string_body> response = Respond(parser.get(), handlers);
      stream->expires_after(kIoTimeout);
      auto [write_ec, written] = co_await http::async_write(*stream, response, kAsTuple);
      if (write_ec || !response.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->socket().close(ignored);
    std::lock_guard lock(mutex);
    connections.erase(position);
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  const AdminHandlers handlers;
  std::mutex mutex;
  bool stopped = false;
  std::list<std::shared_ptr<beast::tcp_stream>> connections;  // guarded by mutex
};

AdminServer::AdminServer(asio::io_context& io, AdminHandlers handlers)
    : state_(std::make_shared<State>(io, std::move(handlers))) {}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start(const std::string& address) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseAddress(address);
  if (!endpoint.ok()) return endpoint.status();
  boost::system::error_code ec;
  tcp::acceptor& acceptor = state_->acceptor;
  if (acceptor.open(endpoint->protocol(), ec); !ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(*endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on admin address ", address, ": ", ec.message()));
  }
  port_ = acceptor.local_endpoint().port();
  asio::co_spawn(acceptor.get_executor(), state_->Accept(), asio::detached);
  return absl::OkStatus();
}

void AdminServer::Stop() {
  std::shared_ptr<State> state = state_;
  {
    std::lock_guard lock(state->mutex);
    if (state->stopped) return;
    state->stopped = true;
  }
  // Each socket is touched only on its own strand; a connection's coroutine takes the shutdown
  // as the end of its connection and removes itself.
  asio::post(state->acceptor.get_executor(), [state] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
  });
  std::lock_guard lock(state->mutex);
  for (const std::shared_ptr<beast::tcp_stream>& stream : state->connections) {
    asio::post(stream->get_executor(), [stream] {
      boost::system::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->cancel();
    });
  }
}

}  // namespace codearts::admin
