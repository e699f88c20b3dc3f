#include "upstream/connection_pool.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

namespace codearts::upstream {

namespace asio = boost::asio;

struct ConnectionPool::Waiter {
  explicit Waiter(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  // Set under the pool mutex when the waiter is served (then it has left the queue): a
  // connection to use, or the failure of the opening it owned.
  std::unique_ptr<Connection> connection;
  std::optional<ConnectResult> failure;
  // The opening started (or adopted) on this waiter's behalf, if any, and the waiter's place
  // in the queue. Guarded by the pool mutex; changed only through SetOpeningLocked,
  // EnqueueLocked and DequeueLocked, which keep the count of waiters without an opening.
  std::shared_ptr<Opening> opening;
  std::list<std::shared_ptr<Waiter>>::iterator position;
  bool queued = false;
  // Set on the waiter's strand when the caller cancels.
  bool cancelled = false;
};

// One connection being established, for the pool; `owner` is the waiter told if it fails.
struct ConnectionPool::Opening {
  explicit Opening(asio::strand<asio::io_context::executor_type> executor)
      : strand(std::move(executor)) {}
  asio::strand<asio::io_context::executor_type> strand;  // where the connect runs
  std::unique_ptr<Connection> connection;  // touched on `strand` only, but for its creation
  std::weak_ptr<Waiter> owner;             // guarded by the pool mutex
  // Guarded by the pool mutex: its place in openings_, and whether it is in orphans_.
  std::list<std::shared_ptr<Opening>>::iterator position;
  bool orphan = false;
};

ConnectionPool::ConnectionPool(asio::io_context& io, asio::ssl::context& tls, PoolOptions options,
                               Connector connector)
    : io_(io), tls_(tls), options_(options), connector_(std::move(connector)) {}

ConnectionPool::~ConnectionPool() { Close(); }

void ConnectionPool::Close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (auto& connection : idle_) connection->Close();
  open_ -= idle_.size();
  idle_.clear();
  // Closing the socket aborts the connect or handshake, and the opening ends as failed. The
  // socket is closed on the opening's strand, never beside an operation pending on it.
  for (auto& opening : openings_) {
    asio::post(opening->strand, [opening] {
      if (opening->connection) opening->connection->Close();
    });
  }
}

bool ConnectionPool::IsReusable(Connection& connection,
                                std::chrono::steady_clock::time_point now) const {
  if (now - connection.idle_since > options_.idle_timeout) return false;
  return connection.stream.IdleAndOpen();
}

void ConnectionPool::Wake(const std::shared_ptr<Waiter>& waiter) {
  asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
}

void ConnectionPool::EnqueueLocked(const std::shared_ptr<Waiter>& waiter) {
  waiter->position = waiters_.insert(waiters_.end(), waiter);
  waiter->queued = true;
  if (!waiter->opening) ++waiters_without_opening_;
}

void ConnectionPool::DequeueLocked(Waiter& waiter) {
  if (!waiter.queued) return;
  if (!waiter.opening) --waiters_without_opening_;
  waiter.queued = false;
  waiters_.erase(waiter.position);
}

void ConnectionPool::SetOpeningLocked(Waiter& waiter, std::shared_ptr<Opening> opening) {
  if (waiter.queued && !waiter.opening && opening) --waiters_without_opening_;
  if (waiter.queued && waiter.opening && !opening) ++waiters_without_opening_;
  waiter.opening = std::move(opening);
}

void ConnectionPool::StartOpeningLocked(const std::shared_ptr<Waiter>& owner) {
  auto opening = std::make_shared<Opening>(asio::make_strand(io_));
  opening->connection = std::make_unique<Connection>(io_, tls_, next_id_++);
  opening->owner = owner;
  SetOpeningLocked(*owner, opening);
  opening->position = openings_.insert(openings_.end(), opening);
  asio::co_spawn(opening->strand, RunOpening(opening), asio::detached);
}

void ConnectionPool::StartOpeningsLocked() {
  if (closed_) return;
  for (auto it = waiters_.begin();
       it != waiters_.end() && waiters_without_opening_ > 0 && open_ < options_.max_connections;) {
    const std::shared_ptr<Waiter>& waiter = *it++;
    if (waiter->opening) continue;
    ++open_;
    StartOpeningLocked(waiter);
  }
}

void ConnectionPool::PassOnOpeningLocked(const std::shared_ptr<Opening>& opening) {
  opening->owner.reset();
  if (waiters_without_opening_ > 0) {
    for (const auto& waiter : waiters_) {
      if (waiter->opening) continue;
      SetOpeningLocked(*waiter, opening);
      opening->owner = waiter;
      return;
    }
  }
  opening->orphan = true;
  orphans_.push_back(opening);
}

void ConnectionPool::RemoveWaiterLocked(const std::shared_ptr<Waiter>& waiter) {
  DequeueLocked(*waiter);
  if (std::shared_ptr<Opening> opening = std::move(waiter->opening)) PassOnOpeningLocked(opening);
}

void ConnectionPool::HandOverLocked(std::unique_ptr<Connection> connection) {
  if (waiters_.empty()) {
    // A new connection nobody waits for any more: its handshake's last flight goes now, not
    // with a request that may come much later. One whose socket fails at that is not kept.
    if (connection->requests == 0 && !connection->stream.SendHeld()) {
      connection->Close();
      --open_;
      return;
    }
    idle_.push_back(std::move(connection));
    return;
  }
  std::shared_ptr<Waiter> waiter = waiters_.front();
  RemoveWaiterLocked(waiter);
  waiter->connection = std::move(connection);
  Wake(waiter);
}

asio::awaitable<void> ConnectionPool::RunOpening(std::shared_ptr<Opening> opening) {
  Connection& connection = *opening->connection;
  ConnectResult result =
      co_await connector_(connection, std::chrono::steady_clock::now() + options_.connect_timeout);
  std::lock_guard lock(mutex_);
  openings_.erase(opening->position);
  if (opening->orphan) std::erase(orphans_, opening);
  std::shared_ptr<Waiter> owner = opening->owner.lock();
  if (owner) SetOpeningLocked(*owner, nullptr);
  if (result.status.ok() && !closed_) {
    connection.established = true;
    connection.idle_since = std::chrono::steady_clock::now();
    HandOverLocked(std::move(opening->connection));
    StartOpeningsLocked();  // the owner may still be waiting, now without an opening
    co_return;
  }
  connection.Close();
  opening->connection.reset();
  --open_;
  if (owner) {
    DequeueLocked(*owner);
    if (result.status.ok()) result.status = absl::CancelledError("the connection pool is closed");
    owner->failure = std::move(result);
    Wake(owner);
  }
  StartOpeningsLocked();
}

asio::awaitable<Acquired> ConnectionPool::Acquire(std::chrono::steady_clock::time_point deadline,
                                                  asio::cancellation_slot cancel) {
  std::vector<std::unique_ptr<Connection>> stale;
  std::shared_ptr<Waiter> waiter;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    std::unique_ptr<Connection> found;
    while (!idle_.empty() && !found) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      if (IsReusable(*connection, now)) {
        found = std::move(connection);
      } else {
        stale.push_back(std::move(connection));
      }
    }
    open_ -= stale.size();
    if (!found && closed_) {
      for (auto& dead : stale) dead->Close();
      Acquired refused;
      refused.status = absl::UnavailableError("the upstream client is shutting down");
      co_return refused;
    }
    if (!found) {
      waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
      EnqueueLocked(waiter);
      // An opening whose call has gone is adopted; otherwise one is started, below the cap.
      if (!orphans_.empty()) {
        std::shared_ptr<Opening> orphan = std::move(orphans_.back());
        orphans_.pop_back();
        orphan->orphan = false;
        orphan->owner = waiter;
        SetOpeningLocked(*waiter, std::move(orphan));
      } else if (open_ < options_.max_connections) {
        ++open_;
        StartOpeningLocked(waiter);
      }
    }
    if (found) {
      for (auto& dead : stale) dead->Close();
      Acquired acquired;
      acquired.connection = std::move(found);
      co_return acquired;
    }
  }
  for (auto& dead : stale) dead->Close();

  waiter->timer.expires_at(deadline);
  if (cancel.is_connected()) {
    cancel.assign([waiter](asio::cancellation_type) {
      waiter->cancelled = true;
      waiter->timer.cancel();
    });
  }
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (cancel.is_connected()) cancel.clear();

  Acquired acquired;
  bool was_connecting = false;
  {
    std::lock_guard lock(mutex_);
    acquired.connection = std::move(waiter->connection);
    acquired.connect = std::move(waiter->failure);
    if (!acquired.connection && !acquired.connect) {
      // Neither served nor failed: the wait ended by deadline or cancel, still in the queue.
      was_connecting = waiter->opening != nullptr;
      RemoveWaiterLocked(waiter);
    }
  }
  const bool expired = std::chrono::steady_clock::now() >= deadline;
  if (acquired.connection && (waiter->cancelled || expired)) {
    Release(std::move(acquired.connection), true);  // served too late: the next caller takes it
  }
  if (acquired.connection) co_return acquired;
  if (acquired.connect) {
    acquired.status = acquired.connect->status;
    co_return acquired;
  }
  if (waiter->cancelled) {
    acquired.status = absl::CancelledError("cancelled while waiting for a connection");
  } else if (was_connecting) {
    acquired.status = absl::DeadlineExceededError(
        "timed out during connect (TCP connect and TLS handshake); the connection goes on for "
        "the pool");
  } else {
    acquired.status = absl::DeadlineExceededError(
        "deadline passed while waiting for a free upstream connection (pool exhausted)");
  }
  co_return acquired;
}

void ConnectionPool::Release(std::unique_ptr<Connection> connection, bool reusable) {
  if (!reusable) connection->Close();
  connection->idle_since = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (reusable && !closed_) {
    HandOverLocked(std::move(connection));
    return;
  }
  if (reusable) connection->Close();
  connection.reset();
  --open_;
  StartOpeningsLocked();  // the slot passes to a waiting call
}

ConnectionPool::Stats ConnectionPool::GetStats() const {
  std::lock_guard lock(mutex_);
  return Stats{open_, idle_.size(), openings_.size(), waiters_.size(), next_id_ - 1};
}

}  // namespace codearts::upstream
