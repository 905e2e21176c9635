// config_test.cpp — the JSON configuration: example, defaults, round trip, every error path.
#include "medgate/config.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
using medgate::backoff_kind;
using medgate::engine_options;
using medgate::jitter_kind;
using medgate::parse_config;
using medgate::window_kind;

namespace {

engine_options parsed(std::string_view json) {
  auto r = parse_config(json);
  INFO(json);
  INFO((r ? std::string{} : r.error_message()));
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::string error_of(std::string_view json) {
  auto r = parse_config(json);
  INFO(json);
  REQUIRE_FALSE(r.ok());
  return r.error_message();
}

/// A configuration with one provider made of exactly `fields`.
std::string provider_with(std::string_view fields) { return R"({"providers": [{)" + std::string{fields} + "}]}"; }

/// A valid configuration with one provider "p" plus `extra` top-level members.
std::string one_provider(std::string_view provider_fields = "", std::string_view extra = "") {
  std::string p = R"({"name": "p", "base_url": "http://127.0.0.1:8900/p/v1")";
  if (!provider_fields.empty()) p += ", " + std::string{provider_fields};
  p += "}";
  std::string out = R"({"providers": [)" + p + "]";
  if (!extra.empty()) out += ", " + std::string{extra};
  return out + "}";
}

void check_same_breaker(medgate::breaker_options const& a, medgate::breaker_options const& b) {
  CHECK(a.consecutive_failures == b.consecutive_failures);
  CHECK(a.window == b.window);
  CHECK(a.window_size == b.window_size);
  CHECK(a.minimum_calls == b.minimum_calls);
  CHECK(a.failure_rate_threshold == b.failure_rate_threshold);
  CHECK(a.slow_call_rate_threshold == b.slow_call_rate_threshold);
  CHECK(a.slow_call_duration == b.slow_call_duration);
  CHECK(a.open_duration == b.open_duration);
  CHECK(a.open_duration_multiplier == b.open_duration_multiplier);
  CHECK(a.max_open_duration == b.max_open_duration);
  CHECK(a.half_open_probes == b.half_open_probes);
  CHECK(a.half_open_successes == b.half_open_successes);
  CHECK(a.half_open_probe_timeout == b.half_open_probe_timeout);
}

void check_same(engine_options const& a, engine_options const& b) {
  REQUIRE(a.routing.providers.size() == b.routing.providers.size());
  for (std::size_t i = 0; i < a.routing.providers.size(); ++i) {
    auto const& p = a.routing.providers[i];
    auto const& q = b.routing.providers[i];
    CHECK(p.name == q.name);
    CHECK(p.base_url == q.base_url);
    CHECK(p.api_key_env == q.api_key_env);
    CHECK(p.api_key_file == q.api_key_file);
    CHECK(p.models == q.models);
    CHECK(p.connect_timeout == q.connect_timeout);
    CHECK(p.attempt_timeout == q.attempt_timeout);
    check_same_breaker(p.breaker, q.breaker);
  }
  REQUIRE(a.routing.routes.size() == b.routing.routes.size());
  for (std::size_t i = 0; i < a.routing.routes.size(); ++i) {
    CHECK(a.routing.routes[i].name == b.routing.routes[i].name);
    REQUIRE(a.routing.routes[i].chain.size() == b.routing.routes[i].chain.size());
    for (std::size_t k = 0; k < a.routing.routes[i].chain.size(); ++k) {
      CHECK(a.routing.routes[i].chain[k].provider == b.routing.routes[i].chain[k].provider);
      CHECK(a.routing.routes[i].chain[k].model == b.routing.routes[i].chain[k].model);
    }
  }
  CHECK(a.retry.max_attempts_per_target == b.retry.max_attempts_per_target);
  CHECK(a.retry.max_retry_after == b.retry.max_retry_after);
  CHECK(a.retry.backoff.kind == b.retry.backoff.kind);
  CHECK(a.retry.backoff.base == b.retry.backoff.base);
  CHECK(a.retry.backoff.multiplier == b.retry.backoff.multiplier);
  CHECK(a.retry.backoff.step == b.retry.backoff.step);
  CHECK(a.retry.backoff.cap == b.retry.backoff.cap);
  CHECK(a.retry.backoff.jitter == b.retry.backoff.jitter);
  CHECK(a.retry.budget.ttl == b.retry.budget.ttl);
  CHECK(a.retry.budget.min_retries_per_second == b.retry.budget.min_retries_per_second);
  CHECK(a.retry.budget.retry_ratio == b.retry.budget.retry_ratio);
  CHECK(a.deadlines.timeout == b.deadlines.timeout);
  CHECK(a.deadlines.attempt_timeout == b.deadlines.attempt_timeout);
  CHECK(a.deadlines.min_attempt_time == b.deadlines.min_attempt_time);
  CHECK(a.record_decisions == b.record_decisions);
  CHECK(a.alerts == b.alerts);
}

std::string read_example() {
  std::ifstream in{MEDGATE_SOURCE_DIR "/examples/medgate.json", std::ios::binary};
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("the example configuration parses to exactly what it says") {
  auto const o = parsed(read_example());

  REQUIRE(o.routing.providers.size() == 2);
  auto const& primary = o.routing.providers[0];
  CHECK(primary.name == "primary");
  CHECK(primary.base_url == "http://127.0.0.1:8900/primary/v1");
  CHECK(primary.api_key_env == "OPENAI_API_KEY");
  CHECK(primary.models == std::vector<std::string>{"gpt-4o-mini", "gpt-4o"});
  CHECK(primary.connect_timeout == 2000ms);
  CHECK(primary.attempt_timeout == 30000ms);
  CHECK(primary.breaker.consecutive_failures == 5);
  CHECK(primary.breaker.window == window_kind::count_based);
  CHECK(primary.breaker.window_size == 20);
  CHECK(primary.breaker.minimum_calls == 10);
  CHECK(primary.breaker.failure_rate_threshold == 50.0);
  CHECK(primary.breaker.slow_call_rate_threshold == 80.0);
  CHECK(primary.breaker.slow_call_duration == 10000ms);
  CHECK(primary.breaker.open_duration == 30000ms);
  CHECK(primary.breaker.open_duration_multiplier == 2.0);
  CHECK(primary.breaker.max_open_duration == 300000ms);
  CHECK(primary.breaker.half_open_probes == 3);
  CHECK(primary.breaker.half_open_successes == 2);
  CHECK(primary.breaker.half_open_probe_timeout == 60000ms);

  auto const& fallback = o.routing.providers[1];
  CHECK(fallback.name == "fallback");
  CHECK(fallback.base_url == "http://127.0.0.1:8900/fallback/v1");
  CHECK(fallback.api_key_env == "FALLBACK_API_KEY");
  CHECK(fallback.models == std::vector<std::string>{"gpt-4o-mini"});
  CHECK(fallback.connect_timeout == 1500ms);
  CHECK(fallback.attempt_timeout == 20000ms);
  CHECK(fallback.breaker.consecutive_failures == 3);
  CHECK(fallback.breaker.window == window_kind::time_based);
  CHECK(fallback.breaker.window_size == 60);
  CHECK(fallback.breaker.minimum_calls == 20);
  CHECK(fallback.breaker.failure_rate_threshold == 40.0);
  CHECK(fallback.breaker.slow_call_rate_threshold == 100.0);
  CHECK(fallback.breaker.slow_call_duration == 8000ms);
  CHECK(fallback.breaker.open_duration == 15000ms);
  CHECK(fallback.breaker.open_duration_multiplier == 1.5);
  CHECK(fallback.breaker.max_open_duration == 120000ms);
  CHECK(fallback.breaker.half_open_probes == 2);
  CHECK(fallback.breaker.half_open_successes == 2);
  CHECK(fallback.breaker.half_open_probe_timeout == 30000ms);

  // Routes keep the order written (not alphabetical: batch-coding is last).
  REQUIRE(o.routing.routes.size() == 3);
  CHECK(o.routing.routes[0].name == "clinical-summary");
  CHECK(o.routing.routes[1].name == "discharge-letter");
  CHECK(o.routing.routes[2].name == "batch-coding");
  auto const& letter = o.routing.routes[1].chain;
  REQUIRE(letter.size() == 3);
  CHECK(letter[0].provider == "primary");
  CHECK(letter[0].model == "gpt-4o");
  CHECK(letter[1].provider == "primary");
  CHECK(letter[1].model == "gpt-4o-mini");
  CHECK(letter[2].provider == "fallback");
  CHECK(letter[2].model == "gpt-4o-mini");
  REQUIRE(o.routing.routes[2].chain.size() == 1);
  CHECK(o.routing.routes[2].chain[0].provider == "fallback");

  CHECK(o.retry.max_attempts_per_target == 3);
  CHECK(o.retry.max_retry_after == 30000ms);
  CHECK(o.retry.backoff.kind == backoff_kind::exponential);
  CHECK(o.retry.backoff.base == 250ms);
  CHECK(o.retry.backoff.multiplier == 2.0);
  CHECK(o.retry.backoff.step == 250ms);
  CHECK(o.retry.backoff.cap == 20000ms);
  CHECK(o.retry.backoff.jitter == jitter_kind::full);
  CHECK(o.retry.budget.ttl == 10000ms);
  CHECK(o.retry.budget.min_retries_per_second == 10);
  CHECK(o.retry.budget.retry_ratio == 0.2);
  CHECK(o.deadlines.timeout == 30000ms);
  CHECK(o.deadlines.attempt_timeout == 10000ms);
  CHECK(o.deadlines.min_attempt_time == 50ms);
  CHECK(o.record_decisions);
  CHECK_FALSE(o.validate().has_value());
}

TEST_CASE("omitted fields take the documented defaults") {
  auto const o = parsed(one_provider());
  REQUIRE(o.routing.providers.size() == 1);
  auto const& p = o.routing.providers[0];
  CHECK(p.name == "p");
  CHECK(p.api_key_env.empty());
  CHECK(p.models.empty());
  CHECK(p.connect_timeout == 2s);
  CHECK(p.attempt_timeout == 30s);
  CHECK(p.breaker.consecutive_failures == 5);
  CHECK(p.breaker.window == window_kind::count_based);
  CHECK(p.breaker.window_size == 20);
  CHECK(p.breaker.minimum_calls == 10);
  CHECK(p.breaker.failure_rate_threshold == 50.0);
  CHECK(p.breaker.slow_call_rate_threshold == 100.0);
  CHECK(p.breaker.slow_call_duration == 10s);
  CHECK(p.breaker.open_duration == 30s);
  CHECK(p.breaker.open_duration_multiplier == 1.0);
  CHECK(p.breaker.max_open_duration == 300s);
  CHECK(p.breaker.half_open_probes == 3);
  CHECK(p.breaker.half_open_successes == 3);
  CHECK(p.breaker.half_open_probe_timeout == 60s);
  CHECK(o.routing.routes.empty());
  CHECK(o.retry.max_attempts_per_target == 3);
  CHECK(o.retry.max_retry_after == 30s);
  CHECK(o.retry.backoff.kind == backoff_kind::exponential);
  CHECK(o.retry.backoff.base == 250ms);
  CHECK(o.retry.backoff.multiplier == 2.0);
  CHECK(o.retry.backoff.step == 250ms);
  CHECK(o.retry.backoff.cap == 20s);
  CHECK(o.retry.backoff.jitter == jitter_kind::full);
  CHECK(o.retry.budget.ttl == 10s);
  CHECK(o.retry.budget.min_retries_per_second == 10);
  CHECK(o.retry.budget.retry_ratio == 0.2);
  CHECK(o.deadlines.timeout == 30s);
  CHECK(o.deadlines.attempt_timeout == 10s);
  CHECK(o.deadlines.min_attempt_time == 50ms);
  CHECK(o.record_decisions);

  // Empty sections are the same as absent ones.
  check_same(parsed(one_provider(R"("breaker": {})", R"("routes": {}, "retry": {"backoff": {}, "budget": {}},
                                                       "deadlines": {})")),
             o);
  // Only the overridden field changes.
  auto const changed = parsed(one_provider(R"("breaker": {"window_size": 7})"));
  CHECK(changed.routing.providers[0].breaker.window_size == 7);
  CHECK(changed.routing.providers[0].breaker.minimum_calls == 10);
}

TEST_CASE("default_options is the two-provider demo and equals its JSON spelling") {
  auto const o = medgate::default_options();
  REQUIRE(o.routing.providers.size() == 2);
  CHECK(o.routing.providers[0].name == "primary");
  CHECK(o.routing.providers[0].base_url == "http://127.0.0.1:8900/primary/v1");
  CHECK(o.routing.providers[1].name == "fallback");
  CHECK(o.routing.providers[1].base_url == "http://127.0.0.1:8900/fallback/v1");
  for (auto const& p : o.routing.providers) {
    CHECK(p.api_key_env.empty());
    CHECK(p.models == std::vector<std::string>{"gpt-4o-mini"});
  }
  REQUIRE(o.routing.routes.size() == 1);
  CHECK(o.routing.routes[0].name == "clinical-summary");
  REQUIRE(o.routing.routes[0].chain.size() == 2);
  CHECK(o.routing.routes[0].chain[0].provider == "primary");
  CHECK(o.routing.routes[0].chain[1].provider == "fallback");
  CHECK(o.routing.routes[0].chain[1].model == "gpt-4o-mini");
  CHECK_FALSE(o.validate().has_value());

  check_same(o, parsed(R"({
    "providers": [
      {"name": "primary", "base_url": "http://127.0.0.1:8900/primary/v1", "models": ["gpt-4o-mini"]},
      {"name": "fallback", "base_url": "http://127.0.0.1:8900/fallback/v1", "models": ["gpt-4o-mini"]}],
    "routes": {"clinical-summary": ["primary/gpt-4o-mini", "fallback/gpt-4o-mini"]}})"));
}

TEST_CASE("to_json round-trips field by field") {
  SUBCASE("the demo defaults") {
    auto const o = medgate::default_options();
    check_same(parsed(medgate::to_json(o).dump()), o);
  }
  SUBCASE("the example") {
    auto const o = parsed(read_example());
    check_same(parsed(medgate::to_json(o).dump(2)), o);
  }
  SUBCASE("every field away from its default, fractional milliseconds, routes out of alphabetical order") {
    engine_options o = medgate::default_options();
    auto& p = o.routing.providers[0];
    p.api_key_env = "PRIMARY_KEY";
    p.models = {"gpt-4o-mini", "meta-llama/Llama-3.1-8B-Instruct"};
    p.connect_timeout = 1234567us;  // 1234.567 ms
    p.attempt_timeout = 1us;        // 0.001 ms
    p.breaker = {.consecutive_failures = 0,
                 .window = window_kind::time_based,
                 .window_size = 99,
                 .minimum_calls = 7,
                 .failure_rate_threshold = 33.3,
                 .slow_call_rate_threshold = 0.1,
                 .slow_call_duration = 2500us,
                 .open_duration = 777ms,
                 .open_duration_multiplier = 1.7,
                 .max_open_duration = 86'400'000'000'000us,  // a day... times a thousand
                 .half_open_probes = 9,
                 .half_open_successes = 4,
                 .half_open_probe_timeout = 999'999'999'999'999us};  // just under the 1e12 ms limit
    o.routing.providers[1].models.clear();                           // any model
    o.routing.routes.insert(
        o.routing.routes.begin(),
        medgate::route{"zeta-notes", {{"primary", "meta-llama/Llama-3.1-8B-Instruct"}, {"fallback", "x/y/z"}}});
    o.routing.routes.push_back(medgate::route{"alpha", {{"fallback", "gpt-4o-mini"}}});
    o.retry = {.max_attempts_per_target = 4'294'967'295U,
               .backoff = {.kind = backoff_kind::linear,
                           .base = 100500us,
                           .multiplier = 1.25,
                           .step = 0us,
                           .cap = 100500us,
                           .jitter = jitter_kind::decorrelated},
               .budget = {.ttl = 1us, .min_retries_per_second = 0, .retry_ratio = 1000.0},
               .max_retry_after = 0us};
    o.deadlines = {.timeout = 45s, .attempt_timeout = 3001us, .min_attempt_time = 0us};
    o.record_decisions = false;
    o.alerts.webhooks = {
        {"oncall", "https://hooks.example.org/a/b", "", medgate::alerts::payload_format::slack, "HOOK_TOKEN", 2500us},
        {"team", "", "TEAM_HOOK_URL", medgate::alerts::payload_format::json, "", 1s}};
    o.alerts.delivery = {3, 250us, 2s, 7};
    o.alerts.resolve_after = 0us;
    o.alerts.send_resolved = false;
    o.alerts.breaker_open = false;
    o.alerts.burn_rate = {false, 0.95, 3, {{10s, 1s, 2.5, "low"}}};
    o.alerts.budget_thresholds = {0.5};
    o.alerts.review_max_age = 0us;
    REQUIRE_FALSE(o.validate().has_value());

    auto const text = medgate::to_json(o).dump();
    auto const back = parsed(text);
    check_same(back, o);
    CHECK(back.routing.routes[0].name == "zeta-notes");
    CHECK(back.routing.routes[0].chain[1].model == "x/y/z");  // split at the first '/'
    CHECK(back.routing.routes[2].name == "alpha");
    // And once more through the text, which must be a fixed point.
    CHECK(medgate::to_json(back).dump() == text);
  }
}

TEST_CASE("to_json writes the schema's names and converts to nlohmann::json") {
  auto const j = medgate::to_json(medgate::default_options());
  CHECK(j.begin().key() == "providers");
  CHECK(j["providers"][0]["connect_timeout_ms"] == 2000);
  CHECK(j["providers"][0]["breaker"]["window"] == "count_based");
  CHECK_FALSE(j["providers"][0].contains("api_key_env"));  // no key configured
  CHECK(j["retry"]["backoff"]["kind"] == "exponential");
  CHECK(j["retry"]["backoff"]["jitter"] == "full");
  CHECK(j["deadlines"]["min_attempt_time_ms"] == 50);
  CHECK(j["routes"]["clinical-summary"][1] == "fallback/gpt-4o-mini");
  nlohmann::json const plain = j;
  CHECK(plain["record_decisions"] == true);
  engine_options o = medgate::default_options();
  o.deadlines.min_attempt_time = 62500us;
  CHECK(medgate::to_json(o)["deadlines"]["min_attempt_time_ms"] == 62.5);
}

TEST_CASE("numbers: integers must be integers, durations are integer or decimal milliseconds") {
  auto const o =
      parsed(one_provider(R"("connect_timeout_ms": 0.25, "attempt_timeout_ms": 1e3,
                                         "breaker": {"window_size": 20.0, "open_duration_ms": 1500.5})",
                          R"("retry": {"backoff": {"multiplier": 3}}, "deadlines": {"min_attempt_time_ms": 0})"));
  auto const& p = o.routing.providers[0];
  CHECK(p.connect_timeout == 250us);
  CHECK(p.attempt_timeout == 1s);
  CHECK(p.breaker.window_size == 20);
  CHECK(p.breaker.open_duration == 1500500us);
  CHECK(o.retry.backoff.multiplier == 3.0);
  CHECK(o.deadlines.min_attempt_time == 0us);
  // Rounded to the nearest microsecond.
  CHECK(parsed(one_provider("", R"("deadlines": {"min_attempt_time_ms": 0.0006})")).deadlines.min_attempt_time == 1us);
  CHECK(parsed(one_provider("", R"("deadlines": {"min_attempt_time_ms": 0.0004})")).deadlines.min_attempt_time == 0us);
}

TEST_CASE("error messages name the JSON path: the documented examples") {
  CHECK(error_of("{\"retry\": {\n    x}}") == "config: not valid JSON: syntax error at byte 17 (line 2, column 5)");
  CHECK(error_of(one_provider(R"("breaker": {"window_size": 0})")) ==
        "config: providers[0].breaker.window_size must be > 0, got 0");
  CHECK(error_of(R"({"providers": [{"name": "a", "base_url": "http://a/v1"},
                                    {"name": "b", "base_url": "http://b/v1", "connect_timeout_ms": "2s"}]})") ==
        R"(config: providers[1].connect_timeout_ms must be a number, got "2s")");
  CHECK(error_of(one_provider("", R"("retry": {"backoff": {"kind": "expo"}})")) ==
        R"(config: retry.backoff.kind must be one of constant, linear, exponential, got "expo")");
  CHECK(error_of(one_provider("", R"("retires": {})")) ==
        R"(config: unknown field "retires" at top level (did you mean "retry"?))");
  CHECK(error_of(R"({"providers": [{"name": "primary", "base_url": "http://a/v1"},
                                    {"name": "fallback", "base_url": "http://b/v1"}],
                     "routes": {"clinical-summary": ["primary/gpt-4o-mini", "fallbak/gpt-4o-mini"]}})") ==
        R"(config: routes.clinical-summary[1] names unknown provider "fallbak")");
  CHECK(error_of(one_provider(R"("api_key": "sk-live-123")")) ==
        "config: providers[0].api_key is not allowed: put the key in an environment variable and name it in "
        "api_key_env");
}

