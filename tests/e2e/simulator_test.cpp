// The provider simulator over real loopback HTTP: answer shapes, determinism,
// every fault as a client sees it, the admin endpoint, prompt stops, and the
// `medgate simulate` command.
#include "simulator.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <httplib.h>

#include "program.hpp"

extern char** environ;

using namespace medgate;
using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

// ---- helpers --------------------------------------------------------------------

sim::fault_profile profile(std::string_view text) {
  auto parsed = sim::parse_fault_profile(text);
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string{} : parsed.error_message()));
  return *parsed;
}

/// A started simulator with providers `primary` and `fallback` (unless given).
struct running {
  sim::simulator server;
  int port = 0;

  explicit running(sim::simulator_options options) : server{with_defaults(std::move(options))} {
    auto started = server.start();
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? std::string{} : started.error_message()));
    port = *started;
  }
  explicit running(std::string_view primary_faults = "healthy", std::uint64_t seed = 1)
      : running{sim::simulator_options{
            .providers = {{.name = "primary", .faults = profile(primary_faults)}, {.name = "fallback"}},
            .seed = seed}} {}

  [[nodiscard]] httplib::Client client(std::chrono::milliseconds read_timeout = 10s) const {
    httplib::Client c{"127.0.0.1", port};
    c.set_read_timeout(read_timeout);
    c.set_connection_timeout(2s);
    c.set_keep_alive(true);  // as OpenAI clients do: faults must not poison a reused connection
    c.set_tcp_nodelay(true);
    return c;
  }

 private:
  static sim::simulator_options with_defaults(sim::simulator_options o) {
    if (o.providers.empty()) o.providers = {{.name = "primary"}, {.name = "fallback"}};
    return o;
  }
};

std::string chat_body(std::string_view prompt, bool stream = false, std::string_view model = "gpt-4o-mini") {
  json body = {
      {"model", model},
      {"messages",
       {{{"role", "system"}, {"content", "You summarise clinical notes."}}, {{"role", "user"}, {"content", prompt}}}}};
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body.dump();
}

httplib::Result post_chat(httplib::Client& c, std::string_view prompt, std::string_view provider = "primary",
                          bool stream = false) {
  return c.Post(fmt::format("/{}/v1/chat/completions", provider), chat_body(prompt, stream), "application/json");
}

std::string content_of(httplib::Result const& r) {
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const json answer = json::parse(r->body);
  return answer["choices"][0]["message"]["content"].get<std::string>();
}

/// The `data:` payloads of an SSE body, in order.
std::vector<std::string> sse_data(std::string_view body) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string_view::npos) {
    const auto end = body.find("\n\n", at);
    out.emplace_back(body.substr(at + 6, end == std::string_view::npos ? std::string_view::npos : end - at - 6));
    if (end == std::string_view::npos) break;
    at = end + 2;
  }
  return out;
}

/// One exchange on a plain socket, read until the server closes or fails:
/// shows exactly what went over the wire, and the errno of a reset.
struct raw_reply {
  std::string bytes;
  int failure = 0;  ///< errno of the failed read; 0 when the server closed normally
};

