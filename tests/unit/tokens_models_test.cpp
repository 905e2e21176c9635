// tokens_models_test.cpp — the model registry: built-in prices and windows, lookup, overrides, cost.
#include "medgate/tokens/models.hpp"

#include <doctest/doctest.h>

#include <string>

#include "medgate/tokens/counter.hpp"

using medgate::tokens::builtin_models;
using medgate::tokens::chat_format;
using medgate::tokens::cost_usd;
using medgate::tokens::model_info;
using medgate::tokens::model_options;
using medgate::tokens::model_override;
using medgate::tokens::model_registry;

namespace {

model_info const& must_find(model_registry const& r, std::string const& name) {
  auto const* m = r.find(name);
  INFO(name);
  REQUIRE(m != nullptr);
  return *m;
}

}  // namespace

TEST_CASE("estimate_tokens is ceil(bytes / 4)") {
  using medgate::tokens::estimate_tokens;
  CHECK(estimate_tokens("") == 0);
  CHECK(estimate_tokens("a") == 1);
  CHECK(estimate_tokens("abcd") == 1);
  CHECK(estimate_tokens("abcde") == 2);
  CHECK(estimate_tokens("é") == 1);  // 2 bytes
  CHECK(medgate::tokens::count_text({}, "abcdefgh") == 2);
  CHECK(medgate::tokens::count_text([](std::string_view) -> std::size_t { return 7; }, "abcdefgh") == 7);
}