TEST_CASE("not valid JSON: where, and what kind") {
  CHECK(error_of("") == "config: not valid JSON: unexpected end of input at byte 1 (line 1, column 1)");
  CHECK(error_of("{\"providers\": [") ==
        "config: not valid JSON: unexpected end of input at byte 16 (line 1, column 16)");
  CHECK(error_of("{\n\n  ,}") == "config: not valid JSON: syntax error at byte 6 (line 3, column 3)");
  CHECK(error_of("{} {}") == "config: not valid JSON: syntax error at byte 4 (line 1, column 4)");
  CHECK(error_of(R"({"a": 1e400})") == "config: not valid JSON: a number out of range at byte 11 (line 1, column 11)");
  // Invalid UTF-8 inside a string and outside one; an overlong encoding of '/'.
  CHECK(error_of("{\"na\xffme\": 1}") == "config: not valid JSON: invalid UTF-8 at byte 5 (line 1, column 5)");
  CHECK(error_of("\xef\xbb") == "config: not valid JSON: syntax error at byte 3 (line 1, column 3)");
  CHECK(error_of("{\"a\": \"\xc0\xaf\"}") == "config: not valid JSON: invalid UTF-8 at byte 8 (line 1, column 8)");
  CHECK(error_of(std::string_view{"{\"a\"\0: 1}", 9}) ==
        "config: not valid JSON: syntax error at byte 5 (line 1, column 5)");
}

