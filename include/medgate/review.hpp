// review.hpp — confidence read from a model's answer, and drafts held for a human reviewer when it is too low.
//
// An answer a model is unsure of should reach a clinician only after a person
// has looked at it. So the engine reads a confidence from each answer; below
// `threshold` the call ends `pending_review` and the draft waits in a
// `review_queue` until a reviewer approves, edits or rejects it. Every
// decision comes back as an event and becomes a new audit record
// (`audit_review_event`): the call's own record is never changed.
//
// Where the confidence comes from (`read_confidence`):
//  * the field: the answer (choices[0].message.content) is a JSON object, or
//    contains one in a ```json fence, with a member named `confidence_field`
//    (a dotted path such as "assessment.confidence" reaches into nested
//    objects). Only a finite number in [0, 1] counts: a string, a boolean,
//    a percentage like 85, are ignored rather than guessed at.
//  * the logprobs: with `use_logprobs`, when the response carries
//    choices[0].logprobs.content[].logprob, confidence = exp(mean logprob)
//    (the geometric mean of the token probabilities), clamped to [0, 1].
//    Entries without a numeric logprob are skipped.
// When both are present the LOWER is used (the safe choice for clinical
// use), and `source` names the one that gave it. When neither is, the value
// is absent and `missing_is_low` decides (by default: review).
//
// The queue never drops a held draft: when `max_pending` drafts wait, `hold`
// refuses the new one (the host then ends that call with an error rather than
// deliver an unreviewed answer). Decided ids are remembered (the most recent
// `max_pending` of them) so a second decision on the same draft is reported
// as "already decided" rather than "unknown". Reviewer ids and reject reason
// codes are pseudonymous identifiers (1 to 64 of A-Z a-z 0-9 . _ : -), never
// names; error messages never include a draft, a reviewer or an id.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit.hpp"
#include "field_error.hpp"
#include "openai/chat.hpp"
#include "result.hpp"
#include "time.hpp"

namespace medgate {

struct review_options {
  static constexpr std::size_t max_max_pending = 1'000'000;

  bool enabled = false;                         ///< off: every answer is delivered (confidence is still read)
  double threshold = 0.7;                       ///< below this -> pending_review; in [0, 1]
  std::string confidence_field = "confidence";  ///< JSON member (dotted path) in the model's answer text
  bool use_logprobs = true;        ///< choices[0].logprobs.content[].logprob present: confidence = exp(mean logprob)
  bool missing_is_low = true;      ///< no confidence found -> review (safe default for clinical use)
  std::size_t max_pending = 1000;  ///< drafts held at once, 1..max_max_pending; when full `hold` refuses new ones