raw_reply raw_exchange(int port, std::string const& request) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(s >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(s, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  timeval timeout{5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  REQUIRE(send(s, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  raw_reply reply;
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(s, buffer, sizeof buffer, 0);
    if (n > 0) {
      reply.bytes.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0) reply.failure = errno;
    break;
  }
  close(s);
  return reply;
}

std::string raw_chat(std::string_view provider, std::string const& body) {
  return fmt::format(
      "POST /{}/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
      provider, body.size(), body);
}

std::time_t parse_http_date(std::string const& text) {
  std::tm tm{};
  char const* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  REQUIRE_MESSAGE(end != nullptr, text);
  CHECK(*end == '\0');
  return timegm(&tm);
}

template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = 5s) {
  const auto until = steady::now() + limit;
  while (steady::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

double seconds_since(steady::time_point start) { return std::chrono::duration<double>(steady::now() - start).count(); }

}  // namespace

// ---- fault profiles -----------------------------------------------------------------

TEST_CASE("a fault profile parses from JSON, from a preset name, and from a preset with overrides") {
  const auto p = profile(R"({"errors": {"500": 0.1, "503": 0.05},
    "rate_limit": {"probability": 0.3, "retry_after_ms": 1500, "form": "http_date"},
    "latency": {"kind": "lognormal", "median_ms": 250, "sigma": 0.4, "spike_probability": 0.05, "spike_ms": 8000},
    "hang": {"probability": 0.01, "ms": 30000}, "reset": 0.02, "malformed": 0.03, "truncate": 0.04})");
  CHECK(p.errors == std::map<int, double>{{500, 0.1}, {503, 0.05}});
  CHECK(p.rate_limit.probability == 0.3);
  CHECK(p.rate_limit.retry_after == 1500ms);
  CHECK(p.rate_limit.form == sim::retry_after_form::http_date);
  CHECK(p.latency.kind == sim::latency_kind::lognormal);
  CHECK(p.latency.median == 250ms);
  CHECK(p.latency.sigma == 0.4);
  CHECK(p.latency.spike == 8s);
  CHECK(p.hang.probability == 0.01);
  CHECK(p.hang.hold == 30s);
  CHECK(p.reset == 0.02);
  CHECK(p.malformed == 0.03);
  CHECK(p.truncate == 0.04);

  CHECK(profile("{}") == sim::fault_profile{});
  CHECK(profile(R"("down")") == *sim::preset("down"));
  CHECK(profile("flaky") == *sim::preset("flaky"));
  CHECK(profile(R"({"preset": "down"})").errors.at(503) == 1.0);
  const auto slow_and_flaky = profile(R"({"preset": "slow", "errors": {"500": 0.25}})");
  CHECK(slow_and_flaky.latency.median == 2s);
  CHECK(slow_and_flaky.errors == std::map<int, double>{{500, 0.25}});
}

TEST_CASE("every preset exists and survives a JSON round trip") {
  const auto names = sim::preset_names();
  REQUIRE(names.size() == 12);
  for (auto name : names) {
    CAPTURE(name);
    const auto p = sim::preset(name);
    REQUIRE(p);
    CHECK_FALSE(p->validate());
    CHECK(profile(sim::to_json(*p).dump()) == *p);
  }
  sim::fault_profile fractional;
  fractional.latency.fixed = 1500us;
  fractional.rate_limit.form = sim::retry_after_form::milliseconds;
  CHECK(sim::to_json(fractional)["latency"]["ms"] == 1.5);
  CHECK(profile(sim::to_json(fractional).dump()) == fractional);
  CHECK(sim::preset("flaky")->errors.at(503) == 0.1);
  CHECK(sim::preset("rate_limited")->rate_limit.probability == 0.3);
  CHECK(sim::preset("down")->errors.at(503) == 1.0);
  CHECK_FALSE(sim::preset("dwon"));
}

TEST_CASE("fault profile errors name the field and what was wrong") {
  auto message = [](std::string_view text) {
    auto parsed = sim::parse_fault_profile(text);
    REQUIRE_FALSE(parsed.ok());
    return parsed.error_message();
  };
  CHECK(message(R"({"latency": {"sigma": -1}})") == "fault profile: latency.sigma must be >= 0, got -1");
  CHECK(message(R"({"latncy": {}})") == "fault profile: unknown field \"latncy\"");
  CHECK(message(R"({"latency": {"sgima": 1}})") == "fault profile: unknown field \"latency.sgima\"");
  CHECK(message(R"("dwon")") ==
        "fault profile: unknown preset \"dwon\" (known: healthy, flaky, rate_limited, slow, spiky, hanging, "
        "resetting, malformed, truncating, down, dripping, breaking)");
  CHECK(message("dwon") == message(R"({"preset": "dwon"})"));
  CHECK(message(R"({"errors": {"700": 0.1}})") == "fault profile: errors.700 must be an HTTP status from 400 to 599");
  CHECK(message(R"({"errors": {"5xx": 0.1}})") == "fault profile: errors.5xx must be an HTTP status from 400 to 599");
  CHECK(message(R"({"reset": "often"})") == "fault profile: reset must be a number, got \"often\"");
  CHECK(message(R"({"reset": 1.5})") == "fault profile: reset must be from 0 to 1, got 1.5");
  CHECK(message(R"({"hang": {"ms": -5}})") == "fault profile: hang.ms must be >= 0, got -5");
  CHECK(message(R"({"rate_limit": {"form": "minutes"}})") ==
        "fault profile: rate_limit.form must be \"seconds\", \"http_date\" or \"ms\", got \"minutes\"");
  CHECK(message(R"({"latency": {"kind": "gaussian"}})") ==
        "fault profile: latency.kind must be \"fixed\" or \"lognormal\", got \"gaussian\"");
  CHECK(message(R"({"errors": {"503": 0.6}, "reset": 0.6})") ==
        "fault profile: fault probabilities must add up to at most 1, got 1.2");
  CHECK(message("[1, 2]") == "fault profile: must be a JSON object or a preset name, got [1,2]");
  CHECK(message("{not json") ==
        "fault profile: not valid JSON; expected an object such as {\"errors\": {\"503\": 0.1}} or a preset name");
}

TEST_CASE("simulator options are checked before the server starts") {
  sim::simulator_options o{.providers = {{.name = "primary"}, {.name = "primary"}}};
  CHECK(o.validate()->to_string() == "providers[1].name repeats provider \"primary\"");
  o.providers = {{.name = "admin"}};
  CHECK(o.validate()->field == "providers[0].name");
  o.providers = {{.name = "a", .faults = *sim::preset("down")}};
  o.providers[0].faults.reset = 2;
  CHECK(o.validate()->to_string() == "providers[0].faults.reset must be from 0 to 1, got 2");
  o.providers.clear();
  CHECK(o.validate()->to_string() == "providers must name at least one provider");

  sim::simulator bad{sim::simulator_options{.providers = {{.name = "x/y"}}}};
  const auto started = bad.start();
  REQUIRE_FALSE(started.ok());
  CHECK(started.error_message().starts_with("simulator: providers[0].name must be letters"));
}

// ---- healthy answers ------------------------------------------------------------------

TEST_CASE("models are listed in OpenAI's shape, per provider") {
  running sim{sim::simulator_options{
      .providers = {{.name = "primary", .models = {"gpt-4o-mini", "gpt-4o"}}, {.name = "fallback"}}}};
  auto c = sim.client();
  auto r = c.Get("/primary/v1/models");
  REQUIRE(r);
  CHECK(r->status == 200);
  const json list = json::parse(r->body);
  CHECK(list["object"] == "list");
  REQUIRE(list["data"].size() == 2);
  CHECK(list["data"][0]["id"] == "gpt-4o-mini");
  CHECK(list["data"][1]["id"] == "gpt-4o");
  CHECK(list["data"][1]["object"] == "model");
  CHECK(list["data"][1]["owned_by"] == "primary");
  CHECK(json::parse(c.Get("/fallback/v1/models")->body)["data"].size() == 1);
  CHECK(c.Get("/primary/v1/models/gpt-4o")->status == 200);
  CHECK(c.Get("/primary/v1/models/gpt-5")->status == 404);
  CHECK(sim.server.base_url("primary") == fmt::format("http://127.0.0.1:{}/primary/v1", sim.port));
}

TEST_CASE("a chat completion has OpenAI's shape and names the provider") {
  running sim;
  auto c = sim.client();
  auto r = post_chat(c, "Summarise the visit: chest pain resolved after rest.");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  CHECK(r->has_header("Date"));
  CHECK(r->get_header_value("x-request-id").starts_with("req_"));
  const json answer = json::parse(r->body);
  CHECK(answer["id"].get<std::string>().starts_with("chatcmpl-"));
  CHECK(answer["object"] == "chat.completion");
  CHECK(answer["created"].is_number_integer());
  CHECK(answer["model"] == "gpt-4o-mini");
  REQUIRE(answer["choices"].size() == 1);
  CHECK(answer["choices"][0]["index"] == 0);
  CHECK(answer["choices"][0]["message"]["role"] == "assistant");
  CHECK(answer["choices"][0]["finish_reason"] == "stop");
  const std::string content = answer["choices"][0]["message"]["content"];
  CHECK(content.starts_with(
      "[primary/gpt-4o-mini] Summary of \"Summarise the visit: chest pain resolved after rest.\":"));
  const json usage = answer["usage"];
  CHECK(usage["completion_tokens"] == (content.size() + 3) / 4);
  CHECK(usage["total_tokens"] == usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());
  // The provider keeps what it received, so a test can see what left the gateway.
  const auto received = sim.server.received("primary");
  REQUIRE(received.size() == 1);
  CHECK(received[0]["messages"][1]["content"] == "Summarise the visit: chest pain resolved after rest.");
  CHECK(sim.server.provider_stats("primary") == sim::simulator::stats{.requests = 1, .ok = 1});
}

TEST_CASE("the answer is a function of the prompt") {
  running sim;
  running other{sim::simulator_options{.seed = 99}};
  auto c = sim.client();
  auto d = other.client();
  const std::string a = content_of(post_chat(c, "Patient reports a dry cough for three days."));
  CHECK(content_of(post_chat(c, "Patient reports a dry cough for three days.")) == a);
  CHECK(content_of(post_chat(d, "Patient reports a dry cough for three days.")) == a);  // seeds decide faults only
  const std::string b = content_of(post_chat(c, "Follow-up after knee replacement surgery."));
  CHECK(b != a);
  const std::string fallback = content_of(post_chat(c, "Patient reports a dry cough for three days.", "fallback"));
  CHECK(fallback.starts_with("[fallback/gpt-4o-mini]"));
  CHECK(fallback.substr(fallback.find(']')) == a.substr(a.find(']')));
}

TEST_CASE("invalid requests get OpenAI-style errors and no fault") {
  running sim{"down"};
  auto c = sim.client();
  auto error_of = [](httplib::Result const& r) { return json::parse(r->body)["error"]; };

  auto r = c.Post("/primary/v1/chat/completions", "{not json", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(error_of(r)["type"] == "invalid_request_error");
  CHECK(error_of(r)["param"].is_null());
  CHECK(r->has_header("Date"));

  r = c.Post("/primary/v1/chat/completions", R"({"model": "gpt-4o-mini"})", "application/json");
  CHECK(r->status == 400);
  CHECK(error_of(r)["param"] == "messages");
  CHECK(error_of(r)["code"] == "missing_required_parameter");

  r = c.Post("/primary/v1/chat/completions", R"({"model": "gpt-4o-mini", "messages": [{"content": "x"}]})",
             "application/json");
  CHECK(r->status == 400);
  CHECK(error_of(r)["param"] == "messages.[0].role");

  r = c.Post("/primary/v1/chat/completions", chat_body("hello", false, "gpt-5"), "application/json");
  CHECK(r->status == 404);
  CHECK(error_of(r)["code"] == "model_not_found");

  r = c.Post("/nobody/v1/chat/completions", chat_body("hello"), "application/json");
  CHECK(r->status == 404);
  CHECK(error_of(r)["code"] == "unknown_provider");

  r = c.Get("/primary/v2/anything");
  CHECK(r->status == 404);
  CHECK(error_of(r)["code"] == "unknown_url");

  CHECK(sim.server.provider_stats("primary") == sim::simulator::stats{.requests = 4, .rejected = 4});
}

TEST_CASE("a stream is live chat.completion.chunk events, a usage chunk, then [DONE]") {
  running sim{R"({"latency": {"ms": 1000}})"};  // one second to the first event, then 100 ms between events
  auto c = sim.client();
  const std::string expected = content_of(post_chat(c, "Summarise: ankle sprain, no fracture.", "fallback"));

  httplib::Request req;
  req.method = "POST";
  req.path = "/primary/v1/chat/completions";
  req.body = chat_body("Summarise: ankle sprain, no fracture.", true);
  req.set_header("Content-Type", "application/json");
  std::string body;
  std::vector<steady::time_point> arrivals;
  req.content_receiver = [&](char const* data, std::size_t size, std::uint64_t, std::uint64_t) {
    body.append(data, size);
    arrivals.push_back(steady::now());
    return true;
  };
  const auto start = steady::now();
  auto r = c.send(req);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "text/event-stream");
  CHECK(r->get_header_value("Transfer-Encoding") == "chunked");
  REQUIRE(arrivals.size() >= 5);
  CHECK(arrivals.front() - start >= 950ms);
  CHECK(arrivals.back() - arrivals.front() >= 500ms);  // events arrived one by one, not all at the end

  const auto events = sse_data(body);
  REQUIRE(events.size() >= 5);
  CHECK(events.back() == "[DONE]");
  std::string content;
  bool saw_stop = false;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    CHECK(chunk["object"] == "chat.completion.chunk");
    CHECK(chunk["model"] == "gpt-4o-mini");
    CHECK(chunk["id"] == json::parse(events[0])["id"]);
    if (i == 0) CHECK(chunk["choices"][0]["delta"]["role"] == "assistant");
    if (i + 2 == events.size()) {  // the usage chunk: no choices
      CHECK(chunk["choices"].empty());
      CHECK(chunk["usage"]["completion_tokens"] == (expected.size() - 1 + 3) / 4);
      continue;
    }
    const json& choice = chunk["choices"][0];
    if (choice["delta"].contains("content")) content += choice["delta"]["content"].get<std::string>();
    if (choice["finish_reason"] == "stop") saw_stop = true;
  }
  CHECK(saw_stop);
  // The same sentences as the provider `fallback` gave, under this provider's name.
  CHECK(content == "[primary" + expected.substr(expected.find('/')));
}

// ---- faults, as a client sees them ----------------------------------------------------

TEST_CASE("injected error statuses carry OpenAI error bodies; 503 says when to retry") {
  running sim{R"({"errors": {"500": 1}})"};
  auto c = sim.client();
  auto r = post_chat(c, "x");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(json::parse(r->body)["error"]["type"] == "server_error");
  CHECK_FALSE(r->has_header("Retry-After"));

  REQUIRE(
      sim.server.set_faults("primary", profile(R"({"errors": {"503": 1}, "rate_limit": {"retry_after_ms": 1500}})")));
  r = post_chat(c, "x");
  CHECK(r->status == 503);
  CHECK(r->get_header_value("Retry-After") == "2");  // 1.5 s rounded up
  CHECK(sim.server.provider_stats("primary").errors == 2);
}

TEST_CASE("a 429 says when to retry in each of the three forms") {
  running sim{R"({"rate_limit": {"probability": 1, "retry_after_ms": 2000, "form": "seconds"}})"};
  auto c = sim.client();
  auto r = post_chat(c, "x");
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(json::parse(r->body)["error"]["code"] == "rate_limit_exceeded");
  CHECK(r->get_header_value("Retry-After") == "2");
  CHECK(r->get_header_value("x-ratelimit-remaining-requests") == "0");

  sim.server.set_faults("primary",
                        profile(R"({"rate_limit": {"probability": 1, "retry_after_ms": 3000, "form": "http_date"}})"));
  r = post_chat(c, "x");
  CHECK(r->status == 429);
  const std::time_t date = parse_http_date(r->get_header_value("Date"));
  const std::time_t retry_at = parse_http_date(r->get_header_value("Retry-After"));
  CHECK(retry_at - date == 3);
  CHECK(std::abs(date - std::time(nullptr)) <= 2);

  sim.server.set_faults("primary",
                        profile(R"({"rate_limit": {"probability": 1, "retry_after_ms": 1500, "form": "ms"}})"));
  r = post_chat(c, "x");
  CHECK(r->status == 429);
  CHECK(r->get_header_value("retry-after-ms") == "1500");
  CHECK_FALSE(r->has_header("Retry-After"));
  CHECK(sim.server.provider_stats("primary").rate_limited == 3);
}

TEST_CASE("latency delays the answer; a spike replaces it") {
  running sim{R"({"latency": {"kind": "fixed", "ms": 300}})"};
  auto c = sim.client();
  auto start = steady::now();
  auto r = post_chat(c, "x");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(steady::now() - start >= 300ms);
  CHECK(r->get_header_value("openai-processing-ms") == "300");

  sim.server.set_faults("primary", profile(R"({"latency": {"ms": 0, "spike_probability": 1, "spike_ms": 400}})"));
  start = steady::now();
  r = post_chat(c, "x");
  CHECK(r->status == 200);
  CHECK(steady::now() - start >= 400ms);
}

TEST_CASE("a hung request never answers: the client's read timeout fires") {
  running sim{sim::simulator_options{
      .providers = {{.name = "primary", .faults = profile(R"({"hang": {"probability": 1, "ms": 30000}})")}},
      .threads = 2}};
  auto c = sim.client(300ms);
  const auto start = steady::now();
  auto r = post_chat(c, "x");
  CHECK_FALSE(r);
  CHECK(r.error() == httplib::Error::Read);
  CHECK(seconds_since(start) < 5);
  CHECK(sim.server.provider_stats("primary").hangs == 1);

  // The hung handler notices the client left and frees its thread: with two
  // threads, two abandoned hangs must not block the next request.
  CHECK_FALSE(post_chat(c, "x"));
  auto probe = sim.client(3s);
  auto health = probe.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("a reset tears the connection down with a TCP RST before any byte") {
  running sim{R"({"reset": 1})"};
  auto c = sim.client();
  auto r = post_chat(c, "x");
  CHECK_FALSE(r);
  CHECK(r.error() == httplib::Error::Read);

  const auto raw = raw_exchange(sim.port, raw_chat("primary", chat_body("x")));
  CHECK(raw.bytes.empty());
  CHECK(raw.failure == ECONNRESET);
  CHECK(sim.server.provider_stats("primary").resets == 2);

  // The same exchange with a healthy provider ends normally.
  const auto healthy = raw_exchange(sim.port, raw_chat("fallback", chat_body("x")));
  CHECK(healthy.failure == 0);
  CHECK(healthy.bytes.starts_with("HTTP/1.1 200 OK"));
}

TEST_CASE("malformed answers alternate: not JSON, then JSON without choices") {
  running sim{R"({"malformed": 1})"};
  auto c = sim.client();
  auto r = post_chat(c, "x");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body, nullptr, false).is_discarded());
  r = post_chat(c, "x");
  REQUIRE(r);
  CHECK(r->status == 200);
  const json second = json::parse(r->body, nullptr, false);
  REQUIRE_FALSE(second.is_discarded());
  CHECK_FALSE(second.contains("choices"));

  // In a stream, the first content event is the broken one.
  r = post_chat(c, "x", "primary", true);
  REQUIRE(r);
  const auto events = sse_data(r->body);
  REQUIRE(events.size() >= 3);
  CHECK_FALSE(json::parse(events[0], nullptr, false).is_discarded());
  CHECK(json::parse(events[1], nullptr, false).is_discarded());
  CHECK(sim.server.provider_stats("primary").malformed == 3);
}

