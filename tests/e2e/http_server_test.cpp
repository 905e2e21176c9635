// http_server_test.cpp — the gateway's HTTP/1.1 front end over real loopback sockets, byte for byte: keep-alive,
// pipelining, chunked bodies both ways, 100-continue, every refusal, header injection, slow clients, more
// connections than threads, and a stop that drains.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "http_server.hpp"

namespace {

using medgate::native::http_request;
using medgate::native::http_response;
using medgate::native::http_server;
using medgate::native::http_server_options;
using namespace std::chrono_literals;

/// A raw TCP client: what it sends is exactly what the server reads.
class raw_client {
 public:
  explicit raw_client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr const*>(&a), sizeof a) == 0);
  }
  ~raw_client() { ::close(fd_); }
  raw_client(raw_client const&) = delete;
  raw_client& operator=(raw_client const&) = delete;

  void send(std::string_view data) const {
    REQUIRE(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()));
  }

  /// Everything that arrives until the server closes (or `limit` passes); `closed` says which.
  std::string read_until_closed(std::chrono::milliseconds limit = 5000ms) {
    std::string out;
    auto const until = std::chrono::steady_clock::now() + limit;
    while (read_more(out, until)) {
    }
    return out;
  }

  /// Reads until `out` holds `text` (true) or `limit` passes or the connection ends (false).
  bool read_until(std::string& out, std::string_view text, std::chrono::milliseconds limit = 5000ms) {
    auto const until = std::chrono::steady_clock::now() + limit;
    while (out.find(text) == std::string::npos)
      if (!read_more(out, until)) return out.find(text) != std::string::npos;
    return true;
  }

  /// One whole response with a Content-Length body (the head included).
  std::string read_response(std::chrono::milliseconds limit = 5000ms) {
    auto const until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (auto const end = pending_.find("\r\n\r\n"); end != std::string::npos) {
        auto const at = pending_.find("Content-Length: ");
        REQUIRE_MESSAGE(at < end, pending_);
        auto const length = std::stoul(pending_.substr(at + 16));
        if (pending_.size() >= end + 4 + length) {
          auto response = pending_.substr(0, end + 4 + length);
          pending_.erase(0, end + 4 + length);
          return response;
        }
      }
      if (!read_more(pending_, until)) return std::exchange(pending_, {});
    }
  }

  bool closed = false;

 private:
  bool read_more(std::string& out, std::chrono::steady_clock::time_point until) {
    auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    auto const n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      closed = true;
      return false;
    }
    out.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string pending_;
};

/// A server with an echo route and a few others, on a free port.
struct echo_server {
  http_server server;
  int port = 0;

  explicit echo_server(http_server_options o = {}) : server{with_defaults(std::move(o))} {
    server.route("POST", "/echo", [](http_request const& req, http_response& res) {
      res.set_content(fmt::format("{} {} [{}]", req.method, req.target, req.body), "text/plain");
      res.set_header("X-Seen-Length", std::to_string(req.body.size()));
    });
    server.route("GET", "/items/{id}", [](http_request const& req, http_response& res) {
      res.set_content("item " + req.path_id, "text/plain");
    });
    server.route("GET", "/inject", [](http_request const&, http_response& res) {
      res.set_header("X-Evil", "a\r\nSet-Cookie: stolen=1");
      res.set_header("X-Fine", "yes");
      res.set_content("ok", "text/plain");
    });
    server.route("GET", "/throws", [](http_request const&, http_response&) { throw std::runtime_error{"boom"}; });
    server.route("GET", "/stream", [](http_request const&, http_response& res) {
      res.content_type = "text/event-stream";
      res.stream = [n = 0](medgate::native::http_stream& out) mutable {
        out.write(fmt::format("data: {}\n\n", n++));
        if (n == 3) out.end();
        return true;
      };
    });
    server.route("GET", "/cut", [](http_request const&, http_response& res) {
      res.stream = [](medgate::native::http_stream& out) {
        out.write("partial");
        return false;
      };
    });
    server.on_refusal([](http_request const&, http_response& res) { res.body = "refused: " + res.body; });
    auto const p = server.start();
    REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error_message()));
    port = *p;
  }

  static http_server_options with_defaults(http_server_options o) {
    o.host = "127.0.0.1";
    o.port = 0;
    return o;
  }
};

