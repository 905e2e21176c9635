// chat.hpp — chat completion request and response ↔ JSON (the OpenAI wire format).
//
// The gateway passes requests and responses through, so fields it does not
// know (tools, response_format, logprobs, a provider's extensions) must
// survive untouched. The types therefore keep the whole JSON body and expose
// typed views of only what the policies need; `to_json` writes the typed
// fields back over the body, so a policy that rewrites a message (redaction,
// pseudonym restoration) changes what is sent. Parsing never throws, and no
// error message ever quotes a value from the body: message content may hold
// patient data, and error messages end up in logs and audit records.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../result.hpp"
#include "../time.hpp"

namespace medgate::openai {

namespace detail {

using json = nlohmann::json;

/// Deeper nesting (the outermost object or array is level 1) is rejected
/// before parsing: no real request nests beyond a few dozen levels (tool
/// schemas included), and serializing recurses, so a hostile body could
/// otherwise exhaust the stack.
inline constexpr std::size_t max_json_depth = 128;

/// Offset of the first byte that does not belong to a well-formed UTF-8
/// sequence (no overlongs, no surrogates, nothing above U+10FFFF), if any.
inline std::optional<std::size_t> first_invalid_utf8(std::string_view text) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char b = byte(i);
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF)
      length = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
      length = 3;
      if (b == 0xE0) low = 0xA0;
      if (b == 0xED) high = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      length = 4;
      if (b == 0xF0) low = 0x90;
      if (b == 0xF4) high = 0x8F;
    } else
      return i;
    if (i + length > text.size()) return i;
    if (byte(i + 1) < low || byte(i + 1) > high) return i;
    for (std::size_t k = 2; k < length; ++k)
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return i;
    i += length;
  }
  return std::nullopt;
}

/// Offset of the bracket that opens nesting level `max_json_depth + 1`, if any.
/// Brackets inside strings do not count.
inline std::optional<std::size_t> first_too_deep(std::string_view text) noexcept {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_json_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

/// A SAX consumer that keeps nothing and records where parsing failed; used
/// only after a failed parse, to say where (nlohmann's own message is not
/// used because it quotes the offending text).
struct parse_error_locator {
  std::size_t position = 0;  ///< nlohmann's 1-based position of the offending byte
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, std::string const&) { return true; }
  bool string(std::string&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(std::string&) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t where, std::string const&, nlohmann::detail::exception const&) {
    position = where;
    return false;
  }
};

/// Parses `text` without throwing. Errors name `subject` ("request body") and
/// a byte offset (counted from 0), never the text itself.
inline result<json> parse_json(std::string_view text, std::string_view subject) {
  if (const auto at = first_invalid_utf8(text))
    return error{fmt::format("{} is not valid UTF-8 at byte {}", subject, *at)};
  if (const auto at = first_too_deep(text))
    return error{fmt::format("{} nests deeper than {} levels at byte {}", subject, max_json_depth, *at)};
  auto value = json::parse(text, nullptr, false);
  if (!value.is_discarded()) return value;
  parse_error_locator locator;
  json::sax_parse(text, &locator);
  const std::size_t at = locator.position > 0 ? locator.position - 1 : 0;
  if (at >= text.size())
    return error{fmt::format("{} is not valid JSON: unexpected end of input at byte {}", subject, text.size())};
  return error{fmt::format("{} is not valid JSON: syntax error at byte {}", subject, at)};
}

/// Serializes without throwing: a string that is not UTF-8 (possible only if a
/// caller built it by hand) has its bad bytes replaced by U+FFFD.
inline std::string dump(json const& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

/// The member `key` of `object`, or nullptr when absent or null (clients send
/// `"max_tokens": null` to mean "not set").
inline json const* member(json const& object, std::string_view key) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

inline std::optional<std::int64_t> non_negative_integer(json const& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    return i < 0 ? std::nullopt : std::optional<std::int64_t>{i};
  }
  return std::nullopt;
}

/// A value safe to put in a log: a short identifier such as an error code
/// ("insufficient_quota"), never free text.
inline std::optional<std::string> identifier(json const* v) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  auto const& s = v->get_ref<std::string const&>();
  if (s.empty() || s.size() > 64) return std::nullopt;
  for (const char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return std::nullopt;
  return s;
}