TEST_CASE("a truncated answer stops mid-JSON; a truncated stream stops without [DONE]") {
  running sim{R"({"truncate": 1})"};
  auto c = sim.client();
  auto r = post_chat(c, "x");
  CHECK_FALSE(r);
  CHECK(r.error() == httplib::Error::Read);

  const auto raw = raw_exchange(sim.port, raw_chat("primary", chat_body("x")));
  const auto header_end = raw.bytes.find("\r\n\r\n");
  REQUIRE(header_end != std::string::npos);
  const std::string headers = raw.bytes.substr(0, header_end);
  const std::string body = raw.bytes.substr(header_end + 4);
  const auto length_at = headers.find("Content-Length: ");
  REQUIRE(length_at != std::string::npos);
  const auto promised = std::stoul(headers.substr(length_at + 16));
  CHECK(body.size() == promised / 2);
  CHECK(json::parse(body, nullptr, false).is_discarded());

  const auto stream = raw_exchange(sim.port, raw_chat("primary", chat_body("x", true)));
  CHECK(stream.bytes.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(stream.bytes.find("data: {") != std::string::npos);
  CHECK(stream.bytes.find("[DONE]") == std::string::npos);
  CHECK_FALSE(stream.bytes.ends_with("0\r\n\r\n"));  // no terminating chunk

  const auto whole = raw_exchange(sim.port, raw_chat("fallback", chat_body("x", true)));
  CHECK(whole.bytes.find("data: [DONE]") != std::string::npos);
  CHECK(whole.bytes.ends_with("0\r\n\r\n"));
  CHECK(sim.server.provider_stats("primary").truncated == 3);
}

TEST_CASE("a reset mid-body sends the headers and part of the body, then a TCP reset; the key replays the answer") {
  running sim{R"({"reset_mid_body": 1})"};

  const auto raw = raw_exchange(sim.port, raw_chat("primary", chat_body("x")));
  CHECK(raw.failure == ECONNRESET);
  const auto header_end = raw.bytes.find("\r\n\r\n");
  REQUIRE(header_end != std::string::npos);
  CHECK(raw.bytes.starts_with("HTTP/1.1 200"));
  const auto length_at = raw.bytes.find("Content-Length: ");
  REQUIRE(length_at != std::string::npos);
  const auto promised = std::stoul(raw.bytes.substr(length_at + 16));
  const std::string body = raw.bytes.substr(header_end + 4);
  CHECK(!body.empty());
  CHECK(body.size() < promised);
  CHECK(json::parse(body, nullptr, false).is_discarded());

  const auto stream = raw_exchange(sim.port, raw_chat("primary", chat_body("x", true)));
  CHECK(stream.failure == ECONNRESET);
  CHECK(stream.bytes.find("data: {") != std::string::npos);
  CHECK(stream.bytes.find("[DONE]") == std::string::npos);

  // The provider did the work: the same Idempotency-Key, once healed, gets that answer and no new one.
  auto c = sim.client();
  const httplib::Headers keyed{{"Idempotency-Key", "item-7"}};
  auto cut = c.Post("/primary/v1/chat/completions", keyed, chat_body("x"), "application/json");
  CHECK_FALSE(cut);
  sim.server.set_faults("primary", {});
  auto again = c.Post("/primary/v1/chat/completions", keyed, chat_body("x"), "application/json");
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(again->get_header_value("Idempotent-Replayed") == "true");
  CHECK(sim.server.provider_stats("primary").mid_body_resets == 3);
  auto books = c.Get("/admin/providers/primary/idempotency");
  REQUIRE(books);
  const auto counts = json::parse(books->body);
  CHECK(counts["answered"] == 1);
  CHECK(counts["replayed"] == 1);
  CHECK(counts["answered_twice"] == 0);
}

TEST_CASE("a dripping answer arrives whole, a few bytes at a time: a slow loris") {
  running sim{R"({"drip": {"probability": 1, "bytes": 64, "interval_ms": 40}})"};
  auto c = sim.client();
  const auto start = steady::now();
  auto r = post_chat(c, "x");
  const double took = seconds_since(start);
  REQUIRE(r);
  CHECK(r->status == 200);
  const auto writes = (r->body.size() + 63) / 64;
  CHECK(writes >= 4);
  CHECK(took >= 0.04 * static_cast<double>(writes - 1) * 0.9);  // every pause was taken
  CHECK_FALSE(content_of(r).empty());

  auto s = post_chat(c, "x", "primary", true);
  REQUIRE(s);
  CHECK(s->status == 200);
  CHECK(s->body.ends_with("data: [DONE]\n\n"));
  CHECK(sim.server.provider_stats("primary").dripped == 2);

  // A client that bounds only the wait for each byte is held for the whole drip; one byte every 40 ms never
  // trips a 100 ms read timeout.
  auto impatient = sim.client(100ms);
  auto slow = post_chat(impatient, "y");
  CHECK(slow);
}

TEST_CASE("drip and reset_mid_body parse, round-trip and name their bad fields") {
  const auto p = profile(R"({"drip": {"probability": 0.1, "bytes": 8, "interval_ms": 250}, "reset_mid_body": 0.2})");
  CHECK(p.drip.probability == 0.1);
  CHECK(p.drip.bytes == 8);
  CHECK(p.drip.interval == 250ms);
  CHECK(p.reset_mid_body == 0.2);
  CHECK(profile(sim::to_json(p).dump()) == p);
  CHECK(sim::preset("dripping")->drip.probability == 0.2);
  CHECK(sim::preset("breaking")->reset_mid_body == 0.2);
  auto message = [](std::string_view text) {
    auto parsed = sim::parse_fault_profile(text);
    REQUIRE_FALSE(parsed.ok());
    return parsed.error_message();
  };
  CHECK(message(R"({"drip": {"bytes": 0}})") ==
        "fault profile: drip.bytes must be a whole number from 1 to 65536, got 0");
  CHECK(message(R"({"drip": {"bytes": 1.5}})") ==
        "fault profile: drip.bytes must be a whole number from 1 to 65536, got 1.5");
  CHECK(message(R"({"drip": {"every": 3}})") == "fault profile: unknown field \"drip.every\"");
  CHECK(message(R"({"drip": {"interval_ms": -1}})") == "fault profile: drip.interval_ms must be >= 0, got -1");
  CHECK(message(R"({"reset_mid_body": 0.7, "drip": {"probability": 0.7}})") ==
        "fault profile: fault probabilities must add up to at most 1, got 1.4");
}

// ---- determinism ---------------------------------------------------------------------

namespace {

/// What a client saw for each of `count` sequential requests.
std::vector<std::string> fault_sequence(std::uint64_t seed, int count, sim::simulator::stats& counts) {
  running sim{R"({"errors": {"500": 0.1, "503": 0.1}, "rate_limit": {"probability": 0.15},
                  "reset": 0.05, "malformed": 0.1, "truncate": 0.05})",
              seed};
  auto c = sim.client();
  std::vector<std::string> seen;
  for (int i = 0; i < count; ++i) {
    auto r = post_chat(c, fmt::format("note {}", i));
    if (!r) {
      seen.push_back("failed:" + httplib::to_string(r.error()));
      continue;
    }
    const json body = json::parse(r->body, nullptr, false);
    const bool complete = !body.is_discarded() && body.contains("choices");
    seen.push_back(fmt::format("{}{}", r->status, r->status == 200 && !complete ? " malformed" : ""));
  }
  counts = sim.server.provider_stats("primary");
  return seen;
}

}  // namespace

