// gateway_test.cpp — `medgate serve` end to end: the provider simulator and the gateway in-process, real
// HTTP over loopback from cpp-httplib's client and from the official openai npm client.
#include <doctest/doctest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "audit_log.hpp"
#include "fault_profile.hpp"
#include "gateway.hpp"
#include "medgate/config.hpp"
#include "medgate/openai/sse.hpp"
#include "program.hpp"
#include "simulator.hpp"

namespace {

using json = nlohmann::json;
constexpr char const* token = "gateway-token-for-tests-0001";
constexpr char const* admin_token = "admin-token-for-tests-00002";

/// The simulator with providers primary and fallback, and the gateway in front of it with the default
/// route (clinical-summary: primary, then fallback).
struct stack {
  medgate::sim::simulator sim{{.host = "127.0.0.1", .port = 0, .providers = {{"primary"}, {"fallback"}}, .seed = 5}};
  std::unique_ptr<medgate::gateway::server> gateway;
  std::unique_ptr<httplib::Client> http;

  explicit stack(std::size_t max_body_bytes = std::size_t{4} << 20, std::string audit_path = {},
                 std::function<void(medgate::engine_options&)> adjust = {}, std::string admin = admin_token) {
    auto const port = sim.start();
    REQUIRE_MESSAGE(port.ok(), (port.ok() ? "" : port.error_message()));
    auto options = medgate::default_options();
    for (auto& p : options.routing.providers) p.base_url = sim.base_url(p.name);
    options.retry.max_attempts_per_target = 1;
    if (adjust) adjust(options);
    auto gw = medgate::gateway::server::create(std::move(options),
                                               {.host = "127.0.0.1",
                                                .port = 0,
                                                .token = token,
                                                .admin_token = std::move(admin),
                                                .max_body_bytes = max_body_bytes,
                                                .audit_path = audit_path},
                                               {}, medgate::seed{9});
    REQUIRE_MESSAGE(gw.ok(), (gw.ok() ? "" : gw.error_message()));
    gateway = std::move(*gw);
    auto const gw_port = gateway->start();
    REQUIRE_MESSAGE(gw_port.ok(), (gw_port.ok() ? "" : gw_port.error_message()));
    http = std::make_unique<httplib::Client>("127.0.0.1", *gw_port);
    http->set_read_timeout(20, 0);
  }

  httplib::Result post(std::string const& body, httplib::Headers headers = {}) {
    headers.emplace("Authorization", fmt::format("Bearer {}", token));
    return http->Post("/v1/chat/completions", headers, body, "application/json");
  }

  /// A request with the admin token (or `as`).
  httplib::Result admin_get(std::string const& path, std::string const& as = admin_token) {
    return http->Get(path.c_str(), {{"Authorization", "Bearer " + as}});
  }
  httplib::Result admin_post(std::string const& path, json const& body) {
    return http->Post(path.c_str(), {{"Authorization", fmt::format("Bearer {}", admin_token)}}, body.dump(),
                      "application/json");
  }
};

std::string ask(std::string const& content, std::string const& model = "clinical-summary") {
  return json{{"model", model}, {"messages", {{{"role", "user"}, {"content", content}}}}}.dump();
}

/// The error object of an OpenAI-shaped error body.
json error_of(httplib::Result const& r) {
  auto const body = json::parse(r->body, nullptr, false);
  REQUIRE_MESSAGE(body.is_object(), r->body);
  REQUIRE(body.contains("error"));
  return body["error"];
}

}  // namespace

TEST_CASE("gateway: a chat completion is the provider's answer, with headers saying how it was obtained") {
  stack s;
  auto const r = s.post(ask("Summarise: BP 150/95, HR 88."));
  REQUIRE(r);
  CHECK(r->status == 200);
  auto const body = json::parse(r->body);
  CHECK(body["object"] == "chat.completion");
  CHECK(body["choices"][0]["message"]["content"].get<std::string>().find("[primary/gpt-4o-mini]") == 0);
  CHECK(r->get_header_value("X-Medgate-Target") == "primary/gpt-4o-mini");
  CHECK(r->get_header_value("X-Medgate-Attempts") == "1");
  // The provider saw the request with the gateway's key handling, not the client's token.
  auto const seen = s.sim.received("primary");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0]["messages"][0]["content"] == "Summarise: BP 150/95, HR 88.");
}

TEST_CASE("gateway: a failing primary is served by the fallback, and readiness follows the breakers") {
  stack s;
  s.sim.set_faults("primary", medgate::testing::profile(R"({"errors": {"503": 1.0}})"));
  auto const r = s.post(ask("Discharge summary please."));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("X-Medgate-Target") == "fallback/gpt-4o-mini");
  CHECK(r->get_header_value("X-Medgate-Attempts") == "2");
  CHECK(s.http->Get("/readyz")->status == 200);

  // Both providers down: calls fail as 502, and once every breaker is open the gateway is not ready.
  s.sim.set_faults("fallback", medgate::testing::profile(R"({"errors": {"503": 1.0}})"));
  int failed = 0;
  for (int i = 0; i < 40 && s.http->Get("/readyz")->status == 200; ++i) {
    auto const f = s.post(ask(fmt::format("call {}", i)));
    REQUIRE(f);
    if (f->status == 502 || f->status == 503) ++failed;
    CHECK(f->status != 200);
  }
  CHECK(failed > 0);
  auto const ready = s.http->Get("/readyz");
  CHECK(ready->status == 503);
  CHECK(ready->body.find("primary") != std::string::npos);
  CHECK(s.http->Get("/livez")->status == 200);
}

