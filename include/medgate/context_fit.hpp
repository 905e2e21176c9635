// context_fit.hpp — fitting a chat request into a model's context window, by policy.
//
// A prompt that does not fit the window fails at the provider with a 400
// after a round trip (and, on a fallback chain, fails again at every target);
// clinical notes are long enough for this to be common. So the budget step
// checks the prompt against what the window leaves once the requested output
// is set aside (window − output), and when it does not fit applies the
// configured policy:
//
//   refuse       the call ends with `context_too_long`, saying how many tokens over;
//   drop_oldest  whole turns are dropped, oldest first — a user message with
//                the replies that follow it, so no reply or tool result is left
//                without its question — while the system messages and
//                everything from the last user message on are kept;
//   cut_middle   the middle of the longest message is cut out, keeping its
//                head and tail (where a note's history and its assessment
//                usually are) around a marker "\n[… N tokens omitted …]\n";
//                the cut is the smallest found by a binary search on byte
//                lengths snapped to UTF-8 character boundaries, each candidate
//                counted with the model's own counter.
//
// What was done is described without any content (a message index, counts),
// because the description goes into decisions and audit records.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "openai/chat.hpp"
#include "result.hpp"
#include "tokens/chat_count.hpp"
#include "tokens/counter.hpp"
#include "tokens/models.hpp"

namespace medgate {

enum class context_policy : std::uint8_t { refuse, drop_oldest, cut_middle };

constexpr std::string_view to_string(context_policy p) noexcept {
  switch (p) {
    case context_policy::refuse:
      return "refuse";
    case context_policy::drop_oldest:
      return "drop_oldest";
    case context_policy::cut_middle:
      return "cut_middle";
  }
  return "unknown";
}

struct context_options {
  context_policy policy = context_policy::refuse;  ///< what to do with a prompt too long for the window