TEST_CASE("the same seed repeats the fault sequence; another seed does not") {
  sim::simulator::stats first_counts, again_counts, other_counts;
  const auto first = fault_sequence(7, 200, first_counts);
  const auto again = fault_sequence(7, 200, again_counts);
  const auto other = fault_sequence(8, 200, other_counts);
  CHECK(first == again);
  CHECK(first_counts == again_counts);
  CHECK(first != other);
  CHECK(first_counts.requests == 200);
  // Every kind of fault occurred, and the counts add up.
  CHECK(first_counts.ok > 0);
  CHECK(first_counts.errors > 0);
  CHECK(first_counts.rate_limited > 0);
  CHECK(first_counts.resets > 0);
  CHECK(first_counts.malformed > 0);
  CHECK(first_counts.truncated > 0);
  CHECK(first_counts.ok + first_counts.errors + first_counts.rate_limited + first_counts.resets +
            first_counts.malformed + first_counts.truncated ==
        200);
  CHECK(std::count(first.begin(), first.end(), "429") == static_cast<long>(first_counts.rate_limited));
}

// ---- admin ----------------------------------------------------------------------------

TEST_CASE("the admin endpoint lists providers and changes a profile at run time") {
  running sim;
  auto c = sim.client();
  auto r = c.Get("/admin/providers");
  REQUIRE(r);
  const json listing = json::parse(r->body);
  REQUIRE(listing["providers"].size() == 2);
  CHECK(listing["providers"][0]["name"] == "primary");
  CHECK(listing["providers"][0]["base_url"] == sim.server.base_url("primary"));
  CHECK(listing["providers"][0]["models"] == json::array({"gpt-4o-mini"}));
  CHECK(listing["providers"][0]["faults"] == sim::to_json(sim::fault_profile{}));

  CHECK(post_chat(c, "x")->status == 200);
  r = c.Put("/admin/providers/primary/faults", R"({"preset": "down"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(sim.server.faults("primary") == sim::preset("down"));
  CHECK(post_chat(c, "x")->status == 503);
  CHECK(post_chat(c, "x", "fallback")->status == 200);

  r = c.Get("/admin/providers/primary/stats");
  REQUIRE(r);
  const json counts = json::parse(r->body);
  CHECK(counts["requests"] == 2);
  CHECK(counts["ok"] == 1);
  CHECK(counts["errors"] == 1);

  r = c.Put("/admin/providers/primary/faults", R"({"latency": {"sigma": -1}})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(json::parse(r->body)["error"]["message"] == "fault profile: latency.sigma must be >= 0, got -1");
  CHECK(sim.server.faults("primary") == sim::preset("down"));  // unchanged

  r = c.Put("/admin/providers/primary/faults", R"({"latncy": {}})", "application/json");
  CHECK(r->status == 400);
  CHECK(json::parse(r->body)["error"]["message"] == "fault profile: unknown field \"latncy\"");

  CHECK(c.Put("/admin/providers/nobody/faults", "healthy", "application/json")->status == 404);

  r = c.Post("/admin/reset-stats", "", "application/json");
  CHECK(r->status == 200);
  CHECK(sim.server.provider_stats("primary") == sim::simulator::stats{});
  CHECK(c.Get("/healthz")->status == 200);

  CHECK_FALSE(sim.server.set_faults("nobody", {}));
  sim::fault_profile impossible;
  impossible.reset = 3;
  CHECK_FALSE(sim.server.set_faults("primary", impossible));
}

// ---- browsers: CORS, served folders, published documents ----------------------------------

TEST_CASE("every response allows any origin; a preflight on any path answers 204") {
  running sim;
  auto c = sim.client();
  const httplib::Headers origin{{"Origin", "http://portal.example"}};

  auto r = c.Post("/primary/v1/chat/completions", origin, chat_body("x"), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Access-Control-Allow-Origin") == "*");
  const std::string exposed = r->get_header_value("Access-Control-Expose-Headers");
  for (auto name : {"x-request-id", "retry-after", "retry-after-ms", "date"})
    CHECK_MESSAGE(exposed.find(name) != std::string::npos, name);

  r = c.Get("/admin/providers", origin);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Access-Control-Allow-Origin") == "*");
  r = c.Get("/nowhere", origin);  // errors too
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->get_header_value("Access-Control-Allow-Origin") == "*");

  for (auto path : {"/primary/v1/chat/completions", "/admin/providers/primary/faults"}) {
    CAPTURE(path);
    r = c.Options(path, {{"Origin", "http://portal.example"},
                         {"Access-Control-Request-Method", "PUT"},
                         {"Access-Control-Request-Headers", "content-type, X-Medgate-Patient, x-other"}});
    REQUIRE(r);
    CHECK(r->status == 204);
    CHECK(r->body.empty());
    CHECK(r->get_header_value("Access-Control-Allow-Origin") == "*");
    const std::string methods = r->get_header_value("Access-Control-Allow-Methods");
    for (auto m : {"GET", "POST", "PUT", "OPTIONS"}) CHECK_MESSAGE(methods.find(m) != std::string::npos, m);
    const std::string allowed = r->get_header_value("Access-Control-Allow-Headers");
    for (auto h : {"authorization", "content-type", "x-request-id", "idempotency-key", "x-medgate-patient"})
      CHECK_MESSAGE(allowed.find(h) != std::string::npos, h);
    CHECK(allowed.find("x-other") == std::string::npos);
    CHECK(r->has_header("Access-Control-Max-Age"));
  }
  CHECK(sim.server.provider_stats("primary").requests == 1);  // a preflight is no chat request
}

using medgate::testing::scratch_dir;

TEST_CASE("served folders answer files with their content types and never a path outside them") {
  scratch_dir root;
  root.write("secret.txt", "not for the web");
  root.write("site/index.html", "<!doctype html><title>portal</title>");
  root.write("site/app.mjs", "export const x = 1;");
  root.write("site/style.css", "body{}");
  root.write("pkg/medgate.wasm", std::string{"\0asm\1\0\0\0", 8});
  root.write("pkg/package.json", "{}");
  root.write("data/phi.mglex", "MGLX");
  root.write("data/cl100k_base.mgtok", "MGTK");
  running sim{sim::simulator_options{.providers = {{.name = "primary"}},
                                     .mounts = {{"/", (root.path / "site").string()},
                                                {"/medgate/", (root.path / "pkg").string()},
                                                {"/data/", (root.path / "data").string()}}}};
  auto c = sim.client();
  c.set_url_encode(false);  // send the paths exactly as written

  struct expectation {
    char const* path;
    char const* type;
  };
  for (auto [path, type] : {expectation{"/", "text/html; charset=utf-8"},
                            {"/index.html", "text/html; charset=utf-8"},
                            {"/app.mjs", "text/javascript"},
                            {"/style.css", "text/css"},
                            {"/medgate/medgate.wasm", "application/wasm"},
                            {"/medgate/package.json", "application/json"},
                            {"/data/phi.mglex", "application/octet-stream"},
                            {"/data/cl100k_base.mgtok", "application/octet-stream"}}) {
    CAPTURE(path);
    auto r = c.Get(path);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == type);
    CHECK(r->get_header_value("Access-Control-Allow-Origin") == "*");
  }
  CHECK(c.Get("/medgate/medgate.wasm")->body == std::string{"\0asm\1\0\0\0", 8});

  for (auto path : {"/../secret.txt", "/medgate/../../secret.txt", "/medgate/%2e%2e/%2e%2e/secret.txt",
                    "/data/..%2f..%2fsecret.txt"}) {
    CAPTURE(path);
    auto r = c.Get(path);
    REQUIRE(r);
    CHECK(r->status != 200);
    CHECK(r->body.find("not for the web") == std::string::npos);
  }
  CHECK(c.Get("/missing.js")->status == 404);
  // The routes still answer under a folder served at "/".
  CHECK(post_chat(c, "x")->status == 200);
  CHECK(c.Get("/admin/providers")->status == 200);
  CHECK(c.Get("/primary/v1/models")->status == 200);
}

TEST_CASE("a served file never takes a route's place; a mount cannot claim a route's prefix") {
  scratch_dir site;
  site.write("primary/v1/models", "a file, not the model list");
  site.write("admin/providers", "a file, not the admin listing");
  running sim{sim::simulator_options{.providers = {{.name = "primary"}}, .mounts = {{"/", site.path.string()}}}};
  auto c = sim.client();
  for (auto path : {"/primary/v1/models", "/admin/providers"}) {
    CAPTURE(path);
    auto r = c.Get(path);
    REQUIRE(r);
    CHECK(r->body.find("a file, not") == std::string::npos);
    CHECK(r->status == 500);
    CHECK(json::parse(r->body)["error"]["code"] == "route_hidden_by_file");
  }
  CHECK(post_chat(c, "x")->status == 200);  // POSTs never meet a served file

  sim::simulator_options claims{.providers = {{.name = "primary"}}, .mounts = {{"/admin/", site.path.string()}}};
  REQUIRE(claims.validate());
  CHECK(claims.validate()->to_string() ==
        "mounts[0].prefix would hide the simulator's /admin/ routes, got \"/admin/\"");
  claims.mounts = {{"/primary/", site.path.string()}};
  CHECK(claims.validate());
  claims.mounts = {{"static", site.path.string()}};
  CHECK(claims.validate());

  sim::simulator missing{
      sim::simulator_options{.providers = {{.name = "primary"}}, .mounts = {{"/", (site.path / "nope").string()}}}};
  auto const started = missing.start();
  REQUIRE_FALSE(started.ok());
  CHECK(started.error_message() ==
        fmt::format("simulator: {} (served at /) is not a folder", (site.path / "nope").string()));
}

TEST_CASE("a published document is served before files and can be replaced") {
  scratch_dir site;
  site.write("demo/config.json", "from the folder");
  running sim{sim::simulator_options{.providers = {{.name = "primary"}}, .mounts = {{"/", site.path.string()}}}};
  REQUIRE(sim.server.serve_document("/demo/config.json", "application/json", R"({"v": 1})"));
  auto c = sim.client();
  auto r = c.Get("/demo/config.json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"v": 1})");
  CHECK(r->get_header_value("Content-Type") == "application/json");
  CHECK(r->get_header_value("Access-Control-Allow-Origin") == "*");
  REQUIRE(sim.server.serve_document("/demo/config.json", "application/json", R"({"v": 2})"));
  CHECK(c.Get("/demo/config.json")->body == R"({"v": 2})");
  CHECK_FALSE(sim.server.serve_document("/admin/providers", "application/json", "{}"));
  CHECK_FALSE(sim.server.serve_document("/primary/v1/models", "application/json", "{}"));
  CHECK_FALSE(sim.server.serve_document("relative", "text/plain", ""));
}

// ---- lifecycle ------------------------------------------------------------------------

TEST_CASE("concurrent clients meet every fault; the counts add up; stop() ends streams in flight") {
  running sim{R"({"errors": {"500": 0.1, "503": 0.1}, "rate_limit": {"probability": 0.1},
                  "hang": {"probability": 0.05, "ms": 200}, "reset": 0.05, "malformed": 0.1, "truncate": 0.05,
                  "latency": {"kind": "lognormal", "median_ms": 5, "sigma": 0.5}})"};
  constexpr int clients = 8, each = 25;
  std::vector<std::future<int>> runs;
  for (int t = 0; t < clients; ++t) {
    runs.push_back(std::async(std::launch::async, [&, t] {
      auto c = sim.client(2s);
      int answered = 0;
      for (int i = 0; i < each; ++i)
        answered += post_chat(c, fmt::format("client {} note {}", t, i), "primary", i % 2 == 1) ? 1 : 0;
      return answered;
    }));
  }
  int answered = 0;
  for (auto& run : runs) answered += run.get();
  const auto counts = sim.server.provider_stats("primary");
  CHECK(counts.requests == clients * each);
  CHECK(counts.ok + counts.errors + counts.rate_limited + counts.hangs + counts.resets + counts.malformed +
            counts.truncated ==
        clients * each);
  CHECK(counts.hangs > 0);
  // Hangs, resets and truncated bodies give the client no response (a truncated stream's status arrived).
  CHECK(answered < clients * each);
  CHECK(answered >= static_cast<int>(counts.ok + counts.errors + counts.rate_limited + counts.malformed));

  // Slow streams in flight when the simulator stops: each ends promptly, cut short.
  sim.server.set_faults("primary", profile(R"({"latency": {"ms": 1000}})"));
  std::vector<std::future<bool>> streams;
  for (int t = 0; t < 4; ++t) {
    streams.push_back(std::async(std::launch::async, [&] {
      auto c = sim.client(10s);
      auto r = post_chat(c, "stream", "primary", true);
      return r && r->body.find("[DONE]") != std::string::npos;
    }));
  }
  std::this_thread::sleep_for(1200ms);  // past the first event, well before the last
  const auto stopping = steady::now();
  sim.server.stop();
  CHECK(seconds_since(stopping) < 2);
  for (auto& stream : streams) {
    REQUIRE(stream.wait_for(5s) == std::future_status::ready);
    CHECK_FALSE(stream.get());
  }
}