  [[nodiscard]] validation validate() const {
    if (!(threshold >= 0.0 && threshold <= 1.0))  // also rejects NaN
      return invalid("threshold", "must be in [0, 1], got {}", threshold);
    if (confidence_field.empty() || confidence_field.front() == '.' || confidence_field.back() == '.' ||
        confidence_field.find("..") != std::string::npos)
      return invalid("confidence_field", "must be a member name or dotted path like \"a.b\", got \"{}\"",
                     confidence_field);
    if (max_pending < 1 || max_pending > max_max_pending)
      return invalid("max_pending", "must be in [1, {}], got {}", max_max_pending, max_pending);
    return std::nullopt;
  }
};

struct confidence_reading {
  std::optional<double> value;  ///< in [0, 1]; absent when none was found
  std::string source;           ///< "field confidence", "logprobs (57 tokens)", "none"
};

namespace detail {

/// The text of choices[0].message.content: a string, or the "text" parts of an array joined.
inline std::optional<std::string> answer_text(nlohmann::json const& body) {
  using openai::detail::member;
  if (!body.is_object()) return std::nullopt;
  auto const* choices = member(body, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return std::nullopt;
  auto const* message = member((*choices)[0], "message");
  if (message == nullptr || !message->is_object()) return std::nullopt;
  auto const* content = member(*message, "content");
  if (content == nullptr) return std::nullopt;
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) return std::nullopt;
  std::string text;
  for (auto const& part : *content)
    if (part.is_object())
      if (auto const* t = member(part, "text"); t != nullptr && t->is_string()) text += t->get<std::string>();
  return text;
}

/// The JSON object the answer is, or the first one in a ```json fence.
inline std::optional<nlohmann::json> answer_object(std::string_view text) {
  auto whole = openai::detail::parse_json(text, "answer");
  if (whole && whole->is_object()) return std::move(*whole);
  for (std::size_t from = 0;;) {
    auto const fence = text.find("```json", from);
    if (fence == std::string_view::npos) return std::nullopt;
    auto const start = text.find('\n', fence);
    if (start == std::string_view::npos) return std::nullopt;
    auto const end = text.find("```", start);
    if (end == std::string_view::npos) return std::nullopt;
    auto inner = openai::detail::parse_json(text.substr(start + 1, end - start - 1), "answer");
    if (inner && inner->is_object()) return std::move(*inner);
    from = end + 3;
  }
}

inline std::optional<double> confidence_field(nlohmann::json const& body, std::string_view path) {
  auto const text = answer_text(body);
  if (!text) return std::nullopt;
  auto const object = answer_object(*text);
  if (!object) return std::nullopt;
  nlohmann::json const* at = &*object;
  while (true) {
    auto const dot = path.find('.');
    if (!at->is_object()) return std::nullopt;
    at = openai::detail::member(*at, path.substr(0, dot));
    if (at == nullptr) return std::nullopt;
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  if (!at->is_number()) return std::nullopt;  // booleans are not numbers in nlohmann
  double const v = at->get<double>();
  if (!(v >= 0.0 && v <= 1.0)) return std::nullopt;
  return v;
}

/// exp(mean logprob) and the number of tokens it was taken over.
inline std::optional<std::pair<double, std::size_t>> logprob_confidence(nlohmann::json const& body) {
  using openai::detail::member;
  if (!body.is_object()) return std::nullopt;
  auto const* choices = member(body, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return std::nullopt;
  auto const* logprobs = member((*choices)[0], "logprobs");
  if (logprobs == nullptr || !logprobs->is_object()) return std::nullopt;
  auto const* content = member(*logprobs, "content");
  if (content == nullptr || !content->is_array()) return std::nullopt;
  double sum = 0.0;
  std::size_t tokens = 0;
  for (auto const& token : *content) {
    if (!token.is_object()) continue;
    auto const* lp = member(token, "logprob");
    if (lp == nullptr || !lp->is_number()) continue;
    double const v = lp->get<double>();
    if (!std::isfinite(v)) continue;
    sum += v;
    ++tokens;
  }
  if (tokens == 0) return std::nullopt;
  double const confidence = std::exp(sum / static_cast<double>(tokens));
  return std::pair{std::clamp(confidence, 0.0, 1.0), tokens};
}

}  // namespace detail

/// Reads the confidence of a response body (openai::chat_response::body). See the header comment.
inline confidence_reading read_confidence(nlohmann::json const& response_body, review_options const& o) {
  confidence_reading out{std::nullopt, "none"};
  if (auto const field = detail::confidence_field(response_body, o.confidence_field)) {
    out.value = *field;
    out.source = fmt::format("field {}", o.confidence_field);
  }
  if (o.use_logprobs) {
    if (auto const lp = detail::logprob_confidence(response_body); lp && (!out.value || lp->first < *out.value)) {
      out.value = lp->first;
      out.source = fmt::format("logprobs ({} tokens)", lp->second);
    }
  }
  return out;
}

/// Whether an answer with this reading must wait for a reviewer.
inline bool needs_review(confidence_reading const& reading, review_options const& o) noexcept {
  if (!o.enabled) return false;
  return reading.value ? *reading.value < o.threshold : o.missing_is_low;
}

enum class review_state : std::uint8_t { pending_review, approved, edited, rejected };

constexpr std::string_view to_string(review_state s) noexcept {
  switch (s) {
    case review_state::pending_review:
      return "pending_review";
    case review_state::approved:
      return "approved";
    case review_state::edited:
      return "edited";
    case review_state::rejected:
      return "rejected";
  }
  return "unknown";
}

namespace detail {
/// 1 to 64 of A-Z a-z 0-9 . _ : - (a pseudonymous id or a code, never free text).
constexpr bool is_review_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == ':' || c == '-'))
      return false;
  return true;
}
}  // namespace detail

/// Holds drafts awaiting a reviewer. `Id` must be ordered (operator<) and copyable.
template <class Draft, class Id = std::uint64_t>
class review_queue {
 public:
  struct decided {
    Id id;
    review_state state;
    Draft draft;  ///< the draft as held, or the replacement for `edited`
    std::string reviewer;
    instant at;
    std::string reason_code;  ///< for `rejected`; empty otherwise
    double confidence = 0;    ///< as held
    instant held_at{};
  };

  /// Options that do not validate are clamped (max_pending into [1, max]); validate first.
  explicit review_queue(review_options o = {}) { set_options(std::move(o)); }

  /// New settings (a config reload); the drafts held stay held, even above a smaller `max_pending`.
  void set_options(review_options o) {
    options_ = std::move(o);
    options_.max_pending = std::clamp<std::size_t>(options_.max_pending, 1, review_options::max_max_pending);
  }

  /// Holds `draft` for review. false (and nothing held) when `max_pending`
  /// drafts already wait, or when `id` is pending or was recently decided.
  bool hold(Id id, Draft draft, double confidence, instant now) {
    if (held_.size() >= options_.max_pending || held_.contains(id) || decided_ids_.contains(id)) return false;
    held_.emplace(std::move(id), entry{std::move(draft), confidence, now, next_order_++});
    return true;
  }