TEST_CASE("gateway: clients must present the gateway token, and it is never repeated back") {
  stack s;
  auto const none = s.http->Post("/v1/chat/completions", ask("x"), "application/json");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(error_of(none)["code"] == "invalid_api_key");
  httplib::Headers wrong{{"Authorization", "Bearer wrong-token-CANARY-4471"}};
  auto const bad = s.http->Post("/v1/chat/completions", wrong, ask("x"), "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 401);
  CHECK(bad->body.find("CANARY-4471") == std::string::npos);
  // A token that is a prefix of the right one, or the right one with more after it, is wrong too.
  for (std::string const& t : {std::string{token}.substr(0, 10), std::string{token} + "x", std::string{}}) {
    httplib::Headers h{{"Authorization", "Bearer " + t}};
    CHECK(s.http->Post("/v1/chat/completions", h, ask("x"), "application/json")->status == 401);
  }
  CHECK(s.http->Get("/v1/models")->status == 401);
  CHECK(s.sim.received("primary").empty());  // nothing unauthenticated reached a provider
}

TEST_CASE("gateway: bad requests get a 400 that says what was wrong, without repeating the content") {
  stack s;
  auto const truncated = s.post(R"({"model": "clinical-summary", "messages": [{"role": "user", "content": "CANARY)");
  REQUIRE(truncated);
  CHECK(truncated->status == 400);
  auto const message = error_of(truncated)["message"].get<std::string>();
  CHECK(message.find("not valid JSON") != std::string::npos);
  CHECK(message.find("CANARY") == std::string::npos);

  auto const invalid_utf8 = s.post(
      "{\"model\": \"clinical-summary\", \"messages\": [{\"role\": \"user\", \"content\": \"fever \xff\xfe\"}]}");
  REQUIRE(invalid_utf8);
  CHECK(invalid_utf8->status == 400);
  CHECK(error_of(invalid_utf8)["message"].get<std::string>().find("not valid UTF-8 at byte") != std::string::npos);

  auto const no_messages = s.post(R"({"model": "clinical-summary", "messages": []})");
  CHECK(no_messages->status == 400);

  auto const unknown = s.post(ask("x", "no-such-model"));
  CHECK(unknown->status == 404);
  CHECK(error_of(unknown)["code"] == "model_not_found");

  auto const priority = s.post(ask("x"), {{"X-Medgate-Priority", "CANARY-asap"}});
  CHECK(priority->status == 400);
  CHECK(priority->body.find("CANARY") == std::string::npos);
  auto const deadline = s.post(ask("x"), {{"X-Medgate-Deadline-Ms", "soon"}});
  CHECK(deadline->status == 400);
  CHECK(error_of(deadline)["message"].get<std::string>().find("X-Medgate-Deadline-Ms") != std::string::npos);
  CHECK(s.sim.received("primary").empty());
}

TEST_CASE("gateway: a body over the size limit is refused with 413 before it reaches the engine") {
  stack s{4096};
  auto const big = s.post(ask(std::string(8000, 'a')));
  REQUIRE(big);
  CHECK(big->status == 413);
  CHECK(error_of(big)["code"] == "request_too_large");
  CHECK(s.post(ask("small"))->status == 200);
  CHECK(s.sim.received("primary").size() == 1);
}

TEST_CASE("gateway: clinical context headers reach the engine") {
  stack s;
  // A deadline too short for a slow provider ends the call as 504.
  s.sim.set_faults("primary", medgate::testing::profile(R"({"latency": {"kind": "fixed", "ms": 1500}})"));
  s.sim.set_faults("fallback", medgate::testing::profile(R"({"latency": {"kind": "fixed", "ms": 1500}})"));
  auto const late = s.post(ask("x"), {{"X-Medgate-Deadline-Ms", "200"}});
  REQUIRE(late);
  CHECK(late->status == 504);
  CHECK(error_of(late)["code"] == "deadline_exceeded");

  // The same Idempotency-Key twice: one send to the provider.
  s.sim.set_faults("primary", {});
  s.sim.set_faults("fallback", {});
  s.sim.reset_stats();
  auto const before = s.sim.received("primary").size();
  for (int i = 0; i < 2; ++i)
    CHECK(s.post(ask("Order potassium recheck."), {{"Idempotency-Key", "order-7"}, {"X-Medgate-Priority", "urgent"}})
              ->status == 200);
  CHECK(s.sim.received("primary").size() == before + 1);
}

TEST_CASE("gateway: the same context may ride in the body's metadata, which never reaches a provider") {
  stack s;
  auto with_metadata = [](json metadata) {
    auto body = json::parse(ask("Order potassium recheck."));
    body["metadata"] = std::move(metadata);
    return body.dump();
  };
  // metadata.deadline_ms works like the header: too short for a slow provider.
  s.sim.set_faults("primary", medgate::testing::profile(R"({"latency": {"kind": "fixed", "ms": 1500}})"));
  s.sim.set_faults("fallback", medgate::testing::profile(R"({"latency": {"kind": "fixed", "ms": 1500}})"));
  auto const late = s.post(with_metadata({{"deadline_ms", 200}}));
  REQUIRE(late);
  CHECK(late->status == 504);
  s.sim.set_faults("primary", {});
  s.sim.set_faults("fallback", {});

  // metadata.idempotency_key: two posts, one send; the patient and our keys are taken out, the caller's own
  // metadata goes on.
  json const context{{"patient", "CANARY-MRN-3318"}, {"priority", "urgent"}, {"idempotency_key", "order-8"},
                     {"tenant", "ward-4"},           {"request_id", "r-1"},  {"ticket", "kept"}};
  auto const before = s.sim.received("primary").size();
  CHECK(s.post(with_metadata(context))->status == 200);
  CHECK(s.post(with_metadata(context))->status == 200);
  auto const seen = s.sim.received("primary");
  REQUIRE(seen.size() == before + 1);
  CHECK(seen.back()["metadata"] == json{{"ticket", "kept"}});
  CHECK(seen.back().dump().find("CANARY") == std::string::npos);
  CHECK(s.post(with_metadata({{"tenant", "ward-4"}}))->status == 200);
  CHECK_FALSE(s.sim.received("primary").back().contains("metadata"));  // emptied: removed

  // Mistakes are named, values are not repeated.
  auto const clash = s.post(with_metadata({{"patient", "CANARY-A"}}), {{"X-Medgate-Patient", "CANARY-B"}});
  CHECK(clash->status == 400);
  CHECK(error_of(clash)["message"] == "X-Medgate-Patient and metadata.patient disagree");
  CHECK(clash->body.find("CANARY") == std::string::npos);
  auto const agree = s.post(with_metadata({{"patient", "MRN-1"}}), {{"X-Medgate-Patient", "MRN-1"}});
  CHECK(agree->status == 200);
  auto const not_text = s.post(with_metadata({{"tenant", 4}}));
  CHECK(not_text->status == 400);
  CHECK(error_of(not_text)["message"] == "metadata.tenant must be a string");
  CHECK(s.post(with_metadata({{"priority", "asap"}}))->status == 400);
  CHECK(error_of(s.post(with_metadata(json::array())))["message"] == "metadata must be an object");
}

TEST_CASE("gateway: the model list is the route aliases") {
  stack s;
  auto const r = s.http->Get("/v1/models", {{"Authorization", fmt::format("Bearer {}", token)}});
  REQUIRE(r);
  CHECK(r->status == 200);
  auto const body = json::parse(r->body);
  CHECK(body["object"] == "list");
  REQUIRE(body["data"].size() == 1);
  CHECK(body["data"][0]["id"] == "clinical-summary");
}

TEST_CASE("gateway: options are checked, naming the problem") {
  auto const make = [](medgate::gateway::gateway_options o) {
    auto gw = medgate::gateway::server::create(medgate::default_options(), std::move(o));
    return gw.ok() ? std::string{} : gw.error_message();
  };
  CHECK(make({.token = "short"}).find("at least 16 characters") != std::string::npos);
  CHECK(make({.port = 70000, .token = token}).find("port") != std::string::npos);
  CHECK(make({.token = token, .max_body_bytes = 10}).find("max_body_bytes") != std::string::npos);
}

TEST_CASE("gateway: every call leaves a hash-chained audit record without PHI, across restarts") {
  auto const path = std::filesystem::temp_directory_path() / fmt::format("medgate-gateway-audit-{}.jsonl", ::getpid());
  std::filesystem::remove(path);
  for (int run = 0; run < 2; ++run) {
    stack s{std::size_t{4} << 20, path.string()};
    CHECK(s.post(ask("Patient CANARY-NAME-Quillfeather, BP 150/95."), {{"X-Medgate-Patient", "CANARY-MRN-8830"}})
              ->status == 200);
    CHECK(s.post(ask("x", "no-such-model"))->status == 404);
    s.gateway->stop();
  }
  auto const verified = medgate::native::verify_audit_file(path);
  REQUIRE(verified.ok());
  CHECK_MESSAGE(verified->ok, verified->problem);
  CHECK(verified->records == 4);
  std::ifstream in{path};
  std::string const text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  CHECK(text.find("CANARY") == std::string::npos);
  CHECK(text.find("Quillfeather") == std::string::npos);
  std::filesystem::remove(path);
}

namespace {

/// Whether every sample line of a Prometheus text exposition is `name{labels} value` with a number value.
bool well_formed(std::string const& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    auto const end = text.find('\n', start);
    if (end == std::string::npos) return false;  // the format ends every line, the last one too
    std::string const line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    std::size_t i = 0;
    while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' || line[i] == ':'))
      ++i;
    if (i == 0) return false;
    if (i < line.size() && line[i] == '{') {
      auto const close = line.find("} ", i);
      if (close == std::string::npos) return false;
      i = close + 1;
    }
    if (i >= line.size() || line[i] != ' ') return false;
    std::string const value = line.substr(i + 1);
    char* parsed_end = nullptr;
    std::strtod(value.c_str(), &parsed_end);
    if (value.empty() || (parsed_end != value.c_str() + value.size() && value != "+Inf")) return false;
  }
  return true;
}

bool has_line(std::string const& text, std::string const& line) { return text.find(line + "\n") != std::string::npos; }

}  // namespace

