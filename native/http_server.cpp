// http_server.cpp — epoll, threads taking turns, HTTP/1.1 (see http_server.hpp).
#include "http_server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include <fmt/format.h>

namespace medgate::native {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_text(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

/// A character of an RFC 9110 token (methods, header names).
bool token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), token_char); }

/// A header value we would write: no CR, LF or NUL (response splitting).
bool safe_value(std::string_view v) { return v.find_first_of(std::string_view{"\r\n\0", 3}) == std::string_view::npos; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view reason_of(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

/// Sends all of `data`, waiting up to `timeout` in all whenever the socket's buffer is full.
bool send_all(int fd, std::string_view data, milliseconds timeout) {
  auto const give_up = clock::now() + timeout;
  while (!data.empty()) {
    auto const n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto const left = std::chrono::duration_cast<milliseconds>(give_up - clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) return false;
      continue;
    }
    return false;
  }
  return true;
}

/// The status line and headers of an answer.
std::string head_of(http_response const& res, bool keep_alive, bool chunked) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", res.status, reason_of(res.status));
  if (safe_value(res.content_type)) out += fmt::format("Content-Type: {}\r\n", res.content_type);
  if (chunked)
    out += "Transfer-Encoding: chunked\r\n";
  else
    out += fmt::format("Content-Length: {}\r\n", res.body.size());
  if (!keep_alive) out += "Connection: close\r\n";
  for (auto const& [name, value] : res.headers)
    if (token(name) && safe_value(value)) out += fmt::format("{}: {}\r\n", name, value);
  out += "\r\n";
  return out;
}

struct refusal {
  int status = 400;
  std::string message;
};

/// A request's line and headers, parsed once they have all arrived.
struct head {
  http_request request;
  std::size_t size = 0;  ///< bytes up to and including the blank line
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;
  bool expects_continue = false;
};

struct limits {
  std::size_t header_bytes;
  std::size_t body_bytes;
};