TEST_CASE("the built-in table holds the seeds' models with their prices and windows") {
  auto const r = model_registry::builtin();
  auto const& gpt41 = must_find(r, "gpt-4.1");
  CHECK(gpt41.encoding == "o200k_base");
  CHECK(gpt41.context_window == 128'000);
  CHECK(gpt41.input_usd_per_million == 2.50);
  CHECK(gpt41.output_usd_per_million == 8.00);
  CHECK(gpt41.format == chat_format::openai);
  CHECK(gpt41.exact_tokenizer);

  auto const& claude = must_find(r, "claude-sonnet-4.5");
  CHECK(claude.context_window == 200'000);
  CHECK(claude.input_usd_per_million == 3.00);
  CHECK(claude.output_usd_per_million == 15.00);
  CHECK(claude.format == chat_format::anthropic);
  CHECK(claude.encoding == "o200k_base");  // a stand-in: no public tokenizer
  CHECK_FALSE(claude.exact_tokenizer);

  auto const& gemini = must_find(r, "gemini-2.5-flash");
  CHECK(gemini.context_window == 1'048'576);
  CHECK(gemini.input_usd_per_million == 0.30);
  CHECK(gemini.output_usd_per_million == 2.50);
  CHECK(gemini.format == chat_format::gemini);
  CHECK_FALSE(gemini.exact_tokenizer);

  for (auto name : {"deepseek-v3.2", "deepseek-chat"}) {
    auto const& ds = must_find(r, name);
    CHECK(ds.name == name);
    CHECK(ds.encoding == "deepseek_v3");
    CHECK(ds.context_window == 64'000);
    CHECK(ds.input_usd_per_million == 0.14);
    CHECK(ds.output_usd_per_million == 0.42);
    CHECK(ds.format == chat_format::deepseek);
    CHECK(ds.exact_tokenizer);
  }
  for (auto name : {"gpt-4o", "gpt-4o-mini", "gpt-4.1-mini"}) {
    CHECK(must_find(r, name).encoding == "o200k_base");
    CHECK(must_find(r, name).exact_tokenizer);
  }
  for (auto name : {"gpt-4", "gpt-3.5-turbo"}) {
    CHECK(must_find(r, name).encoding == "cl100k_base");
    CHECK(must_find(r, name).exact_tokenizer);
  }
  CHECK(must_find(r, "gpt-4o-mini").input_usd_per_million == 0.15);
  CHECK(must_find(r, "gpt-4o-mini").output_usd_per_million == 0.60);
  // Every entry is valid and leaves room for a prompt.
  for (auto const& m : builtin_models()) {
    INFO(m.name);
    CHECK_FALSE(m.validate().has_value());
  }
}

TEST_CASE("lookup: exact name, then longest registered prefix at a separator, then without provider/") {
  auto const r = model_registry::builtin();
  CHECK(must_find(r, "gpt-4.1-2025-04-14").name == "gpt-4.1");
  CHECK(must_find(r, "gpt-4.1-mini").name == "gpt-4.1-mini");
  CHECK(must_find(r, "gpt-4.1-mini-2025-04-14").name == "gpt-4.1-mini");
  CHECK(must_find(r, "gpt-4o-2024-08-06").name == "gpt-4o");
  CHECK(must_find(r, "gpt-4o-mini-2024-07-18").name == "gpt-4o-mini");
  CHECK(must_find(r, "gpt-4-0613").name == "gpt-4");
  CHECK(must_find(r, "claude-sonnet-4-5-20250929").name == "claude-sonnet-4-5");
  CHECK(must_find(r, "deepseek-v3.2-exp").name == "deepseek-v3.2");
  CHECK(must_find(r, "gemini-2.5-flash-preview-09-2025").name == "gemini-2.5-flash");
  CHECK(must_find(r, "openai/gpt-4.1").name == "gpt-4.1");
  CHECK(must_find(r, "openrouter/anthropic/claude-sonnet-4.5").name == "claude-sonnet-4.5");
  CHECK(must_find(r, "openai/gpt-4.1-2025-04-14").name == "gpt-4.1");
  // A prefix must end at a separator: gpt-4.5 is not gpt-4, gpt-4oz is not gpt-4o.
  CHECK(r.find("gpt-4.5-preview") == nullptr);
  CHECK(r.find("gpt-4oz") == nullptr);
  CHECK(r.find("llama-3.1-8b") == nullptr);
  CHECK(r.find("") == nullptr);
  CHECK(r.find("meta-llama/Llama-3.1-8B-Instruct") == nullptr);
}

TEST_CASE("overrides change fields of a model, and add models") {
  model_options o;
  o.overrides.push_back({.name = "gpt-4.1", .input_usd_per_million = 2.0});
  o.overrides.push_back({.name = "gpt-4.1-2025-04-14", .output_usd_per_million = 7.0});
  o.overrides.push_back({.name = "my-llama",
                         .encoding = "cl100k_base",
                         .context_window = 8192,
                         .input_usd_per_million = 0.1,
                         .output_usd_per_million = 0.2,
                         .max_output_tokens = 2048,
                         .exact_tokenizer = true});
  REQUIRE_FALSE(o.validate().has_value());
  auto const r = o.registry();
  auto const& gpt41 = must_find(r, "gpt-4.1");
  CHECK(gpt41.input_usd_per_million == 2.0);
  CHECK(gpt41.output_usd_per_million == 8.0);  // unchanged
  CHECK(gpt41.context_window == 128'000);
  // A dated snapshot starts from its family's values (with the override applied before it).
  auto const& dated = must_find(r, "gpt-4.1-2025-04-14");
  CHECK(dated.name == "gpt-4.1-2025-04-14");
  CHECK(dated.input_usd_per_million == 2.0);
  CHECK(dated.output_usd_per_million == 7.0);
  CHECK(dated.encoding == "o200k_base");
  // Other snapshots still resolve to the family.
  CHECK(must_find(r, "gpt-4.1-2026-01-01").name == "gpt-4.1");
  auto const& llama = must_find(r, "my-llama");
  CHECK(llama.encoding == "cl100k_base");
  CHECK(llama.context_window == 8192);
  CHECK(llama.max_output_tokens == 2048);
  CHECK(llama.format == chat_format::openai);
  CHECK(llama.exact_tokenizer);
  CHECK(must_find(r, "my-llama-q4").name == "my-llama");
  // The built-in table itself is untouched.
  CHECK(must_find(model_registry::builtin(), "gpt-4.1").input_usd_per_million == 2.50);
}

TEST_CASE("a new model starts as an o200k stand-in and must set its window") {
  model_registry r = model_registry::builtin();
  r.apply({.name = "local-model", .context_window = 4096, .max_output_tokens = 512});
  auto const& m = must_find(r, "local-model");
  CHECK(m.encoding == "o200k_base");
  CHECK_FALSE(m.exact_tokenizer);
  CHECK(m.input_usd_per_million == 0.0);

  model_options o;
  o.overrides.push_back({.name = "local-model", .input_usd_per_million = 1.0});
  auto e = o.validate();
  REQUIRE(e.has_value());
  CHECK(e->to_string() == "local-model.context_window is required for a model the built-in registry does not know");
}

TEST_CASE("override validation names the model and the field") {
  auto error_of = [](model_override o) {
    model_options opts;
    opts.overrides.push_back(std::move(o));
    auto e = opts.validate();
    REQUIRE(e.has_value());
    return e->to_string();
  };
  CHECK(error_of({.name = "gpt-4.1", .input_usd_per_million = -1.0}) ==
        "gpt-4.1.input_usd_per_million must be a number >= 0, got -1");
  CHECK(error_of({.name = "gpt-4.1", .max_output_tokens = 128'000}) ==
        "gpt-4.1.max_output_tokens must be >= 1 and < context_window (128000), got 128000");
  CHECK(error_of({.name = "gpt-4o", .context_window = 1000}) ==
        "gpt-4o.max_output_tokens must be >= 1 and < context_window (1000), got 16384");
  CHECK(error_of({.name = "gpt-4o", .encoding = ""}) == "gpt-4o.encoding must not be empty");
  model_options twice;
  twice.overrides.push_back({.name = "gpt-4o", .input_usd_per_million = 1.0});
  twice.overrides.push_back({.name = "gpt-4o", .input_usd_per_million = 2.0});
  REQUIRE(twice.validate().has_value());
  CHECK(twice.validate()->to_string() == "gpt-4o is given twice");
}

TEST_CASE("cost_usd prices prompt and completion tokens per million") {
  auto const r = model_registry::builtin();
  auto const& gpt41 = must_find(r, "gpt-4.1");
  CHECK(cost_usd(gpt41, 1'000'000, 1'000'000) == doctest::Approx(10.50));
  CHECK(cost_usd(gpt41, 1000, 500) == doctest::Approx(0.0025 + 0.004));
  CHECK(cost_usd(gpt41, 0, 0) == 0.0);
  CHECK(cost_usd(gpt41, -5, -5) == 0.0);  // nonsense usage never pays back
  auto const& ds = must_find(r, "deepseek-chat");
  CHECK(cost_usd(ds, 2'000'000, 1'000'000) == doctest::Approx(0.28 + 0.42));
}

TEST_CASE("chat formats have names") {
  using medgate::tokens::parse_chat_format;
  for (auto f : {chat_format::openai, chat_format::deepseek, chat_format::anthropic, chat_format::gemini})
    CHECK(parse_chat_format(to_string(f)) == f);
  CHECK_FALSE(parse_chat_format("llama").has_value());
}