TEST_CASE("the top level must be an object") {
  CHECK(error_of("[]") == "config: the top level must be a JSON object, got an array");
  CHECK(error_of("null") == "config: the top level must be a JSON object, got null");
  CHECK(error_of("42") == "config: the top level must be a JSON object, got 42");
  CHECK(error_of(R"("primary")") == R"(config: the top level must be a JSON object, got "primary")");
  CHECK(error_of("{}") == "config: providers is required: list at least one provider");
}

TEST_CASE("unknown fields are errors, with a suggestion only when one is close") {
  CHECK(error_of(one_provider("", R"("Retry": {})")) ==
        R"(config: unknown field "Retry" at top level (did you mean "retry"?))");
  CHECK(error_of(one_provider("", R"("colour": "blue")")) == R"(config: unknown field "colour" at top level)");
  CHECK(error_of(one_provider(R"("breaker": {"window-size": 5})")) ==
        R"(config: unknown field "window-size" in providers[0].breaker (did you mean "window_size"?))");
  CHECK(error_of(one_provider(R"("breaker": {"open_duration": 5})")) ==
        R"(config: unknown field "open_duration" in providers[0].breaker (did you mean "open_duration_ms"?))");
  CHECK(error_of(one_provider(R"("timeout_ms": 5)")) == R"(config: unknown field "timeout_ms" in providers[0])");
  CHECK(error_of(one_provider("", R"("retry": {"budget": {"ratio": 0.1}})")) ==
        R"(config: unknown field "ratio" in retry.budget (did you mean "retry_ratio"?))");
  CHECK(error_of(one_provider("", R"("deadlines": {"timeout": 5})")) ==
        R"(config: unknown field "timeout" in deadlines (did you mean "timeout_ms"?))");
  // The first mistake in the order written is the one reported.
  CHECK(error_of(one_provider("", R"("zzz": 1, "retries": 2)")) == R"(config: unknown field "zzz" at top level)");
}

