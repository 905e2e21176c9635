// stream.hpp — folds a streamed chat completion (chat.completion.chunk events) into one chat_response.
//
// The policies after an attempt — classification, review, audit, settling the
// token budget, the answer to a non-streaming caller — all need the whole
// response, not its pieces. The assembler concatenates each choice's content
// deltas (and tool-call argument deltas), keeps role, finish_reason, identity
// and the final usage chunk, and insists on the terminating "[DONE]": a stream
// that stops without it was cut off, and a cut-off answer must never pass for
// a complete one in clinical use. Errors name the chunk and path, never content.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../result.hpp"
#include "chat.hpp"
#include "sse.hpp"

namespace medgate::openai {

class stream_assembler {
 public:
  /// Takes one SSE event. "[DONE]" marks the end; events after it are ignored,
  /// as are empty keep-alive events and events of other types. Returns false
  /// (and stays failed) on a malformed chunk, an "error" event or a chunk that
  /// is an error object; `error()` says what, without quoting content.
  bool feed(sse_event const& e) {
    if (failed_) return false;
    if (done_) return true;
    const auto data = trim_space(e.data);
    if (e.event == "error") {
      ++chunks_;
      return fail(fmt::format("stream chunk {} is an error event", chunks_));
    }
    if (e.event != "message" || data.empty()) return true;
    if (data == "[DONE]") {
      done_ = true;
      return true;
    }
    ++chunks_;
    auto parsed = detail::parse_json(data, fmt::format("stream chunk {}", chunks_));
    if (!parsed) return fail(parsed.error_message());
    if (auto problem = apply(*parsed)) return fail(fmt::format("stream chunk {}{}", chunks_, *problem));
    return true;
  }