std::string post_echo(std::string_view body, std::string_view extra = "") {
  return fmt::format("POST /echo?x=1 HTTP/1.1\r\nHost: t\r\n{}Content-Length: {}\r\n\r\n{}", extra, body.size(), body);
}

}  // namespace

TEST_CASE("http: a kept-alive connection serves pipelined requests in order, with their bodies and query") {
  echo_server s;
  raw_client c{s.port};
  c.send(post_echo("first") + post_echo("second") + "GET /items/42-ab_C HTTP/1.1\r\nHost: t\r\n\r\n");
  auto const a = c.read_response();
  auto const b = c.read_response();
  auto const d = c.read_response();
  CHECK(a.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(a.ends_with("POST /echo?x=1 [first]"));
  CHECK(a.find("X-Seen-Length: 5\r\n") != std::string::npos);
  CHECK(a.find("Connection: close") == std::string::npos);
  CHECK(b.ends_with("[second]"));
  CHECK(d.ends_with("item 42-ab_C"));
  c.send(post_echo("again"));  // still open
  CHECK(c.read_response().ends_with("[again]"));
}

TEST_CASE("http: a request arriving a byte at a time is read whole") {
  echo_server s;
  raw_client c{s.port};
  for (char const ch : post_echo("slow but steady")) {
    c.send(std::string_view{&ch, 1});
    std::this_thread::sleep_for(1ms);
  }
  CHECK(c.read_response().ends_with("[slow but steady]"));
}

TEST_CASE("http: a chunked request body is de-chunked; Connection: close and HTTP/1.0 close after the answer") {
  echo_server s;
  {
    raw_client c{s.port};
    c.send(
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n");
    auto const all = c.read_until_closed();
    CHECK(c.closed);
    CHECK(all.find("Connection: close\r\n") != std::string::npos);
    CHECK(all.ends_with("[hello, world]"));
  }
  {
    raw_client c{s.port};
    c.send("GET /items/7 HTTP/1.0\r\n\r\n");
    CHECK(c.read_until_closed().ends_with("item 7"));
    CHECK(c.closed);
  }
}

TEST_CASE("http: Expect: 100-continue is answered before the body is sent, and a body too large is refused first") {
  echo_server s{{.max_body_bytes = 2048}};
  {
    raw_client c{s.port};
    c.send("POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    std::string got;
    REQUIRE(c.read_until(got, "\r\n\r\n"));
    CHECK(got == "HTTP/1.1 100 Continue\r\n\r\n");
    c.send("body");
    CHECK(c.read_response().ends_with("[body]"));
  }
  {
    raw_client c{s.port};
    c.send("POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4096\r\n\r\n");
    auto const all = c.read_until_closed();
    CHECK(all.starts_with("HTTP/1.1 413 Content Too Large\r\n"));
    CHECK(all.ends_with("refused: request body larger than the limit of 2048 bytes"));
  }
  {  // sent whole anyway: the refusal still arrives (the rest is read and dropped, not reset)
    raw_client c{s.port};
    c.send(post_echo(std::string(100'000, 'x')));
    CHECK(c.read_until_closed().starts_with("HTTP/1.1 413 "));
  }
  {  // chunked past the limit
    raw_client c{s.port};
    c.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + std::string(4096, 'y') + "\r\n");
    CHECK(c.read_until_closed().starts_with("HTTP/1.1 413 "));
  }
}

TEST_CASE("http: malformed or unsupported requests are refused with a status and a message that say why") {
  echo_server s{{.max_header_bytes = 4096}};
  struct refused {
    std::string request;
    std::string status;
    std::string message;
  };
  std::vector<refused> const cases{
      {"GARBAGE\r\n\r\n", "400 Bad Request", "malformed request line"},
      {"GET  /echo HTTP/1.1\r\n\r\n", "400 Bad Request", "malformed request line"},
      {"GET echo HTTP/1.1\r\n\r\n", "400 Bad Request", "the target must be a path starting with /"},
      {"GET /echo HTTP/2.0\r\n\r\n", "505 HTTP Version Not Supported", "only HTTP/1.1 and HTTP/1.0"},
      {"GET /echo HTTX/1.1\r\n\r\n", "400 Bad Request", "expected HTTP/1.1"},
      {"GET /echo HTTP/1.1\r\nBad Header: x\r\n\r\n", "400 Bad Request", "NAME: VALUE"},
      {"GET /echo HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", "400 Bad Request", "obsolete line folding"},
      {"GET /echo HTTP/1.1\r\nX: a\x01z\r\n\r\n", "400 Bad Request", "control character"},
      {"POST /echo HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "400 Bad Request",
       "both Content-Length and Transfer-Encoding"},
      {"POST /echo HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", "400 Bad Request",
       "conflicting Content-Length"},
      {"POST /echo HTTP/1.1\r\nContent-Length: -4\r\n\r\n", "400 Bad Request", "Content-Length must be"},
      {"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501 Not Implemented", "only transfer coding"},
      {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400 Bad Request", "not a hexadecimal"},
      {"GET /echo HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", "431 Request Header Fields Too Large",
       "larger than the limit of 4096 bytes"},
      {"GET /" + std::string(5000, 'a'), "431 Request Header Fields Too Large", "larger than the limit"},
      {"GET /nowhere HTTP/1.1\r\n\r\n", "404 Not Found", "no such endpoint"},
      {"GET /echo HTTP/1.1\r\n\r\n", "405 Method Not Allowed", "not served at this path"},
      {"GET /items/" + std::string(65, '1') + " HTTP/1.1\r\n\r\n", "404 Not Found", "no such endpoint"},
      {"GET /items/x.1 HTTP/1.1\r\n\r\n", "404 Not Found", "no such endpoint"},
      {"GET /items/ HTTP/1.1\r\n\r\n", "404 Not Found", "no such endpoint"},
      {"GET /throws HTTP/1.1\r\n\r\n", "500 Internal Server Error", "failed to serve"},
  };
  for (auto const& r : cases) {
    CAPTURE(r.request.substr(0, 80));
    raw_client c{s.port};
    c.send(r.request);
    auto const got = c.read_response();
    CHECK(got.starts_with("HTTP/1.1 " + r.status + "\r\n"));
    CHECK(got.find("refused: ") != std::string::npos);
    CHECK(got.find(r.message) != std::string::npos);
  }
}

TEST_CASE("http: a handler's header value with CR or LF is not written (no response splitting)") {
  echo_server s;
  raw_client c{s.port};
  c.send("GET /inject HTTP/1.1\r\n\r\n");
  auto const got = c.read_response();
  CHECK(got.find("Set-Cookie") == std::string::npos);
  CHECK(got.find("X-Evil") == std::string::npos);
  CHECK(got.find("X-Fine: yes\r\n") != std::string::npos);
}

TEST_CASE("http: a streamed answer is chunked and ends with the last chunk; one cut short closes the connection") {
  echo_server s;
  {
    raw_client c{s.port};
    c.send("GET /stream HTTP/1.1\r\n\r\n");
    std::string got;
    REQUIRE(c.read_until(got, "0\r\n\r\n"));
    CHECK(got.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(got.find("Content-Type: text/event-stream\r\n") != std::string::npos);
    CHECK(got.ends_with("\r\n\r\n9\r\ndata: 0\n\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"));
    c.send("GET /items/1 HTTP/1.1\r\n\r\n");  // kept alive after a whole stream
    CHECK(c.read_response().ends_with("item 1"));
  }
  {
    raw_client c{s.port};
    c.send("GET /cut HTTP/1.1\r\n\r\n");
    auto const got = c.read_until_closed();
    CHECK(c.closed);
    CHECK(got.ends_with("7\r\npartial\r\n"));  // no last chunk: the client knows the body is incomplete
  }
}

TEST_CASE("http: a client too slow to finish its request, or idle too long, is disconnected") {
  echo_server s{{.idle_timeout = 400ms, .request_timeout = 200ms}};
  raw_client slow{s.port};
  raw_client idle{s.port};
  slow.send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  auto const start = std::chrono::steady_clock::now();
  slow.read_until_closed(3000ms);
  CHECK(slow.closed);
  CHECK(std::chrono::steady_clock::now() - start < 1500ms);
  idle.read_until_closed(3000ms);
  CHECK(idle.closed);
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
}

TEST_CASE("http: idle connections hold no thread, and requests beyond the threads wait their turn") {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> waiting{0};
  http_server server{{.host = "127.0.0.1", .port = 0, .threads = 2}};
  server.route("GET", "/wait", [&](http_request const&, http_response& res) {
    ++waiting;
    released.wait();
    res.set_content("released", "text/plain");
  });
  server.route("GET", "/now", [](http_request const&, http_response& res) { res.set_content("now", "text/plain"); });
  auto const port = server.start();
  REQUIRE(port.ok());

  std::vector<std::unique_ptr<raw_client>> idle;
  for (int i = 0; i < 50; ++i) idle.push_back(std::make_unique<raw_client>(*port));
  {
    raw_client c{*port};
    c.send("GET /now HTTP/1.1\r\n\r\n");
    CHECK(c.read_response().ends_with("now"));  // 50 idle connections, 2 threads: still answered
  }
  raw_client a{*port};
  raw_client b{*port};
  raw_client third{*port};
  a.send("GET /wait HTTP/1.1\r\n\r\n");
  b.send("GET /wait HTTP/1.1\r\n\r\n");
  for (int i = 0; i < 200 && waiting < 2; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(waiting == 2);
  third.send("GET /now HTTP/1.1\r\n\r\n");
  std::string early;
  CHECK_FALSE(third.read_until(early, "now", 200ms));  // both threads are busy
  release.set_value();
  CHECK(a.read_response().ends_with("released"));
  CHECK(b.read_response().ends_with("released"));
  CHECK(third.read_response().ends_with("now"));
}

TEST_CASE("http: stop() answers the request in flight with Connection: close, closes idle connections, refuses new") {
  std::atomic<bool> entered{false};
  http_server server{{.host = "127.0.0.1", .port = 0, .threads = 4}};
  server.route("GET", "/slow", [&](http_request const&, http_response& res) {
    entered = true;
    std::this_thread::sleep_for(300ms);
    res.set_content("finished", "text/plain");
  });
  auto const port = server.start();
  REQUIRE(port.ok());
  raw_client idle{*port};
  raw_client busy{*port};
  busy.send("GET /slow HTTP/1.1\r\n\r\n");
  for (int i = 0; i < 200 && !entered; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(entered);
  auto stopped = std::async(std::launch::async, [&] { server.stop(); });
  auto const got = busy.read_until_closed();
  CHECK(got.find("Connection: close\r\n") != std::string::npos);
  CHECK(got.ends_with("finished"));
  idle.read_until_closed(2000ms);
  CHECK(idle.closed);
  CHECK(stopped.wait_for(2s) == std::future_status::ready);

  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(*port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::connect(fd, reinterpret_cast<sockaddr const*>(&a), sizeof a) != 0);
  ::close(fd);
}

TEST_CASE("http: a port in use is refused with the reason") {
  echo_server s;
  http_server second{{.host = "127.0.0.1", .port = s.port}};
  auto const port = second.start();
  REQUIRE_FALSE(port.ok());
  CHECK(port.error_message() == fmt::format("cannot listen on 127.0.0.1:{} (bind: Address already in use)", s.port));
}