TEST_CASE("a field written twice is an error (JSON parsers silently keep the last)") {
  CHECK(error_of(one_provider("", R"("record_decisions": true, "record_decisions": false)")) ==
        R"(config: field "record_decisions" appears twice at top level)");
  CHECK(error_of(R"({"providers": [{"name": "a", "base_url": "http://a/v1"},
                                    {"name": "b", "base_url": "http://b/v1", "breaker": {"window_size": 5, "window_size": 6}}]})") ==
        R"(config: field "window_size" appears twice in providers[1].breaker)");
  CHECK(error_of(one_provider("", R"("routes": {"r": ["p/m"], "r": ["p/n"]})")) ==
        R"(config: field "r" appears twice in routes)");
  // The same name in different objects is fine.
  CHECK(
      parse_config(one_provider(R"("breaker": {"window_size": 5})", R"("retry": {"budget": {}, "backoff": {}})")).ok());
}

TEST_CASE("keys starting with // are comments, anywhere, and may repeat") {
  auto const o = parsed(R"({"//": "top", "providers": [{"//": "a", "name": "p", "base_url": "http://p/v1",
                            "breaker": {"//": [1, {"deep": true}], "window_size": 4}}],
                            "routes": {"//": "aliases", "r": ["p/m"]}, "retry": {"//x": 1, "//y": 2}, "//": "again"})");
  CHECK(o.routing.providers[0].breaker.window_size == 4);
  REQUIRE(o.routing.routes.size() == 1);
  CHECK(o.routing.routes[0].name == "r");
}