/// Reads message content: a string, or an array of parts whose "text" parts
/// are concatenated into `text`. Returns the problem (relative to the
/// content's path) or nullopt when the shape is right.
inline std::optional<std::string> read_content(json const& content, std::string& text) {
  if (content.is_string()) {
    text = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return std::string{" must be a string or an array of content parts"};
  text.clear();
  for (std::size_t k = 0; k < content.size(); ++k) {
    auto const& part = content[k];
    json const* type = part.is_object() ? member(part, "type") : nullptr;
    if (type == nullptr || !type->is_string()) return fmt::format("[{}] must be an object with a string \"type\"", k);
    if (type->get_ref<std::string const&>() != "text") continue;  // images, audio, files: passed through
    json const* part_text = member(part, "text");
    if (part_text == nullptr || !part_text->is_string()) return fmt::format("[{}].text must be a string", k);
    text += part_text->get_ref<std::string const&>();
  }
  return std::nullopt;
}

/// Whether an assistant message says something other than content (so its
/// content may be null).
inline bool has_non_text_reply(json const& message) {
  return member(message, "tool_calls") != nullptr || member(message, "function_call") != nullptr ||
         member(message, "refusal") != nullptr || member(message, "audio") != nullptr;
}

}  // namespace detail

struct chat_message {
  std::string role;
  std::string
      content;  ///< the text; for array-of-parts content, the "text" parts concatenated (the parts stay in body)
};

struct chat_request {
  nlohmann::json body;  ///< the request as received, unknown fields included (an object)
  std::string model;
  bool stream = false;
  std::vector<chat_message> messages;
  std::optional<std::int64_t> max_tokens;  ///< max_completion_tokens, else max_tokens
};

inline constexpr std::array<std::string_view, 6> message_roles{"system",    "user", "assistant",
                                                               "developer", "tool", "function"};

/// Reads and validates an OpenAI chat completion request. Errors name the path
/// and the problem ("messages[2].role must be one of ..."), never a value.
/// `null` for "stream", "max_tokens" and "max_completion_tokens" means absent.
inline result<chat_request> parse_chat_request(std::string_view text) {
  using detail::json;
  using detail::member;
  auto parsed = detail::parse_json(text, "request body");
  if (!parsed) return error{parsed.error_message()};
  chat_request r;
  r.body = std::move(*parsed);
  auto const& body = r.body;
  if (!body.is_object()) return error{"request body must be a JSON object"};

  json const* model = member(body, "model");
  if (model == nullptr || !model->is_string() || model->get_ref<std::string const&>().empty())
    return error{"model must be a non-empty string"};
  r.model = model->get<std::string>();

  if (json const* stream = member(body, "stream")) {
    if (!stream->is_boolean()) return error{"stream must be a boolean"};
    r.stream = stream->get<bool>();
  }

  json const* messages = member(body, "messages");
  if (messages == nullptr || !messages->is_array() || messages->empty())
    return error{"messages must be a non-empty array"};
  r.messages.reserve(messages->size());
  for (std::size_t i = 0; i < messages->size(); ++i) {
    auto const& m = (*messages)[i];
    if (!m.is_object()) return error{fmt::format("messages[{}] must be an object", i)};
    json const* role = member(m, "role");
    bool known_role = false;
    if (role != nullptr && role->is_string())
      for (const auto name : message_roles) known_role = known_role || role->get_ref<std::string const&>() == name;
    if (!known_role)
      return error{
          fmt::format("messages[{}].role must be one of system, user, assistant, tool, developer, function", i)};
    chat_message message{role->get<std::string>(), {}};
    if (json const* content = member(m, "content")) {
      if (auto problem = detail::read_content(*content, message.content))
        return error{fmt::format("messages[{}].content{}", i, *problem)};
    } else if (message.role != "assistant" || !detail::has_non_text_reply(m)) {
      return error{fmt::format(
          "messages[{}].content must be a string or an array of content parts (null only for an assistant message "
          "with tool_calls)",
          i)};
    }
    r.messages.push_back(std::move(message));
  }

  for (const auto key : {"max_tokens", "max_completion_tokens"}) {
    json const* limit = member(body, key);
    if (limit == nullptr) continue;
    const auto value = detail::non_negative_integer(*limit);
    if (!value) return error{fmt::format("{} must be a non-negative integer", key)};
    // max_completion_tokens replaced max_tokens at OpenAI; when both are sent it is the one honoured.
    if (!r.max_tokens || std::string_view{key} == "max_completion_tokens") r.max_tokens = value;
  }
  return r;
}

/// A request built in code rather than received as JSON.
inline chat_request make_chat_request(std::string model, std::vector<chat_message> messages, bool stream = false) {
  chat_request r;
  r.body = nlohmann::json::object();
  r.model = std::move(model);
  r.stream = stream;
  r.messages = std::move(messages);
  return r;
}

