#include "upstream/connection_pool.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>

#include "absl/status/status.h"

namespace codearts::upstream {

namespace asio = boost::asio;

struct ConnectionPool::Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  // Set under the pool mutex by Release: either a connection to reuse, or the right to open one.
  std::unique_ptr<Connection> connection;
  bool may_open = false;
  // Set on the waiter's strand when the caller cancels.
  bool cancelled = false;
};

ConnectionPool::ConnectionPool(asio::io_context& io, asio::ssl::context& tls, PoolOptions options)
    : io_(io), tls_(tls), options_(options) {}

ConnectionPool::~ConnectionPool() {
  for (auto& connection : idle_) {
    connection->Close();
  }
}

std::unique_ptr<Connection> ConnectionPool::NewConnectionLocked() {
  return std::make_unique<Connection>(io_, tls_, next_id_++);
}

bool ConnectionPool::IsReusable(Connection& connection,
                                std::chrono::steady_clock::time_point now) const {
  if (now - connection.idle_since > options_.idle_timeout) return false;
  auto& socket = connection.stream.next_layer().socket();
  if (!socket.is_open()) return false;
  // A keep-alive peer that gave up on us has sent FIN (recv returns 0) and maybe a TLS alert
  // (bytes readable); either way the connection must not carry a request.
  char byte = 0;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

asio::awaitable<absl::StatusOr<std::unique_ptr<Connection>>> ConnectionPool::Acquire(
    std::chrono::steady_clock::time_point deadline, asio::cancellation_slot cancel) {
  std::vector<std::unique_ptr<Connection>> stale;
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    while (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      if (IsReusable(*connection, now)) {
        for (auto& dead : stale) {
          dead->Close();
        }
        open_ -= stale.size();
        co_return connection;
      }
      stale.push_back(std::move(connection));
    }
    open_ -= stale.size();
    if (open_ < options_.max_connections) {
      ++open_;
      co_return NewConnectionLocked();
    }
    waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    waiters_.push_back(waiter);
  }
  for (auto& dead : stale) {
    dead->Close();
  }

  waiter->timer.expires_at(deadline);
  if (cancel.is_connected()) {
    cancel.assign([waiter](asio::cancellation_type) {
      waiter->cancelled = true;
      waiter->timer.cancel();
    });
  }
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (cancel.is_connected()) cancel.clear();

  std::unique_ptr<Connection> handed;
  bool may_open = false;
  {
    std::lock_guard lock(mutex_);
    handed = std::move(waiter->connection);
    may_open = waiter->may_open;
    if (!handed && !may_open) std::erase(waiters_, waiter);
  }
  const bool expired = std::chrono::steady_clock::now() >= deadline;
  if (waiter->cancelled || expired) {
    if (handed) {
      Release(std::move(handed), true);
    } else if (may_open) {
      std::lock_guard lock(mutex_);
      --open_;
    }
    if (waiter->cancelled)
      co_return absl::CancelledError("cancelled while waiting for a connection");
    co_return absl::DeadlineExceededError(
        "deadline passed while waiting for a free upstream connection (pool exhausted)");
  }
  if (handed) co_return handed;
  std::lock_guard lock(mutex_);
  co_return NewConnectionLocked();
}

void ConnectionPool::Release(std::unique_ptr<Connection> connection, bool reusable) {
  if (!reusable) {
    connection->Close();
    connection.reset();
  } else {
    connection->idle_since = std::chrono::steady_clock::now();
  }
  std::lock_guard lock(mutex_);
  if (!waiters_.empty()) {
    std::shared_ptr<Waiter> waiter = std::move(waiters_.front());
    waiters_.pop_front();
    if (connection) {
      waiter->connection = std::move(connection);
    } else {
      waiter->may_open = true;  // the closed connection's slot passes to the waiter
    }
    asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
    return;
  }
  if (connection) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
}

ConnectionPool::Stats ConnectionPool::GetStats() const {
  std::lock_guard lock(mutex_);
  return Stats{open_, idle_.size(), waiters_.size(), next_id_ - 1};
}

}  // namespace codearts::upstream