TEST_CASE("types: every kind of field rejects the wrong kind of value") {
  CHECK(error_of(one_provider(R"("breaker": {"window_size": 2.5})")) ==
        "config: providers[0].breaker.window_size must be an integer, got 2.5");
  CHECK(error_of(one_provider(R"("breaker": {"window_size": "20"})")) ==
        R"(config: providers[0].breaker.window_size must be an integer, got "20")");
  CHECK(error_of(one_provider(R"("breaker": {"minimum_calls": -5})")) ==
        "config: providers[0].breaker.minimum_calls must be >= 0, got -5");
  CHECK(error_of(one_provider(R"("breaker": {"half_open_probes": 4294967296})")) ==
        "config: providers[0].breaker.half_open_probes must be <= 4294967295, got 4294967296");
  CHECK(error_of(one_provider(R"("breaker": {"half_open_probes": 1e10})")) ==
        "config: providers[0].breaker.half_open_probes must be <= 4294967295, got 10000000000");
  CHECK(error_of(one_provider(R"("breaker": {"consecutive_failures": -0.5})")) ==
        "config: providers[0].breaker.consecutive_failures must be an integer, got -0.5");
  CHECK(error_of(one_provider(R"("breaker": {"consecutive_failures": null})")) ==
        "config: providers[0].breaker.consecutive_failures must be an integer, got null");
  CHECK(error_of(one_provider("", R"("retry": {"max_attempts_per_target": 18446744073709551615})")) ==
        "config: retry.max_attempts_per_target must be <= 4294967295, got 18446744073709551615");
  CHECK(error_of(one_provider(R"("breaker": {"window": "sliding"})")) ==
        R"(config: providers[0].breaker.window must be one of count_based, time_based, got "sliding")");
  CHECK(error_of(one_provider(R"("breaker": {"window": 1})")) ==
        "config: providers[0].breaker.window must be one of count_based, time_based, got 1");
  CHECK(error_of(one_provider("", R"("retry": {"backoff": {"jitter": "Full"}})")) ==
        R"(config: retry.backoff.jitter must be one of none, full, equal, decorrelated, got "Full")");
  CHECK(error_of(one_provider(R"("breaker": {"failure_rate_threshold": "50%"})")) ==
        R"(config: providers[0].breaker.failure_rate_threshold must be a number, got "50%")");
  CHECK(error_of(one_provider("", R"("record_decisions": 1)")) ==
        "config: record_decisions must be true or false, got 1");
  CHECK(error_of(one_provider("", R"("record_decisions": "true")")) ==
        R"(config: record_decisions must be true or false, got "true")");
  CHECK(error_of(one_provider("", R"("retry": [])")) == "config: retry must be an object, got an array");
  CHECK(error_of(one_provider("", R"("deadlines": "30s")")) == R"(config: deadlines must be an object, got "30s")");
  CHECK(error_of(one_provider(R"("breaker": true)")) == "config: providers[0].breaker must be an object, got true");
  CHECK(error_of(provider_with(R"("name": 7, "base_url": "http://p/v1")")) ==
        "config: providers[0].name must be a string, got 7");
  CHECK(error_of(one_provider(R"("models": "gpt-4o")")) ==
        R"(config: providers[0].models must be an array of model names, got "gpt-4o")");
  CHECK(error_of(one_provider(R"("models": ["a", 3])")) == "config: providers[0].models[1] must be a string, got 3");
  CHECK(error_of(one_provider(R"("models": ["a", ""])")) == "config: providers[0].models[1] must not be empty");
}

TEST_CASE("durations: non-negative, bounded, numbers") {
  CHECK(error_of(one_provider(R"("attempt_timeout_ms": -1)")) ==
        "config: providers[0].attempt_timeout_ms must be >= 0, got -1");
  CHECK(error_of(one_provider(R"("attempt_timeout_ms": -0.5)")) ==
        "config: providers[0].attempt_timeout_ms must be >= 0, got -0.5");
  CHECK(error_of(one_provider(R"("attempt_timeout_ms": 1000000000001)")) ==
        "config: providers[0].attempt_timeout_ms must be <= 1000000000000 (about 31 years), got 1000000000001");
  CHECK(error_of(one_provider(R"("attempt_timeout_ms": 1.5e12)")) ==
        "config: providers[0].attempt_timeout_ms must be <= 1000000000000 (about 31 years), got 1500000000000");
  CHECK(error_of(one_provider(R"("attempt_timeout_ms": [2000])")) ==
        "config: providers[0].attempt_timeout_ms must be a number, got an array");
  CHECK(parsed(one_provider(R"("attempt_timeout_ms": 1000000000000)")).routing.providers[0].attempt_timeout ==
        std::chrono::duration_cast<medgate::duration>(std::chrono::milliseconds{1'000'000'000'000}));
}

TEST_CASE("the option structs' own checks, reported with JSON names") {
  CHECK(error_of(one_provider(R"("connect_timeout_ms": 0)")) ==
        "config: providers[0].connect_timeout_ms must be > 0, got 0ms");
  CHECK(error_of(provider_with(R"("name": "p", "base_url": "ftp://p/v1")")) ==
        "config: providers[0].base_url must start with http:// or https://");
  CHECK(error_of(one_provider(R"("breaker": {"open_duration_ms": 0})")) ==
        "config: providers[0].breaker.open_duration_ms must be > 0, got 0ms");
  CHECK(error_of(one_provider(R"("breaker": {"open_duration_ms": 2000, "max_open_duration_ms": 1000})")) ==
        "config: providers[0].breaker.max_open_duration_ms must be >= open_duration_ms (2000ms), got 1000ms");
  CHECK(error_of(one_provider(R"("breaker": {"half_open_probes": 2})")) ==
        "config: providers[0].breaker.half_open_successes must be <= half_open_probes (2), got 3");
  CHECK(error_of(one_provider(R"("breaker": {"failure_rate_threshold": 150})")) ==
        "config: providers[0].breaker.failure_rate_threshold must be in (0, 100], got 150");
  CHECK(error_of(one_provider("", R"("retry": {"max_attempts_per_target": 0})")) ==
        "config: retry.max_attempts_per_target must be >= 1, got 0");
  CHECK(error_of(one_provider("", R"("retry": {"backoff": {"base_ms": 500, "cap_ms": 100.5}})")) ==
        "config: retry.backoff.cap_ms must be >= base_ms (500ms), got 100.5ms");
  CHECK(error_of(one_provider("", R"("retry": {"backoff": {"multiplier": 0.5}})")) ==
        "config: retry.backoff.multiplier must be a finite number >= 1, got 0.5");
  CHECK(error_of(one_provider("", R"("retry": {"budget": {"ttl_ms": 0}})")) ==
        "config: retry.budget.ttl_ms must be > 0, got 0ms");
  CHECK(error_of(one_provider("", R"("retry": {"budget": {"retry_ratio": -1}})")) ==
        "config: retry.budget.retry_ratio must be in [0, 1000], got -1");
  CHECK(error_of(one_provider("", R"("deadlines": {"timeout_ms": 0})")) ==
        "config: deadlines.timeout_ms must be > 0, got 0ms");
  CHECK(error_of(one_provider("", R"("deadlines": {"attempt_timeout_ms": 100, "min_attempt_time_ms": 200})")) ==
        "config: deadlines.min_attempt_time_ms must be <= attempt_timeout_ms (100ms), got 200ms");
}

TEST_CASE("providers: required, an array of objects, each named once and reachable") {
  CHECK(error_of(R"({"providers": []})") == "config: providers must name at least one provider");
  CHECK(error_of(R"({"providers": {"name": "p"}})") ==
        "config: providers must be an array of provider objects, got an object");
  CHECK(error_of(R"({"providers": ["primary"]})") == R"(config: providers[0] must be an object, got "primary")");
  CHECK(error_of(R"({"providers": [{"base_url": "http://p/v1"}]})") == "config: providers[0].name is required");
  CHECK(error_of(R"({"providers": [{"name": "", "base_url": "http://p/v1"}]})") ==
        "config: providers[0].name must not be empty");
  CHECK(error_of(R"({"providers": [{"name": "a/b", "base_url": "http://p/v1"}]})") ==
        R"(config: providers[0].name must not contain "/" (routes name targets as "provider/model"))");
  CHECK(error_of(R"({"providers": [{"name": "p"}]})") == "config: providers[0].base_url is required");
  CHECK(error_of(
            R"({"providers": [{"name": "p", "base_url": "http://a/v1"}, {"name": "p", "base_url": "http://b/v1"}]})") ==
        R"(config: providers[1].name repeats providers[0].name "p")");
  CHECK(error_of(one_provider(R"("api_key_env": "OPENAI KEY")")) ==
        "config: providers[0].api_key_env must name an environment variable (letters, digits and _, not starting "
        "with a digit), not hold the key itself");
  CHECK(error_of(one_provider(R"("api_key_env": "1KEY")"))
            .starts_with("config: providers[0].api_key_env must name an environment variable"));
  CHECK(parsed(one_provider(R"("api_key_env": "_Key_2")")).routing.providers[0].api_key_env == "_Key_2");
  CHECK(parsed(one_provider(R"("api_key_env": "")")).routing.providers[0].api_key_env.empty());
  CHECK(error_of(provider_with(R"("name": "p", "base_url": "https://user:pass@host/v1")")) ==
        "config: providers[0].base_url must not contain credentials (user:password@): put the key in an environment "
        "variable and name it in api_key_env");
  CHECK(
      error_of(provider_with(R"("name": "p", "base_url": "https://host/v1?api-version=1")")) ==
      R"(config: providers[0].base_url must not contain a query or fragment ("?", "#"): /chat/completions is appended to it)");
  CHECK(parsed(provider_with(R"("name": "p", "base_url": "https://host/v1/models@latest")"))
            .routing.providers[0]
            .base_url == "https://host/v1/models@latest");  // '@' after the host is a path, not credentials
}

TEST_CASE("routes: an object of provider/model chains naming known providers and models") {
  auto const two = [](std::string_view routes) {
    return R"({"providers": [{"name": "primary", "base_url": "http://a/v1", "models": ["gpt-4o-mini"]},
                             {"name": "fallback", "base_url": "http://b/v1"}], "routes": )" +
           std::string{routes} + "}";
  };
  CHECK(error_of(two(R"(["primary/gpt-4o-mini"])")) ==
        R"(config: routes must be an object mapping route names to "provider/model" lists, got an array)");
  CHECK(
      error_of(two(R"({"summary": "primary/gpt-4o-mini"})")) ==
      R"(config: routes.summary must be a "provider/model" list or an object with "chain" and "canary", got "primary/gpt-4o-mini")");
  CHECK(error_of(two(R"({"summary": []})")) ==
        R"(config: routes.summary must list at least one "provider/model" target)");
  CHECK(error_of(two(R"({"summary": [{"provider": "primary"}]})")) ==
        R"(config: routes.summary[0] must be a "provider/model" string, got an object)");
  CHECK(error_of(two(R"({"summary": ["primary"]})")) ==
        R"(config: routes.summary[0] must be written "provider/model", got "primary")");
  CHECK(error_of(two(R"({"summary": ["/gpt-4o-mini"]})")) ==
        R"(config: routes.summary[0] must be written "provider/model", got "/gpt-4o-mini")");
  CHECK(error_of(two(R"({"summary": ["primary/"]})")) ==
        R"(config: routes.summary[0] must be written "provider/model", got "primary/")");
  CHECK(error_of(two(R"({"": ["primary/gpt-4o-mini"]})")) == "config: routes has a route with an empty name");
  CHECK(error_of(two(R"({"summary": ["fallback/x", "primary/gpt-4o"]})")) ==
        R"(config: routes.summary[1] names model "gpt-4o", which provider "primary" does not list in its models)");
  // A route may name a provider declared after it, and a model containing '/'.
  auto const o = parsed(two(R"({"summary": ["fallback/org/model-1", "primary/gpt-4o-mini"]})"));
  CHECK(o.routing.routes[0].chain[0].provider == "fallback");
  CHECK(o.routing.routes[0].chain[0].model == "org/model-1");
}

TEST_CASE("json_path_of translates option-struct paths into JSON paths") {
  auto const o = medgate::default_options();
  using medgate::detail::configuration::json_path_of;
  CHECK(json_path_of("routes[0].chain[1]", o.routing) == "routes.clinical-summary[1]");
  CHECK(json_path_of("routes[0].name", o.routing) == "routes.clinical-summary");
  CHECK(json_path_of("routes[0].chain", o.routing) == "routes.clinical-summary");
  CHECK(json_path_of("providers[1].breaker.half_open_probe_timeout", o.routing) ==
        "providers[1].breaker.half_open_probe_timeout_ms");
  CHECK(json_path_of("providers[1].connect_timeout_ms", o.routing) == "providers[1].connect_timeout_ms");
  CHECK(json_path_of("retry.backoff.base", o.routing) == "retry.backoff.base_ms");
  CHECK(json_path_of("retry.budget.retry_ratio", o.routing) == "retry.budget.retry_ratio");
  CHECK(json_path_of("", o.routing).empty());
}

TEST_CASE("secrets never appear in an error message") {
  constexpr std::string_view canary = "CANARY";
  std::vector<std::string> const configs{
      one_provider(R"("api_key": "sk-CANARY-123")"),
      one_provider("", R"("api_key": "sk-CANARY-123")"),
      one_provider(R"("breaker": {"token": "sk-CANARY-123"})"),
      one_provider(R"("Authorization": "Bearer sk-CANARY-123")"),
      one_provider(R"("key": "sk-CANARY-123")"),
      one_provider(R"("openai-api-key": {"value": "sk-CANARY-123"})"),
      one_provider(R"("client_secret": "sk-CANARY-123")"),
      one_provider(R"("api_key_env": "sk-CANARY-123")"),
      one_provider(R"("api_key_env": "CANARYCANARYCANARY-not-a-name")"),
      provider_with(R"("name": "sk-CANARY-123", "base_url": "http://p/v1")"),
      provider_with(R"("name": "p", "base_url": "https://sk-CANARY-123@host/v1")"),
      provider_with(R"("name": "p", "base_url": "https://host/v1?key=sk-CANARY-123")"),
      one_provider(R"("models": ["sk-CANARY-123"])"),
      one_provider(R"("connect_timeout_ms": "sk-CANARY-123")"),
      one_provider(R"("breaker": {"window": "sk-CANARY-123"})"),
      one_provider(R"("breaker": {"window_size": ["sk-CANARY-123"]})"),
      one_provider("", R"("retry": {"backoff": {"kind": "sk-CANARY-123"}})"),
      one_provider("", R"("record_decisions": "sk-CANARY-123")"),
      one_provider("", R"("sk-CANARY-123": 1)"),
      one_provider("", R"("sk-CANARY-123": 1, "sk-CANARY-123": 2)"),
      one_provider("", R"("routes": {"sk-CANARY-123": ["p/m"]})"),
      one_provider("", R"("routes": {"r": ["sk-CANARY-123"]})"),
      one_provider("", R"("routes": {"r": ["sk-CANARY-123/m"]})"),
      one_provider("", R"("routes": {"r": ["p/sk-CANARY-123"]})"),
      one_provider("", R"("routes": "sk-CANARY-123")"),
      R"({"providers": "sk-CANARY-123"})",
      R"("sk-CANARY-123")",
      R"({"providers": [{"name": "p", "base_url": "http://p/v1", "api_key": "sk-CANARY-123)",
      R"({"providers": [{"name": "p", "base_url": "http://p/v1", "api_key": "sk-CANARY-123" x}]})",
      R"({"providers": [{"name": "p", "base_url": "http://p/v1"}], "sk-CANARY-123" x})",
      "{\"providers\": [{\"name\": \"sk-CANARY-123\xff\"}]}",
  };
  for (auto const& config : configs) {
    auto const message = error_of(config);
    INFO(message);
    CHECK(message.find(canary) == std::string::npos);
    CHECK(message.starts_with("config: "));
  }
  // Key-shaped strings without a well-known prefix are not quoted either.
  auto const random_key = std::string{"Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LmN"};
  for (auto const& config :
       {one_provider(R"("connect_timeout_ms": ")" + random_key + "\""), one_provider("", "\"" + random_key + "\": 1"),
        one_provider("", R"("routes": {"r": [")" + random_key + "\"]})")}) {
    auto const message = error_of(config);
    INFO(message);
    CHECK(message.find(random_key.substr(0, 12)) == std::string::npos);
  }
  CHECK(error_of(one_provider(R"("connect_timeout_ms": "sk-CANARY-123")")) ==
        "config: providers[0].connect_timeout_ms must be a number, got a value that is not shown (it may be a secret)");
  CHECK(error_of(provider_with(R"("name": "sk-CANARY-123", "base_url": "http://p/v1")")) ==
        "config: providers[0].name looks like a secret key, which must not be in the configuration: put the key in an "
        "environment variable and name it in api_key_env");
  CHECK(
      error_of(one_provider(R"("models": ["gpt-4o", ")" + random_key + "\"]")) ==
      "config: providers[0].models[1] looks like a secret key, which must not be in the configuration: put the key in "
      "an environment variable and name it in api_key_env");
  CHECK(error_of(one_provider("", R"("sk-CANARY-123": 1)")) ==
        "config: unknown field at top level (its name is not shown: it may be a secret)");
}

TEST_CASE("deep nesting is reported or ignored, never a crash") {
  // Deep enough that a recursive parser, walker or destructor would overflow
  // the WebAssembly build's 1 MiB stack; small enough for a sanitizer build.
  constexpr std::size_t depth = 30'000;
  std::string const open_arrays(depth, '[');
  std::string const close_arrays(depth, ']');
  CHECK(error_of(R"({"providers": )" + open_arrays + close_arrays + "}") ==
        "config: providers[0] must be an object, got an array");
  CHECK(error_of(open_arrays + close_arrays) == "config: the top level must be a JSON object, got an array");
  CHECK(error_of(open_arrays) ==
        "config: not valid JSON: unexpected end of input at byte 30001 (line 1, column 30001)");

  std::string objects;
  for (std::size_t i = 0; i < depth; ++i) objects += R"({"a":)";
  objects += "1";
  objects += std::string(depth, '}');
  CHECK(error_of(one_provider("", R"("deep": )" + objects)) == R"(config: unknown field "deep" at top level)");
  CHECK(parsed(one_provider("", R"("//": )" + objects)).routing.providers.size() == 1);  // a deep comment
  // A duplicate far down is still found, with its path.
  std::string deep_duplicate = R"({"x": )";
  for (int i = 0; i < 3; ++i) deep_duplicate += R"([{"a":)";
  deep_duplicate += R"(1, "a": 2)";
  for (int i = 0; i < 3; ++i) deep_duplicate += "}]";
  deep_duplicate += "}";
  CHECK(error_of(deep_duplicate) == R"(config: field "a" appears twice in x[0].a[0].a[0])");
}

namespace {

std::string read_policies_example() {
  std::ifstream in{MEDGATE_SOURCE_DIR "/examples/clinical-policies.json", std::ios::binary};
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("the clinical policies example parses to what it says and round-trips") {
  auto const o = parsed(read_policies_example());
  auto const& primary = o.routing.providers[0];
  CHECK(primary.rate_limit.requests_per_minute == 1000.0);
  CHECK(primary.rate_limit.tokens_per_minute == 200000.0);
  CHECK(primary.rate_limit.burst == 1000ms);
  CHECK(primary.rate_limit.token_burst == 60000ms);
  CHECK(primary.rate_limit.batch_share == 0.5);
  CHECK(primary.concurrency.max_concurrent == 64);
  CHECK(primary.concurrency.adaptive);
  CHECK(primary.concurrency.latency_threshold == 5000ms);
  CHECK(primary.health.sla_tier == "medical-pro");
  CHECK(primary.health.probe_interval == 15000ms);
  CHECK(primary.health.probe_timeout == 5000ms);
  CHECK(o.routing.providers[1].rate_limit.requests_per_minute == 500.0);
  CHECK(o.routing.providers[1].rate_limit.tokens_per_minute == 0.0);  // unlimited by default

  auto const* summary = o.routing.find_route("clinical-summary");
  REQUIRE(summary != nullptr);
  REQUIRE(summary->canary.has_value());
  CHECK(summary->chain.size() == 2);
  CHECK(summary->canary->chain[0].model == "gpt-4.1");
  CHECK(summary->canary->options.basis_points == 100);
  REQUIRE(summary->canary->options.ramp.size() == 2);
  CHECK(summary->canary->options.ramp[0].at == 3600000ms);
  CHECK(summary->canary->options.ramp[0].basis_points == 500);
  CHECK(summary->canary->options.ramp[1].basis_points == 2500);
  CHECK(summary->canary->options.rollback.min_calls == 30);
  CHECK(summary->canary->options.rollback.z == 2.33);
  auto const* batch = o.routing.find_route("batch-coding");
  REQUIRE(batch != nullptr);
  CHECK_FALSE(batch->canary.has_value());

  CHECK(o.hedge.enabled);
  CHECK(o.hedge.percentile == 0.95);
  CHECK(o.hedge.min_delay == 50ms);
  CHECK(o.hedge.max_extra_ratio == 0.1);
  CHECK(o.idempotency.ttl == 600000ms);
  CHECK(o.idempotency.max_key_bytes == 256);
  CHECK(o.review.enabled);
  CHECK(o.review.threshold == 0.7);
  CHECK_FALSE(o.review.missing_is_low);
  CHECK(o.patient_key_secret_env == "MEDGATE_PATIENT_KEY_SECRET");

  // Written back and read again, the text is a fixed point.
  auto const text = medgate::to_json(o).dump();
  CHECK(medgate::to_json(parsed(text)).dump() == text);
  CHECK(medgate::to_json(o)["routes"]["clinical-summary"]["canary"]["percent"] == 1);
  CHECK(medgate::to_json(o)["routes"]["batch-coding"].is_array());
}

TEST_CASE("clinical policy sections name what is wrong") {
  CHECK(
      error_of(one_provider(R"("rate_limit": {"requests_per_minte": 5})")) ==
      R"(config: unknown field "requests_per_minte" in providers[0].rate_limit (did you mean "requests_per_minute"?))");
  CHECK(error_of(one_provider(R"("rate_limit": {"requests_per_minute": "many"})")) ==
        R"(config: providers[0].rate_limit.requests_per_minute must be a number, got "many")");
  CHECK(error_of(one_provider(R"("rate_limit": {"batch_share": 1.5})"))
            .starts_with("config: providers[0].rate_limit.batch_share must be"));
  CHECK(error_of(one_provider(R"("health": {"sla_tier": "platinum"})"))
            .starts_with("config: providers[0].health.sla_tier "));
  CHECK(error_of(one_provider(R"("health": {"window_ms": 0})"))
            .starts_with("config: providers[0].health.window_ms must be > 0"));
  CHECK(error_of(one_provider(R"("concurrency": {"adaptive": "yes"})")) ==
        R"(config: providers[0].concurrency.adaptive must be true or false, got "yes")");
  CHECK(error_of(one_provider("", R"("hedge": {"percentile": 0})")).starts_with("config: hedge.percentile must be"));
  CHECK(error_of(one_provider("", R"("hedge": {"max_delay_ms": -1})")) ==
        "config: hedge.max_delay_ms must be >= 0, got -1");
  CHECK(error_of(one_provider("", R"("review": {"threshold": 2})")).starts_with("config: review.threshold must be"));
  CHECK(error_of(one_provider("", R"("idempotency": {"ttl": 5})")) ==
        R"(config: unknown field "ttl" in idempotency (did you mean "ttl_ms"?))");
  CHECK(
      error_of(one_provider("", R"("patient_key_secret_env": "sk-abcdefghijklmnopqrstuvwxyz012345")")).find("sk-abc") ==
      std::string::npos);

  auto const canary = [](std::string_view fields) {
    return one_provider(
        "", R"("routes": {"notes": {"chain": ["p/m"], "canary": {"chain": ["p/m2"])" + std::string{fields} + "}}}");
  };
  CHECK(parse_config(canary(R"(, "percent": 12.5)")).ok());
  CHECK(parsed(canary(R"(, "percent": 12.5)")).routing.routes[0].canary->options.basis_points == 1250);
  CHECK(error_of(canary(R"(, "percent": 101)")) ==
        "config: routes.notes.canary.percent must be a percentage in [0, 100], got 101");
  CHECK(error_of(canary(R"(, "ramp": [{"at_ms": 1000, "percent": 5}, {"at_ms": 500, "percent": 10}])"))
            .starts_with("config: routes.notes.canary.ramp[1]"));
  CHECK(error_of(canary(R"(, "rollback": {"window_ms": 0})"))
            .starts_with("config: routes.notes.canary.rollback.window_ms must be > 0"));
  CHECK(error_of(one_provider("", R"("routes": {"notes": {"canary": {"chain": ["p/m"]}}})")) ==
        "config: routes.notes.chain is required");
  CHECK(error_of(one_provider("", R"("routes": {"notes": {"chain": ["p/m"], "canary": {"percent": 5}}})")) ==
        "config: routes.notes.canary.chain is required");
  CHECK(error_of(one_provider("", R"("routes": {"notes": {"chain": ["p/m"], "canary": {"chain": ["q/m"]}}})")) ==
        R"(config: routes.notes.canary.chain[0] names unknown provider "q")");
  CHECK(error_of(one_provider("", R"("routes": {"notes": 5})")) ==
        R"(config: routes.notes must be a "provider/model" list or an object with "chain" and "canary", got 5)");
}

TEST_CASE("a provider's key may come from a file instead of an environment variable, not from both") {
  auto const o = parsed(one_provider(R"("api_key_file": "/run/secrets/openai")"));
  CHECK(o.routing.providers[0].api_key_file == "/run/secrets/openai");
  CHECK(parse_config(to_json(o).dump())->routing.providers[0].api_key_file == "/run/secrets/openai");
  CHECK(error_of(one_provider(R"("api_key_file": "/k", "api_key_env": "OPENAI_API_KEY")")) ==
        "config: providers[0] has both api_key_env and api_key_file: give one");
  CHECK(error_of(one_provider(R"("api_key_file": "")")) ==
        "config: providers[0].api_key_file must name a file (or be left out)");
  CHECK(
      error_of(one_provider(R"("api_key_file": 7)")).starts_with("config: providers[0].api_key_file must be a string"));
  // The key itself pasted in by mistake is refused without being quoted.
  auto const pasted = error_of(one_provider(R"("api_key_file": "sk-proj-CANARYabcdefghijklmnopqrstuvwxyz0123")"));
  CHECK(pasted.find("CANARY") == std::string::npos);
}

TEST_CASE("the gateway section belongs to medgate serve: the engine only checks it is an object") {
  CHECK(parse_config(one_provider("", R"("gateway": {"listen": "127.0.0.1:9000", "threads": 8})")).ok());
  CHECK(error_of(one_provider("", R"("gateway": 8080)")) == "config: gateway must be an object, got 8080");
}

TEST_CASE("a route written as an object is named with its .chain in errors") {
  auto const config = [](std::string_view route) {
    return std::string{R"({"providers": [{"name": "p", "base_url": "http://127.0.0.1:8900/p/v1", "models": ["m"]}],
                          "routes": {"r": )"} +
           std::string{route} + "}}";
  };
  CHECK(error_of(config(R"({"chain": ["p/m", "q/m"]})")) == "config: routes.r.chain[1] names unknown provider \"q\"");
  CHECK(error_of(config(R"(["p/m", "q/m"])")) == "config: routes.r[1] names unknown provider \"q\"");
}

TEST_CASE("alerts: the section's defaults, its fields and its errors, never quoting a webhook URL") {
  auto const defaults = parsed(one_provider()).alerts;
  CHECK(defaults == medgate::alerts::options{});
  CHECK_FALSE(defaults.enabled());
  CHECK(defaults.burn_rate.windows.size() == 2);

  auto const a = parsed(one_provider("", R"("alerts": {"webhooks": [{"name": "oncall", "url_env": "ONCALL_URL",
      "format": "slack"}], "budget": {"thresholds": [0.9]}, "review_queue": {"max_age_ms": 60000},
      "burn_rate": {"windows": [{"long_ms": 600000, "short_ms": 60000, "factor": 10, "severity": "page"}]}})"))
                     .alerts;
  REQUIRE(a.webhooks.size() == 1);
  CHECK(a.enabled());
  CHECK(a.webhooks[0].url_env == "ONCALL_URL");
  CHECK(a.webhooks[0].format == medgate::alerts::payload_format::slack);
  CHECK(a.budget_thresholds == std::vector<double>{0.9});
  CHECK(a.review_max_age == 60s);
  CHECK(a.burn_rate.windows[0].long_window == 600s);

  auto const secret_url = std::string{"https://hooks.slack.com/services/T000/B000/zzSECRETzz"};
  auto const bad = [&](std::string_view alerts) {
    return error_of(one_provider("", R"("alerts": )" + std::string{alerts}));
  };
  CHECK(bad(R"({"webhooks": [{"name": "x"}]})") == "config: alerts.webhooks[0] needs exactly one of url and url_env");
  CHECK(bad(R"({"webhooks": [{"name": "x", "url": "ftp://zzSECRETzz", "url_env": "A"}]})") ==
        "config: alerts.webhooks[0] needs exactly one of url and url_env");
  auto const scheme = bad(R"({"webhooks": [{"name": "x", "url": "ftp://h/zzSECRETzz"}]})");
  CHECK(scheme == "config: alerts.webhooks[0].url must start with http:// or https://");
  CHECK(scheme.find("zzSECRETzz") == std::string::npos);
  CHECK(bad(R"({"webhooks": [{"name": "x", "url": ")" + secret_url + R"("}, {"name": "x", "url_env": "U"}]})") ==
        "config: alerts.webhooks[1].name repeats the name of webhooks[0]");
  CHECK(bad(R"({"webhooks": [{"name": "x", "url_env": "U", "format": "teams"}]})")
            .starts_with("config: alerts.webhooks[0].format must be one of"));
  CHECK(bad(R"({"budget": {"thresholds": [0.9, 0.8]}})") ==
        "config: alerts.budget.thresholds[1] must be greater than the one before");
  CHECK(bad(R"({"budget": {"threshold": [1]}})") ==
        R"(config: unknown field "threshold" in alerts.budget (did you mean "thresholds"?))");
  CHECK(bad(R"({"burn_rate": {"objective": 1}})") ==
        "config: alerts.burn_rate.objective must be between 0 and 1 (exclusive), got 1");
  CHECK(bad(R"({"burn_rate": {"windows": [{"long_ms": 1000, "short_ms": 5000}]}})") ==
        "config: alerts.burn_rate.windows[0].long_ms must be >= short_ms");
  CHECK(bad(R"({"delivery": {"max_attempts": 0}})") == "config: alerts.delivery.max_attempts must be >= 1, got 0");
  CHECK(bad(R"({"hooks": []})") == R"(config: unknown field "hooks" in alerts (did you mean "webhooks"?))");
}