  [[nodiscard]] validation validate() const { return std::nullopt; }
};

/// A request as fitted, and what fitting did.
struct context_fit {
  openai::chat_request request;
  std::int64_t prompt_tokens = 0;    ///< of `request`, framing included
  std::int64_t limit = 0;            ///< prompt tokens the window leaves after the output
  std::size_t dropped_messages = 0;  ///< drop_oldest
  std::int64_t omitted_tokens = 0;   ///< cut_middle: tokens the marker stands for
  std::string what;                  ///< "" when the request fit as it was; never content
};

namespace detail::fitting {

inline bool is_system(openai::chat_message const& m) { return m.role == "system" || m.role == "developer"; }

/// The request without the messages whose `keep` is false (typed and body messages alike).
inline openai::chat_request without(openai::chat_request const& r, std::vector<bool> const& keep) {
  openai::chat_request out = r;
  out.messages.clear();
  auto* body_messages = out.body.is_object() && out.body.contains("messages") && out.body["messages"].is_array()
                            ? &out.body["messages"]
                            : nullptr;
  nlohmann::json kept_body = nlohmann::json::array();
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    if (!keep[i]) continue;
    out.messages.push_back(r.messages[i]);
    if (body_messages != nullptr && i < body_messages->size()) kept_body.push_back((*body_messages)[i]);
  }
  if (body_messages != nullptr) *body_messages = std::move(kept_body);
  return out;
}

inline bool continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace detail::fitting

/// Fits `request` into `model`'s window with `output_tokens` set aside, by `policy`.
/// The error says how many tokens over (and what the policy could not do).
inline result<context_fit> fit_context(openai::chat_request request, tokens::model_info const& model,
                                       std::int64_t output_tokens, tokens::text_counter const& count,
                                       context_policy policy) {
  namespace f = detail::fitting;
  auto const tokens_of = [&](openai::chat_request const& r) { return tokens::count_prompt(r, model.format, count); };
  context_fit fit;
  fit.prompt_tokens = tokens_of(request);
  fit.limit = saturating_sub(model.context_window, output_tokens);
  auto const over_message = [&](std::int64_t prompt, std::string_view after) {
    return fmt::format(
        "the prompt is {} tokens, {} over the {} that {}'s context window of {} leaves after {} output tokens{}",
        prompt, prompt - fit.limit, fit.limit, model.name, model.context_window, output_tokens, after);
  };
  if (model.context_window <= 0 || fit.prompt_tokens <= fit.limit) {
    fit.request = std::move(request);
    return fit;
  }
  if (fit.limit <= 0)
    return error{fmt::format("{} output tokens leave no room for a prompt in {}'s context window of {}", output_tokens,
                             model.name, model.context_window)};

  switch (policy) {
    case context_policy::refuse:
      return error{over_message(fit.prompt_tokens, "")};

    case context_policy::drop_oldest: {
      auto const n = request.messages.size();
      std::size_t last_user = n == 0 ? 0 : n - 1;
      for (std::size_t i = n; i-- > 0;)
        if (request.messages[i].role == "user") {
          last_user = i;
          break;
        }
      std::vector<bool> keep(n, true);
      auto const original = fit.prompt_tokens;
      auto fitted = request;
      std::int64_t prompt = original;
      while (prompt > fit.limit) {
        std::size_t first = last_user;
        for (std::size_t i = 0; i < last_user; ++i)
          if (keep[i] && !f::is_system(request.messages[i])) {
            first = i;
            break;
          }
        if (first == last_user)
          return error{
              over_message(prompt, fmt::format(" even after dropping all {} older messages", fit.dropped_messages))};
        // The turn: this message and what follows it up to the next user message.
        keep[first] = false;
        ++fit.dropped_messages;
        for (std::size_t j = first + 1; j < last_user; ++j) {
          if (f::is_system(request.messages[j])) continue;
          if (request.messages[j].role == "user") break;
          keep[j] = false;
          ++fit.dropped_messages;
        }
        fitted = f::without(request, keep);
        prompt = tokens_of(fitted);
      }
      fit.request = std::move(fitted);
      fit.prompt_tokens = prompt;
      fit.what = fmt::format("dropped the {} oldest messages ({} tokens) to fit {}'s context window",
                             fit.dropped_messages, original - prompt, model.name);
      return fit;
    }

    case context_policy::cut_middle: {
      std::size_t longest = 0;
      std::int64_t longest_tokens = -1;
      for (std::size_t i = 0; i < request.messages.size(); ++i) {
        auto const t = static_cast<std::int64_t>(tokens::count_text(count, request.messages[i].content));
        if (t > longest_tokens) {
          longest = i;
          longest_tokens = t;
        }
      }
      if (longest_tokens <= 0) return error{over_message(fit.prompt_tokens, ", and no message has text to cut")};
      std::string const text = request.messages[longest].content;
      auto const n = text.size();
      // Keeps `keep` bytes at each end (snapped inward to character boundaries).
      auto cut = [&](std::size_t keep, std::int64_t& omitted) {
        std::size_t head = keep;
        while (head > 0 && head < n && f::continuation_byte(text[head])) --head;
        std::size_t tail = n - keep;
        while (tail < n && f::continuation_byte(text[tail])) ++tail;
        auto const head_text = std::string_view{text}.substr(0, head);
        auto const tail_text = std::string_view{text}.substr(tail);
        omitted = longest_tokens - static_cast<std::int64_t>(tokens::count_text(count, head_text)) -
                  static_cast<std::int64_t>(tokens::count_text(count, tail_text));
        if (omitted < 1) omitted = 1;
        auto candidate = request;
        candidate.messages[longest].content =
            fmt::format("{}\n[… {} tokens omitted …]\n{}", head_text, omitted, tail_text);
        return candidate;
      };
      std::int64_t omitted = 0;
      auto best = cut(0, omitted);
      auto best_tokens = tokens_of(best);
      auto best_omitted = omitted;
      if (best_tokens > fit.limit)
        return error{over_message(best_tokens, fmt::format(" even with all of messages[{}] cut", longest))};
      // The largest kept length that still fits; each candidate is counted, so
      // what is returned fits even where counts are not monotonic.
      std::size_t lo = 0;
      std::size_t hi = n > 0 ? (n - 1) / 2 : 0;  // at least one byte is cut
      while (lo < hi) {
        std::size_t const mid = lo + (hi - lo + 1) / 2;
        auto candidate = cut(mid, omitted);
        auto const t = tokens_of(candidate);
        if (t <= fit.limit) {
          lo = mid;
          best = std::move(candidate);
          best_tokens = t;
          best_omitted = omitted;
        } else {
          hi = mid - 1;
        }
      }
      fit.request = std::move(best);
      fit.prompt_tokens = best_tokens;
      fit.omitted_tokens = best_omitted;
      fit.what = fmt::format("cut {} tokens from the middle of messages[{}] to fit {}'s context window", best_omitted,
                             longest, model.name);
      return fit;
    }
  }
  return error{over_message(fit.prompt_tokens, "")};
}

}  // namespace medgate