/// The next line of `in` from `pos` (without its LF and any CR before it), or nothing if it has not all arrived.
std::optional<std::string_view> line_at(std::string_view in, std::size_t& pos) {
  auto const lf = in.find('\n', pos);
  if (lf == std::string_view::npos) return std::nullopt;
  auto line = in.substr(pos, lf - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = lf + 1;
  return line;
}

/// Parses the head of the request at the start of `in` into `h`: true when it is all there, false when more
/// must arrive, or a refusal (with as much of the request in `h` as was understood).
std::variant<bool, refusal> parse_head(std::string_view in, limits lim, head& h) {
  std::size_t pos = 0;
  while (pos < in.size() && (in[pos] == '\r' || in[pos] == '\n')) ++pos;  // empty lines before a request (RFC 9112)
  auto const too_long = [&] {
    return refusal{431,
                   fmt::format("the request line and headers are larger than the limit of {} bytes", lim.header_bytes)};
  };
  auto const request_line = line_at(in, pos);
  if (!request_line) {
    if (in.size() > lim.header_bytes) return too_long();
    return false;
  }
  auto& req = h.request;
  {
    auto const sp1 = request_line->find(' ');
    auto const sp2 = sp1 == std::string_view::npos ? sp1 : request_line->find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || request_line->find(' ', sp2 + 1) != std::string_view::npos)
      return refusal{400, "malformed request line: expected METHOD TARGET HTTP/1.1"};
    auto const method = request_line->substr(0, sp1);
    auto const target = request_line->substr(sp1 + 1, sp2 - sp1 - 1);
    auto const version = request_line->substr(sp2 + 1);
    if (!token(method)) return refusal{400, "malformed request line: the method is not a token"};
    if (target.empty() || target.front() != '/' || std::any_of(target.begin(), target.end(), [](char c) {
          return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
        }))
      return refusal{400, "malformed request line: the target must be a path starting with /"};
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.')
      return refusal{400, "malformed request line: expected HTTP/1.1 or HTTP/1.0 at its end"};
    if (version != "HTTP/1.1" && version != "HTTP/1.0") return refusal{505, "only HTTP/1.1 and HTTP/1.0 are served"};
    req.method = method;
    req.target = target;
    req.path = target.substr(0, target.find('?'));
    h.keep_alive = version == "HTTP/1.1";
  }
  for (;;) {
    auto const line = line_at(in, pos);
    if (!line) {
      if (in.size() > lim.header_bytes) return too_long();
      return false;
    }
    if (pos > lim.header_bytes) return too_long();
    if (line->empty()) break;
    if (line->front() == ' ' || line->front() == '\t')
      return refusal{400, "malformed header: a line starts with whitespace (obsolete line folding)"};
    auto const colon = line->find(':');
    if (colon == std::string_view::npos || !token(line->substr(0, colon)))
      return refusal{400, "malformed header: expected NAME: VALUE with a token for NAME"};
    auto const value = trim(line->substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) {
          auto const u = static_cast<unsigned char>(c);
          return (u < 0x20 && c != '\t') || u == 0x7f;
        }))
      return refusal{400, "malformed header: a value holds a control character"};
    if (req.headers.size() == 100) return refusal{431, "more than 100 request headers"};
    req.headers.emplace_back(line->substr(0, colon), value);
  }
  h.size = pos;

  bool transfer_encoding = false;
  for (auto const& [name, value] : req.headers) {
    if (same_text(name, "Content-Length")) {
      if (value.empty() || value.size() > 15 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return refusal{400, "Content-Length must be a number of bytes"};
      auto const n = std::stoull(value);
      if (h.content_length && *h.content_length != n) return refusal{400, "conflicting Content-Length headers"};
      h.content_length = n;
    } else if (same_text(name, "Transfer-Encoding")) {
      if (transfer_encoding || !same_text(value, "chunked"))
        return refusal{501, "the only transfer coding accepted is chunked"};
      transfer_encoding = h.chunked = true;
    } else if (same_text(name, "Connection")) {
      std::string_view rest = value;
      while (!rest.empty()) {
        auto const comma = rest.find(',');
        auto const option = trim(rest.substr(0, comma));
        if (same_text(option, "close")) h.keep_alive = false;
        if (same_text(option, "keep-alive")) h.keep_alive = true;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (same_text(name, "Expect")) {
      h.expects_continue = same_text(value, "100-continue");
    }
  }
  if (h.chunked && h.content_length)
    return refusal{400, "a request must not carry both Content-Length and Transfer-Encoding"};
  if (h.content_length && *h.content_length > lim.body_bytes)
    return refusal{413, fmt::format("request body larger than the limit of {} bytes", lim.body_bytes)};
  return true;
}

/// Decodes a chunked body from the start of `in` into `body`: the bytes it took, nothing yet, or a refusal.
std::variant<std::monostate, std::size_t, refusal> dechunk(std::string_view in, std::size_t max_bytes,
                                                           std::string& body) {
  body.clear();
  std::size_t pos = 0;
  for (;;) {
    auto const size_line = line_at(in, pos);
    if (!size_line) {
      if (in.size() - pos > 1024) return refusal{400, "malformed chunked body: a chunk size line is too long"};
      return std::monostate{};
    }
    auto const digits = size_line->substr(0, size_line->find(';'));
    auto const hex = trim(digits);
    if (hex.empty() || hex.size() > 15 || !std::all_of(hex.begin(), hex.end(), [](char c) {
          return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f');
        }))
      return refusal{400, "malformed chunked body: a chunk size is not a hexadecimal number"};
    auto const size = std::stoull(std::string{hex}, nullptr, 16);
    if (size == 0) {
      for (;;) {  // trailer fields, ignored, up to the blank line
        auto const trailer = line_at(in, pos);
        if (!trailer) return std::monostate{};
        if (trailer->empty()) return pos;
      }
    }
    if (body.size() + size > max_bytes)
      return refusal{413, fmt::format("request body larger than the limit of {} bytes", max_bytes)};
    if (in.size() - pos < size + 1) return std::monostate{};
    body.append(in.substr(pos, size));
    pos += size;
    auto const end = line_at(in, pos);
    if (!end) return std::monostate{};
    if (!end->empty()) return refusal{400, "malformed chunked body: a chunk is longer than its size"};
  }
}

}  // namespace

std::optional<std::string_view> http_request::header(std::string_view name) const {
  for (auto const& [n, v] : headers)
    if (same_text(n, name)) return std::string_view{v};
  return std::nullopt;
}

bool http_stream::write(std::string_view data) {
  if (!ok_ || data.empty()) return ok_;  // an empty chunk would end the body
  std::string chunk = fmt::format("{:x}\r\n", data.size());
  chunk.append(data);
  chunk += "\r\n";
  ok_ = send_all(fd_, chunk, write_timeout_);
  return ok_;
}

bool http_stream::client_connected() {
  if (!ok_) return false;
  pollfd p{fd_, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) != 0) ok_ = false;
  return ok_;
}