TEST_CASE("gateway: /metrics counts calls, attempts, fallbacks and breakers, in the Prometheus text format") {
  stack s;
  CHECK(s.post(ask("Summarise the admission note."))->status == 200);
  s.sim.set_faults("primary", medgate::testing::profile(R"({"errors": {"503": 1.0}})"));
  CHECK(s.post(ask("Summarise the discharge note."))->status == 200);
  CHECK(s.post(ask("x", "CANARY-MODEL-9912"))->status == 404);
  CHECK(s.post("{broken", {{"X-Medgate-Patient", "CANARY-MRN-5521"}})->status == 400);

  auto const r = s.http->Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto const& m = r->body;
  INFO(m);
  CHECK(well_formed(m));
  CHECK(has_line(m, R"(medgate_calls_total{route="clinical-summary",target="primary/gpt-4o-mini",outcome="ok"} 1)"));
  CHECK(has_line(m, R"(medgate_calls_total{route="clinical-summary",target="fallback/gpt-4o-mini",outcome="ok"} 1)"));
  CHECK(has_line(m, R"(medgate_calls_total{route="unknown",target="none",outcome="no_route"} 1)"));
  CHECK(has_line(m, R"(medgate_fallbacks_total{route="clinical-summary"} 1)"));
  CHECK(has_line(m, R"(medgate_attempts_total{provider="primary",model="gpt-4o-mini",verdict="retryable"} 1)"));
  CHECK(has_line(m, R"(medgate_attempts_total{provider="fallback",model="gpt-4o-mini",verdict="success"} 1)"));
  CHECK(has_line(m, R"(medgate_http_responses_total{code="200"} 2)"));
  CHECK(has_line(m, R"(medgate_http_responses_total{code="400"} 1)"));
  CHECK(has_line(m, R"(medgate_http_responses_total{code="404"} 1)"));
  CHECK(has_line(m, R"(medgate_call_duration_seconds_count{route="clinical-summary"} 2)"));
  CHECK(has_line(m, R"(medgate_call_duration_seconds_bucket{route="clinical-summary",le="+Inf"} 2)"));
  CHECK(has_line(m, R"(medgate_breaker_state{provider="fallback",state="closed"} 1)"));
  CHECK(m.find("medgate_tokens_total{route=\"clinical-summary\",kind=\"completion\"}") != std::string::npos);
  // Neither the unknown model's name, nor a patient key, nor request text becomes a label.
  CHECK(m.find("CANARY") == std::string::npos);
  CHECK(m.find("discharge") == std::string::npos);
}

