#ifndef CODEARTS_GATEWAY_UPSTREAM_TLS_STREAM_H_
#define CODEARTS_GATEWAY_UPSTREAM_TLS_STREAM_H_

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
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
/// SSL_MODE_RELEASE_BUFFERS) and from there to the caller's buffer, and a write of several buffers
/// is one record.
///
/// Meets Asio's AsyncReadStream and AsyncWriteStream (Beast's HTTP reads and writes use it).
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
  /// verification is an SSL error; SSL_get_verify_result says why).
  boost::asio::awaitable<boost::system::error_code> Handshake();

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Op{*this, /*read=*/true, FirstBuffer(buffers), {}}, token, socket_);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Op{*this, /*read=*/false, Linearize(buffers), {}}, token, socket_);
  }

 private:
  enum class Step { kDone, kWantRead, kWantWrite };

  // One SSL_read_ex or SSL_write_ex: done (with the bytes moved, or the error), or the socket
  // must first become readable or writable.
  Step Try(bool read, boost::asio::mutable_buffer buffer, std::size_t* transferred,
           boost::system::error_code* ec);
  Step TryHandshake(boost::system::error_code* ec);
  Step Classify(int result, boost::system::error_code* ec);

  template <typename MutableBuffers>
  static boost::asio::mutable_buffer FirstBuffer(const MutableBuffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer buffer(*it);
      if (buffer.size() > 0) return buffer;
    }
    return {};
  }

  // A write of several buffers (Beast hands over the header fields and the body as a sequence)
  // is copied into one, so that it goes out as one TLS record rather than one per piece.
  template <typename ConstBuffers>
  boost::asio::mutable_buffer Linearize(const ConstBuffers& buffers) {
    constexpr std::size_t kMaxRecord = std::size_t{16} * 1024;
    std::size_t pieces = 0;
    boost::asio::const_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer buffer(*it);
      if (buffer.size() == 0) continue;
      if (pieces++ == 0) first = buffer;
    }
    if (pieces <= 1) {
      return {const_cast<void*>(first.data()), first.size()};  // only read by SSL_write_ex
    }
    scratch_.clear();
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && scratch_.size() < kMaxRecord; ++it) {
      boost::asio::const_buffer buffer(*it);
      const std::size_t take = std::min(buffer.size(), kMaxRecord - scratch_.size());
      scratch_.append(static_cast<const char*>(buffer.data()), take);
    }
    return {scratch_.data(), scratch_.size()};
  }

  struct Op {
    TlsStream& stream;
    bool read;
    boost::asio::mutable_buffer buffer;
    // Set once the outcome is known and the completion has been posted.
    struct {
      bool done = false;
      bool waited = false;
      boost::system::error_code ec;
      std::size_t transferred = 0;
    } state;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (state.done) {
        self.complete(state.ec, state.transferred);
        return;
      }
      if (ec) {
        self.complete(ec, 0);
        return;
      }
      const Step step = stream.Try(read, buffer, &state.transferred, &state.ec);
      if (step != Step::kDone) {
        state.waited = true;
        stream.socket_.async_wait(step == Step::kWantRead
                                      ? boost::asio::ip::tcp::socket::wait_read
                                      : boost::asio::ip::tcp::socket::wait_write,
                                  std::move(self));
        return;
      }
      if (state.waited) {
        self.complete(state.ec, state.transferred);
        return;
      }
      // Done without waiting, still inside the initiating call: complete through the
      // handler's executor, as Asio's own operations do, never from within the initiation.
      state.done = true;
      auto executor = boost::asio::get_associated_executor(self, stream.socket_.get_executor());
      boost::asio::post(executor, [self = std::move(self)]() mutable { self(); });
    }
  };

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_;
  bool attached_ = false;  // the SSL has its BIO on the socket
  int fd_ = -1;            // the socket's descriptor, what the BIO reads and writes
  std::string scratch_;
};

}  // namespace codearts::upstream

#endif  // CODEARTS_GATEWAY_UPSTREAM_TLS_STREAM_H_
