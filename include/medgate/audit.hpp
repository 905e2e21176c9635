// audit.hpp — one hash-chained audit record per call, with no patient data in it, and the verifier of the chain.
//
// Clinical software must be able to show, afterwards, what happened to every
// call: who asked, which providers were tried, what the policies decided, who
// answered, what it cost, whether a human reviewed the answer. It must also
// be able to show that nobody edited, removed or slipped in a record since.
// So every call ends in one `audit_record`, and records form a hash chain:
// each carries the hash of the one before it, and a verifier names the first
// record that does not fit.
//
// No PHI. A record holds identifiers and hashes only: the patient key as a
// keyed hash (the host's HMAC; never the key), the request body and the
// delivered answer as SHA-256 hashes (never the text), and the engine's
// decision texts, which never quote content. `audit_chain::append` drops a
// `patient_key_hash`, `prompt_hash` or `answer_hash` that is not a lowercase
// hex hash (noting so in `decisions`), so a host that passes a raw key by
// mistake does not write it to the log.
//
// Canonical form. A record is written as one line of JSON with a fixed key
// order, no whitespace, and no newline (control characters are escaped):
//   {"v":1,"sequence":…,"request_id":…,…,"previous_hash":"…","hash":"…"}
// Strings are written as UTF-8 with only `"`, `\` and the control characters
// escaped (invalid UTF-8 becomes U+FFFD); integers in decimal; doubles in the
// shortest form that reads back as the same double ({fmt}'s, identical on
// every platform); absent optionals as null. Every key is always present.
//
// The hash. `hash` = lowercase hex SHA-256 of the canonical line without its
// `"hash"` member, i.e. of the line's bytes up to `,"hash":` followed by `}`.
// That text includes `previous_hash` and `sequence`, so each hash commits to
// the whole chain before it. The first record of a chain has sequence 1 and
// previous_hash = 64 zeros (`audit_zero_hash`); a chain may also continue
// another (a rotated file) from that file's head and next sequence.
//
// Verification, line by line: the line must parse, have exactly the fields
// above with the right types, be byte-for-byte the canonical form of what it
// parses to (so no byte can change without changing the record), have a hash
// that matches its contents, the next sequence number, and the previous
// line's hash as previous_hash. The first line that fails is reported with
// its number (1-based) and the problem; nothing after it is trusted. Hence
// any change to a single byte is reported on the line that holds the byte
// (a changed newline, on the line it ends); a removed record at the line
// where it is missing (a sequence gap); reordered or inserted records at the
// first line out of place. The final line's newline is optional: a last line
// without one that is a complete, valid record is accepted (the record is
// intact); one that is not is reported as "truncated final line" (a write cut
// short by a crash). Removing whole records from the END cannot be seen from
// the file alone — the chain before them is intact — so the verifier reports
// the head hash and record count, for comparison with a copy kept elsewhere.
//
// Review decisions never change a record (the log is append-only): a
// reviewer's approve / edit / reject is a NEW record with the same request_id
// and outcome "review:approved" etc. (see review.hpp, `audit_review_event`).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hash.hpp"
#include "openai/chat.hpp"
#include "result.hpp"
#include "time.hpp"

namespace medgate {

/// previous_hash of the first record of a chain.
inline constexpr std::string_view audit_zero_hash = "0000000000000000000000000000000000000000000000000000000000000000";

/// The version written as "v"; a reader refuses other versions.
inline constexpr std::int64_t audit_format_version = 1;

/// One attempt of a call (an HTTP request to one provider).
struct audit_attempt {
  std::uint32_t number = 0;     ///< 1, 2, 3 ... within the call
  std::string provider, model;  ///< where it was sent
  std::int64_t started_us = 0;  ///< monotonic µs (the host's steady clock), for durations
  std::int64_t ended_us = 0;    ///< monotonic µs
  std::string verdict;          ///< how it ended: "ok", "timeout", "rate_limited" ... (never content)
  bool hedge = false;           ///< a hedged (second, parallel) attempt

