// tokens/models.hpp — the model registry: each model's encoding, context window, prices and chat format.
//
// Budgets price a call per million tokens, context fitting needs the window,
// and counting a chat needs the model family's per-message framing. The
// built-in table holds the models the seeds use, with their public list prices
// (USD per million tokens) at the time of writing; prices change, so every
// entry can be overridden, and models added, from the config's `models`
// section. Lookup is forgiving in the ways model names vary in practice: a
// dated snapshot ("gpt-4.1-2025-04-14") resolves to its family by the longest
// registered prefix, and a router's "provider/" prefix ("openai/gpt-4.1") is
// stripped.
//
// Claude and Gemini publish no tokenizer: they are counted with o200k_base as a
// stand-in and marked `exact_tokenizer = false`, so counts for them are
// estimates (typically within 10–20 % on English; their providers' usage
// reports are what budgets finally settle on).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../field_error.hpp"

namespace medgate::tokens {

/// How a model family frames a chat into tokens (see chat_count.hpp).
enum class chat_format : std::uint8_t { openai, deepseek, anthropic, gemini, llama3 };

constexpr std::string_view to_string(chat_format f) noexcept {
  switch (f) {
    case chat_format::openai:
      return "openai";
    case chat_format::deepseek:
      return "deepseek";
    case chat_format::anthropic:
      return "anthropic";
    case chat_format::gemini:
      return "gemini";
    case chat_format::llama3:
      return "llama3";
  }
  return "unknown";
}

inline std::optional<chat_format> parse_chat_format(std::string_view s) noexcept {
  for (auto f :
       {chat_format::openai, chat_format::deepseek, chat_format::anthropic, chat_format::gemini, chat_format::llama3})
    if (to_string(f) == s) return f;
  return std::nullopt;
}

struct model_info {
  std::string name;      ///< e.g. "gpt-4.1"; also the prefix dated snapshots resolve by
  std::string encoding;  ///< "cl100k_base", "o200k_base", "deepseek_v3", "llama3" (a stand-in when not exact)
  std::int64_t context_window = 0;    ///< prompt + output tokens the model accepts
  double input_usd_per_million = 0;   ///< list price of prompt tokens
  double output_usd_per_million = 0;  ///< list price of completion tokens
  chat_format format = chat_format::openai;
  bool exact_tokenizer = false;  ///< `encoding` is the model's own tokenizer (else a documented stand-in)
  /// Output tokens reserved (for the window, budgets and caps) when a request
  /// does not set max_tokens: the provider's own output cap, or half the
  /// window where that cap is the whole window.
  std::int64_t max_output_tokens = 4096;

