// http_server.hpp — the gateway's HTTP/1.1 front end.
//
// One epoll set holds the listening socket and every open connection, each
// armed one-shot; a pool of threads takes turns waiting on it. The thread that
// sees a request complete parses it, runs its handler and writes the answer
// itself, then re-arms the connection: no hand-off between threads per
// request, and an idle kept-alive connection costs nothing until its client
// writes again (cpp-httplib's server polls each one every ~11 ms on its own
// thread, which bench/gateway found to be most of the gateway's CPU).
//
// What it speaks: HTTP/1.1 and 1.0 requests with a Content-Length or a chunked
// body, keep-alive and pipelining, `Expect: 100-continue`; answers with a
// Content-Length, or chunked for a streamed body. What it refuses, closing the
// connection, with a status that says why: a malformed request line or header
// (400), a header section over its limit (431), a body over its limit (413,
// before the body is read), both Content-Length and Transfer-Encoding, or
// conflicting lengths (400, against request smuggling), another transfer
// coding (501), another HTTP version (505). A handler's header values are
// never written with CR, LF or NUL in them (header injection).
//
// Connections idle longer than `idle_timeout`, or that take longer than
// `request_timeout` to send one request (slow loris), are closed. `stop()`
// closes the listener and idle connections, lets requests in flight finish
// (their answers say `Connection: close`), then joins the threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "medgate/result.hpp"

namespace medgate::native {

struct http_request {
  std::string method;
  std::string target;  ///< as sent, with any query
  std::string path;    ///< the target without its query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;     ///< de-chunked
  std::string path_id;  ///< what a route pattern's `{id}` matched

  /// The first value of a header, by case-insensitive name.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

/// The body of a streamed answer, written as it is produced (chunked transfer coding).
class http_stream {
 public:
  /// Sends one chunk now; false once the client is gone (or the write timed out).
  bool write(std::string_view data);
  /// False once the client has hung up or the connection failed.
  [[nodiscard]] bool client_connected();
  /// The body is complete: the last chunk is sent after the producer returns.
  void end() { ended_ = true; }

 private:
  friend class http_server;
  http_stream(int fd, std::chrono::milliseconds write_timeout) : fd_{fd}, write_timeout_{write_timeout} {}
  int fd_;
  std::chrono::milliseconds write_timeout_;
  bool ok_ = true;
  bool ended_ = false;
};

struct http_response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "text/plain";
  std::string body;
  /// Set for a streamed body: called again and again until it ends the stream
  /// (`http_stream::end`) or returns false (the connection is then closed
  /// without the last chunk, so the client sees the body cut short).
  std::function<bool(http_stream&)> stream;

  void set_header(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
  void set_content(std::string content, std::string type) {
    body = std::move(content);
    content_type = std::move(type);
  }
};

using http_handler = std::function<void(http_request const&, http_response&)>;

struct http_server_options {
  std::string host = "127.0.0.1";
  int port = 0;      ///< 0: any free port
  int threads = 32;  ///< each runs one handler at a time
  std::size_t max_body_bytes = std::size_t{4} << 20;
  std::size_t max_header_bytes = std::size_t{64} << 10;
  std::chrono::milliseconds idle_timeout{60'000};     ///< a kept-alive connection with no request
  std::chrono::milliseconds request_timeout{30'000};  ///< from a request's first byte to its last
  std::chrono::milliseconds write_timeout{30'000};    ///< a client that stops reading its answer
};

class http_server {
 public:
  explicit http_server(http_server_options options);
  ~http_server();  ///< stops
  http_server(http_server const&) = delete;
  http_server& operator=(http_server const&) = delete;

  /// A handler for METHOD and a path; a pattern ending in `{id}` matches that
  /// prefix followed by 1 to 64 letters, digits, `-` or `_` (in `http_request::path_id`).
  void route(std::string method, std::string pattern, http_handler handler);
  /// Shapes the body of the server's own refusals (400, 404, 405, 413, 431, 501, 505): `res.status` is set
  /// and `res.body` holds a plain message; the request has whatever could be parsed of it.
  void on_refusal(http_handler shape);

  /// Binds, listens and starts the threads; the port (useful with port 0).
  result<int> start();
  /// Stops accepting and drains (see above). Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace medgate::native
