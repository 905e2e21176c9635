// tokens/counter.hpp — the one function the budget step needs from a tokenizer: how many tokens a text is.
//
// Budgets, context windows and tokens-per-minute limits only need counts, so
// they are written against `text_counter` rather than a tokenizer type. A host
// that has loaded an exact encoding (tokens/encoding.hpp) hands the engine a
// counter per encoding name ("cl100k_base", "o200k_base", "deepseek_v3", "llama3");
// until then, and for encodings it has not loaded, `estimate_tokens` stands in.
// The stand-in is approximate — one token per 4 bytes is wrong by 20–50 % on
// clinical notes, numbers and non-English text — and everything counted with
// it says so (`exact = false`).
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace medgate::tokens {

/// Counts the tokens of a piece of ordinary text (special-token text counts as text).
using text_counter = std::function<std::size_t(std::string_view)>;

/// The stand-in used when no exact encoding is loaded for a model: ceil(bytes / 4). Approximate.
inline std::size_t estimate_tokens(std::string_view text) noexcept {
  return text.size() / 4 + (text.size() % 4 != 0 ? 1 : 0);
}

/// `count(text)`, or the stand-in when `count` is empty.
inline std::size_t count_text(text_counter const& count, std::string_view text) {
  return count ? count(text) : estimate_tokens(text);
}

}  // namespace medgate::tokens
