// tokens/chat_count.hpp — the tokens of a whole chat request, framing included, for a model's chat format.
//
// A provider bills and limits a chat by the tokens of its rendered prompt,
// not of the message texts alone: each family wraps messages in framing
// tokens. Counting only the texts undercounts short-message chats badly, so
// the context-window check and the budget reservation count the framing too:
//
//   openai     OpenAI's cookbook rule ("How to count tokens with tiktoken"):
//              3 tokens per message plus the tokens of its role and content,
//              1 more (and the name's tokens) when it has a `name`, and 3 for
//              the priming of the reply. Tool definitions and tool calls are
//              counted as the tokens of their JSON text: OpenAI renders them in
//              an unpublished format, so that part is approximate. Image and
//              audio parts are not counted.
//   deepseek   DeepSeek V3's chat template: `<｜begin▁of▁sentence｜>` once,
//              the system messages' text (joined by a blank line), then each
//              user turn as `<｜User｜>` + content, each assistant turn as
//              `<｜Assistant｜>` + content + `<｜end▁of▁sentence｜>`, tool
//              results between `<｜tool▁output▁begin｜>`/`<｜tool▁output▁end｜>`,
//              and the final `<｜Assistant｜>`. Special tokens count 1 each and
//              their text is never fed to the counter; the text between two
//              specials is counted as one piece, as the tokenizer sees it.
//              Checked against the template itself (tests/tokens/chats.json).
//              V3.1 and V3.2's templates differ slightly: they drop earlier
//              turns' text before `</think>` and add `</think>` after the
//              final `<｜Assistant｜>` (one token more); content carrying old
//              reasoning is counted in full here, an overestimate.
//   llama3     Llama 3's chat template: `<|begin_of_text|>`, then each
//              message as `<|start_header_id|>` role `<|end_header_id|>`
//              "\n\n" + its content trimmed + `<|eot_id|>`, and the reply's
//              header `<|start_header_id|>assistant<|end_header_id|>\n\n`.
//              (Llama 3.1–3.3's templates also write a dated "Cutting
//              Knowledge Date" preamble into the system turn, about 20 tokens,
//              which is not counted.) Tool definitions and calls: their JSON.
//   anthropic, gemini  no published framing or tokenizer: openai's rule on the
//              stand-in encoding (see models.hpp), an estimate.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "../openai/chat.hpp"
#include "../time.hpp"
#include "counter.hpp"
#include "models.hpp"