  result<decided> approve(Id id, std::string reviewer, instant now) {
    return decide(std::move(id), review_state::approved, std::move(reviewer), std::nullopt, {}, now);
  }
  result<decided> edit(Id id, std::string reviewer, Draft replacement, instant now) {
    return decide(std::move(id), review_state::edited, std::move(reviewer), std::move(replacement), {}, now);
  }
  result<decided> reject(Id id, std::string reviewer, std::string reason_code, instant now) {
    if (!detail::is_review_identifier(reason_code))
      return error{"reason_code must be a code of 1 to 64 letters, digits, '.', '_', ':' or '-'"};
    return decide(std::move(id), review_state::rejected, std::move(reviewer), std::nullopt, std::move(reason_code),
                  now);
  }

  /// The held draft, for showing to a reviewer; nullptr when not pending.
  [[nodiscard]] Draft const* draft(Id const& id) const {
    auto const it = held_.find(id);
    return it == held_.end() ? nullptr : &it->second.draft;
  }

  /// Pending ids, oldest held first.
  [[nodiscard]] std::vector<Id> pending() const {
    std::vector<std::pair<std::uint64_t, Id>> ordered;
    ordered.reserve(held_.size());
    for (auto const& [id, e] : held_) ordered.emplace_back(e.order, id);
    std::sort(ordered.begin(), ordered.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
    std::vector<Id> out;
    out.reserve(ordered.size());
    for (auto& [order, id] : ordered) out.push_back(std::move(id));
    return out;
  }

  [[nodiscard]] std::size_t size() const noexcept { return held_.size(); }
  [[nodiscard]] review_options const& options() const noexcept { return options_; }

 private:
  struct entry {
    Draft draft;
    double confidence;
    instant held_at;
    std::uint64_t order;
  };

  result<decided> decide(Id id, review_state state, std::string reviewer, std::optional<Draft> replacement,
                         std::string reason_code, instant now) {
    if (!detail::is_review_identifier(reviewer))
      return error{"reviewer must be a pseudonymous id of 1 to 64 letters, digits, '.', '_', ':' or '-'"};
    auto it = held_.find(id);
    if (it == held_.end())
      return error{decided_ids_.contains(id) ? "this draft was already decided" : "no pending draft with this id"};
    entry e = std::move(it->second);
    held_.erase(it);
    remember(id);
    return decided{std::move(id),       state,    replacement ? std::move(*replacement) : std::move(e.draft),
                   std::move(reviewer), now,      std::move(reason_code),
                   e.confidence,        e.held_at};
  }

  void remember(Id const& id) {
    decided_order_.push_back(id);
    decided_ids_.insert(id);
    if (decided_order_.size() > options_.max_pending) {
      decided_ids_.erase(decided_order_.front());
      decided_order_.pop_front();
    }
  }

  review_options options_;
  std::map<Id, entry> held_;
  std::uint64_t next_order_ = 0;
  std::deque<Id> decided_order_;  // recent decisions, oldest first
  std::set<Id> decided_ids_;
};

/// The audit record of a reviewer's decision on a call's held draft: a NEW
/// record (the log is append-only) with the call's request_id, tenant, hashes
/// and route, review and outcome "review:<state>", the reviewer's id, and the
/// answer_hash of the draft as decided (the replacement's for `edited`; pass
/// "" to keep the call's). Attempts, tokens and cost are not repeated. Seal
/// it with the same `audit_chain` as the call's record.
inline audit_record audit_review_event(audit_record const& call, review_state state, std::string_view reviewer,
                                       std::string_view reason_code, std::int64_t decided_unix_ms,
                                       std::string_view answer_hash = {}) {
  audit_record r;
  r.request_id = call.request_id;
  r.submitted_unix_ms = call.submitted_unix_ms;
  r.finished_unix_ms = decided_unix_ms;
  r.tenant = call.tenant;
  r.patient_key_hash = call.patient_key_hash;
  r.prompt_hash = call.prompt_hash;
  r.route = call.route;
  r.priority = call.priority;
  r.canary_arm = call.canary_arm;
  r.provider = call.provider;
  r.model = call.model;
  r.confidence = call.confidence;
  r.review = std::string{to_string(state)};
  r.reviewer = detail::is_review_identifier(reviewer) ? std::string{reviewer} : std::string{};
  r.answer_hash = answer_hash.empty() ? call.answer_hash : std::string{answer_hash};
  r.outcome = fmt::format("review:{}", to_string(state));
  r.decisions.push_back(fmt::format("review: {} after sequence {}", to_string(state), call.sequence));
  if (!reason_code.empty() && detail::is_review_identifier(reason_code))
    r.decisions.push_back(fmt::format("review: reason {}", reason_code));
  return r;
}

}  // namespace medgate