  [[nodiscard]] validation validate() const {
    if (name.empty()) return invalid("name", "must not be empty");
    if (encoding.empty()) return invalid("encoding", "must not be empty");
    if (context_window <= 0) return invalid("context_window", "must be > 0, got {}", context_window);
    if (!std::isfinite(input_usd_per_million) || input_usd_per_million < 0)
      return invalid("input_usd_per_million", "must be a number >= 0, got {}", input_usd_per_million);
    if (!std::isfinite(output_usd_per_million) || output_usd_per_million < 0)
      return invalid("output_usd_per_million", "must be a number >= 0, got {}", output_usd_per_million);
    if (max_output_tokens < 1 || max_output_tokens >= context_window)
      return invalid("max_output_tokens", "must be >= 1 and < context_window ({}), got {}", context_window,
                     max_output_tokens);
    return std::nullopt;
  }
};

/// What a call with `in` prompt and `out` completion tokens costs at the model's list prices.
inline double cost_usd(model_info const& m, std::int64_t in, std::int64_t out) noexcept {
  auto const tokens = [](std::int64_t n) { return static_cast<double>(std::max<std::int64_t>(n, 0)); };
  return tokens(in) * m.input_usd_per_million / 1e6 + tokens(out) * m.output_usd_per_million / 1e6;
}

/// The built-in table: the seeds' models and their close relatives. Prices are
/// public list prices (standard tier, no cache discounts); the seeds fix
/// GPT-4.1 at $2.50 / $8.00 and 128K, DeepSeek V3.2 at $0.14 / $0.42 and 64K.
inline std::vector<model_info> builtin_models() {
  using f = chat_format;
  auto const openai = [](std::string name, std::string encoding, std::int64_t window, double in, double out,
                         std::int64_t max_out) {
    return model_info{std::move(name), std::move(encoding), window, in, out, f::openai, true, max_out};
  };
  auto const deepseek = [](std::string name) {
    return model_info{std::move(name), "deepseek_v3", 64'000, 0.14, 0.42, f::deepseek, true, 8'000};
  };
  // No public tokenizer: o200k_base stands in (exact_tokenizer = false).
  auto const claude = [](std::string name) {
    return model_info{std::move(name), "o200k_base", 200'000, 3.00, 15.00, f::anthropic, false, 64'000};
  };
  return {
      openai("gpt-4.1", "o200k_base", 128'000, 2.50, 8.00, 32'768),
      openai("gpt-4.1-mini", "o200k_base", 1'047'576, 0.40, 1.60, 32'768),
      openai("gpt-4o", "o200k_base", 128'000, 2.50, 10.00, 16'384),
      openai("gpt-4o-mini", "o200k_base", 128'000, 0.15, 0.60, 16'384),
      openai("gpt-4", "cl100k_base", 8'192, 30.00, 60.00, 4'096),
      openai("gpt-3.5-turbo", "cl100k_base", 16'385, 0.50, 1.50, 4'096),
      claude("claude-sonnet-4.5"),
      claude("claude-sonnet-4-5"),  // Anthropic's own spelling of the same model
      model_info{"gemini-2.5-flash", "o200k_base", 1'048'576, 0.30, 2.50, f::gemini, false, 65'536},
      deepseek("deepseek-v3.2"),
      deepseek("deepseek-chat"),  // DeepSeek's API alias, served by V3.2
  };
}

/// A change to one model of the registry, or a new model (config `models`).
/// Absent fields keep the model's current value.
struct model_override {
  std::string name;
  std::optional<std::string> encoding{};
  std::optional<std::int64_t> context_window{};
  std::optional<double> input_usd_per_million{};
  std::optional<double> output_usd_per_million{};
  std::optional<std::int64_t> max_output_tokens{};
  std::optional<chat_format> format{};
  std::optional<bool> exact_tokenizer{};
};

class model_registry {
 public:
  model_registry() = default;
  explicit model_registry(std::vector<model_info> models) : models_{std::move(models)} {}

  /// The built-in table.
  static model_registry builtin() { return model_registry{builtin_models()}; }

  [[nodiscard]] std::vector<model_info> const& models() const noexcept { return models_; }

  /// The model `name` resolves to: an exact entry; else the entry that is the
  /// longest prefix of `name` ending at a separator ("-", ":", "@", "_"), so
  /// "gpt-4.1-2025-04-14" is gpt-4.1 but "gpt-4.5-preview" is not gpt-4; else
  /// the same after dropping everything up to the last "/" ("openai/gpt-4.1").
  [[nodiscard]] model_info const* find(std::string_view name) const noexcept {
    if (auto const* m = find_direct(name)) return m;
    if (auto const slash = name.rfind('/'); slash != std::string_view::npos) return find_direct(name.substr(slash + 1));
    return nullptr;
  }

  /// Applies an override: an entry of that exact name changes; a new name
  /// starts from the entry it resolves to (a dated snapshot keeps its
  /// family's values) or, for a wholly new model, from o200k_base counted
  /// as a stand-in, the openai format and no window (which it must then set).
  void apply(model_override const& o) {
    auto it = std::find_if(models_.begin(), models_.end(), [&](model_info const& m) { return m.name == o.name; });
    if (it == models_.end()) {
      model_info base;
      if (auto const* resolved = find(o.name))
        base = *resolved;
      else
        base = model_info{o.name, "o200k_base", 0, 0, 0, chat_format::openai, false, 4096};
      base.name = o.name;
      models_.push_back(std::move(base));
      it = models_.end() - 1;
    }
    auto& m = *it;
    if (o.encoding) m.encoding = *o.encoding;
    if (o.context_window) m.context_window = *o.context_window;
    if (o.input_usd_per_million) m.input_usd_per_million = *o.input_usd_per_million;
    if (o.output_usd_per_million) m.output_usd_per_million = *o.output_usd_per_million;
    if (o.max_output_tokens) m.max_output_tokens = *o.max_output_tokens;
    if (o.format) m.format = *o.format;
    if (o.exact_tokenizer) m.exact_tokenizer = *o.exact_tokenizer;
  }

  /// The registry with `overrides` applied in order.
  [[nodiscard]] model_registry with(std::vector<model_override> const& overrides) const {
    auto out = *this;
    for (auto const& o : overrides) out.apply(o);
    return out;
  }

 private:
  static bool separator(char c) noexcept { return c == '-' || c == ':' || c == '@' || c == '_'; }

  [[nodiscard]] model_info const* find_direct(std::string_view name) const noexcept {
    model_info const* best = nullptr;
    for (auto const& m : models_) {
      if (m.name == name) return &m;
      if (name.size() > m.name.size() && name.starts_with(m.name) && separator(name[m.name.size()]) &&
          (best == nullptr || m.name.size() > best->name.size()))
        best = &m;
    }
    return best;
  }

  std::vector<model_info> models_;
};

/// The registry's configuration: overrides of and additions to the built-in
/// table, applied in order.
struct model_options {
  std::vector<model_override> overrides{};

  [[nodiscard]] model_registry registry() const { return model_registry::builtin().with(overrides); }

  /// Names the first bad model as "<name>.<field>"; a new model must at least set context_window.
  [[nodiscard]] validation validate() const {
    auto registry = model_registry::builtin();
    for (std::size_t i = 0; i < overrides.size(); ++i) {
      auto const& o = overrides[i];
      if (o.name.empty()) return invalid(fmt::format("[{}].name", i), "must not be empty");
      for (std::size_t j = 0; j < i; ++j)
        if (overrides[j].name == o.name) return invalid(o.name, "is given twice");
      registry.apply(o);
      auto const* m = registry.find(o.name);
      if (auto e = m->validate()) {
        if (e->field == "context_window" && !o.context_window)
          return invalid(o.name + ".context_window", "is required for a model the built-in registry does not know");
        return e->within(o.name);
      }
    }
    return std::nullopt;
  }
};

}  // namespace medgate::tokens