namespace medgate::tokens {

/// A chat request's tokens for one model.
struct chat_tokens {
  std::int64_t prompt_tokens = 0;    ///< the rendered prompt, framing included
  std::int64_t output_tokens = 0;    ///< output asked for: max_tokens, else the model's max_output_tokens
  bool output_from_request = false;  ///< whether `output_tokens` is the request's own max_tokens
  [[nodiscard]] std::int64_t total() const noexcept { return saturating_add(prompt_tokens, output_tokens); }
};

namespace detail {

inline std::int64_t count_of(text_counter const& count, std::string_view text) {
  if (text.empty()) return 0;
  auto const n = count_text(count, text);
  if constexpr (sizeof(std::size_t) >= sizeof(std::int64_t))
    if (n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))
      return std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(n);
}

/// The body's message object matching typed message `i`, or nullptr.
inline nlohmann::json const* body_message(openai::chat_request const& r, std::size_t i) {
  auto const* messages = r.body.is_object() ? openai::detail::member(r.body, "messages") : nullptr;
  if (messages == nullptr || !messages->is_array() || i >= messages->size()) return nullptr;
  auto const& m = (*messages)[i];
  return m.is_object() ? &m : nullptr;
}

inline std::string string_member(nlohmann::json const* object, std::string_view key) {
  if (object == nullptr) return {};
  auto const* v = openai::detail::member(*object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string{};
}

/// The JSON text of `object[key]` when present (tool definitions, tool calls): an approximation of how it is rendered.
inline std::int64_t json_member_tokens(text_counter const& count, nlohmann::json const* object, std::string_view key) {
  if (object == nullptr) return 0;
  auto const* v = openai::detail::member(*object, key);
  if (v == nullptr || (v->is_array() && v->empty())) return 0;
  return count_of(count, openai::detail::dump(*v));
}

inline std::int64_t tool_definition_tokens(openai::chat_request const& r, text_counter const& count) {
  if (!r.body.is_object()) return 0;
  return saturating_add(json_member_tokens(count, &r.body, "tools"), json_member_tokens(count, &r.body, "functions"));
}

inline std::int64_t openai_prompt_tokens(openai::chat_request const& r, text_counter const& count) {
  std::int64_t total = 3;  // every reply is primed with <|start|>assistant<|message|>
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    auto const& m = r.messages[i];
    std::int64_t n = 3 + count_of(count, m.role) + count_of(count, m.content);
    auto const* body = body_message(r, i);
    if (auto const name = string_member(body, "name"); !name.empty()) n = saturating_add(n, 1 + count_of(count, name));
    n = saturating_add(n, count_of(count, string_member(body, "tool_call_id")));
    n = saturating_add(n, json_member_tokens(count, body, "tool_calls"));
    n = saturating_add(n, json_member_tokens(count, body, "function_call"));
    total = saturating_add(total, n);
  }
  return saturating_add(total, tool_definition_tokens(r, count));
}

inline std::int64_t deepseek_prompt_tokens(openai::chat_request const& r, text_counter const& count) {
  std::int64_t specials = 1;  // <｜begin▁of▁sentence｜>
  std::int64_t text = 0;
  auto add_text = [&](std::string_view piece) { text = saturating_add(text, count_of(count, piece)); };

  std::string system;
  for (auto const& m : r.messages)
    if (m.role == "system" || m.role == "developer") system += (system.empty() ? "" : "\n\n") + m.content;
  add_text(system);

  bool in_tool_outputs = false;
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    auto const& m = r.messages[i];
    if (m.role == "user") {
      in_tool_outputs = false;  // the template closes no tool outputs before a user turn
      ++specials;               // <｜User｜>
      add_text(m.content);
    } else if (m.role == "assistant") {
      auto const* body = body_message(r, i);
      auto const* calls = body != nullptr ? openai::detail::member(*body, "tool_calls") : nullptr;
      // After tool outputs, <｜tool▁outputs▁end｜> takes the place of <｜Assistant｜>.
      ++specials;
      in_tool_outputs = false;
      add_text(m.content);
      if (calls != nullptr && calls->is_array() && !calls->empty()) {
        ++specials;  // <｜tool▁calls▁begin｜>
        bool first = true;
        for (auto const& call : *calls) {
          if (!first) add_text("\n");
          first = false;
          auto const* function = call.is_object() ? openai::detail::member(call, "function") : nullptr;
          specials += 3;  // <｜tool▁call▁begin｜> type <｜tool▁sep｜> name ... <｜tool▁call▁end｜>
          add_text(string_member(call.is_object() ? &call : nullptr, "type"));
          add_text(string_member(function, "name") + "\n```json\n" + string_member(function, "arguments") + "\n```");
        }
        ++specials;  // <｜tool▁calls▁end｜>
      }
      ++specials;  // <｜end▁of▁sentence｜>
    } else if (m.role == "tool" || m.role == "function") {
      if (!in_tool_outputs) ++specials;  // <｜tool▁outputs▁begin｜>
      in_tool_outputs = true;
      specials += 2;  // <｜tool▁output▁begin｜> ... <｜tool▁output▁end｜>
      add_text(m.content);
    }
  }
  ++specials;  // the final <｜Assistant｜>, or <｜tool▁outputs▁end｜> after tool results
  return saturating_add(saturating_add(specials, text), tool_definition_tokens(r, count));
}

/// Leading and trailing white space removed, as the templates' Jinja `trim` does (ASCII white space).
inline std::string_view trimmed(std::string_view s) {
  constexpr std::string_view space = " \t\n\r\f\v";
  auto const first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

inline std::int64_t llama3_prompt_tokens(openai::chat_request const& r, text_counter const& count) {
  std::int64_t total = 1;  // <|begin_of_text|>
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    auto const& m = r.messages[i];
    // <|start_header_id|> role <|end_header_id|> "\n\n" content <|eot_id|>: three specials, two texts.
    std::int64_t n = 3 + count_of(count, m.role) + count_of(count, "\n\n" + std::string{trimmed(m.content)});
    n = saturating_add(n, json_member_tokens(count, body_message(r, i), "tool_calls"));
    total = saturating_add(total, n);
  }
  // <|start_header_id|> assistant <|end_header_id|> "\n\n"
  total = saturating_add(total, 2 + count_of(count, "assistant") + count_of(count, "\n\n"));
  return saturating_add(total, tool_definition_tokens(r, count));
}

}  // namespace detail

/// The rendered prompt's tokens of `request` in `format`, counting text with `count`
/// (`estimate_tokens` when empty).
inline std::int64_t count_prompt(openai::chat_request const& request, chat_format format, text_counter const& count) {
  switch (format) {
    case chat_format::deepseek:
      return detail::deepseek_prompt_tokens(request, count);
    case chat_format::llama3:
      return detail::llama3_prompt_tokens(request, count);
    case chat_format::openai:
    case chat_format::anthropic:
    case chat_format::gemini:
      break;
  }
  return detail::openai_prompt_tokens(request, count);
}

/// The prompt's tokens for `model` and the output it asks for.
inline chat_tokens count_chat(openai::chat_request const& request, model_info const& model, text_counter const& count) {
  chat_tokens out;
  out.prompt_tokens = count_prompt(request, model.format, count);
  out.output_from_request = request.max_tokens.has_value();
  out.output_tokens = request.max_tokens.value_or(model.max_output_tokens);
  return out;
}

}  // namespace medgate::tokens