namespace {

/// A streamed answer as the client saw it: each event's data and when it arrived.
struct streamed {
  int status = 0;
  std::string content_type;
  std::string target;
  std::string attempts;
  std::vector<std::string> data;
  std::vector<std::chrono::steady_clock::time_point> arrived;
  std::string raw;

  /// The answer's text: every chunk's content delta, in order.
  [[nodiscard]] std::string text() const {
    std::string out;
    for (auto const& d : data) {
      auto const chunk = json::parse(d, nullptr, false);
      if (!chunk.is_object() || !chunk.contains("choices")) continue;
      for (auto const& c : chunk["choices"])
        if (c.contains("delta") && c["delta"].contains("content") && c["delta"]["content"].is_string())
          out += c["delta"]["content"].get<std::string>();
    }
    return out;
  }
};

streamed post_stream(stack& s, std::string const& content) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.set_header("Authorization", fmt::format("Bearer {}", token));
  req.set_header("Content-Type", "application/json");
  req.body =
      json{{"model", "clinical-summary"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", content}}}}}
          .dump();
  streamed out;
  medgate::openai::sse_parser parser;
  req.response_handler = [&](httplib::Response const& r) {
    out.status = r.status;
    out.content_type = r.get_header_value("Content-Type");
    out.target = r.get_header_value("X-Medgate-Target");
    out.attempts = r.get_header_value("X-Medgate-Attempts");
    return true;
  };
  req.content_receiver = [&](char const* data, std::size_t length, std::uint64_t, std::uint64_t) {
    out.raw.append(data, length);
    std::vector<medgate::openai::sse_event> events;
    parser.feed({data, length}, events);
    for (auto& e : events) {
      out.data.push_back(e.data);
      out.arrived.push_back(std::chrono::steady_clock::now());
    }
    return true;
  };
  auto const r = s.http->send(req);
  REQUIRE_MESSAGE(r, "the streamed request failed: ", httplib::to_string(r.error()));
  return out;
}

}  // namespace

TEST_CASE("gateway: stream: true relays the provider's events as they arrive and ends with [DONE]") {
  stack s;
  // Events 50 ms apart (the simulator spaces them by a tenth of its latency).
  s.sim.set_faults("primary", medgate::testing::profile(R"({"latency": {"ms": 500}})"));
  auto const prompt = std::string{"Summarise for the ward round: BP 150/95, HR 88, afebrile, eating well."};
  auto const r = post_stream(s, prompt);
  CHECK(r.status == 200);
  CHECK(r.content_type.find("text/event-stream") == 0);
  CHECK(r.target == "primary/gpt-4o-mini");
  CHECK(r.attempts == "1");
  REQUIRE(r.data.size() >= 5);
  CHECK(r.data.back() == "[DONE]");
  for (std::size_t i = 0; i + 1 < r.data.size(); ++i) {
    auto const chunk = json::parse(r.data[i], nullptr, false);
    CHECK_MESSAGE(chunk.is_object(), r.data[i]);
    CHECK(chunk.value("object", "") == "chat.completion.chunk");
  }
  // The same text as the whole answer to the same prompt.
  auto const whole = s.post(ask(prompt));
  REQUIRE(whole);
  CHECK(r.text() == json::parse(whole->body)["choices"][0]["message"]["content"].get<std::string>());
  // Relayed as it came, not collected first: the first and the last event are as far apart as the provider
  // spaced them (at least half of it).
  auto const gaps = r.data.size() - 2;
  CHECK(r.arrived[r.data.size() - 2] - r.arrived[0] >= std::chrono::milliseconds{25 * gaps});
}

TEST_CASE("gateway: a stream that fails before its answer begins is retried elsewhere; the client never knows") {
  stack s;
  // The simulator's malformed stream breaks at its second event, after a valid role-only chunk: nothing of the
  // answer yet, so the gateway has written nothing and falls back.
  s.sim.set_faults("primary", medgate::testing::profile(R"({"malformed": 1.0})"));
  auto const broken = post_stream(s, "Summarise the night.");
  CHECK(broken.status == 200);
  CHECK(broken.target == "fallback/gpt-4o-mini");
  CHECK(broken.attempts == "2");
  CHECK(broken.text().find("[fallback/gpt-4o-mini]") == 0);
  CHECK(broken.data.back() == "[DONE]");

  s.sim.set_faults("primary", medgate::testing::profile(R"({"errors": {"503": 1.0}})"));
  auto const refused = post_stream(s, "Summarise the morning.");
  CHECK(refused.status == 200);
  CHECK(refused.target == "fallback/gpt-4o-mini");
  CHECK(refused.data.back() == "[DONE]");

  // Every target failing before a byte was written: an ordinary HTTP error, not a stream.
  s.sim.set_faults("fallback", medgate::testing::profile(R"({"errors": {"503": 1.0}})"));
  auto const failed = post_stream(s, "Summarise the evening.");
  CHECK(failed.status == 502);
  CHECK(failed.content_type.find("application/json") == 0);
  CHECK(json::parse(failed.raw)["error"]["code"] == "all_targets_failed");
}

TEST_CASE("gateway: a stream cut after its answer began ends with an error event, and is not retried") {
  stack s;
  s.sim.set_faults("primary", medgate::testing::profile(R"({"truncate": 1.0})"));
  auto const r = post_stream(s, "CANARY-NOTE-7731 summarise please");
  CHECK(r.status == 200);
  CHECK(r.target == "primary/gpt-4o-mini");
  REQUIRE(r.data.size() >= 2);
  CHECK_FALSE(r.text().empty());  // some of the answer reached the client
  auto const last = json::parse(r.data.back(), nullptr, false);
  REQUIRE_MESSAGE(last.is_object(), r.raw);
  CHECK(last["error"]["code"] == "stream_broken");
  CHECK(last["error"]["type"] == "upstream_error");
  CHECK(r.raw.find("[DONE]") == std::string::npos);
  CHECK(r.data.back().find("CANARY") == std::string::npos);  // the error says what broke, not what was said
  // Once the client had part of an answer, nothing was sent again: a second answer would be spliced to the first.
  CHECK(s.sim.provider_stats("primary").requests == 1);
  CHECK(s.sim.provider_stats("fallback").requests == 0);
  auto const m = s.http->Get("/metrics")->body;
  CHECK(has_line(m, R"(medgate_calls_total{route="clinical-summary",target="none",outcome="stream_broken"} 1)"));
}

#ifdef MEDGATE_OPENAI_CLIENT_SCRIPT
TEST_CASE("gateway: with the protect step on, no PHI reaches a provider and the client reads its own words") {
  stack s{std::size_t{4} << 20, {}, [](medgate::engine_options& o) {
            o.phi.enabled = true;
            o.phi.protect.modes[medgate::phi::cat(medgate::phi::category::name)] = medgate::phi::mode::pseudonymize;
            o.patient_key_secret = "secret-for-tests";
          }};
  // Canary identifiers: a name, an MRN, a phone number and a date.
  std::string const note = "Dr. Qanaryson saw the patient on 3/4/21. MRN 99887766, phone (617) 555-0199.";
  auto const r = s.post(ask(note), {{"X-Medgate-Patient", "CANARY-MRN-1"}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  auto const seen = s.sim.received("primary");
  REQUIRE_FALSE(seen.empty());
  auto const sent = seen.back().dump();
  for (std::string_view canary : {"Qanaryson", "3/4/21", "99887766", "555-0199", "CANARY"}) {
    CAPTURE(canary);
    CHECK(sent.find(canary) == std::string::npos);
  }
  // The simulator quotes the prompt's first words; the client reads them as it wrote them.
  auto const answer = json::parse(r->body)["choices"][0]["message"]["content"].get<std::string>();
  CAPTURE(answer);
  CHECK(answer.find("Dr. Qanaryson saw the patient") != std::string::npos);
  // A stream with PHI in its prompt is held, rehydrated and then sent.
  auto const streamed = post_stream(s, note);
  CHECK(streamed.status == 200);
  CHECK(streamed.text().find("Dr. Qanaryson saw the patient") != std::string::npos);
  CHECK(s.sim.received("primary").back().dump().find("Qanaryson") == std::string::npos);
  // /metrics counts what was found, by category; never the values.
  auto const m = s.http->Get("/metrics")->body;
  CHECK(m.find("medgate_phi_redactions_total{category=\"NAME\"} 2") != std::string::npos);
  CHECK(m.find("medgate_phi_redactions_total{category=\"MRN\"} 2") != std::string::npos);
  CHECK(m.find("Qanaryson") == std::string::npos);
}

TEST_CASE("gateway: the official openai npm client works against it (chat, streams, headers, models, errors)") {
  stack s;
  auto const command = fmt::format("{} {} {} {} http://127.0.0.1:{} 2>&1", MEDGATE_NODE_PATH,
                                   MEDGATE_OPENAI_CLIENT_SCRIPT, s.gateway->base_url(), token, s.sim.port());
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[4096];
  for (std::size_t n = 0; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  int const status = ::pclose(pipe);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("all checks passed") != std::string::npos);
}
#endif

TEST_CASE("gateway: /admin/status shows breakers, limits, canaries and budgets to the admin token only") {
  stack s{std::size_t{4} << 20, {}, [](medgate::engine_options& o) {
            o.budgets.tenants["ward-4"] = medgate::tenant_budget{.daily_usd = 2.0, .daily_tokens = 100'000};
          }};
  s.sim.set_faults("primary", medgate::testing::profile(R"({"errors": {"503": 1.0}})"));
  CHECK(s.post(ask("CANARY-NOTE-1234 summarise"), {{"X-Medgate-Tenant", "ward-4"}})->status == 200);

  CHECK(s.http->Get("/admin/status")->status == 401);
  CHECK(s.admin_get("/admin/status", token)->status == 401);  // the applications' token is not enough
  auto const r = s.admin_get("/admin/status");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  auto const status = json::parse(r->body);
  INFO(status.dump(2));
  CHECK(status["object"] == "medgate.status");
  REQUIRE(status["providers"].size() == 2);
  CHECK(status["providers"][0]["name"] == "primary");
  CHECK(status["providers"][0]["breaker"]["consecutive_failures"] == 1);
  CHECK(status["providers"][1]["health"]["calls"] == 1);
  CHECK(status["providers"][1]["concurrency"]["in_flight"] == 0);
  REQUIRE(status["budgets"].size() == 1);
  auto const& budget = status["budgets"][0];
  CHECK(budget["tenant"] == "ward-4");
  CHECK(budget["daily_tokens"] == 100'000);
  CHECK(budget["spent_tokens"].get<std::int64_t>() > 0);
  CHECK(budget["left_tokens"].get<std::int64_t>() == 100'000 - budget["spent_tokens"].get<std::int64_t>());
  CHECK(budget["left_usd"].get<double>() < 2.0);
  CHECK(status["reviews"]["pending"] == 0);
  CHECK(r->body.find("CANARY") == std::string::npos);

  // /metrics says what is left of each budget too.
  auto const m = s.http->Get("/metrics")->body;
  CHECK(m.find(fmt::format("medgate_budget_left_tokens{{tenant=\"ward-4\"}} {}\n",
                           budget["left_tokens"].get<std::int64_t>())) != std::string::npos);
  CHECK(m.find("medgate_budget_left_usd{tenant=\"ward-4\"} ") != std::string::npos);

  // Without an admin token the admin API is off, and says so.
  stack off{std::size_t{4} << 20, {}, {}, ""};
  auto const disabled = off.admin_get("/admin/status", "");
  CHECK(disabled->status == 403);
  CHECK(error_of(disabled)["code"] == "admin_disabled");
}

TEST_CASE("gateway: answers held for review are decided through /admin/reviews and fetched by the client") {
  stack s{std::size_t{4} << 20, {}, [](medgate::engine_options& o) {
            o.review.enabled = true;  // the simulator's answers carry no confidence: every one is held
          }};
  std::map<std::uint64_t, std::string> ids;  // call number -> review id
  auto hold = [&](std::string const& text) {
    auto const r = s.post(ask(text));
    REQUIRE(r);
    REQUIRE(r->status == 202);
    CHECK(r->get_header_value("X-Medgate-Review") == "pending_review");
    auto const held = json::parse(r->body);
    auto const call = held["call"].get<std::uint64_t>();
    auto const id = held["id"].get<std::string>();
    CHECK(r->get_header_value("X-Medgate-Review-Id") == id);
    CHECK(id.starts_with(fmt::format("{}-", call)));
    CHECK(id.size() == fmt::format("{}-", call).size() + 32);
    ids[call] = id;
    return call;
  };
  auto outcome_of = [&](std::string const& id) {
    return s.http->Get(fmt::format("/v1/medgate/reviews/{}", id).c_str(),
                       {{"Authorization", fmt::format("Bearer {}", token)}});
  };
  auto outcome = [&](std::uint64_t call) { return outcome_of(ids[call]); };
  auto const first = hold("Summarise: sodium 128.");
  auto const second = hold("Summarise: sodium 150.");
  auto const third = hold("Summarise: sodium 140.");
  CHECK(outcome(first)->status == 202);
  CHECK(json::parse(outcome(first)->body)["id"] == ids[first]);
  CHECK(s.http->Get(fmt::format("/v1/medgate/reviews/{}", ids[first]).c_str())->status == 401);
  // Another application cannot read a held answer by its call number, nor by guessing its id.
  CHECK(outcome_of(std::to_string(first))->status == 404);
  auto forged = ids[first];
  forged.back() = forged.back() == '0' ? '1' : '0';
  CHECK(outcome_of(forged)->status == 404);
  CHECK(outcome_of(fmt::format("{}{}", second, ids[first].substr(ids[first].find('-'))))->status == 404);

  // The reviewer sees the drafts, oldest first.
  auto const listed = s.admin_get("/admin/reviews");
  REQUIRE(listed->status == 200);
  auto const pending = json::parse(listed->body)["data"];
  REQUIRE(pending.size() == 3);
  CHECK(pending[0]["call"] == first);
  CHECK(pending[0]["route"] == "clinical-summary");
  CHECK(pending[0]["draft"]["choices"][0]["message"]["content"].get<std::string>().find("sodium 128") !=
        std::string::npos);
  CHECK(s.admin_get("/admin/reviews", token)->status == 401);

  // Approved: the client gets the answer as the provider gave it.
  auto const approved =
      s.admin_post(fmt::format("/admin/reviews/{}", first), {{"decision", "approved"}, {"reviewer", "r-17"}});
  REQUIRE(approved->status == 200);
  CHECK(json::parse(approved->body)["status"] == "approved");
  auto const answer = outcome(first);
  CHECK(answer->status == 200);
  CHECK(answer->get_header_value("X-Medgate-Review") == "approved");
  CHECK(json::parse(answer->body)["object"] == "chat.completion");
  // Decided once only.
  auto const again =
      s.admin_post(fmt::format("/admin/reviews/{}", first), {{"decision", "rejected"}, {"reviewer", "r-17"}});
  CHECK(again->status == 409);
  CHECK(error_of(again)["code"] == "already_decided");

  // Edited: the reviewer's text replaces the draft's.
  CHECK(s.admin_post(fmt::format("/admin/reviews/{}", second),
                     {{"decision", "edited"}, {"reviewer", "r-17"}, {"replacement", "Sodium 150: recheck today."}})
            ->status == 200);
  auto const edited = json::parse(outcome(second)->body);
  CHECK(edited["choices"][0]["message"]["content"] == "Sodium 150: recheck today.");

  // Rejected: no answer, just the decision.
  CHECK(s.admin_post(fmt::format("/admin/reviews/{}", third),
                     {{"decision", "rejected"}, {"reviewer", "r-17"}, {"reason", "unsafe-advice"}})
            ->status == 200);
  auto const rejected = outcome(third);
  CHECK(rejected->status == 200);
  CHECK(json::parse(rejected->body)["status"] == "rejected");
  CHECK(rejected->get_header_value("X-Medgate-Review") == "rejected");

  // Mistakes are named.
  auto const bad = s.admin_post(fmt::format("/admin/reviews/{}", hold("x")), {{"decision", "maybe"}});
  CHECK(bad->status == 400);
  CHECK(error_of(bad)["message"] == "decision must be approved, edited or rejected");
  CHECK(s.admin_post("/admin/reviews/999999", {{"decision", "approved"}, {"reviewer", "r-1"}})->status == 404);
  CHECK(outcome_of("999999-00000000000000000000000000000000")->status == 404);

  // A streamed request whose answer must be reviewed is held the same way (nothing was streamed).
  auto const streamed_held = post_stream(s, "Summarise: sodium 133.");
  CHECK(streamed_held.status == 202);
  CHECK(json::parse(streamed_held.raw)["status"] == "pending_review");
}

namespace {

/// A config file for `medgate serve` in front of the simulator, with `gateway` as its gateway section.
std::filesystem::path serve_config(stack& s, json gateway, json provider_extra = json::object()) {
  json providers = json::array();
  for (auto const* name : {"primary", "fallback"}) {
    json p{{"name", name}, {"base_url", s.sim.base_url(name)}, {"models", {"gpt-4o-mini"}}};
    p.update(provider_extra);
    providers.push_back(std::move(p));
  }
  json const config{{"providers", providers},
                    {"routes", {{"clinical-summary", {"primary/gpt-4o-mini", "fallback/gpt-4o-mini"}}}},
                    {"gateway", std::move(gateway)}};
  auto const path = std::filesystem::temp_directory_path() / fmt::format("medgate-serve-{}.json", ::getpid());
  std::ofstream{path} << config.dump(2);
  return path;
}

/// `medgate serve --config PATH` as a child process with the gateway token in MEDGATE_TEST_SERVE_TOKEN, from the
/// line it prints on starting to its exit (SIGTERM). Its stderr goes to a file.
struct serving {
  pid_t child = -1;
  int out = -1;
  int port = 0;
  std::string first_line;
  std::filesystem::path err_path =
      std::filesystem::temp_directory_path() / fmt::format("medgate-serve-{}.err", ::getpid());

  explicit serving(std::filesystem::path const& config) {
    int pipe_ends[2];
    REQUIRE(::pipe(pipe_ends) == 0);
    child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::dup2(pipe_ends[1], 1);
      ::close(pipe_ends[0]);
      if (FILE* err = std::fopen(err_path.c_str(), "w"); err != nullptr) ::dup2(::fileno(err), 2);
      ::setenv("MEDGATE_TEST_SERVE_TOKEN", token, 1);
      ::execl(MEDGATE_PROGRAM_PATH, "medgate", "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(pipe_ends[1]);
    out = pipe_ends[0];
    char c = 0;
    while (::read(out, &c, 1) == 1 && c != '\n') first_line += c;
    INFO(first_line);
    auto const at = first_line.find("http://127.0.0.1:");
    REQUIRE(at != std::string::npos);
    port = std::stoi(first_line.substr(at + 17));
  }
  ~serving() {
    if (child > 0) stop();
    ::close(out);
    std::filesystem::remove(err_path);
  }
  serving(serving const&) = delete;
  serving& operator=(serving const&) = delete;

  /// SIGTERM, then its exit status (-1 when it did not exit normally).
  int stop() {
    ::kill(child, SIGTERM);
    int status = 0;
    ::waitpid(child, &status, 0);
    child = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  [[nodiscard]] std::string err() const {
    std::ifstream in{err_path};
    return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  }
};

}  // namespace

TEST_CASE("medgate serve takes its settings from the config's gateway section, and names a wrong one") {
  stack s;
  auto const refused = [&](json gateway, json provider_extra = json::object()) {
    auto const path = serve_config(s, std::move(gateway), std::move(provider_extra));
    auto const run = medgate::testing::run_medgate(fmt::format("serve --config {}", path.string()));
    std::filesystem::remove(path);
    CHECK(run.exit_code == 2);
    return run.err;
  };
  CHECK(refused({{"threads", 0}}).find("config: gateway.threads must be a whole number from 1 to 1024") !=
        std::string::npos);
  CHECK(refused({{"thread", 4}}).find("unknown field gateway.thread ") != std::string::npos);
  CHECK(refused({{"listen", "localhost"}}).find("gateway.listen must be HOST:PORT") != std::string::npos);
  CHECK(refused(json::object(), {{"api_key_file", "/nonexistent/medgate/key"}})
            .find("config: providers[0].api_key_file: cannot read /nonexistent/medgate/key") != std::string::npos);
  CHECK(refused({{"token_env", "MEDGATE_TEST_TOKEN_UNSET_42"}})
            .find("set the gateway token in MEDGATE_TEST_TOKEN_UNSET_42") != std::string::npos);

  // A good section: listens where it says, takes the token from the variable it names.
  auto const path =
      serve_config(s, {{"listen", "127.0.0.1:0"}, {"token_env", "MEDGATE_TEST_SERVE_TOKEN"}, {"threads", 4}});
  serving served{path};
  CHECK(served.first_line.find("token from MEDGATE_TEST_SERVE_TOKEN") != std::string::npos);
  httplib::Client http{"127.0.0.1", served.port};
  auto const models = http.Get("/v1/models", {{"Authorization", fmt::format("Bearer {}", token)}});
  REQUIRE(models);
  CHECK(models->status == 200);
  CHECK(json::parse(models->body)["data"][0]["id"] == "clinical-summary");
  CHECK(served.stop() == 0);
  std::filesystem::remove(path);
}

TEST_CASE("medgate serve reloads its config on SIGHUP with no call dropped, and refuses a bad one") {
  stack s;
  s.sim.set_faults("primary", medgate::testing::profile(R"({"latency": {"kind": "fixed", "ms": 1500}})"));
  json const gateway{{"listen", "127.0.0.1:0"}, {"token_env", "MEDGATE_TEST_SERVE_TOKEN"}, {"threads", 8}};
  auto const path = serve_config(s, gateway);
  auto config = json::parse(std::ifstream{path});
  serving served{path};
  httplib::Client http{"127.0.0.1", served.port};
  http.set_read_timeout(20, 0);
  httplib::Headers const auth{{"Authorization", fmt::format("Bearer {}", token)}};
  auto const model_ids = [&] {
    std::vector<std::string> ids;
    auto const r = http.Get("/v1/models", auth);
    auto const list = r && r->status == 200 ? json::parse(r->body) : json::object();
    for (auto const& m : list.value("data", json::array())) ids.push_back(m["id"]);
    return ids;
  };
  auto const metric = [&](std::string const& sample) {
    auto r = http.Get("/metrics");
    return r && r->body.find(sample + "\n") != std::string::npos;
  };
  auto const eventually = [](auto condition) {
    for (int i = 0; i < 250 && !condition(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds{20});
    return condition();
  };

  // Four calls on their way to the slow primary...
  std::vector<std::future<std::pair<int, std::string>>> in_flight;
  for (int i = 0; i < 4; ++i)
    in_flight.push_back(std::async(std::launch::async, [&served] {
      httplib::Client c{"127.0.0.1", served.port};
      c.set_read_timeout(20, 0);
      auto r = c.Post("/v1/chat/completions", {{"Authorization", fmt::format("Bearer {}", token)}},
                      ask("Summarise: stable overnight."), "application/json");
      if (!r) return std::pair{-1, std::string{}};
      return std::pair{r->status, r->get_header_value("X-Medgate-Target")};
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds{400});

  // ...while the primary leaves the configuration and a route is added; the gateway section changes too.
  config["providers"].erase(0);
  config["routes"] = {{"clinical-summary", {"fallback/gpt-4o-mini"}}, {"triage", {"fallback/gpt-4o-mini"}}};
  config["gateway"]["threads"] = 16;
  std::ofstream{path} << config.dump(2);
  ::kill(served.child, SIGHUP);
  CHECK(eventually([&] { return model_ids() == std::vector<std::string>{"clinical-summary", "triage"}; }));

  for (auto& call : in_flight) {
    auto const [status, target] = call.get();
    CHECK(status == 200);
    CHECK(target == "primary/gpt-4o-mini");  // finished where it started
  }
  auto const after = http.Post("/v1/chat/completions", auth, ask("Summarise: afebrile."), "application/json");
  REQUIRE(after);
  CHECK(after->status == 200);
  CHECK(after->get_header_value("X-Medgate-Target") == "fallback/gpt-4o-mini");
  CHECK(http.Post("/v1/chat/completions", auth, ask("Triage: chest pain.", "triage"), "application/json")->status ==
        200);
  CHECK(metric(R"(medgate_config_reloads_total{result="applied"} 1)"));

  // A route to a provider that does not exist: refused, naming the field; the running configuration stays.
  config["routes"]["triage"] = {"nobody/gpt-4o-mini"};
  std::ofstream{path} << config.dump(2);
  ::kill(served.child, SIGHUP);
  CHECK(eventually([&] { return metric(R"(medgate_config_reloads_total{result="refused"} 1)"); }));
  CHECK(metric("medgate_config_last_reload_successful 0"));
  CHECK(model_ids() == std::vector<std::string>{"clinical-summary", "triage"});
  CHECK(http.Post("/v1/chat/completions", auth, ask("Triage: fever.", "triage"), "application/json")->status == 200);

  CHECK(served.stop() == 0);
  auto const err = served.err();
  INFO(err);
  CHECK(err.find("reloaded " + path.string() + "; calls in flight go on") != std::string::npos);
  CHECK(err.find("gateway.threads changed in " + path.string() + ": restart medgate serve to apply it") !=
        std::string::npos);
  CHECK(err.find("reload refused, still serving the previous configuration: " + path.string() +
                 ": config: routes.triage") != std::string::npos);
  CHECK(err.find("nobody") != std::string::npos);
  std::filesystem::remove(path);
}