namespace detail {

/// Writes `typed` over the message object `m`, keeping everything else in it
/// (name, tool_calls, image parts). Array content keeps its non-text parts;
/// when the text changed, it goes into the first text part and the other text
/// parts are dropped, so what is sent is exactly the typed text.
inline void write_message(json& m, chat_message const& typed) {
  if (!m.is_object()) m = json::object();
  m["role"] = typed.role;
  auto content = m.find("content");
  if (content == m.end() || content->is_null()) {
    if (!typed.content.empty() || typed.role != "assistant" || !has_non_text_reply(m)) m["content"] = typed.content;
    return;
  }
  std::string current;
  if (!content->is_array() || read_content(*content, current).has_value()) {
    *content = typed.content;
    return;
  }
  if (current == typed.content) return;
  json parts = json::array();
  bool placed = false;
  for (auto& part : *content) {
    json const* type = part.is_object() ? member(part, "type") : nullptr;
    const bool is_text = type != nullptr && *type == "text";
    if (!is_text) {
      parts.push_back(std::move(part));
    } else if (!placed) {
      part["text"] = typed.content;
      parts.push_back(std::move(part));
      placed = true;
    }
  }
  if (!placed && !typed.content.empty()) parts.insert(parts.begin(), json{{"type", "text"}, {"text", typed.content}});
  *content = std::move(parts);
}

/// Makes `array` hold one element per typed item, matched by index: extra
/// elements are dropped, missing ones start as empty objects.
inline void resize_array(json& object, char const* key, std::size_t size) {
  auto& array = object[key];
  if (!array.is_array()) array = json::array();
  while (array.size() > size) array.erase(array.size() - 1);
  while (array.size() < size) array.push_back(json::object());
}

}  // namespace detail

/// The body to send: the received body with the typed fields written over it.
/// Messages are matched to the body's by index. "stream" is written when true
/// or already present; `max_tokens` goes to whichever of max_completion_tokens /
/// max_tokens the body used (max_tokens if neither), and nullopt removes both.
inline std::string to_json(chat_request const& r) {
  nlohmann::json out = r.body.is_object() ? r.body : nlohmann::json::object();
  out["model"] = r.model;
  if (r.stream || out.contains("stream")) out["stream"] = r.stream;
  detail::resize_array(out, "messages", r.messages.size());
  for (std::size_t i = 0; i < r.messages.size(); ++i) detail::write_message(out["messages"][i], r.messages[i]);
  const bool completion_key = detail::member(out, "max_completion_tokens") != nullptr;
  const bool legacy_key = detail::member(out, "max_tokens") != nullptr;
  if (!r.max_tokens) {
    out.erase("max_tokens");
    out.erase("max_completion_tokens");
  } else {
    if (completion_key) out["max_completion_tokens"] = *r.max_tokens;
    if (legacy_key || !completion_key) out["max_tokens"] = *r.max_tokens;
  }
  return detail::dump(out);
}

struct usage {
  std::int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0;
};

struct choice {
  std::int64_t index = 0;
  chat_message message;
  std::string finish_reason;  ///< "stop", "length", "tool_calls", "content_filter"...; empty when null
};

struct chat_response {
  nlohmann::json body;  ///< the response as received, unknown fields included
  std::string id;
  std::string model;
  std::int64_t created = 0;
  std::vector<choice> choices;
  std::optional<usage> usage_info;
};

