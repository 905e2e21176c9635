// transport_test.cpp — the native driver over real loopback HTTP: answers, concurrency, keep-alive,
// timeouts, refused connections, cancellation, API keys, TLS verification and shutdown.
//
// Small cpp-httplib servers written here give exact behaviours (a trickle, a
// hang, a recorded header); the provider simulator gives the realistic path.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "medgate/client.hpp"
#include "medgate/trace.hpp"
#include "medgate/transport/httplib.hpp"
#include "program.hpp"
#include "simulator.hpp"

namespace {

using namespace std::chrono_literals;
using medgate::done;
using medgate::openai::error_code;
using steady = std::chrono::steady_clock;

std::string chat_completion(std::string const& content) {
  nlohmann::json body = {
      {"id", "chatcmpl-test"},
      {"object", "chat.completion"},
      {"created", 0},
      {"model", "gpt-4o-mini"},
      {"choices",
       nlohmann::json::array(
           {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}})},
      {"usage", {{"prompt_tokens", 5}, {"completion_tokens", 2}, {"total_tokens", 7}}}};
  return body.dump();
}

/// The first user message of a chat request body.
std::string first_message(std::string const& request_body) {
  auto body = nlohmann::json::parse(request_body, nullptr, false);
  if (body.is_discarded() || !body.contains("messages")) return {};
  return body["messages"][0].value("content", "");
}