namespace {

struct connection {
  int fd = -1;
  std::string in;               ///< received, not yet taken by a request
  std::optional<head> waiting;  ///< the head of a request whose body is arriving
  bool continue_sent = false;
  bool peer_closed = false;
  clock::time_point idle_since{};
  std::optional<clock::time_point> request_since;  ///< the first byte of a request not yet complete
  bool busy = false;                               ///< a thread is serving it (guarded by impl::mutex)
};

struct route_entry {
  std::string method;
  std::string prefix;
  bool with_id = false;
  http_handler handler;
};

}  // namespace

struct http_server::impl {
  explicit impl(http_server_options o) : options{std::move(o)} {}

  http_server_options options;
  std::vector<route_entry> routes;
  http_handler shape_refusal;

  std::mutex lifecycle;
  bool started = false;
  bool stopped = false;

  int listen_fd = -1;
  int epoll_fd = -1;
  int timer_fd = -1;
  int stop_fd = -1;
  char listen_tag = 0;
  char timer_tag = 0;
  char stop_tag = 0;
  std::vector<std::thread> threads;

  std::mutex mutex;  ///< guards `open`, each connection's `busy`, and `stopping`
  std::condition_variable drained;
  std::unordered_map<connection*, std::unique_ptr<connection>> open;
  bool stopping = false;

  ~impl() {
    for (int fd : {listen_fd, epoll_fd, timer_fd, stop_fd})
      if (fd >= 0) ::close(fd);
  }

