#include "upstream/tls_stream.h"

#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <stdexcept>

namespace codearts::upstream {

namespace asio = boost::asio;
using boost::system::error_code;

TlsStream::TlsStream(asio::io_context& io, asio::ssl::context& tls)
    : socket_(io), ssl_(SSL_new(tls.native_handle())) {
  if (ssl_ == nullptr) throw std::runtime_error("SSL_new failed");
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

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

asio::awaitable<error_code> TlsStream::Handshake() {
  error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) co_return ec;
  if (SSL_set_fd(ssl_, socket_.native_handle()) != 1) co_return asio::error::bad_descriptor;
  attached_ = true;
  while (true) {
    const Step step = TryHandshake(&ec);
    if (step == Step::kDone) co_return ec;
    auto [wait_ec] =
        co_await socket_.async_wait(step == Step::kWantRead ? asio::ip::tcp::socket::wait_read
                                                            : asio::ip::tcp::socket::wait_write,
                                    asio::as_tuple(asio::use_awaitable));
    if (wait_ec) co_return wait_ec;
  }
}

}  // namespace codearts::upstream