/// A loopback HTTP server on an ephemeral port, serving on its own thread.
/// Handlers that hold a request wait on `hold`, which the destructor releases.
class test_server {
 public:
  explicit test_server(std::function<void(httplib::Server&, test_server&)> setup) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(48); };
    server_.set_keep_alive_timeout(1);  // Server::stop() waits this long for idle keep-alive clients
    server_.set_keep_alive_max_count(1000);
    setup(server_, *this);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread{[this] { server_.listen_after_bind(); }};
  }
  ~test_server() {
    release();
    server_.stop();
    thread_.join();
  }
  test_server(test_server const&) = delete;
  test_server& operator=(test_server const&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string base_url(std::string_view name, std::string_view scheme = "http") const {
    return fmt::format("{}://127.0.0.1:{}/{}/v1", scheme, port_, name);
  }

  /// Holds the calling handler until released or `limit` passes; true if released.
  bool hold(std::chrono::milliseconds limit) {
    std::unique_lock lock{mutex_};
    return released_cv_.wait_for(lock, limit, [&] { return released_; });
  }
  void release() {
    {
      std::lock_guard lock{mutex_};
      released_ = true;
    }
    released_cv_.notify_all();
  }
  [[nodiscard]] bool released() {
    std::lock_guard lock{mutex_};
    return released_;
  }

  /// Counts a request and wakes anyone in `wait_for_requests`.
  void arrived() {
    {
      std::lock_guard lock{mutex_};
      ++requests_;
    }
    arrived_cv_.notify_all();
  }
  bool wait_for_requests(int n, std::chrono::milliseconds limit) {
    std::unique_lock lock{mutex_};
    return arrived_cv_.wait_for(lock, limit, [&] { return requests_ >= n; });
  }
  int requests() {
    std::lock_guard lock{mutex_};
    return requests_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable released_cv_;
  std::condition_variable arrived_cv_;
  bool released_ = false;
  int requests_ = 0;
};

/// A loopback port nothing listens on: bound once to learn a free number, then closed.
int closed_port() {
  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

medgate::provider make_provider(std::string name, std::string base_url, medgate::duration attempt_timeout = 3s,
                                std::string model = "gpt-4o-mini") {
  medgate::provider p;
  p.name = std::move(name);
  p.base_url = std::move(base_url);
  p.models = {std::move(model)};
  // cpp-httplib's server listens with a backlog of 5: a burst of connects can
  // have a SYN dropped and resent after 1 s, which must not look like a failure.
  p.connect_timeout = 2s;
  p.attempt_timeout = attempt_timeout;
  return p;
}

/// Options whose route `clinical-summary` tries `providers` in order, once each.
medgate::engine_options make_options(std::vector<medgate::provider> providers) {
  medgate::engine_options o;
  medgate::route r{"clinical-summary", {}};
  for (auto const& p : providers) r.chain.push_back({p.name, p.models.front()});
  o.routing.providers = std::move(providers);
  o.routing.routes = {r};
  o.retry.max_attempts_per_target = 1;
  o.deadlines.timeout = 10s;
  o.deadlines.attempt_timeout = 10s;
  return o;
}

medgate::call_request ask(std::string const& message, std::string const& model = "clinical-summary") {
  medgate::call_request r;
  r.chat = medgate::openai::make_chat_request(model, {{"user", message}});
  return r;
}

/// Collects finished calls from the owner thread and lets the test wait for them.
class outcomes {
 public:
  std::function<void(done const&)> sink() {
    // Notifies under the lock: the waiting test may destroy this object as soon as it sees the call.
    return [this](done const& d) {
      std::lock_guard lock{mutex_};
      done_.push_back(d);
      cv_.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds limit) {
    std::unique_lock lock{mutex_};
    return cv_.wait_for(lock, limit, [&] { return done_.size() >= n; });
  }
  std::vector<done> all() {
    std::lock_guard lock{mutex_};
    return done_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<done> done_;
};

std::string content_of(done const& d) {
  if (!d.response || d.response->choices.empty()) return {};
  return d.response->choices.front().message.content;
}

std::unique_ptr<medgate::transport::httplib_driver> make_driver(medgate::engine_options options,
                                                                medgate::transport::httplib_options transport = {}) {
  auto driver = medgate::transport::httplib_driver::create(std::move(options), medgate::seed{7}, std::move(transport));
  REQUIRE_MESSAGE(driver.ok(), (driver.ok() ? "" : driver.error_message()));
  return std::move(*driver);
}

/// A server whose provider `name` takes each request and holds it, unanswered, until the test ends.
std::function<void(httplib::Server&, test_server&)> never_answers(std::string name) {
  return [name = std::move(name)](httplib::Server& s, test_server& self) {
    s.Post(fmt::format("/{}/v1/chat/completions", name), [&self](httplib::Request const&, httplib::Response& res) {
      self.arrived();
      self.hold(10s);
      res.set_content(chat_completion("too late"), "application/json");
    });
  };
}

}  // namespace

TEST_CASE("a call is answered end to end through the provider simulator") {
  medgate::sim::simulator sim{{.host = "127.0.0.1", .port = 0, .providers = {{"primary"}, {"fallback"}}, .seed = 3}};
  auto port = sim.start();
  REQUIRE_MESSAGE(port.ok(), (port.ok() ? "" : port.error_message()));
  auto c = medgate::client::create(make_options({make_provider("primary", sim.base_url("primary")),
                                                 make_provider("fallback", sim.base_url("fallback"))}),
                                   {}, medgate::seed{1});
  REQUIRE(c.ok());

  std::string const question = "Summarize: blood pressure stable, discharge tomorrow.";
  auto const first = c->chat("clinical-summary", question);
  REQUIRE_MESSAGE(first.response.has_value(), (first.error ? first.error->message : ""));
  CHECK(first.provider == "primary");
  CHECK(first.attempts.size() == 1);
  CHECK_FALSE(content_of(first).empty());

  auto const seen = sim.received("primary");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["model"] == "gpt-4o-mini");
  CHECK(seen[0]["messages"][0]["content"] == question);
  CHECK(sim.received("fallback").empty());

  // The simulator derives its answer from the prompt: the same question, the same answer.
  auto const second = c->chat("clinical-summary", question);
  REQUIRE(second.response.has_value());
  CHECK(content_of(second) == content_of(first));
}

TEST_CASE("fifty calls in flight at once share eight workers, each getting its own answer") {
  std::atomic<int> active{0};
  std::atomic<int> most_active{0};
  std::mutex mutex;
  std::condition_variable all_eight;
  int arrivals = 0;
  test_server server{[&](httplib::Server& s, test_server& self) {
    s.Post("/echo/v1/chat/completions", [&](httplib::Request const& req, httplib::Response& res) {
      self.arrived();
      int const now_active = ++active;
      int seen = most_active.load();
      while (now_active > seen && !most_active.compare_exchange_weak(seen, now_active)) {
      }
      {
        // The first eight requests wait for one another: they can only all
        // be here at once if the driver really runs eight attempts together.
        std::unique_lock lock{mutex};
        ++arrivals;
        all_eight.notify_all();
        if (arrivals <= 8) all_eight.wait_for(lock, 5s, [&] { return arrivals >= 8; });
      }
      std::this_thread::sleep_for(20ms);
      --active;
      res.set_content(chat_completion("echo: " + first_message(req.body)), "application/json");
    });
  }};
  medgate::transport::httplib_options transport;
  transport.workers = 8;
  auto echo = make_provider("echo", server.base_url("echo"), 10s);
  echo.connect_timeout = 5s;  // a burst of eight connects may meet the server's backlog of 5
  auto driver = make_driver(make_options({echo}), transport);

  outcomes results;
  for (int i = 0; i < 50; ++i) driver->submit(ask(fmt::format("call {}", i)), results.sink());
  REQUIRE(results.wait_for(50, 20s));

  std::set<std::string> answers;
  for (auto const& d : results.all()) {
    REQUIRE_MESSAGE(d.response.has_value(), (d.error ? d.error->message : ""));
    CHECK(d.attempts.size() == 1);
    answers.insert(content_of(d));
  }
  CHECK(answers.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(answers.count(fmt::format("echo: call {}", i)) == 1);
  CHECK(server.requests() == 50);
  CHECK(most_active.load() == 8);  // all eight workers busy at once, never a ninth
}

TEST_CASE("sequential calls reuse one keep-alive connection") {
  std::mutex mutex;
  std::vector<int> remote_ports;
  test_server server{[&](httplib::Server& s, test_server&) {
    s.Post("/kept/v1/chat/completions", [&](httplib::Request const& req, httplib::Response& res) {
      {
        std::lock_guard lock{mutex};
        remote_ports.push_back(req.remote_port);
      }
      res.set_content(chat_completion("ok"), "application/json");
    });
  }};
  medgate::transport::httplib_options transport;
  transport.workers = 1;
  auto c = medgate::client::create(make_options({make_provider("kept", server.base_url("kept"))}), transport,
                                   medgate::seed{1});
  REQUIRE(c.ok());
  for (int i = 0; i < 3; ++i) REQUIRE(c->chat("clinical-summary", "hello").response.has_value());

  std::lock_guard lock{mutex};
  REQUIRE(remote_ports.size() == 3);
  CHECK(remote_ports[0] > 0);
  CHECK(remote_ports[1] == remote_ports[0]);
  CHECK(remote_ports[2] == remote_ports[0]);
}

TEST_CASE("an attempt is cut at its timeout even while bytes keep trickling in") {
  // One byte every 100 ms: cpp-httplib's idle read timeout never fires, so
  // only the driver's own deadline can end this attempt.
  test_server server{[&](httplib::Server& s, test_server& self) {
    s.Post("/trickle/v1/chat/completions", [&](httplib::Request const&, httplib::Response& res) {
      self.arrived();
      res.set_chunked_content_provider("application/json", [&](std::size_t, httplib::DataSink& sink) {
        if (self.hold(100ms)) return false;  // released: the test is over
        return sink.write(" ", 1);
      });
    });
  }};
  auto driver = make_driver(make_options({make_provider("trickle", server.base_url("trickle"), 400ms)}));

  outcomes results;
  auto const started = steady::now();
  driver->submit(ask("hello"), results.sink());
  REQUIRE(results.wait_for(1, 5s));
  auto const took = steady::now() - started;

  auto const d = results.all().front();
  REQUIRE(d.error.has_value());
  CHECK(d.error->code == medgate::call_error_code::all_targets_failed);
  REQUIRE(d.attempts.size() == 1);
  CHECK(d.attempts[0].verdict.code == error_code::timeout);
  CHECK(took >= 390ms);
  CHECK(took < 1s);
}

TEST_CASE("an attempt is cut at its timeout when the server never answers") {
  test_server server{never_answers("silent")};
  auto driver = make_driver(make_options({make_provider("silent", server.base_url("silent"), 300ms)}));
  outcomes results;
  auto const started = steady::now();
  driver->submit(ask("hello"), results.sink());
  REQUIRE(results.wait_for(1, 5s));
  auto const took = steady::now() - started;
  auto const d = results.all().front();
  REQUIRE(d.attempts.size() == 1);
  CHECK(d.attempts[0].verdict.code == error_code::timeout);
  CHECK(took >= 290ms);
  CHECK(took < 1s);
}

TEST_CASE("a refused connection is classified and the call falls back") {
  test_server server{[&](httplib::Server& s, test_server&) {
    s.Post("/alive/v1/chat/completions", [&](httplib::Request const&, httplib::Response& res) {
      res.set_content(chat_completion("from the fallback"), "application/json");
    });
  }};
  std::vector<std::string> trace;
  medgate::transport::httplib_options transport;
  transport.observer = [&](medgate::effect const& e) { trace.push_back(medgate::describe(e)); };
  auto driver = make_driver(make_options({make_provider("dead", fmt::format("http://127.0.0.1:{}/v1", closed_port())),
                                          make_provider("alive", server.base_url("alive"))}),
                            transport);
  outcomes results;
  driver->submit(ask("hello"), results.sink());
  REQUIRE(results.wait_for(1, 5s));
  driver.reset();  // joins the owner thread, so `trace` is complete and no longer written

  auto const d = results.all().front();
  REQUIRE_MESSAGE(d.response.has_value(), (d.error ? d.error->message : ""));
  CHECK(d.provider == "alive");
  CHECK(content_of(d) == "from the fallback");
  REQUIRE(d.attempts.size() == 2);
  CHECK(d.attempts[0].provider == "dead");
  CHECK(d.attempts[0].verdict.code == error_code::connection_refused);
  CHECK(d.attempts[1].provider == "alive");
  bool explained = false;
  for (auto const& line : trace)
    explained = explained || (line.find("fall back from dead/gpt-4o-mini") != std::string::npos &&
                              line.find("connection_refused") != std::string::npos);
  CHECK(explained);
}

TEST_CASE("cancelling a call interrupts its attempt and frees the worker") {
  test_server server{[&](httplib::Server& s, test_server& self) {
    s.Post("/hang/v1/chat/completions", [&](httplib::Request const&, httplib::Response& res) {
      self.arrived();
      self.hold(10s);
      res.set_content(chat_completion("too late"), "application/json");
    });
    s.Post("/quick/v1/chat/completions", [&](httplib::Request const&, httplib::Response& res) {
      res.set_content(chat_completion("quick answer"), "application/json");
    });
  }};
  medgate::engine_options options;
  options.routing.providers = {make_provider("hang", server.base_url("hang"), 8s, "slow-model"),
                               make_provider("quick", server.base_url("quick"), 8s, "quick-model")};
  options.retry.max_attempts_per_target = 1;
  std::atomic<int> cancels{0};
  medgate::transport::httplib_options transport;
  transport.workers = 1;  // the quick call can only run once the hung attempt has let go of the worker
  transport.observer = [&](medgate::effect const& e) {
    if (std::holds_alternative<medgate::cancel>(e)) ++cancels;
  };
  auto driver = make_driver(options, transport);

  outcomes hung;
  auto const ticket = driver->submit(ask("hello", "slow-model"), hung.sink());
  REQUIRE(server.wait_for_requests(1, 5s));
  auto const cancelled_at = steady::now();
  driver->cancel(ticket);
  REQUIRE(hung.wait_for(1, 2s));
  auto const d = hung.all().front();
  REQUIRE(d.error.has_value());
  CHECK(d.error->code == medgate::call_error_code::cancelled);
  CHECK(steady::now() - cancelled_at < 500ms);
  CHECK(cancels.load() == 1);

  outcomes quick;
  driver->submit(ask("hello", "quick-model"), quick.sink());
  REQUIRE(quick.wait_for(1, 2s));
  CHECK(content_of(quick.all().front()) == "quick answer");
  CHECK(steady::now() - cancelled_at < 1s);
  CHECK_FALSE(server.released());  // the hung handler is still holding: the driver did not wait for it
}

TEST_CASE("the API key goes only into the Authorization header") {
  std::string const canary = "sk-CANARY-KEY-42";
  std::mutex mutex;
  std::vector<std::string> authorizations;
  test_server server{[&](httplib::Server& s, test_server&) {
    auto record = [&](httplib::Request const& req) {
      std::lock_guard lock{mutex};
      authorizations.push_back(req.has_header("Authorization") ? req.get_header_value("Authorization") : "<none>");
    };
    // A provider that rejects the key and quotes it back, as some do.
    s.Post("/rejecting/v1/chat/completions", [record](httplib::Request const& req, httplib::Response& res) {
      record(req);
      nlohmann::json body = {{"error",
                              {{"message", "Incorrect API key provided: " + req.get_header_value("Authorization")},
                               {"type", "invalid_request_error"},
                               {"code", "invalid_api_key"}}}};
      res.status = 401;
      res.set_content(body.dump(), "application/json");
    });
    s.Post("/accepting/v1/chat/completions", [record](httplib::Request const& req, httplib::Response& res) {
      record(req);
      res.set_content(chat_completion("accepted"), "application/json");
    });
  }};
  auto with_key = [](medgate::provider p, std::string env) {
    p.api_key_env = std::move(env);
    return p;
  };
  auto options = make_options(
      {with_key(make_provider("rejecting", server.base_url("rejecting")), "MEDGATE_E2E_KEY"),
       with_key(make_provider("dead", fmt::format("http://127.0.0.1:{}/v1", closed_port())), "MEDGATE_E2E_KEY"),
       with_key(make_provider("accepting", server.base_url("accepting")), "MEDGATE_E2E_KEY")});
  options.routing.providers.push_back(
      with_key(make_provider("keyless", server.base_url("accepting"), 3s, "other-model"), "MEDGATE_E2E_UNSET"));

  std::vector<std::string> rendered;
  std::atomic<int> lookups{0};
  medgate::transport::httplib_options transport;
  transport.key_lookup = [&](std::string const& name) -> std::optional<std::string> {
    ++lookups;
    if (name == "MEDGATE_E2E_KEY") return canary;
    return std::nullopt;
  };
  transport.observer = [&](medgate::effect const& e) {
    rendered.push_back(medgate::describe(e));
    if (auto const* s = std::get_if<medgate::send>(&e))
      rendered.push_back(s->body + " " + s->url + " " + s->api_key_env);
  };
  auto driver = make_driver(options, transport);
  outcomes results;
  driver->submit(ask("hello"), results.sink());
  REQUIRE(results.wait_for(1, 5s));
  driver->submit(ask("hello", "other-model"), results.sink());
  REQUIRE(results.wait_for(2, 5s));
  driver.reset();

  for (auto const& d : results.all()) {
    if (d.error)
      rendered.push_back(d.error->message + " " + d.error->last.value_or(medgate::openai::classification{}).reason);
    if (d.response) rendered.push_back(d.response->body.dump());
    for (auto const& a : d.attempts) rendered.push_back(a.verdict.reason);
    for (auto const& s : d.skipped) rendered.push_back(s.reason);
  }
  auto const all = results.all();
  REQUIRE(all.size() == 2);
  auto const& keyed = all[0];
  auto const& keyless = all[1];
  REQUIRE_MESSAGE(keyed.response.has_value(), (keyed.error ? keyed.error->message : ""));
  CHECK(keyed.provider == "accepting");
  REQUIRE(keyed.attempts.size() == 3);
  CHECK(keyed.attempts[0].verdict.status == 401);
  CHECK(keyed.attempts[1].verdict.code == error_code::connection_refused);
  REQUIRE(keyless.response.has_value());
  CHECK(keyless.provider == "keyless");

  {
    std::lock_guard lock{mutex};
    REQUIRE(authorizations.size() == 3);
    CHECK(authorizations[0] == "Bearer " + canary);
    CHECK(authorizations[1] == "Bearer " + canary);
    CHECK(authorizations[2] == "<none>");  // a missing variable: no header, the provider decides
  }
  // Read per attempt, right before sending (three with the key, one without),
  // plus once at start for the patient-key secret's variable.
  CHECK(lookups.load() == 5);
  REQUIRE(rendered.size() > 10);
  for (auto const& text : rendered) CHECK_MESSAGE(text.find("CANARY") == std::string::npos, text);
}

TEST_CASE("the API key can come from a file, read again when the file changes") {
  std::mutex mutex;
  std::vector<std::string> authorizations;
  test_server server{[&](httplib::Server& s, test_server&) {
    s.Post("/keyed/v1/chat/completions", [&](httplib::Request const& req, httplib::Response& res) {
      std::lock_guard lock{mutex};
      authorizations.push_back(req.get_header_value("Authorization"));
      res.set_content(chat_completion("accepted"), "application/json");
    });
  }};
  auto const folder = std::filesystem::temp_directory_path() / fmt::format("medgate-keyfile-{}", ::getpid());
  std::filesystem::create_directories(folder);
  auto const key_path = (folder / "openai.key").string();
  auto write_key = [&](std::string const& text) {
    std::ofstream out{key_path, std::ios::trunc};
    out << text;
  };
  write_key("sk-CANARY-FILE-KEY-1\n");  // as `echo` writes it: the line break is not part of the key

  auto keyed = make_provider("keyed", server.base_url("keyed"));
  keyed.api_key_file = key_path;
  auto missing = make_provider("missing", server.base_url("keyed"), 3s, "other-model");
  missing.api_key_file = (folder / "absent.key").string();
  auto options = make_options({keyed, missing});
  std::vector<std::string> rendered;
  medgate::transport::httplib_options transport;
  transport.observer = [&](medgate::effect const& e) { rendered.push_back(medgate::describe(e)); };
  auto driver = make_driver(options, transport);
  outcomes results;
  driver->submit(ask("hello"), results.sink());
  REQUIRE(results.wait_for(1, 5s));
  write_key("sk-CANARY-FILE-KEY-22");  // rotated (another size, so the change is seen within the same second)
  driver->submit(ask("hello"), results.sink());
  REQUIRE(results.wait_for(2, 5s));
  driver->submit(ask("hello", "other-model"), results.sink());
  REQUIRE(results.wait_for(3, 5s));
  driver.reset();

  auto const all = results.all();
  REQUIRE(all[0].response);
  REQUIRE(all[1].response);
  {
    std::lock_guard lock{mutex};
    REQUIRE(authorizations.size() == 2);
    CHECK(authorizations[0] == "Bearer sk-CANARY-FILE-KEY-1");
    CHECK(authorizations[1] == "Bearer sk-CANARY-FILE-KEY-22");
  }
  // An unreadable key file fails the attempt before anything is sent (`medgate serve` and `medgate chat` refuse
  // to start without it: see files.hpp).
  REQUIRE(all[2].error);
  REQUIRE_FALSE(all[2].attempts.empty());
  CHECK(all[2].attempts[0].verdict.code == error_code::transport_other);
  for (auto const& d : all) {
    if (d.error) rendered.push_back(d.error->message);
    for (auto const& a : d.attempts) rendered.push_back(a.verdict.reason);
  }
  for (auto const& text : rendered) CHECK_MESSAGE(text.find("CANARY") == std::string::npos, text);
  std::filesystem::remove_all(folder);
}

namespace {

/// A self-signed certificate for 127.0.0.1, made with the openssl program;
/// empty paths when it is not available.
struct self_signed {
  std::filesystem::path directory;
  std::string certificate;
  std::string key;
  self_signed() {
    directory = std::filesystem::temp_directory_path() / fmt::format("medgate-tls-{}", ::getpid());
    std::filesystem::create_directories(directory);
    auto const cert = (directory / "cert.pem").string();
    auto const key_path = (directory / "key.pem").string();
    auto const command = fmt::format(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout {} -out {} >/dev/null 2>&1",
        key_path, cert);
    if (std::system(command.c_str()) == 0) {  // NOLINT(cert-env33-c): test fixture
      certificate = cert;
      key = key_path;
    }
  }
  ~self_signed() {
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
};

}  // namespace

TEST_CASE("https to a server that does not speak TLS fails as a tls error") {
  test_server server{[&](httplib::Server& s, test_server&) {
    s.Post("/plain/v1/chat/completions", [&](httplib::Request const&, httplib::Response& res) {
      res.set_content(chat_completion("over plain http"), "application/json");
    });
  }};
  auto driver = make_driver(make_options({make_provider("plain", server.base_url("plain", "https"))}));
  outcomes results;
  driver->submit(ask("hello"), results.sink());
  REQUIRE(results.wait_for(1, 5s));
  auto const d = results.all().front();
  REQUIRE(d.error.has_value());
  REQUIRE(d.attempts.size() == 1);
  CHECK(d.attempts[0].verdict.code == error_code::tls);
}

TEST_CASE("certificates are verified by default; a given CA or turning verification off lets the call through") {
  self_signed tls;
  if (tls.certificate.empty()) {
    MESSAGE("openssl program not available: skipped");
    return;
  }
  httplib::SSLServer server{tls.certificate.c_str(), tls.key.c_str()};
  REQUIRE(server.is_valid());
  server.set_keep_alive_timeout(1);
  server.Post("/secure/v1/chat/completions", [&](httplib::Request const&, httplib::Response& res) {
    res.set_content(chat_completion("over tls"), "application/json");
  });
  int const port = server.bind_to_any_port("127.0.0.1");
  std::thread serving{[&] { server.listen_after_bind(); }};
  auto const url = fmt::format("https://127.0.0.1:{}/secure/v1", port);
  auto call = [&](medgate::transport::httplib_options transport) {
    auto c =
        medgate::client::create(make_options({make_provider("secure", url)}), std::move(transport), medgate::seed{1});
    REQUIRE(c.ok());
    return c->chat("clinical-summary", "hello");
  };

  auto const by_default = call({});
  REQUIRE(by_default.error.has_value());
  REQUIRE(by_default.attempts.size() == 1);
  CHECK(by_default.attempts[0].verdict.code == error_code::tls);

  medgate::transport::httplib_options trusting;
  trusting.ca_cert_path = tls.certificate;
  auto const with_ca = call(trusting);
  REQUIRE_MESSAGE(with_ca.response.has_value(), (with_ca.error ? with_ca.error->message : ""));
  CHECK(content_of(with_ca) == "over tls");

  medgate::transport::httplib_options unverified;
  unverified.verify_tls = false;
  auto const without_verification = call(unverified);
  REQUIRE(without_verification.response.has_value());

  server.stop();
  serving.join();
}

TEST_CASE("destroying the driver with attempts in flight returns promptly and ends every call") {
  test_server server{never_answers("hang")};
  medgate::transport::httplib_options transport;
  transport.workers = 4;
  auto driver = make_driver(make_options({make_provider("hang", server.base_url("hang"), 8s)}), transport);
  outcomes results;
  for (int i = 0; i < 6; ++i) driver->submit(ask("hello"), results.sink());  // four in flight, two queued
  REQUIRE(server.wait_for_requests(4, 5s));

  auto const started = steady::now();
  driver.reset();
  CHECK(steady::now() - started < 2s);
  REQUIRE(results.wait_for(6, 0ms));  // every callback ran before the destructor returned
  for (auto const& d : results.all()) {
    REQUIRE(d.error.has_value());
    CHECK(d.error->code == medgate::call_error_code::cancelled);
  }
  CHECK(server.requests() == 4);
  CHECK_FALSE(server.released());
}

TEST_CASE("destroying the driver while blocking calls perform their attempts ends them promptly") {
  test_server server{never_answers("hang")};
  auto driver = make_driver(make_options({make_provider("hang", server.base_url("hang"), 8s)}));
  std::vector<std::future<medgate::done>> calls;
  for (int i = 0; i < 3; ++i)
    calls.push_back(std::async(std::launch::async, [&driver] { return driver->call(ask("hello")); }));
  REQUIRE(server.wait_for_requests(3, 5s));

  auto const started = steady::now();
  driver.reset();  // waits for the callers, whose attempts it stops
  CHECK(steady::now() - started < 2s);
  for (auto& call : calls) {
    REQUIRE(call.wait_for(0s) == std::future_status::ready);
    auto const d = call.get();
    REQUIRE(d.error.has_value());
    CHECK(d.error->code == medgate::call_error_code::cancelled);
  }
  CHECK(server.requests() == 3);
}

namespace {

using medgate::testing::run_medgate;

std::filesystem::path write_temporary(std::string const& name, std::string const& text) {
  auto const path = std::filesystem::temp_directory_path() / fmt::format("medgate-{}-{}", ::getpid(), name);
  std::ofstream{path} << text;
  return path;
}

}  // namespace

TEST_CASE("medgate chat prints the answer, and exits 1 on a failed call and 2 on a bad config") {
  medgate::sim::simulator sim{{.host = "127.0.0.1", .port = 0, .providers = {{"primary"}}, .seed = 3}};
  REQUIRE(sim.start().ok());
  auto const good_json = fmt::format(R"({{"providers": [{{"name": "primary", "base_url": "{}",
      "models": ["gpt-4o-mini"]}}], "routes": {{"clinical-summary": ["primary/gpt-4o-mini"]}}}})",
                                     sim.base_url("primary"));
  auto const good = write_temporary("good.json", good_json);
  auto const dead = write_temporary("dead.json", fmt::format(R"({{"providers": [{{"name": "primary",
      "base_url": "http://127.0.0.1:{}/v1", "models": ["gpt-4o-mini"]}}], "retry": {{"max_attempts_per_target": 1}}}})",
                                                             closed_port()));
  auto const bad =
      write_temporary("bad.json", R"({"providers": [{"name": "primary", "base_url": "http://127.0.0.1:1/v1",
      "breaker": {"window_size": 0}}]})");

  // The same question straight through a client gives the answer the program must print.
  auto options = medgate::parse_config(good_json);
  REQUIRE(options.ok());
  auto c = medgate::client::create(std::move(*options), {}, medgate::seed{1});
  REQUIRE(c.ok());
  auto const expected = content_of(c->chat("gpt-4o-mini", "How is the patient today?"));
  REQUIRE_FALSE(expected.empty());

  auto const answered =
      run_medgate(fmt::format("chat --config {} --trace --seed 5 How is the patient today?", good.string()));
  CHECK(answered.exit_code == 0);
  CHECK(answered.out == expected + "\n");
  CHECK(answered.err.find("send call=1 attempt=1 n=1 primary/gpt-4o-mini") != std::string::npos);
  CHECK(answered.err.find("done call=1 ok by=primary/gpt-4o-mini") != std::string::npos);

  auto const failed = run_medgate(fmt::format("chat --config {} --model gpt-4o-mini hello", dead.string()));
  CHECK(failed.exit_code == 1);
  CHECK(failed.out.empty());
  CHECK(failed.err.find("all_targets_failed") != std::string::npos);
  CHECK(failed.err.find("attempt 1 primary/gpt-4o-mini: connection_refused") != std::string::npos);

  auto const misconfigured = run_medgate(fmt::format("chat --config {} hello", bad.string()));
  CHECK(misconfigured.exit_code == 2);
  CHECK(misconfigured.err.find("providers[0].breaker.window_size") != std::string::npos);

  CHECK(run_medgate("chat --timeout-ms soon hello").exit_code == 2);
  CHECK(run_medgate("chat").exit_code == 2);
  CHECK(run_medgate("chat --help").exit_code == 0);

  for (auto const& path : {good, dead, bad}) std::filesystem::remove(path);
}