  void run() {
    epoll_event ev{};
    for (;;) {
      int const n = ::epoll_wait(epoll_fd, &ev, 1, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      if (n == 0) continue;
      void* const tag = ev.data.ptr;
      if (tag == &stop_tag) return;
      if (tag == &listen_tag)
        accept_pending();
      else if (tag == &timer_tag)
        reap();
      else
        serve(*static_cast<connection*>(tag));
    }
  }

  bool arm(int fd, void* tag, int op) const {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = tag;
    return ::epoll_ctl(epoll_fd, op, fd, &ev) == 0;
  }

  void accept_pending() {
    for (int i = 0; i < 64; ++i) {
      int const fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
          std::this_thread::sleep_for(milliseconds{10});  // out of descriptors: let some connections close first
        break;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // headers and body leave without waiting
      auto c = std::make_unique<connection>();
      c->fd = fd;
      c->idle_since = clock::now();
      connection* const raw = c.get();
      {
        std::lock_guard lock{mutex};
        if (stopping) {
          ::close(fd);
          continue;
        }
        open.emplace(raw, std::move(c));
      }
      if (!arm(fd, raw, EPOLL_CTL_ADD)) close_connection(*raw);
    }
    arm(listen_fd, &listen_tag, EPOLL_CTL_MOD);  // fails harmlessly once stop() removed it
  }

  /// Closes connections idle or slow past their timeouts; their threads see the end and close them.
  void reap() {
    std::uint64_t ticks = 0;
    [[maybe_unused]] auto const r = ::read(timer_fd, &ticks, sizeof ticks);
    auto const now = clock::now();
    {
      std::lock_guard lock{mutex};
      for (auto const& [raw, c] : open) {
        if (c->busy) continue;
        bool const expired = c->request_since ? now - *c->request_since > options.request_timeout
                                              : now - c->idle_since > options.idle_timeout;
        if (expired) ::shutdown(c->fd, SHUT_RDWR);
      }
    }
    arm(timer_fd, &timer_tag, EPOLL_CTL_MOD);
  }

  void close_connection(connection& c) {
    std::lock_guard lock{mutex};
    ::close(c.fd);  // also leaves the epoll set
    open.erase(&c);
    if (open.empty()) drained.notify_all();
  }

  void serve(connection& c) {
    {
      std::lock_guard lock{mutex};
      c.busy = true;
    }
    bool const keep = serve_requests(c);
    {
      std::lock_guard lock{mutex};
      if (keep && !stopping) {
        c.busy = false;
        if (!c.request_since) c.idle_since = clock::now();
        if (arm(c.fd, &c, EPOLL_CTL_MOD)) return;
      }
    }
    close_connection(c);
  }

  /// Reads what has arrived and answers every complete request in it; false when the connection must close.
  bool serve_requests(connection& c) {
    std::size_t const most = options.max_header_bytes + options.max_body_bytes + 65536;
    char buffer[16384];
    while (c.in.size() <= most) {
      auto const n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.in.append(buffer, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < sizeof buffer) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      c.peer_closed = true;  // the end (or a reset): answer what is complete, then close
      break;
    }
    for (;;) {
      if (c.in.empty()) {
        c.request_since.reset();
        return !c.peer_closed;
      }
      if (!c.request_since) c.request_since = clock::now();
      limits const lim{options.max_header_bytes, options.max_body_bytes};
      if (!c.waiting) {
        head parsed;
        auto const progress = parse_head(c.in, lim, parsed);
        if (auto const* no = std::get_if<refusal>(&progress)) {
          refuse(parsed.request, *no, c.fd);
          return false;
        }
        if (!std::get<bool>(progress)) return !c.peer_closed;
        c.waiting = std::move(parsed);
      }
      head& h = *c.waiting;
      std::size_t taken = h.size;
      if (h.chunked) {
        auto decoded = dechunk(std::string_view{c.in}.substr(h.size), lim.body_bytes, h.request.body);
        if (auto const* no = std::get_if<refusal>(&decoded)) {
          refuse(h.request, *no, c.fd);
          return false;
        }
        if (std::holds_alternative<std::monostate>(decoded)) return await_body(c);
        taken += std::get<std::size_t>(decoded);
      } else if (h.content_length) {
        if (c.in.size() - h.size < *h.content_length) return await_body(c);
        h.request.body = c.in.substr(h.size, *h.content_length);
        taken += *h.content_length;
      }
      c.in.erase(0, taken);
      bool const keep_alive = h.keep_alive && !c.peer_closed;
      http_request request = std::move(h.request);
      c.waiting.reset();
      c.continue_sent = false;
      c.request_since.reset();
      if (!answer(request, keep_alive, c.fd)) return false;
    }
  }

  bool stopping_now() {
    std::lock_guard lock{mutex};
    return stopping;
  }

  /// The body has not all arrived: a client waiting for `100 Continue` is told to send it.
  bool await_body(connection& c) {
    if (c.peer_closed) return false;
    if (c.waiting->expects_continue && !c.continue_sent) {
      c.continue_sent = true;
      return send_all(c.fd, "HTTP/1.1 100 Continue\r\n\r\n", options.write_timeout);
    }
    return true;
  }

  /// Answers with the refusal, then reads and drops what the client still sends for a moment before the
  /// connection is closed: closing with unread bytes would reset it, and the client might lose the answer.
  void refuse(http_request const& req, refusal const& why, int fd) {
    http_response res;
    res.status = why.status;
    res.set_content(why.message, "text/plain");
    if (shape_refusal) shape_refusal(req, res);
    if (!send_all(fd, head_of(res, false, false) + res.body, options.write_timeout)) return;
    ::shutdown(fd, SHUT_WR);
    auto const give_up = clock::now() + milliseconds{1000};
    std::size_t dropped = 0;
    char buffer[16384];
    while (dropped < 2 * options.max_body_bytes) {
      auto const left = std::chrono::duration_cast<milliseconds>(give_up - clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return;
      auto const n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0 && !(n < 0 && errno == EINTR)) return;
      if (n > 0) dropped += static_cast<std::size_t>(n);
    }
  }

  /// Runs the request's handler and writes its answer; false when the connection must close.
  bool answer(http_request& req, bool keep_alive, int fd) {
    http_response res;
    dispatch(req, res);
    keep_alive = keep_alive && !stopping_now();  // a stop while the handler ran: this is the connection's last answer
    if (!res.stream) {
      auto out = head_of(res, keep_alive, false);
      out += res.body;
      return send_all(fd, out, options.write_timeout) && keep_alive;
    }
    if (!send_all(fd, head_of(res, keep_alive, true), options.write_timeout)) return false;
    http_stream body{fd, options.write_timeout};
    while (body.ok_ && !body.ended_)
      if (!res.stream(body)) return false;  // cut short: closing tells the client the body is incomplete
    return body.ok_ && send_all(fd, "0\r\n\r\n", options.write_timeout) && keep_alive;
  }

  void dispatch(http_request& req, http_response& res) {
    bool path_known = false;
    for (auto const& r : routes) {
      std::string_view const path = req.path;
      if (r.with_id) {
        if (path.size() <= r.prefix.size() || path.size() > r.prefix.size() + 64 ||
            path.substr(0, r.prefix.size()) != r.prefix ||
            !std::all_of(path.begin() + static_cast<std::ptrdiff_t>(r.prefix.size()), path.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
            }))
          continue;
      } else if (path != r.prefix) {
        continue;
      }
      path_known = true;
      if (r.method != req.method) continue;
      if (r.with_id) req.path_id = std::string{path.substr(r.prefix.size())};
      try {
        r.handler(req, res);
      } catch (std::exception const&) {
        res = http_response{};
        res.status = 500;
        res.set_content("the gateway failed to serve the request", "text/plain");
        if (shape_refusal) shape_refusal(req, res);
      }
      return;
    }
    res.status = path_known ? 405 : 404;
    res.set_content(path_known ? "that method is not served at this path" : "no such endpoint", "text/plain");
    if (shape_refusal) shape_refusal(req, res);
  }
};