  friend bool operator==(audit_attempt const&, audit_attempt const&) = default;
};

struct audit_record {
  std::uint64_t sequence = 0;  ///< 1, 2, 3 ... within a chain (set by audit_chain::append)
  std::string request_id;      ///< host-assigned id (e.g. "call-17" or the gateway's request id)
  std::int64_t submitted_unix_ms = 0, finished_unix_ms = 0;  ///< wall time (UTC, ms since the Unix epoch)
  std::string tenant;
  std::string patient_key_hash;  ///< keyed hash hex (never the raw key); empty when no patient key
  std::string prompt_hash;       ///< sha256 hex of the request body as sent (never the prompt)
  std::string route;             ///< the model/alias asked for
  std::string priority;          ///< urgent / normal / batch
  std::string canary_arm;        ///< "control" / "canary" / "" when no canary
  std::string idempotency;       ///< "" / "lead" / "join" / "cached"
  std::vector<audit_attempt> attempts;
  std::vector<std::string> decisions;  ///< the engine's decision texts (retries, fallbacks, hedges, waits, skips)
  std::string provider, model;         ///< who answered; empty on failure
  std::optional<std::int64_t> prompt_tokens, completion_tokens;
  std::optional<double> cost_usd;
  std::optional<double> confidence;
  std::string review;         ///< "" / "pending_review" / "approved" / "edited" / "rejected"
  std::string reviewer;       ///< pseudonymous reviewer id, on review events; "" otherwise
  std::string answer_hash;    ///< sha256 hex of the delivered (or reviewed) answer text; "" when none
  std::string outcome;        ///< "ok", an error code, or "review:approved" / "review:edited" / "review:rejected"
  std::string previous_hash;  ///< hex sha256 of the previous record's canonical line; 64 zeros for the first
  std::string hash;           ///< hex sha256 over this record's canonical form without `hash`

