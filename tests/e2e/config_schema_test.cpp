// config_schema_test.cpp — schema/medgate.schema.json and parse_config() agree.
//
// The schema is checked with Ajv (draft 2020-12, strict mode, pinned in tests/gateway) by schema_check.mjs,
// run with node: every example is valid, everything to_json() writes is valid (so the schema knows every
// field the parser writes), configurations the parser refuses are refused by the schema too, at the same
// JSON path, and "//" comment keys are accepted by both. The demo portal's configuration is checked too. Without node
// at configure time only the parser's half of each check runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "demo_config.hpp"
#include "medgate/config.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using pointer = json::json_pointer;

/// A fresh directory under the system's temporary directory, removed with everything in it at the end.
struct temp_dir {
  fs::path path;

  explicit temp_dir(std::string_view name)
      : path{fs::temp_directory_path() / fmt::format("medgate-{}-{}", name, ::getpid())} {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  temp_dir(temp_dir const&) = delete;
  temp_dir& operator=(temp_dir const&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }

  [[nodiscard]] fs::path write(std::string const& file, std::string const& text) const {
    auto const out = path / file;
    std::ofstream stream{out, std::ios::binary};
    stream << text;
    REQUIRE(stream.good());
    return out;
  }
};

std::string read_file(fs::path const& path) {
  std::ifstream in{path, std::ios::binary};
  REQUIRE_MESSAGE(in.good(), path.string());
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// The examples shipped in examples/, in name order.
std::vector<fs::path> example_files() {
  std::vector<fs::path> out;
  for (auto const& entry : fs::directory_iterator{MEDGATE_EXAMPLES_DIR})
    if (entry.is_regular_file() && entry.path().extension() == ".json") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// A valid configuration touching most kinds of field: two providers, a plain route and one with a
/// canary, decimal and integer durations, enums, a model override and a tenant budget.
json base_config() {
  return json::parse(R"({
    "providers": [
      {"name": "primary", "base_url": "https://llm.example.org/v1", "api_key_env": "OPENAI_API_KEY",
       "models": ["gpt-4o-mini", "gpt-4.1"], "attempt_timeout_ms": 20000,
       "breaker": {"window": "time_based", "window_size": 60, "open_duration_multiplier": 1.5},
       "rate_limit": {"requests_per_minute": 600, "normal_share": 0.8},
       "health": {"sla_tier": "medical-pro", "probe_interval_ms": 15000}},
      {"name": "fallback", "base_url": "http://127.0.0.1:8900/fallback/v1", "models": ["gpt-4o-mini"]}
    ],
    "routes": {
      "clinical-summary": ["primary/gpt-4o-mini", "fallback/gpt-4o-mini"],
      "discharge": {"chain": ["primary/gpt-4o-mini"],
                    "canary": {"chain": ["primary/gpt-4.1"], "percent": 2.5,
                               "ramp": [{"at_ms": 3600000, "percent": 10}],
                               "rollback": {"min_calls": 50}}}
    },
    "retry": {"max_attempts_per_target": 2, "backoff": {"kind": "linear", "base_ms": 100.5, "jitter": "equal"}},
    "deadlines": {"timeout_ms": 30000, "attempt_timeout_ms": 10000},
    "hedge": {"enabled": true, "percentile": 0.9},
    "models": {"gpt-4o-mini": {"input_usd_per_million": 0.15}},
    "budgets": {"per_call": {"max_tokens": 64000}, "tenants": {"research": {"daily_usd": 25}}},
    "context": {"policy": "drop_oldest"},
    "record_decisions": false
  })");
}

/// `base_config()` changed by `edit`.
json edited(std::function<void(json&)> const& edit) {
  auto config = base_config();
  edit(config);
  return config;
}

/// A configuration both the parser and the schema must refuse, and where each says the problem is.
struct refused {
  std::string name;             ///< also the file name
  json config;                  ///< base_config() with one mistake
  std::string parser_says;      ///< part of parse_config's message
  std::string schema_instance;  ///< the JSON pointer Ajv names
  std::string schema_says;      ///< part of Ajv's message
};

std::vector<refused> refused_configs() {
  return {
      {"typo", edited([](json& c) { c[pointer{"/providers/0/breaker"}]["window_szie"] = 20; }),
       R"(unknown field "window_szie" in providers[0].breaker (did you mean "window_size"?))", "/providers/0/breaker",
       R"(must NOT have additional properties {"additionalProperty":"window_szie"})"},
      {"jitter-enum", edited([](json& c) { c[pointer{"/retry/backoff/jitter"}] = "random"; }),
       R"(retry.backoff.jitter must be one of none, full, equal, decorrelated, got "random")", "/retry/backoff/jitter",
       "must be equal to one of the allowed values"},
      {"negative-timeout", edited([](json& c) { c[pointer{"/providers/0/attempt_timeout_ms"}] = -5; }),
       "providers[0].attempt_timeout_ms must be >= 0, got -5", "/providers/0/attempt_timeout_ms", "must be > 0"},
      {"no-base-url", edited([](json& c) { c[pointer{"/providers/1"}].erase("base_url"); }),
       "providers[1].base_url is required", "/providers/1", "must have required property 'base_url'"},
      {"string-for-number", edited([](json& c) { c[pointer{"/deadlines/timeout_ms"}] = "30000"; }),
       R"(deadlines.timeout_ms must be a number, got "30000")", "/deadlines/timeout_ms", "must be number"},
      {"decimal-count", edited([](json& c) { c[pointer{"/retry/max_attempts_per_target"}] = 2.5; }),
       "retry.max_attempts_per_target must be an integer, got 2.5", "/retry/max_attempts_per_target",
       "must be integer"},
      {"zero-window", edited([](json& c) { c[pointer{"/providers/0/breaker/window_size"}] = 0; }),
       "providers[0].breaker.window_size must be > 0, got 0", "/providers/0/breaker/window_size", "must be >= 1"},
      {"target-without-model", edited([](json& c) { c[pointer{"/routes/clinical-summary/1"}] = "fallback/"; }),
       R"(routes.clinical-summary[1] must be written "provider/model", got "fallback/")", "/routes/clinical-summary/1",
       "must match pattern"},
      {"canary-percent", edited([](json& c) { c[pointer{"/routes/discharge/canary/percent"}] = 150; }),
       "routes.discharge.canary.percent must be a percentage in [0, 100], got 150", "/routes/discharge/canary/percent",
       "must be <= 100"},
      {"no-providers", edited([](json& c) { c["providers"] = json::array(); }),
       "providers must name at least one provider", "/providers", "must NOT have fewer than 1 items"},
      {"phi-field-category", edited([](json& c) { c[pointer{"/phi/fields"}]["$.metadata.bed"] = "BED"; }),
       R"(phi.fields["$.metadata.bed"] has no category "BED": the categories are NAME, LOCATION)",
       "/phi/fields/$.metadata.bed", "must be equal to one of the allowed values"},
      {"alerts-webhook-without-url", edited([](json& c) {
         c["alerts"] = {{"webhooks", {{{"name", "oncall"}}}}};
       }),
       "alerts.webhooks[0] needs exactly one of url and url_env", "/alerts/webhooks/0",
       "must match exactly one schema in oneOf"},
      {"alerts-format", edited([](json& c) {
         c["alerts"] = {{"webhooks", {{{"name", "oncall"}, {"url_env", "HOOK"}, {"format", "teams"}}}}};
       }),
       R"(alerts.webhooks[0].format must be one of json, slack, got "teams")", "/alerts/webhooks/0/format",
       "must be equal to one of the allowed values"},
      {"dollar-schema",  // why the README tells editors to associate the schema by file name
       edited([](json& c) { c["$schema"] = "../schema/medgate.schema.json"; }),
       R"(unknown field "$schema" at top level)", "(top level)",
       R"(must NOT have additional properties {"additionalProperty":"$schema"})"},
  };
}

/// `base_config()` with a "//" comment key in objects at every level, including the maps (routes, models,
/// tenants) whose other keys are names.
json commented_config() {
  auto c = base_config();
  c["//"] = "a comment at the top level";
  c[pointer{"/providers/0"}]["//"] = "providers are tried in this order";
  c[pointer{"/providers/0/breaker"}]["//"] = json{{"any", "value"}};  // a comment may hold any JSON
  c[pointer{"/routes"}]["//"] = "routes map a name to a chain";
  c[pointer{"/routes/discharge/canary"}]["//"] = "patient-sticky";
  c[pointer{"/routes/discharge/canary/ramp/0"}]["//"] = 10;
  c[pointer{"/retry/backoff"}]["// why"] = "linear, to spread retries evenly";
  c[pointer{"/models"}]["//"] = "overrides of the built-in registry";
  c[pointer{"/models/gpt-4o-mini"}]["//"] = "list price";
  c[pointer{"/budgets/tenants"}]["//"] = "per UTC day";
  c[pointer{"/budgets/tenants/research"}]["//"] = "the research tenant";
  return c;
}

/// `s`, or the schema its "$ref" names ("#/$defs/...") when it has one.
json const& resolved(json const& root, json const& s) {
  if (!s.contains("$ref")) return s;
  return root.at(pointer{s["$ref"].get<std::string>().substr(1)});
}

/// Compares every "default" of the schema `s` (at `path`) with what `written` holds there, counting the
/// comparisons. Object defaults ({} = every field at its default) are not compared: their fields are.
void check_defaults(json const& root, json const& s, json const& written, std::string const& path,
                    std::size_t& compared) {
  auto const& schema = resolved(root, s);
  if (written.is_array() && schema.contains("items")) {
    for (std::size_t i = 0; i < written.size(); ++i)
      check_defaults(root, schema["items"], written[i], fmt::format("{}[{}]", path, i), compared);
    return;
  }
  if (!written.is_object() || !schema.contains("properties")) return;
  for (auto const& [key, property] : schema["properties"].items()) {
    if (!written.contains(key)) continue;
    auto const at = path.empty() ? key : fmt::format("{}.{}", path, key);
    auto const& target = resolved(root, property);
    json const* fallback = property.contains("default") ? &property["default"]
                           : target.contains("default") ? &target["default"]
                                                        : nullptr;
    if (fallback != nullptr && !fallback->is_object()) {
      CAPTURE(at);
      CHECK(*fallback == written[key]);
      ++compared;
      continue;  // a whole array (health.tiers): its items' defaults are for the items one writes
    }
    check_defaults(root, property, written[key], at, compared);
  }
}

#ifdef MEDGATE_SCHEMA_CHECK_SCRIPT
/// `s` as one shell word.
std::string shell_quoted(std::string const& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string{R"('\'')"} : std::string(1, c);
  return out + "'";
}

struct check_result {
  int status = -1;
  std::string output;
};

/// Runs schema_check.mjs on `files` with `expectation` ("expect-valid" or "expect-invalid").
check_result schema_check(std::string_view expectation, std::vector<fs::path> const& files) {
  auto command = fmt::format("{} {} {} {}", shell_quoted(MEDGATE_NODE_PATH), shell_quoted(MEDGATE_SCHEMA_CHECK_SCRIPT),
                             shell_quoted(MEDGATE_SCHEMA_PATH), expectation);
  for (auto const& f : files) command += " " + shell_quoted(f.string());
  command += " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  check_result r;
  char buffer[4096];
  for (std::size_t n = 0; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) r.output.append(buffer, n);
  r.status = ::pclose(pipe);
  return r;
}
#endif

}  // namespace

TEST_CASE("config schema: the examples and everything to_json() writes are valid") {
  temp_dir const dir{"config-schema-written"};
  auto const examples = example_files();
  REQUIRE_FALSE(examples.empty());
  std::vector<fs::path> valid = examples;
  std::size_t parsed = 0;
  for (auto const& example : examples) {
    // The "gateway" object is read by `medgate serve`, not by the engine's parser.
    auto text = read_file(example);
    auto options = medgate::parse_config(text);
    if (!options.ok()) {
      if (auto document = json::parse(text); document.contains("gateway")) {
        document.erase("gateway");
        options = medgate::parse_config(document.dump());
      }
    }
    if (!options.ok()) {
      MESSAGE(example.filename().string() << " is not read by parse_config: " << options.error_message());
      continue;
    }
    ++parsed;
    auto const written = medgate::to_json(*options).dump(2);
    valid.push_back(dir.write(fmt::format("to_json-{}", example.filename().string()), written));
    // What to_json() writes is itself a configuration the parser reads back.
    auto const again = medgate::parse_config(written);
    INFO((again.ok() ? std::string{} : again.error_message()));
    CHECK(again.ok());
  }
  CHECK(parsed > 0);
  valid.push_back(dir.write("to_json-default_options.json", medgate::to_json(medgate::default_options()).dump(2)));
  auto const base = medgate::parse_config(base_config().dump());
  INFO((base.ok() ? std::string{} : base.error_message()));
  REQUIRE(base.ok());
  valid.push_back(dir.write("base.json", base_config().dump(2)));
  valid.push_back(dir.write("to_json-base.json", medgate::to_json(*base).dump(2)));
  // The configuration `medgate demo` serves to the portal's engine (GET /demo/config.json).
  auto const demo = medgate::cli::demo_engine_config(
      [](std::string_view provider) { return fmt::format("http://127.0.0.1:8787/{}/v1", provider); });
  auto const demo_options = medgate::parse_config(demo.dump());
  INFO((demo_options.ok() ? std::string{} : demo_options.error_message()));
  CHECK(demo_options.ok());
  valid.push_back(dir.write("demo-portal.json", demo.dump(2)));

#ifdef MEDGATE_SCHEMA_CHECK_SCRIPT
  auto const check = schema_check("expect-valid", valid);
  INFO(check.output);
  CHECK(check.status == 0);
  for (auto const& f : valid) CHECK(check.output.find(fmt::format("ok   {}: valid", f.string())) != std::string::npos);
#else
  MESSAGE("node was not found at configure time: " << valid.size() << " files not checked against the schema");
#endif
}

TEST_CASE("config schema: what the parser refuses the schema refuses, at the same place") {
  temp_dir const dir{"config-schema-refused"};
  for (auto const& r : refused_configs()) {
    CAPTURE(r.name);
    auto const text = r.config.dump(2);
    auto const options = medgate::parse_config(text);
    REQUIRE_FALSE(options.ok());
    INFO(options.error_message());
    CHECK(options.error_message().find(r.parser_says) != std::string::npos);
#ifdef MEDGATE_SCHEMA_CHECK_SCRIPT
    auto const file = dir.write(r.name + ".json", text);
    auto const check = schema_check("expect-invalid", {file});
    INFO(check.output);
    CHECK(check.status == 0);
    CHECK(check.output.find(fmt::format("ok   {}: invalid", file.string())) != std::string::npos);
    CHECK(check.output.find(fmt::format("{} {}", r.schema_instance, r.schema_says)) != std::string::npos);
#endif
  }
}

TEST_CASE("config schema: its defaults are the parser's") {
  auto const schema = json::parse(read_file(MEDGATE_SCHEMA_PATH));
  // One provider with only the required fields: to_json() writes every other field at its default.
  auto const options = medgate::parse_config(R"({"providers": [{"name": "p", "base_url": "http://127.0.0.1/v1"}]})");
  REQUIRE(options.ok());
  std::size_t compared = 0;
  check_defaults(schema, schema, medgate::to_json(*options), "", compared);
  CHECK(compared >= 70);  // the walk reached every section (75 when written)
}

TEST_CASE("config schema: \"//\" keys are comments in any object, for the parser and the schema") {
  temp_dir const dir{"config-schema-comments"};
  auto const text = commented_config().dump(2);
  auto const with_comments = medgate::parse_config(text);
  INFO((with_comments.ok() ? std::string{} : with_comments.error_message()));
  REQUIRE(with_comments.ok());
  auto const without = medgate::parse_config(base_config().dump());
  REQUIRE(without.ok());
  CHECK(medgate::to_json(*with_comments) == medgate::to_json(*without));  // comments change nothing
#ifdef MEDGATE_SCHEMA_CHECK_SCRIPT
  auto const check = schema_check("expect-valid", {dir.write("comments.json", text)});
  INFO(check.output);
  CHECK(check.status == 0);
#endif
}

#ifdef MEDGATE_SCHEMA_CHECK_SCRIPT
// The provider's api_key_file and the "gateway" object of `medgate serve` are in the schema; these
// configurations go to the schema only.
TEST_CASE("config schema: api_key_file and the gateway settings") {
  temp_dir const dir{"config-schema-serve"};
  auto const with_serve = [](json& c) {
    c[pointer{"/providers/1"}]["api_key_file"] = "/run/secrets/fallback";
    c["gateway"] = json::parse(R"({"//": "read by medgate serve", "listen": "0.0.0.0:8443",
      "token_env": "MEDGATE_GATEWAY_TOKEN", "admin_token_env": "MEDGATE_ADMIN_TOKEN", "max_body_bytes": 1048576,
      "threads": 64, "audit": "/var/log/medgate/audit.jsonl"})");
  };
  std::vector<fs::path> const valid{
      dir.write("serve.json", edited(with_serve).dump(2)),
      dir.write("serve-empty-env.json", edited([&](json& c) {
                                          with_serve(c);
                                          c[pointer{"/providers/1"}]["api_key_env"] = "";  // empty = no variable
                                        }).dump(2)),
      dir.write("serve-listen-v6.json", edited([](json& c) { c["gateway"]["listen"] = "[::1]:0"; }).dump(2)),
  };
  auto const valid_check = schema_check("expect-valid", valid);
  INFO(valid_check.output);
  CHECK(valid_check.status == 0);

  struct schema_refused {
    std::string name;
    std::function<void(json&)> edit;
    std::string says;  ///< the JSON pointer and Ajv's message
  };
  std::vector<schema_refused> const cases{
      {"key-env-and-file", [](json& c) { c[pointer{"/providers/0"}]["api_key_file"] = "/run/secrets/openai"; },
       "/providers/0 must NOT be valid"},
      {"empty-key-file", [](json& c) { c[pointer{"/providers/1"}]["api_key_file"] = ""; },
       "/providers/1/api_key_file must NOT have fewer than 1 characters"},
      {"gateway-typo", [](json& c) { c["gateway"]["port"] = 8080; },
       R"(/gateway must NOT have additional properties {"additionalProperty":"port"})"},
      {"gateway-threads", [](json& c) { c["gateway"]["threads"] = 0; }, "/gateway/threads must be >= 1"},
      {"gateway-too-many-threads", [](json& c) { c["gateway"]["threads"] = 2000; }, "/gateway/threads must be <= 1024"},
      {"gateway-body", [](json& c) { c["gateway"]["max_body_bytes"] = 512; },
       "/gateway/max_body_bytes must be >= 1024"},
      {"gateway-listen", [](json& c) { c["gateway"]["listen"] = "8080"; }, "/gateway/listen must match pattern"},
      {"gateway-token-env", [](json& c) { c["gateway"]["token_env"] = "gateway-token"; },
       "/gateway/token_env must match pattern"},
  };
  for (auto const& r : cases) {
    CAPTURE(r.name);
    auto const file = dir.write(r.name + ".json", edited(r.edit).dump(2));
    auto const check = schema_check("expect-invalid", {file});
    INFO(check.output);
    CHECK(check.status == 0);
    CHECK(check.output.find(r.says) != std::string::npos);
  }
}
#endif