  [[nodiscard]] bool done() const noexcept { return done_; }
  [[nodiscard]] std::size_t chunks() const noexcept { return chunks_; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  /// Ended without "[DONE]" and without any malformed chunk before that.
  [[nodiscard]] bool truncated() const noexcept { return !failed_ && !done_; }
  [[nodiscard]] std::string const& error() const noexcept { return error_; }
  /// Some of the answer has arrived: text, a refusal, a tool call, a finish
  /// reason, or the end. A chunk with only the role does not count: until the
  /// answer itself begins, a relaying host can still fall back elsewhere.
  [[nodiscard]] bool has_answer() const noexcept {
    if (failed_) return false;
    if (done_) return true;
    for (auto const& [index, state] : choices_)
      if (!state.content.empty() || !state.refusal.empty() || !state.tool_calls.empty() || !state.finish_reason.empty())
        return true;
    return false;
  }

  /// The assembled response, or why there is none: a malformed chunk, an error
  /// in the stream, "stream truncated after 7 chunks (no [DONE])", or a stream
  /// that carried no choice at all.
  [[nodiscard]] result<chat_response> finish() const {
    if (failed_) return medgate::error{error_};
    if (!done_) return medgate::error{fmt::format("stream truncated after {} chunks (no [DONE])", chunks_)};
    if (choices_.empty()) return medgate::error{fmt::format("stream carried no choices in {} chunks", chunks_)};
    chat_response r = identity_;
    nlohmann::json body = {{"id", r.id}, {"object", "chat.completion"}, {"created", r.created}, {"model", r.model}};
    if (!system_fingerprint_.empty()) body["system_fingerprint"] = system_fingerprint_;
    auto& choices = body["choices"] = nlohmann::json::array();
    for (auto const& [index, state] : choices_) {
      choice c{index, {state.role.empty() ? std::string{"assistant"} : state.role, state.content}, state.finish_reason};
      nlohmann::json message = {{"role", c.message.role}};
      if (!state.has_content && (!state.tool_calls.empty() || state.has_refusal))
        message["content"] = nullptr;
      else
        message["content"] = state.content;
      if (state.has_refusal) message["refusal"] = state.refusal;
      if (!state.tool_calls.empty()) {
        auto& calls = message["tool_calls"] = nlohmann::json::array();
        for (auto const& [call_index, call] : state.tool_calls) {
          calls.push_back({{"index", call_index},
                           {"id", call.id},
                           {"type", call.type.empty() ? std::string{"function"} : call.type},
                           {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
        }
      }
      choices.push_back(
          {{"index", index},
           {"message", std::move(message)},
           {"finish_reason", c.finish_reason.empty() ? nlohmann::json() : nlohmann::json(c.finish_reason)}});
      r.choices.push_back(std::move(c));
    }
    if (!usage_body_.is_null()) body["usage"] = usage_body_;
    r.body = std::move(body);
    return r;
  }

 private:
  using json = nlohmann::json;

  struct tool_call_state {
    std::string id, type, name, arguments;
  };
  struct choice_state {
    std::string role, content, refusal, finish_reason;
    bool has_content = false, has_refusal = false;
    std::map<std::int64_t, tool_call_state> tool_calls;
  };

  bool fail(std::string message) {
    failed_ = true;
    error_ = std::move(message);
    return false;
  }

  /// Appends a string-or-null delta field to `text`; a problem otherwise.
  static std::optional<std::string> append_text(json const& delta, char const* key, std::string& text, bool& seen,
                                                std::string_view path) {
    json const* v = detail::member(delta, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return fmt::format(": {}.{} must be a string or null", path, key);
    text += v->get_ref<std::string const&>();
    seen = true;
    return std::nullopt;
  }

  /// A member that must be a string when present; its value is kept only if not empty.
  static std::optional<std::string> take_string(json const& object, char const* key, std::string& out,
                                                std::string_view path) {
    json const* v = detail::member(object, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return fmt::format(": {}.{} must be a string", path, key);
    if (!v->get_ref<std::string const&>().empty()) out = v->get<std::string>();
    return std::nullopt;
  }

  /// The "index" member (or `position` when absent), which must be a non-negative integer.
  static std::optional<std::int64_t> index_of(json const& object, std::size_t position) {
    json const* v = detail::member(object, "index");
    return v == nullptr ? std::optional<std::int64_t>{static_cast<std::int64_t>(position)}
                        : detail::non_negative_integer(*v);
  }

  std::optional<std::string> apply_tool_calls(json const& calls, choice_state& state, std::string const& path) {
    if (!calls.is_array()) return fmt::format(": {}.tool_calls must be an array", path);
    for (std::size_t t = 0; t < calls.size(); ++t) {
      const auto call_path = fmt::format("{}.tool_calls[{}]", path, t);
      auto const& call = calls[t];
      if (!call.is_object()) return fmt::format(": {} must be an object", call_path);
      const auto index = index_of(call, t);
      if (!index) return fmt::format(": {}.index must be a non-negative integer", call_path);
      auto& target = state.tool_calls[*index];
      if (auto p = take_string(call, "id", target.id, call_path)) return p;
      if (auto p = take_string(call, "type", target.type, call_path)) return p;
      json const* function = detail::member(call, "function");
      if (function == nullptr) continue;
      if (!function->is_object()) return fmt::format(": {}.function must be an object", call_path);
      const auto function_path = call_path + ".function";
      if (auto p = take_string(*function, "name", target.name, function_path)) return p;
      bool seen = false;
      if (auto p = append_text(*function, "arguments", target.arguments, seen, function_path)) return p;
    }
    return std::nullopt;
  }

  std::optional<std::string> apply_choice(json const& c, std::size_t k) {
    const auto path = fmt::format("choices[{}]", k);
    if (!c.is_object()) return fmt::format(": {} must be an object", path);
    const auto index = index_of(c, k);
    if (!index) return fmt::format(": {}.index must be a non-negative integer", path);
    auto& state = choices_[*index];
    if (json const* delta = detail::member(c, "delta")) {
      const auto delta_path = path + ".delta";
      if (!delta->is_object()) return fmt::format(": {} must be an object", delta_path);
      if (auto p = take_string(*delta, "role", state.role, delta_path)) return p;
      if (auto p = append_text(*delta, "content", state.content, state.has_content, delta_path)) return p;
      if (auto p = append_text(*delta, "refusal", state.refusal, state.has_refusal, delta_path)) return p;
      if (json const* calls = detail::member(*delta, "tool_calls"))
        if (auto p = apply_tool_calls(*calls, state, delta_path)) return p;
    }
    if (json const* finish = detail::member(c, "finish_reason")) {
      if (!finish->is_string()) return fmt::format(": {}.finish_reason must be a string or null", path);
      state.finish_reason = finish->get<std::string>();
    }
    return std::nullopt;
  }

  /// Folds one parsed chunk in; returns the problem (after ": ") if its shape is wrong.
  std::optional<std::string> apply(json const& chunk) {
    if (!chunk.is_object()) return std::string{" must be a JSON object"};
    if (json const* e = detail::member(chunk, "error")) {
      const auto code = detail::identifier(e->is_object() ? detail::member(*e, "code") : nullptr);
      return code ? fmt::format(" is an error object ({})", *code) : std::string{" is an error object"};
    }
    chat_response identity;
    if (auto problem = detail::read_identity(chunk, identity)) return ": " + *problem;
    if (identity_.id.empty()) identity_.id = identity.id;
    if (identity_.model.empty()) identity_.model = identity.model;
    if (identity_.created == 0) identity_.created = identity.created;
    if (json const* fingerprint = detail::member(chunk, "system_fingerprint"))
      if (fingerprint->is_string()) system_fingerprint_ = fingerprint->get<std::string>();
    if (json const* choices = detail::member(chunk, "choices")) {
      if (!choices->is_array()) return std::string{": choices must be an array"};
      for (std::size_t k = 0; k < choices->size(); ++k)
        if (auto problem = apply_choice((*choices)[k], k)) return problem;
    }
    if (json const* u = detail::member(chunk, "usage")) {
      if (auto problem = detail::read_usage(*u, identity_.usage_info)) return ": " + *problem;
      usage_body_ = *u;
    }
    return std::nullopt;
  }

  bool done_ = false;
  bool failed_ = false;
  std::size_t chunks_ = 0;
  std::string error_;
  chat_response identity_;  ///< id, model, created and usage_info; choices are in `choices_`
  std::string system_fingerprint_;
  json usage_body_;
  std::map<std::int64_t, choice_state> choices_;
};

namespace detail {

struct assembled_stream {
  result<chat_response> response;
  bool truncated = false;  ///< ended without "[DONE]" (as opposed to malformed)
};

inline assembled_stream assemble(std::string_view sse_body, sse_options options = {}) {
  sse_parser parser{options};
  stream_assembler assembler;
  std::vector<sse_event> events;
  if (!parser.feed(sse_body, events))
    return {medgate::error{fmt::format("malformed event stream: {}", parser.error())}, false};
  // A body whose last line is "data: [DONE]" without the blank line after it
  // is complete in substance; anything else left pending is a cut-off event.
  std::vector<sse_event> pending;
  if (!parser.at_event_boundary() && parser.feed("\n\n", pending) && pending.size() == 1 &&
      pending.front().event == "message" && pending.front().data == "[DONE]")
    events.push_back(std::move(pending.front()));
  for (auto const& e : events)
    if (!assembler.feed(e)) break;
  return {assembler.finish(), assembler.truncated()};
}

}  // namespace detail

/// Parses a whole SSE body (as a transport that buffered it hands it over) into
/// the assembled response; a body cut off before "[DONE]" is an error.
inline result<chat_response> assemble_stream(std::string_view sse_body) { return detail::assemble(sse_body).response; }

}  // namespace medgate::openai