TEST_CASE("stop() is prompt while a request hangs and a keep-alive connection idles") {
  auto sim = std::make_unique<running>(R"({"hang": {"probability": 1, "ms": 60000}})");
  auto idle = sim->client();
  REQUIRE(idle.Get("/healthz"));  // leaves a keep-alive connection open on the server

  auto hung = std::async(std::launch::async, [&] {
    auto c = sim->client(30s);
    auto r = post_chat(c, "x");
    return std::make_pair(r.error(), steady::now());
  });
  REQUIRE(eventually([&] { return sim->server.provider_stats("primary").hangs == 1; }));

  const auto stopped_at = steady::now();
  sim->server.stop();
  CHECK(seconds_since(stopped_at) < 2);
  REQUIRE(hung.wait_for(5s) == std::future_status::ready);
  const auto [failure, failed_at] = hung.get();
  CHECK(failure == httplib::Error::Read);  // the connection was reset, no response
  CHECK(failed_at - stopped_at < 2s);
  sim->server.stop();  // idempotent
  CHECK_FALSE(sim->server.start().ok());
}

TEST_CASE("a simulator cannot take a port that is in use") {
  running first;
  sim::simulator second{sim::simulator_options{.port = first.port, .providers = {{.name = "primary"}}}};
  const auto started = second.start();
  REQUIRE_FALSE(started.ok());
  CHECK(started.error_message() ==
        fmt::format("simulator: cannot listen on 127.0.0.1:{} (is the address valid and the port free?)", first.port));
}