  friend bool operator==(audit_record const&, audit_record const&) = default;
};

namespace detail {

inline bool is_lower_hex(std::string_view s) noexcept {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

/// A SHA-256 in hex: exactly 64 lowercase hex digits.
inline bool is_sha256_hex(std::string_view s) noexcept { return s.size() == 64 && is_lower_hex(s); }

/// A keyed hash in hex: 16 to 128 lowercase hex digits, an even number (SipHash to HMAC-SHA-512).
inline bool is_keyed_hash_hex(std::string_view s) noexcept {
  return s.size() >= 16 && s.size() <= 128 && s.size() % 2 == 0 && is_lower_hex(s);
}

/// `s` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
inline std::string valid_utf8(std::string_view s) {
  std::string out;
  while (auto bad = openai::detail::first_invalid_utf8(s)) {
    out.append(s.substr(0, *bad));
    out.append("\xEF\xBF\xBD");
    s.remove_prefix(*bad + 1);
  }
  out.append(s);
  return out;
}

inline void append_json_string(std::string& out, std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string const text = valid_utf8(raw);
  out.push_back('"');
  for (char c : text) {
    auto const u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (u < 0x20) {
          out.append("\\u00");
          out.push_back(digits[u >> 4]);
          out.push_back(digits[u & 0x0f]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

/// Shortest round-trip form; -0 as 0; non-finite (not representable in JSON) as null.
inline void append_json_double(std::string& out, std::optional<double> v) {
  if (!v || !std::isfinite(*v)) {
    out.append("null");
  } else if (*v == 0.0) {
    out.push_back('0');
  } else {
    out.append(fmt::format("{}", *v));
  }
}

inline void append_json_integer(std::string& out, std::optional<std::int64_t> v) {
  out.append(v ? fmt::format("{}", *v) : std::string{"null"});
}

/// The canonical line up to (not including) the "hash" member and the closing brace.
inline std::string audit_body(audit_record const& r) {
  std::string out;
  out.reserve(512 + 128 * r.attempts.size());
  auto key = [&](std::string_view name) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    out.append(name);
    out.append("\":");
  };
  auto text = [&](std::string_view name, std::string_view value) {
    key(name);
    append_json_string(out, value);
  };
  out.push_back('{');
  key("v");
  out.append(fmt::format("{}", audit_format_version));
  key("sequence");
  out.append(fmt::format("{}", r.sequence));
  text("request_id", r.request_id);
  key("submitted_unix_ms");
  append_json_integer(out, r.submitted_unix_ms);
  key("finished_unix_ms");
  append_json_integer(out, r.finished_unix_ms);
  text("tenant", r.tenant);
  text("patient_key_hash", r.patient_key_hash);
  text("prompt_hash", r.prompt_hash);
  text("route", r.route);
  text("priority", r.priority);
  text("canary_arm", r.canary_arm);
  text("idempotency", r.idempotency);
  key("attempts");
  out.push_back('[');
  for (std::size_t i = 0; i < r.attempts.size(); ++i) {
    auto const& a = r.attempts[i];
    if (i > 0) out.push_back(',');
    out.append(fmt::format("{{\"number\":{},\"provider\":", a.number));
    append_json_string(out, a.provider);
    out.append(",\"model\":");
    append_json_string(out, a.model);
    out.append(fmt::format(",\"started_us\":{},\"ended_us\":{},\"verdict\":", a.started_us, a.ended_us));
    append_json_string(out, a.verdict);
    out.append(a.hedge ? ",\"hedge\":true}" : ",\"hedge\":false}");
  }
  out.push_back(']');
  key("decisions");
  out.push_back('[');
  for (std::size_t i = 0; i < r.decisions.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_json_string(out, r.decisions[i]);
  }
  out.push_back(']');
  text("provider", r.provider);
  text("model", r.model);
  key("prompt_tokens");
  append_json_integer(out, r.prompt_tokens);
  key("completion_tokens");
  append_json_integer(out, r.completion_tokens);
  key("cost_usd");
  append_json_double(out, r.cost_usd);
  key("confidence");
  append_json_double(out, r.confidence);
  text("review", r.review);
  text("reviewer", r.reviewer);
  text("answer_hash", r.answer_hash);
  text("outcome", r.outcome);
  text("previous_hash", r.previous_hash);
  return out;
}

}  // namespace detail

/// The hash a record should carry: hex SHA-256 of its canonical line without
/// the "hash" member (`r.hash` itself is ignored).
inline std::string audit_record_hash(audit_record const& r) {
  std::string body = detail::audit_body(r);
  body.push_back('}');
  return to_hex(sha256_digest(body));
}

/// The canonical line (no trailing newline), with `r.hash` as it is (not recomputed).
inline std::string to_json_line(audit_record const& r) {
  std::string line = detail::audit_body(r);
  line.append(",\"hash\":");
  detail::append_json_string(line, r.hash);
  line.push_back('}');
  return line;
}

namespace detail {

/// Reads the fields of one parsed line. Errors name the field, never a value
/// (an audit line has no PHI by construction, but a tampered one might).
class audit_reader {
 public:
  using json = nlohmann::json;

  std::optional<std::string> problem;

  json const* get(json const& object, std::string_view path, std::string_view name) {
    if (problem) return nullptr;
    auto const it = object.find(name);
    if (it == object.end()) {
      problem = fmt::format("missing field {}{}", path, name);
      return nullptr;
    }
    return &*it;
  }

  void fail(std::string_view path, std::string_view name, std::string_view expected) {
    if (!problem) problem = fmt::format("field {}{} must be {}", path, name, expected);
  }

  std::string text(json const& object, std::string_view path, std::string_view name) {
    json const* v = get(object, path, name);
    if (v == nullptr) return {};
    if (!v->is_string()) {
      fail(path, name, "a string");
      return {};
    }
    return v->get<std::string>();
  }

  std::string hash_text(json const& object, std::string_view name, bool (*well_formed)(std::string_view) noexcept,
                        bool may_be_empty, std::string_view expected) {
    std::string s = text(object, "", name);
    if (!problem && !(may_be_empty && s.empty()) && !well_formed(s)) fail("", name, expected);
    return s;
  }

  std::optional<std::int64_t> integer(json const& object, std::string_view path, std::string_view name, bool nullable) {
    json const* v = get(object, path, name);
    if (v == nullptr) return std::nullopt;
    if (nullable && v->is_null()) return std::nullopt;
    if (v->is_number_unsigned()) {
      auto const u = v->get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(u);
    } else if (v->is_number_integer()) {
      return v->get<std::int64_t>();
    }
    fail(path, name, nullable ? "a 64-bit integer or null" : "a 64-bit integer");
    return std::nullopt;
  }

  std::optional<double> number(json const& object, std::string_view name) {
    json const* v = get(object, "", name);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->is_number_float()) return v->get<double>();
    if (v->is_number_unsigned()) return static_cast<double>(v->get<std::uint64_t>());
    if (v->is_number_integer()) return static_cast<double>(v->get<std::int64_t>());
    fail("", name, "a number or null");
    return std::nullopt;
  }

  bool boolean(json const& object, std::string_view path, std::string_view name) {
    json const* v = get(object, path, name);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      fail(path, name, "true or false");
      return false;
    }
    return v->get<bool>();
  }

  json const* array(json const& object, std::string_view name) {
    json const* v = get(object, "", name);
    if (v != nullptr && !v->is_array()) {
      fail("", name, "an array");
      return nullptr;
    }
    return v;
  }

  /// Refuses members other than `expected` (a tampered line could add one).
  void only(json const& object, std::string_view path, std::initializer_list<std::string_view> expected) {
    if (problem) return;
    std::size_t index = 0;
    for (auto const& [name, value] : object.items()) {
      bool known = false;
      for (auto e : expected) known = known || e == name;
      if (!known) {
        problem = fmt::format("{} has an unexpected field (its member {} in sorted order)",
                              path.empty() ? "record" : path, index + 1);
        return;
      }
      ++index;
    }
  }
};

}  // namespace detail

/// Reads one line (without its newline). Errors say which field is wrong. This
/// checks the format only (types, hash shapes); whether the line is canonical,
/// its hash right and its place in the chain is the verifier's business.
inline result<audit_record> parse_audit_line(std::string_view line) {
  using json = nlohmann::json;
  auto parsed = openai::detail::parse_json(line, "record");
  if (!parsed) return error{parsed.error_message()};
  json const& o = *parsed;
  if (!o.is_object()) return error{"record must be a JSON object"};
  detail::audit_reader in;
  in.only(o, "",
          {"v",
           "sequence",
           "request_id",
           "submitted_unix_ms",
           "finished_unix_ms",
           "tenant",
           "patient_key_hash",
           "prompt_hash",
           "route",
           "priority",
           "canary_arm",
           "idempotency",
           "attempts",
           "decisions",
           "provider",
           "model",
           "prompt_tokens",
           "completion_tokens",
           "cost_usd",
           "confidence",
           "review",
           "reviewer",
           "answer_hash",
           "outcome",
           "previous_hash",
           "hash"});
  if (in.problem) return error{*in.problem};
  audit_record r;
  auto const version = in.integer(o, "", "v", false);
  if (!in.problem && version != audit_format_version)
    return error{fmt::format("field v must be {} (this reader's format version)", audit_format_version)};
  if (json const* s = in.get(o, "", "sequence")) {
    if (!s->is_number_unsigned() || s->get<std::uint64_t>() == 0)
      in.fail("", "sequence", "a positive integer");
    else
      r.sequence = s->get<std::uint64_t>();
  }
  r.request_id = in.text(o, "", "request_id");
  r.submitted_unix_ms = in.integer(o, "", "submitted_unix_ms", false).value_or(0);
  r.finished_unix_ms = in.integer(o, "", "finished_unix_ms", false).value_or(0);
  r.tenant = in.text(o, "", "tenant");
  r.patient_key_hash = in.hash_text(o, "patient_key_hash", detail::is_keyed_hash_hex, true,
                                    "\"\" or a keyed hash (16 to 128 lowercase hex digits)");
  r.prompt_hash = in.hash_text(o, "prompt_hash", detail::is_sha256_hex, true, "\"\" or 64 lowercase hex digits");
  r.route = in.text(o, "", "route");
  r.priority = in.text(o, "", "priority");
  r.canary_arm = in.text(o, "", "canary_arm");
  r.idempotency = in.text(o, "", "idempotency");
  if (json const* attempts = in.array(o, "attempts")) {
    for (std::size_t i = 0; i < attempts->size() && !in.problem; ++i) {
      json const& a = (*attempts)[i];
      std::string const path = fmt::format("attempts[{}].", i);
      if (!a.is_object()) {
        in.problem = fmt::format("field attempts[{}] must be an object", i);
        break;
      }
      in.only(a, path.substr(0, path.size() - 1),
              {"number", "provider", "model", "started_us", "ended_us", "verdict", "hedge"});
      audit_attempt attempt;
      if (json const* n = in.get(a, path, "number")) {
        if (!n->is_number_unsigned() || n->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max())
          in.fail(path, "number", "an integer from 0 to 4294967295");
        else
          attempt.number = static_cast<std::uint32_t>(n->get<std::uint64_t>());
      }
      attempt.provider = in.text(a, path, "provider");
      attempt.model = in.text(a, path, "model");
      attempt.started_us = in.integer(a, path, "started_us", false).value_or(0);
      attempt.ended_us = in.integer(a, path, "ended_us", false).value_or(0);
      attempt.verdict = in.text(a, path, "verdict");
      attempt.hedge = in.boolean(a, path, "hedge");
      r.attempts.push_back(std::move(attempt));
    }
  }
  if (json const* decisions = in.array(o, "decisions")) {
    for (std::size_t i = 0; i < decisions->size() && !in.problem; ++i) {
      if (!(*decisions)[i].is_string())
        in.problem = fmt::format("field decisions[{}] must be a string", i);
      else
        r.decisions.push_back((*decisions)[i].get<std::string>());
    }
  }
  r.provider = in.text(o, "", "provider");
  r.model = in.text(o, "", "model");
  r.prompt_tokens = in.integer(o, "", "prompt_tokens", true);
  r.completion_tokens = in.integer(o, "", "completion_tokens", true);
  r.cost_usd = in.number(o, "cost_usd");
  r.confidence = in.number(o, "confidence");
  r.review = in.text(o, "", "review");
  r.reviewer = in.text(o, "", "reviewer");
  r.answer_hash = in.hash_text(o, "answer_hash", detail::is_sha256_hex, true, "\"\" or 64 lowercase hex digits");
  r.outcome = in.text(o, "", "outcome");
  r.previous_hash = in.hash_text(o, "previous_hash", detail::is_sha256_hex, false, "64 lowercase hex digits");
  r.hash = in.hash_text(o, "hash", detail::is_sha256_hex, false, "64 lowercase hex digits");
  if (in.problem) return error{*in.problem};
  return r;
}

/// Seals records into a chain. A value type holding only the head and the
/// next sequence number, so a host can persist and resume it (audit_log does,
/// from the last line of its file). Append-only: nothing is ever rewritten.
class audit_chain {
 public:
  /// A new chain (the defaults), or one that continues a log whose last record
  /// has hash `previous_hash` and sequence `next_sequence - 1`. Both are taken
  /// as given; a head that is not 64 lowercase hex digits, or a sequence of 0,
  /// makes records the verifier refuses, so resume only from a verified log.
  explicit audit_chain(std::string previous_hash = std::string{audit_zero_hash}, std::uint64_t next_sequence = 1)
      : head_{std::move(previous_hash)}, next_sequence_{next_sequence} {}

  /// Seals `r` and returns the sealed record (by value: the chain keeps only
  /// its head). Sets sequence, previous_hash and hash, and normalizes what
  /// the canonical line could not carry, so that
  /// `parse_audit_line(to_json_line(sealed)) == sealed`: invalid UTF-8 becomes
  /// U+FFFD, a non-finite cost or confidence becomes absent, -0 becomes 0.
  /// A patient_key_hash, prompt_hash or answer_hash that is not a hex hash of
  /// the right length is dropped (it might be a raw key or text) and the drop
  /// is noted in `decisions`.
  audit_record append(audit_record r) {
    normalize(r);
    r.sequence = next_sequence_;
    r.previous_hash = head_;
    r.hash = audit_record_hash(r);
    head_ = r.hash;
    next_sequence_ = next_sequence_ + 1;
    return r;
  }

  /// Hash of the last record sealed (the `previous_hash` the next one gets).
  [[nodiscard]] std::string const& head() const noexcept { return head_; }
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_sequence_; }

 private:
  static void normalize(audit_record& r) {
    auto drop_unless = [&](std::string& field, std::string_view name, bool well_formed) {
      if (field.empty() || well_formed) return;
      field.clear();
      r.decisions.push_back(fmt::format("audit: {} dropped: not a lowercase hex hash", name));
    };
    drop_unless(r.patient_key_hash, "patient_key_hash", detail::is_keyed_hash_hex(r.patient_key_hash));
    drop_unless(r.prompt_hash, "prompt_hash", detail::is_sha256_hex(r.prompt_hash));
    drop_unless(r.answer_hash, "answer_hash", detail::is_sha256_hex(r.answer_hash));
    for (std::string* s : {&r.request_id, &r.tenant, &r.route, &r.priority, &r.canary_arm, &r.idempotency, &r.provider,
                           &r.model, &r.review, &r.reviewer, &r.outcome})
      *s = detail::valid_utf8(*s);
    for (auto& d : r.decisions) d = detail::valid_utf8(d);
    for (auto& a : r.attempts) {
      a.provider = detail::valid_utf8(a.provider);
      a.model = detail::valid_utf8(a.model);
      a.verdict = detail::valid_utf8(a.verdict);
    }
    for (std::optional<double>* v : {&r.cost_usd, &r.confidence}) {
      if (*v && !std::isfinite(**v)) v->reset();
      if (*v && **v == 0.0) *v = 0.0;  // -0 → 0
    }
  }

  std::string head_;
  std::uint64_t next_sequence_;
};

struct audit_verification {
  bool ok = true;
  std::uint64_t records = 0;                    ///< valid records before the first problem (all of them when ok)
  std::optional<std::uint64_t> first_bad_line;  ///< 1-based
  std::string problem;                          ///< what is wrong with that line; empty when ok
  std::string head;                             ///< hash of the last valid record (the anchor when there is none)
  std::uint64_t next_sequence = 1;              ///< sequence the next record would need
};

/// Incremental verifier for large files: feed lines (without their '\n') one
/// by one. After the first problem it ignores further lines.
class audit_verifier {
 public:
  /// `previous_hash` and `first_sequence` anchor the first line: the defaults
  /// for a log that starts a chain, or another file's head to check a log
  /// that continues it.
  explicit audit_verifier(std::string previous_hash = std::string{audit_zero_hash}, std::uint64_t first_sequence = 1) {
    state_.head = std::move(previous_hash);
    state_.next_sequence = first_sequence;
  }

