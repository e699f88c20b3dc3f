#include "upstream/tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <stdexcept>

namespace codearts::upstream {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE on a connection the peer has
// reset; the client is a library and does not rely on the process ignoring it. This BIO sends
// with MSG_NOSIGNAL and receives with recv(2), on the descriptor of the TlsStream::BioState its
// data points to, and holds writes back while that state says so.
TlsStream::BioState& State(BIO* bio) {
  return *static_cast<TlsStream::BioState*>(BIO_get_data(bio));
}

bool ShouldRetry(ssize_t result) {
  return result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

int SocketWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  TlsStream::BioState& state = State(bio);
  const auto length = static_cast<std::size_t>(size);
  if (state.hold) {
    state.held.append(data, length);
    return size;
  }
  if (state.held.empty()) {
    const ssize_t sent = ::send(state.fd, data, length, MSG_NOSIGNAL);
    if (ShouldRetry(sent)) BIO_set_retry_write(bio);
    return static_cast<int>(sent);
  }
  // The held bytes first, and `data` in the same send when the socket takes both.
  iovec parts[2] = {{state.held.data(), state.held.size()}, {const_cast<char*>(data), length}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  const ssize_t sent = ::sendmsg(state.fd, &message, MSG_NOSIGNAL);
  if (sent < 0) {
    if (ShouldRetry(sent)) BIO_set_retry_write(bio);
    return -1;
  }
  const auto taken = static_cast<std::size_t>(sent);
  if (taken <= state.held.size()) {
    // The socket is full before any of `data` went: OpenSSL writes it again once it is writable.
    state.held.erase(0, taken);
    BIO_set_retry_write(bio);
    return -1;
  }
  state.held.clear();
  return static_cast<int>(taken - parts[0].iov_len);
}

int SocketRead(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  TlsStream::BioState& state = State(bio);
  const ssize_t received = ::recv(state.fd, data, static_cast<std::size_t>(size), 0);
  if (ShouldRetry(received)) BIO_set_retry_read(bio);
  if (received > 0 && state.hold_after_read) state.hold = true;
  return static_cast<int>(received);
}

long SocketControl(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  // A flush succeeds at once: held bytes go out when the stream next waits to read, or with the
  // next write.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* SocketMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* created =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "codearts socket");
    if (created != nullptr) {
      BIO_meth_set_write(created, SocketWrite);
      BIO_meth_set_read(created, SocketRead);
      BIO_meth_set_ctrl(created, SocketControl);
    }
    return created;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(asio::io_context& io, asio::ssl::context& tls)
    : socket_(io), ssl_(SSL_new(tls.native_handle())) {
  if (ssl_ == nullptr) throw std::runtime_error("SSL_new failed");
  // Read what the socket has in one recv(2), not a record header and then its body in two.
  SSL_set_read_ahead(ssl_, 1);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

bool TlsStream::Renew() {
  error_code ignored;
  socket_.close(ignored);
  SSL* renewed = SSL_new(SSL_get_SSL_CTX(ssl_));
  if (renewed == nullptr) return false;
  SSL_free(ssl_);
  ssl_ = renewed;
  SSL_set_read_ahead(ssl_, 1);
  attached_ = false;
  bio_ = BioState{};
  return true;
}

TlsStream::Step TlsStream::Classify(int result, error_code* ec) {
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
      return Step::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Step::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      *ec = asio::error::eof;
      return Step::kDone;
    case SSL_ERROR_SYSCALL: {
      const unsigned long queued = ERR_get_error();
      if (queued != 0) {
        *ec = error_code(static_cast<int>(queued), asio::error::get_ssl_category());
      } else if (errno != 0) {
        *ec = error_code(errno, asio::error::get_system_category());
      } else {
        *ec = asio::ssl::error::stream_truncated;  // EOF without close_notify
      }
      return Step::kDone;
    }
    default: {
      const unsigned long queued = ERR_get_error();
      if (ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        // OpenSSL 3's word for a peer that closed without close_notify.
        *ec = asio::ssl::error::stream_truncated;
      } else if (queued != 0) {
        *ec = error_code(static_cast<int>(queued), asio::error::get_ssl_category());
      } else {
        *ec = asio::error::fault;
      }
      return Step::kDone;
    }
  }
}

TlsStream::Step TlsStream::Try(bool read, asio::mutable_buffer buffer, std::size_t* transferred,
                               error_code* ec) {
  *transferred = 0;
  *ec = {};
  if (buffer.size() == 0) return Step::kDone;
  if (!attached_) {
    *ec = asio::error::not_connected;
    return Step::kDone;
  }
  ERR_clear_error();
  errno = 0;
  const int result = read ? SSL_read_ex(ssl_, buffer.data(), buffer.size(), transferred)
                          : SSL_write_ex(ssl_, buffer.data(), buffer.size(), transferred);
  if (result == 1) return Step::kDone;
  *transferred = 0;
  return Classify(result, ec);
}

TlsStream::Step TlsStream::TryHandshake(error_code* ec) {
  *ec = {};
  ERR_clear_error();
  errno = 0;
  const int result = SSL_connect(ssl_);
  if (result == 1) return Step::kDone;
  const Step step = Classify(result, ec);
  if (step == Step::kDone && *ec == asio::error::eof) *ec = asio::ssl::error::stream_truncated;
  return step;
}

bool TlsStream::IdleAndOpen() {
  if (!attached_ || !socket_.is_open()) return false;
  const int fd = socket_.native_handle();
  const auto nothing_pending = [fd] {
    char byte = 0;
    const ssize_t peeked = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  };
  // With read-ahead, OpenSSL may hold bytes it took from the socket but has not processed.
  if (SSL_has_pending(ssl_) == 0 && nothing_pending()) return true;
  // Bytes (or FIN) are waiting: OpenSSL reads them. Only handshake records (tickets) may be
  // consumed without returning anything; data, an alert or the end make it unusable.
  ERR_clear_error();
  char byte = 0;
  std::size_t peeked = 0;
  const int result = SSL_peek_ex(ssl_, &byte, 1, &peeked);
  if (result == 1 || SSL_get_error(ssl_, result) != SSL_ERROR_WANT_READ) return false;
  return SSL_has_pending(ssl_) == 0 && nothing_pending();
}

TlsStream::Step TlsStream::TrySendHeld(error_code* ec) {
  *ec = {};
  while (!bio_.held.empty()) {
    const ssize_t sent = ::send(bio_.fd, bio_.held.data(), bio_.held.size(), MSG_NOSIGNAL);
    if (ShouldRetry(sent)) return Step::kWantWrite;
    if (sent < 0) {
      *ec = error_code(errno, asio::error::get_system_category());
      bio_.held.clear();
      return Step::kDone;
    }
    bio_.held.erase(0, static_cast<std::size_t>(sent));
  }
  return Step::kDone;
}

bool TlsStream::SendHeld() {
  if (!attached_ || !socket_.is_open()) return false;
  error_code ec;
  TrySendHeld(&ec);  // what the socket cannot take yet goes before the first write
  return !ec;
}

TlsStream::Step TlsStream::BeforeWait(Step step, error_code* ec) {
  *ec = {};
  if (step != Step::kWantRead || bio_.held.empty()) return step;
  return TrySendHeld(ec) == Step::kWantWrite ? Step::kWantWrite : step;
}

asio::awaitable<error_code> TlsStream::Handshake() {
  error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) co_return ec;
  BIO* bio = SocketMethod() != nullptr ? BIO_new(SocketMethod()) : nullptr;
  if (bio == nullptr) co_return asio::error::no_memory;
  bio_.fd = socket_.native_handle();
  BIO_set_data(bio, &bio_);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // the SSL owns it now; the socket stays the socket's to close
  attached_ = true;
  // The ClientHello goes at once. Each later flight is held until the handshake must wait for
  // the server, and sent then; the last one is still held when the handshake ends, for the
  // first write to take along.
  bio_.hold_after_read = true;
  while (true) {
    Step step = TryHandshake(&ec);
    if (step == Step::kDone) {
      bio_.hold = false;
      bio_.hold_after_read = false;
      if (ec) SendHeld();  // an alert telling the server why
      co_return ec;
    }
    error_code send_ec;
    step = BeforeWait(step, &send_ec);
    if (send_ec) {
      bio_.hold = false;
      bio_.hold_after_read = false;
      co_return send_ec;
    }
    auto [wait_ec] =
        co_await socket_.async_wait(step == Step::kWantRead ? asio::ip::tcp::socket::wait_read
                                                            : asio::ip::tcp::socket::wait_write,
                                    asio::as_tuple(asio::use_awaitable));
    if (wait_ec) co_return wait_ec;
  }
}

asio::awaitable<std::pair<error_code, std::size_t>> TlsStream::ReadSome(
    asio::mutable_buffer buffer) {
  while (true) {
    // A closed socket (the call cancelled) may have had its descriptor reused: never touch it.
    if (!socket_.is_open()) co_return std::pair{error_code(asio::error::bad_descriptor), 0};
    std::size_t read = 0;
    error_code ec;
    Step step = Try(/*read=*/true, buffer, &read, &ec);
    if (step == Step::kDone) co_return std::pair{ec, read};
    step = BeforeWait(step, &ec);  // a read before any write
    if (ec) co_return std::pair{ec, 0};
    auto [wait_ec] =
        co_await socket_.async_wait(step == Step::kWantRead ? asio::ip::tcp::socket::wait_read
                                                            : asio::ip::tcp::socket::wait_write,
                                    asio::as_tuple(asio::use_awaitable));
    if (wait_ec) co_return std::pair{wait_ec, 0};
  }
}

asio::awaitable<error_code> TlsStream::Write(asio::const_buffer data) {
  // SSL_write_ex retried after a wait must be given the same buffer, which `data` stays.
  const asio::mutable_buffer buffer(const_cast<void*>(data.data()), data.size());  // only read
  while (true) {
    if (!socket_.is_open()) co_return asio::error::bad_descriptor;
    std::size_t written = 0;
    error_code ec;
    Step step = Try(/*read=*/false, buffer, &written, &ec);
    if (step == Step::kDone) co_return ec;  // without partial writes, all or nothing
    step = BeforeWait(step, &ec);           // a write that must first read (a renegotiation)
    if (ec) co_return ec;
    auto [wait_ec] =
        co_await socket_.async_wait(step == Step::kWantRead ? asio::ip::tcp::socket::wait_read
                                                            : asio::ip::tcp::socket::wait_write,
                                    asio::as_tuple(asio::use_awaitable));
    if (wait_ec) co_return wait_ec;
  }
}

}  // namespace codearts::upstream