// ---- the command --------------------------------------------------------------------

TEST_CASE("medgate simulate --help, a bad flag, and a bad profile") {
  medgate::testing::running_program help{{"simulate", "--help"}};
  CHECK(help.read_until("GET /healthz").find("--faults NAME=PROFILE") != std::string::npos);
  CHECK(help.wait_exit() == 0);

  medgate::testing::running_program bad_flag{{"simulate", "--prot", "1"}};
  CHECK(bad_flag.wait_exit() == 2);

  medgate::testing::running_program bad_profile{{"simulate", "--faults", "primary={\"reset\": 2}"}};
  CHECK(bad_profile.wait_exit() == 2);
}

TEST_CASE("medgate simulate serves until SIGTERM and then exits cleanly") {
  medgate::testing::running_program server{
      {"simulate", "--port", "0", "--provider", "alpha:m1,m2", "--faults", "alpha=down", "--seed", "3"}};
  const std::string banner = server.read_until("Ctrl-C stops.");
  REQUIRE(banner.find("Ctrl-C stops.") != std::string::npos);
  const auto url_at = banner.find("http://127.0.0.1:");
  REQUIRE(url_at != std::string::npos);
  const int port = std::stoi(banner.substr(url_at + 17));
  CHECK(banner.find(fmt::format("http://127.0.0.1:{}/alpha/v1", port)) != std::string::npos);

  httplib::Client c{"127.0.0.1", port};
  c.set_read_timeout(5s);
  auto models = c.Get("/alpha/v1/models");
  REQUIRE(models);
  CHECK(models->status == 503);  // down for its model list too, so health probes see it
  auto r = c.Post("/alpha/v1/chat/completions", chat_body("x", false, "m2"), "application/json");
  REQUIRE(r);
  CHECK(r->status == 503);

  REQUIRE(server.signal(SIGTERM));
  CHECK(server.wait_exit() == 0);
}