namespace detail {

inline std::optional<std::string> read_usage(json const& v, std::optional<usage>& out) {
  if (!v.is_object()) return std::string{"usage must be an object"};
  usage u;
  bool has_total = false;
  for (const auto key : {"prompt_tokens", "completion_tokens", "total_tokens"}) {
    json const* n = member(v, key);
    if (n == nullptr) continue;
    const auto value = non_negative_integer(*n);
    if (!value) return fmt::format("usage.{} must be a non-negative integer", key);
    const std::string_view k{key};
    (k == "prompt_tokens" ? u.prompt_tokens : k == "completion_tokens" ? u.completion_tokens : u.total_tokens) = *value;
    has_total = has_total || k == "total_tokens";
  }
  if (!has_total) u.total_tokens = saturating_add(u.prompt_tokens, u.completion_tokens);
  out = u;
  return std::nullopt;
}

/// Reads "id", "model" (strings) and "created" (an integer) when present.
inline std::optional<std::string> read_identity(json const& v, chat_response& r) {
  if (json const* id = member(v, "id")) {
    if (!id->is_string()) return std::string{"id must be a string"};
    r.id = id->get<std::string>();
  }
  if (json const* model = member(v, "model")) {
    if (!model->is_string()) return std::string{"model must be a string"};
    r.model = model->get<std::string>();
  }
  if (json const* created = member(v, "created")) {
    if (!created->is_number_integer()) return std::string{"created must be an integer"};
    r.created =
        created->is_number_unsigned() ? non_negative_integer(*created).value_or(0) : created->get<std::int64_t>();
  }
  return std::nullopt;
}

inline std::optional<std::string> read_choice(json const& c, std::size_t i, choice& out) {
  if (!c.is_object()) return fmt::format("choices[{}] must be an object", i);
  out.index = static_cast<std::int64_t>(i);
  if (json const* index = member(c, "index")) {
    const auto value = non_negative_integer(*index);
    if (!value) return fmt::format("choices[{}].index must be a non-negative integer", i);
    out.index = *value;
  }
  json const* m = member(c, "message");
  if (m == nullptr || !m->is_object()) return fmt::format("choices[{}].message must be an object", i);
  out.message.role = "assistant";
  if (json const* role = member(*m, "role")) {
    if (!role->is_string()) return fmt::format("choices[{}].message.role must be a string", i);
    out.message.role = role->get<std::string>();
  }
  if (json const* content = member(*m, "content")) {
    if (auto problem = read_content(*content, out.message.content))
      return fmt::format("choices[{}].message.content{}", i, *problem);
  } else if (!has_non_text_reply(*m)) {
    return fmt::format("choices[{}].message.content must be a string", i);
  }
  if (json const* finish = member(c, "finish_reason")) {
    if (!finish->is_string()) return fmt::format("choices[{}].finish_reason must be a string or null", i);
    out.finish_reason = finish->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace detail

/// Reads and validates a (non-streamed) chat completion. "choices" must be a
/// non-empty array: a completion without a choice answers nothing, so it is
/// treated as malformed (and retried or sent elsewhere) rather than delivered.
/// A message's content may be null only when it carries tool_calls,
/// function_call, refusal or audio instead. Errors name the path, never a value.
inline result<chat_response> parse_chat_response(std::string_view text) {
  using detail::json;
  using detail::member;
  auto parsed = detail::parse_json(text, "response body");
  if (!parsed) return error{parsed.error_message()};
  chat_response r;
  r.body = std::move(*parsed);
  auto const& body = r.body;
  if (!body.is_object()) return error{"response body must be a JSON object"};
  if (member(body, "error") != nullptr && member(body, "choices") == nullptr)
    return error{"response body is an error object, not a completion"};
  if (auto problem = detail::read_identity(body, r)) return error{std::move(*problem)};
  json const* choices = member(body, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) return error{"choices must be a non-empty array"};
  r.choices.resize(choices->size());
  for (std::size_t i = 0; i < choices->size(); ++i)
    if (auto problem = detail::read_choice((*choices)[i], i, r.choices[i])) return error{std::move(*problem)};
  if (json const* u = member(body, "usage"))
    if (auto problem = detail::read_usage(*u, r.usage_info)) return error{std::move(*problem)};
  return r;
}

/// The body to return to the client: the received body with the typed fields
/// written over it (choices matched by index), so a policy that rewrote the
/// content (pseudonyms restored) is what the client sees.
inline std::string to_json(chat_response const& r) {
  nlohmann::json out = r.body.is_object() ? r.body : nlohmann::json::object();
  out["id"] = r.id;
  if (!out.contains("object")) out["object"] = "chat.completion";
  out["created"] = r.created;
  out["model"] = r.model;
  detail::resize_array(out, "choices", r.choices.size());
  for (std::size_t i = 0; i < r.choices.size(); ++i) {
    auto& c = out["choices"][i];
    c["index"] = r.choices[i].index;
    detail::write_message(c["message"], r.choices[i].message);
    if (r.choices[i].finish_reason.empty())
      c["finish_reason"] = nullptr;
    else
      c["finish_reason"] = r.choices[i].finish_reason;
  }
  if (r.usage_info) {
    auto& u = out["usage"];
    if (!u.is_object()) u = nlohmann::json::object();
    u["prompt_tokens"] = r.usage_info->prompt_tokens;
    u["completion_tokens"] = r.usage_info->completion_tokens;
    u["total_tokens"] = r.usage_info->total_tokens;
  } else {
    out.erase("usage");
  }
  return detail::dump(out);
}

}  // namespace medgate::openai