http_server::http_server(http_server_options options) : impl_{std::make_unique<impl>(std::move(options))} {}

http_server::~http_server() { stop(); }

void http_server::route(std::string method, std::string pattern, http_handler handler) {
  constexpr std::string_view id = "{id}";
  bool const with_id = pattern.size() >= id.size() && pattern.compare(pattern.size() - id.size(), id.size(), id) == 0;
  if (with_id) pattern.resize(pattern.size() - id.size());
  impl_->routes.push_back({std::move(method), std::move(pattern), with_id, std::move(handler)});
}

void http_server::on_refusal(http_handler shape) { impl_->shape_refusal = std::move(shape); }

result<int> http_server::start() {
  impl& s = *impl_;
  std::lock_guard lock{s.lifecycle};
  if (s.started) return error{"http: already started"};
  auto const& o = s.options;
  auto const cannot = [&](std::string_view why) {
    return error{fmt::format("cannot listen on {}:{} ({}: {})", o.host, o.port, why, std::strerror(errno))};
  };

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto const service = std::to_string(o.port);
  if (int const rc = ::getaddrinfo(o.host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return error{fmt::format("cannot listen on {}:{} (the host: {})", o.host, o.port, ::gai_strerror(rc))};
  int fd = -1;
  for (auto* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      int const saved = errno;
      ::close(fd);
      fd = -1;
      errno = saved;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return cannot("bind");
  s.listen_fd = fd;
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) return cannot("getsockname");
  int const port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 const&>(bound).sin6_port
                                                     : reinterpret_cast<sockaddr_in const&>(bound).sin_port);

  s.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  s.timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  s.stop_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.epoll_fd < 0 || s.timer_fd < 0 || s.stop_fd < 0) return cannot("epoll");
  // Timeouts are checked a few times per their shortest length (at most every second).
  auto const tick = std::clamp(std::min(o.idle_timeout, o.request_timeout) / 4, milliseconds{10}, milliseconds{1000});
  itimerspec every{};
  every.it_interval.tv_sec = tick.count() / 1000;
  every.it_interval.tv_nsec = (tick.count() % 1000) * 1'000'000;
  every.it_value = every.it_interval;
  epoll_event stop_event{};
  stop_event.events = EPOLLIN;  // level-triggered: once written, it wakes every thread
  stop_event.data.ptr = &s.stop_tag;
  if (::timerfd_settime(s.timer_fd, 0, &every, nullptr) != 0 || !s.arm(s.listen_fd, &s.listen_tag, EPOLL_CTL_ADD) ||
      !s.arm(s.timer_fd, &s.timer_tag, EPOLL_CTL_ADD) ||
      ::epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.stop_fd, &stop_event) != 0)
    return cannot("epoll");
  for (int i = 0; i < o.threads; ++i)
    s.threads.emplace_back([&s] {
      pthread_setname_np(pthread_self(), "mg-http");
      s.run();
    });
  s.started = true;
  return port;
}

void http_server::stop() {
  if (!impl_) return;
  impl& s = *impl_;
  std::lock_guard lock{s.lifecycle};
  if (!s.started || s.stopped) return;
  s.stopped = true;
  ::epoll_ctl(s.epoll_fd, EPOLL_CTL_DEL, s.listen_fd, nullptr);
  ::shutdown(s.listen_fd, SHUT_RDWR);  // new connections are refused from here on
  {
    std::unique_lock open_lock{s.mutex};
    s.stopping = true;
    for (auto const& [raw, c] : s.open)
      if (!c->busy) ::shutdown(c->fd, SHUT_RDWR);               // idle: its thread sees the end and closes it
    s.drained.wait(open_lock, [&] { return s.open.empty(); });  // in flight: answered, then closed
  }
  std::uint64_t const one = 1;
  [[maybe_unused]] auto const w = ::write(s.stop_fd, &one, sizeof one);
  for (auto& t : s.threads) t.join();
}

}  // namespace medgate::native