  /// Checks the next line. `terminated` is false only for bytes after the
  /// last '\n' of a file (a final line without a newline): one that is not a
  /// complete record is reported as a truncated final line. Returns false
  /// once a problem has been found.
  bool feed(std::string_view line, bool terminated = true) {
    if (!state_.ok) return false;
    ++lines_;
    if (auto problem = check(line, terminated)) {
      state_.ok = false;
      state_.first_bad_line = lines_;
      state_.problem = std::move(*problem);
      return false;
    }
    return true;
  }

  [[nodiscard]] audit_verification const& result() const noexcept { return state_; }
  [[nodiscard]] std::uint64_t lines() const noexcept { return lines_; }

 private:
  std::optional<std::string> check(std::string_view line, bool terminated) {
    if (line.empty()) return std::string{"empty line (every line must be one record)"};
    auto parsed = parse_audit_line(line);
    if (!parsed) {
      if (!terminated && parsed.error_message().find("unexpected end of input") != std::string::npos)
        return fmt::format(
            "truncated final line: the last record is incomplete (no newline, {} bytes); "
            "the write was cut short",
            line.size());
      return parsed.error_message();
    }
    audit_record const& r = *parsed;
    std::string const canonical = to_json_line(r);
    if (canonical != line) {
      std::size_t at = 0;
      while (at < canonical.size() && at < line.size() && canonical[at] == line[at]) ++at;
      return fmt::format("not in canonical form (differs at byte {}): the line was edited", at);
    }
    if (audit_record_hash(r) != r.hash)
      return std::string{"hash does not match the record's contents: the record was altered"};
    if (r.sequence != state_.next_sequence) {
      if (r.sequence > state_.next_sequence)
        return r.sequence - state_.next_sequence == 1
                   ? fmt::format("sequence {} where {} was expected: record {} is missing", r.sequence,
                                 state_.next_sequence, state_.next_sequence)
                   : fmt::format("sequence {} where {} was expected: records {} to {} are missing", r.sequence,
                                 state_.next_sequence, state_.next_sequence, r.sequence - 1);
      return fmt::format("sequence {} where {} was expected: a record is repeated or out of order", r.sequence,
                         state_.next_sequence);
    }
    if (r.previous_hash != state_.head)
      return lines_ == 1 ? std::string{"previous_hash does not match the chain's anchor (the start of the log is "
                                       "missing, or it continues another log)"}
                         : fmt::format("previous_hash does not match the hash of line {}: a record before this one "
                                       "was replaced",
                                       lines_ - 1);
    state_.head = r.hash;
    state_.next_sequence = r.sequence + 1;
    ++state_.records;
    return std::nullopt;
  }

  audit_verification state_;
  std::uint64_t lines_ = 0;
};

/// Verifies a whole JSONL log (lines separated by '\n'; a trailing newline is fine).
inline audit_verification verify_audit_log(std::string_view text,
                                           std::string previous_hash = std::string{audit_zero_hash},
                                           std::uint64_t first_sequence = 1) {
  audit_verifier verifier{std::move(previous_hash), first_sequence};
  while (!text.empty()) {
    auto const newline = text.find('\n');
    if (newline == std::string_view::npos) {
      verifier.feed(text, false);
      break;
    }
    if (!verifier.feed(text.substr(0, newline))) break;
    text.remove_prefix(newline + 1);
  }
  return verifier.result();
}

}  // namespace medgate
