#ifndef CODEARTS_GATEWAY_UPSTREAM_TLS_STREAM_H_
#define CODEARTS_GATEWAY_UPSTREAM_TLS_STREAM_H_

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <string>
#include <utility>

namespace codearts::upstream {

/// A client TLS stream with OpenSSL reading and writing the socket itself (through a BIO on
/// the descriptor): the reactor is asked only whether the socket is readable or writable. Unlike
/// asio::ssl::stream there is no BIO pair and no pair of 17 KiB staging buffers per connection: a
/// record goes from the kernel to OpenSSL's own buffer (released while idle,
/// SSL_MODE_RELEASE_BUFFERS) and from there to the caller's buffer.
///
/// Not thread-safe: one operation of each direction at a time, from one strand. There are no
/// timeouts here: the caller closes or cancels the socket (see HttpsClient).
class TlsStream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  TlsStream(boost::asio::io_context& io, boost::asio::ssl::context& tls);
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;
  ~TlsStream();

  executor_type get_executor() { return socket_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  SSL* native_handle() const { return ssl_; }

  /// For a connection that has been idle: true when it can carry a request. A keep-alive peer
  /// that gave up on it has sent FIN and maybe an alert; what else arrives unasked is TLS 1.3's
  /// session tickets, which are processed here (they leave the connection as good as it was).
  bool IdleAndOpen();

  /// The client handshake on the connected socket; returns the first error (a failed
  /// verification is an SSL error; SSL_get_verify_result says why). The handshake's last flight
  /// (the client's Finished) is held back and goes out in one send with the first write, the
  /// request: one segment for the server to wake up for instead of two.
  boost::asio::awaitable<boost::system::error_code> Handshake();

  /// Sends what the handshake held back, if anything, as far as the socket takes it at once
  /// (the rest goes before the first write): for a connection that goes idle before its first
  /// request. False when the socket failed, or the stream has no connection: do not keep it.
  bool SendHeld();

  /// Closes the socket and starts over with a new SSL from the same context, as if just
  /// constructed: for a handshake to be tried again on a new connection. False (and the stream
  /// unusable) when OpenSSL cannot make the SSL.
  bool Renew();

  /// Reads what OpenSSL can give into `buffer` (up to its size): at once when it holds or can
  /// read decrypted bytes, otherwise after waiting for the socket. Returns the error (eof after
  /// close_notify, ssl::error::stream_truncated for an end without it) and the bytes read.
  /// Awaited directly: a read that needs no wait completes without a trip through the executor.
  boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> ReadSome(
      boost::asio::mutable_buffer buffer);

  /// Writes all of `data` (records of up to 16 KiB; a request is one record), waiting for the
  /// socket only when it cannot take more. Returns the first error.
  boost::asio::awaitable<boost::system::error_code> Write(boost::asio::const_buffer data);

 private:
  enum class Step { kDone, kWantRead, kWantWrite };

  // One SSL_read_ex or SSL_write_ex: done (with the bytes moved, or the error), or the socket
  // must first become readable or writable.
  Step Try(bool read, boost::asio::mutable_buffer buffer, std::size_t* transferred,
           boost::system::error_code* ec);
  Step TryHandshake(boost::system::error_code* ec);
  Step Classify(int result, boost::system::error_code* ec);

  // Sends the held bytes: kDone when they are all out (or on an error, in `ec`), kWantWrite when
  // the socket must first become writable.
  Step TrySendHeld(boost::system::error_code* ec);
  // Before waiting for the server to send (`step` kWantRead), what the handshake held must
  // reach it: sends it, and returns the wait then due (kWantWrite while the socket is full).
  Step BeforeWait(Step step, boost::system::error_code* ec);

 public:
  /// What the BIO on the socket works with (public for the BIO's functions only).
  struct BioState {
    int fd = -1;        // the socket's descriptor, what the BIO reads and writes
    bool hold = false;  // writes are kept in `held` rather than sent (during the handshake)
    bool hold_after_read = false;  // `hold` is set once the server's first bytes are read
    std::string held;              // bytes written and not sent yet; they go before any later write
  };

 private:
  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_;
  bool attached_ = false;  // the SSL has its BIO on the socket
  BioState bio_;
};

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_TLS_STREAM_H_
