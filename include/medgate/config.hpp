// config.hpp — the JSON configuration: schema, defaults, validation with named errors.
//
// Resilience settings for clinical traffic are written and reviewed by people,
// so a mistake must stop the load with a message naming the JSON path the user
// wrote, never fall back silently to a default. Hence: unknown fields are
// errors (with a "did you mean" hint), a field written twice is an error, types
// and integer ranges are checked exactly, and the option structs' own
// validate() runs last with their C++ field names translated back to the JSON
// names. Secrets never belong in this file: a field named like a key is
// refused, and an error message quotes a value only when it cannot be a
// credential. Objects are parsed with nlohmann::ordered_json so routes keep the
// order they were written in, and to_json() writes that order back.
//
// Schema (every field optional except `providers`; durations are milliseconds,
// integer or decimal, in fields ending in `_ms`; enums are lower-case strings;
// a key starting with "//" is a comment and is ignored, in any object):
//
//   {
//     "providers": [                       required, non-empty; order = fallback order for un-routed models
//       {"name": "primary",                 required, unique, no "/"
//        "base_url": "https://host/v1",     required, http:// or https://, no credentials, query or fragment
//        "api_key_env": "OPENAI_API_KEY",   the environment variable holding the key (never the key itself)
//        "api_key_file": "/run/secrets/k",  or a file holding it (trimmed; re-read when it changes); not both
//        "models": ["gpt-4o-mini"],         [] = any model
//        "connect_timeout_ms": 2000, "attempt_timeout_ms": 30000,
//        "breaker": {"consecutive_failures": 5, "window": "count_based" | "time_based",
//                    "window_size": 20, "minimum_calls": 10, "failure_rate_threshold": 50,
//                    "slow_call_rate_threshold": 100, "slow_call_duration_ms": 10000,
//                    "open_duration_ms": 30000, "open_duration_multiplier": 1.0,
//                    "max_open_duration_ms": 300000, "half_open_probes": 3,
//                    "half_open_successes": 3, "half_open_probe_timeout_ms": 60000},
//        "rate_limit": {"requests_per_minute": 0, "tokens_per_minute": 0,   0 = unlimited
//                       "burst_ms": 1000, "token_burst_ms": 60000, "normal_share": 0.9, "batch_share": 0.5},
//        "concurrency": {"max_concurrent": 0, "adaptive": false, "initial_limit": 20, "min_limit": 1,
//                        "max_limit": 200, "backoff_ratio": 0.9, "latency_threshold_ms": 5000},
//        "health": {"window_ms": 300000, "long_window_ms": 3600000, "sla_tier": "",
//                   "tiers": [{"name": "standard", "availability": 0.995, "p95_ms": 200}, ...],
//                   "probe_interval_ms": 0, "probe_timeout_ms": 10000, "probes_count_in_availability": true,
//                   "relative_accuracy": 0.01, "max_buckets": 2048}}],
//     "routes": {"clinical-summary": ["primary/gpt-4o-mini", "fallback/gpt-4o-mini"],
//                                          alias -> chain of "provider/model" (split at the first "/")
//                "discharge": {"chain": [...], "canary": {"chain": [...], "percent": 5,
//                              "ramp": [{"at_ms": 3600000, "percent": 10}], "by_study_type": false,
//                              "rollback": {"enabled": true, "window_ms": 300000, "min_calls": 30,
//                                           "margin": 0.05, "z": 2.33}}}},
//                                          a route with a patient-sticky canary arm (ramp times count
//                                          from the route's first call)
//     "retry": {"max_attempts_per_target": 3, "max_retry_after_ms": 30000,
//               "backoff": {"kind": "constant" | "linear" | "exponential", "base_ms": 250,
//                           "multiplier": 2, "step_ms": 250, "cap_ms": 20000,
//                           "jitter": "none" | "full" | "equal" | "decorrelated"},
//               "budget": {"ttl_ms": 10000, "min_retries_per_second": 10, "retry_ratio": 0.2}},
//     "deadlines": {"timeout_ms": 30000, "attempt_timeout_ms": 10000, "min_attempt_time_ms": 50},
//     "hedge": {"enabled": false, "percentile": 0.95, "min_delay_ms": 50, "max_delay_ms": 10000,
//               "min_samples": 20, "max_extra_ratio": 0.1, "same_target": false,
//               "budget_window_ms": 10000, "min_hedges_per_second": 0},
//     "idempotency": {"enabled": true, "derive_keys": true, "ttl_ms": 600000, "max_entries": 10000,
//                     "max_key_bytes": 256},
//     "review": {"enabled": false, "threshold": 0.7, "confidence_field": "confidence",
//                "use_logprobs": true, "missing_is_low": true, "max_pending": 1000},
//     "models": {"gpt-4.1": {"input_usd_per_million": 2.0},   change a built-in model (tokens/models.hpp)
//                "my-llama": {"encoding": "cl100k_base", "context_window": 8192, "max_output_tokens": 2048,
//                             "input_usd_per_million": 0.1, "output_usd_per_million": 0.2,
//                             "format": "openai" | "deepseek" | "anthropic" | "gemini" | "llama3",
//                             "exact_tokenizer": false}},
//                                          or add one (a new model must set context_window)
//     "budgets": {"per_call": {"max_tokens": 32000, "max_usd": 0.50},    absent = no cap
//                 "tenants": {"cardiology": {"daily_usd": 200, "daily_tokens": 50000000}},
//                 "default": {"daily_usd": 20}},
//                                          per UTC day; "default" applies to each tenant not listed;
//                                          an absent limit is no limit
//     "context": {"policy": "refuse" | "drop_oldest" | "cut_middle"},    a prompt too long for the window
//     "phi": {"enabled": false, "modes": {"NAME": "pseudonymize", "DATE": "shift", "AGE": "generalize", ...},
//             "max_shift_days": 365,       the protect step (phi/protect.hpp): per category (NAME, LOCATION,
//                                          ZIP, DATE, AGE, PHONE, FAX, EMAIL, SSN, MRN, ACCOUNT, LICENSE,
//                                          VEHICLE, DEVICE, URL, IP, ID) redact | pseudonymize | shift |
//                                          generalize | keep; "redact" when not set
//             "fields": {"$.metadata.insurance.member_id": "ACCOUNT"}, "fields_by_name": true},
//                                          structured fields by JSON path (phi/fields.hpp); by name: the
//                                          known identifier keys of `metadata` ("patient_name", "dob",
//                                          "mrn", ...) and `user`
//     "patient_key_secret_env": "MEDGATE_PATIENT_KEY_SECRET",
//     "record_decisions": true,
//     "gateway": {"listen": "127.0.0.1:8080", "token_env": "MEDGATE_GATEWAY_TOKEN",
//                 "admin_token_env": "MEDGATE_ADMIN_TOKEN", "max_body_bytes": 4194304, "threads": 32,
//                 "audit": "audit.jsonl"}      read by `medgate serve` (native/serve.cpp), not by the engine
//     "alerts": {"webhooks": [{"name": "oncall", "url_env": "ONCALL_URL", "format": "json" | "slack"}], ...}
//                                          rules and webhooks (alerts/options.hpp); the engine ignores them,
//                                          `medgate serve` and `medgate batch` raise and deliver the alerts
//   }
//
// Durations are rounded to the nearest microsecond and may not exceed
// 1e12 ms (about 31 years), so every duration survives the trip through a
// JSON double exactly.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "alerts/options.hpp"
#include "backoff.hpp"
#include "breaker.hpp"
#include "budget.hpp"
#include "canary.hpp"
#include "concurrency.hpp"
#include "context_fit.hpp"
#include "deadline.hpp"
#include "engine_options.hpp"
#include "field_error.hpp"
#include "health.hpp"
#include "hedge.hpp"
#include "idempotency.hpp"
#include "rate_limit.hpp"
#include "result.hpp"
#include "retry_budget.hpp"
#include "review.hpp"
#include "route.hpp"
#include "time.hpp"
#include "tokens/models.hpp"

namespace medgate {

/// A JSON value whose objects keep their members in the order written.
/// Converts implicitly to `nlohmann::json` (which sorts object keys).
using config_json = nlohmann::ordered_json;

/// Parses and validates a configuration. Errors start with "config: " and
/// name the JSON path, e.g. `config: providers[0].breaker.window_size must be > 0, got 0`.
[[nodiscard]] result<engine_options> parse_config(std::string_view json);

/// Every field, in schema order. `parse_config(to_json(o).dump())` gives back
/// `o` field by field for any `o` that parses (durations up to 1e12 ms).
[[nodiscard]] config_json to_json(engine_options const& o);

/// The built-in demo: providers `primary` and `fallback` on the local
/// simulator, both serving gpt-4o-mini, and the route `clinical-summary`
/// trying them in that order; every other field at its default.
[[nodiscard]] engine_options default_options();

namespace detail::configuration {

using json = config_json;
/// A problem found while reading, without the "config: " prefix.
using problem = std::optional<std::string>;

/// The largest duration accepted, in milliseconds (≈31.7 years). Below 2^53 µs,
/// so a duration written by to_json() as a double reads back to the same microsecond.
inline constexpr std::int64_t max_duration_ms = 1'000'000'000'000;

inline constexpr std::string_view secret_hint = "put the key in an environment variable and name it in api_key_env";

// ---- text helpers -----------------------------------------------------------

inline char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out.push_back(lower_ascii(c));
  return out;
}

inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/// Whether `s` holds a run of at least `length` letters and digits mixing both:
/// the shape of a generated key, not of a word or a version number.
inline bool has_random_run(std::string_view s, std::size_t length) {
  std::size_t run = 0;
  bool digit = false;
  bool letter = false;
  for (char c : s) {
    if (is_ascii_digit(c) || is_ascii_letter(c)) {
      ++run;
      digit = digit || is_ascii_digit(c);
      letter = letter || is_ascii_letter(c);
      if (run >= length && digit && letter) return true;
    } else {
      run = 0;
      digit = letter = false;
    }
  }
  return false;
}

/// Whether a string value looks like a credential: a well-known key prefix or a long random run.
inline bool looks_like_secret(std::string_view s) {
  struct known_prefix {
    std::string_view prefix;
    std::size_t min_length;  // shorter strings with this prefix are ordinary names
  };
  static constexpr std::array<known_prefix, 16> prefixes{{{"sk-", 4},
                                                          {"sk_", 4},
                                                          {"rk_", 8},
                                                          {"pk_", 8},
                                                          {"ghp_", 8},
                                                          {"gho_", 8},
                                                          {"ghs_", 8},
                                                          {"github_pat_", 12},
                                                          {"xoxb-", 8},
                                                          {"xoxp-", 8},
                                                          {"glpat-", 8},
                                                          {"AKIA", 16},
                                                          {"AIza", 24},
                                                          {"eyJ", 16},
                                                          {"bearer ", 8},
                                                          {"basic ", 8}}};
  auto const lower = lowercase(s);
  for (auto const& p : prefixes) {
    bool const case_insensitive = p.prefix == "bearer " || p.prefix == "basic ";
    std::string_view const subject = case_insensitive ? std::string_view{lower} : s;
    if (s.size() >= p.min_length && subject.starts_with(p.prefix)) return true;
  }
  return has_random_run(s, 24);
}

/// Whether a string from the file may be quoted back in an error message.
inline bool can_show(std::string_view s) { return s.size() <= 64 && !looks_like_secret(s) && !has_random_run(s, 16); }

/// `s` as a JSON string literal (quotes, escapes), for messages.
inline std::string as_json_string(std::string_view s) {
  return json(std::string{s}).dump(-1, ' ', false, nlohmann::detail::error_handler_t::replace);
}

inline std::string shown(std::string_view s) {
  return can_show(s) ? as_json_string(s) : std::string{"a value that is not shown (it may be a secret)"};
}

/// What a JSON value is, for "got ..." — exact for numbers and short safe strings.
inline std::string describe(json const& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return *v.get_ptr<json::boolean_t const*>() ? "true" : "false";
    case json::value_t::number_integer:
      return fmt::format("{}", *v.get_ptr<json::number_integer_t const*>());
    case json::value_t::number_unsigned:
      return fmt::format("{}", *v.get_ptr<json::number_unsigned_t const*>());
    case json::value_t::number_float:
      return fmt::format("{}", *v.get_ptr<json::number_float_t const*>());
    case json::value_t::string:
      return shown(*v.get_ptr<json::string_t const*>());
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  return "an unexpected value";
}

// ---- paths ------------------------------------------------------------------

inline std::string member_path(std::string_view parent, std::string_view field) {
  return parent.empty() ? std::string{field} : fmt::format("{}.{}", parent, field);
}
inline std::string element_path(std::string_view parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}
/// "at top level" or "in providers[0].breaker".
inline std::string location(std::string_view path) {
  return path.empty() ? std::string{"at top level"} : fmt::format("in {}", path);
}
/// A route's path: "routes.clinical-summary" (a name that may be a secret is not shown).
inline std::string route_path(std::string_view name) {
  return can_show(name) ? member_path("routes", name) : std::string{"routes.(a name not shown)"};
}

// ---- field names --------------------------------------------------------------

inline bool is_comment(std::string_view key) { return key.starts_with("//"); }

/// Whether a field name says it holds a credential ("api_key", "token", "Authorization", ...).
inline bool is_secret_name(std::string_view key) {
  std::string name;
  for (char c : key)
    if (c != '_' && c != '-' && c != ' ' && c != '.') name.push_back(lower_ascii(c));
  static constexpr std::array<std::string_view, 5> exact{"key", "authorization", "bearer", "credentials", "privatekey"};
  static constexpr std::array<std::string_view, 5> endings{"apikey", "token", "secret", "password", "secretkey"};
  for (auto e : exact)
    if (name == e) return true;
  for (auto e : endings)
    if (name.ends_with(e)) return true;
  return false;
}

/// Levenshtein distance, case-insensitive (names are short; inputs are capped by the caller).
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t const substitute = previous[j - 1] + (lower_ascii(a[i - 1]) == lower_ascii(b[j - 1]) ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

/// The known name closest to `key`, when it is close enough to be the intended
/// one: a few edits away ("retires" → "retry"), or the only name containing it
/// ("ratio" → "retry_ratio").
template <class Names>
std::optional<std::string_view> closest_name(std::string_view key, Names const& known) {
  if (key.size() > 64) return std::nullopt;
  std::optional<std::string_view> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  std::optional<std::string_view> containing;
  std::size_t containing_count = 0;
  auto const lower_key = lowercase(key);
  for (std::string_view name : known) {
    auto const d = edit_distance(key, name);
    auto const allowed = std::max(key.size(), name.size()) / 3 + 1;
    if (d <= allowed && d < name.size() && d < best_distance) {
      best = name;
      best_distance = d;
    }
    if (key.size() >= 4 && lowercase(name).find(lower_key) != std::string::npos) {
      containing = name;
      ++containing_count;
    }
  }
  if (best) return best;
  if (containing_count == 1) return containing;
  return std::nullopt;
}

inline std::string secret_field_problem(std::string_view path) {
  return fmt::format("{} is not allowed: {}", path, secret_hint);
}
inline std::string secret_value_problem(std::string_view path) {
  return fmt::format("{} looks like a secret key, which must not be in the configuration: {}", path, secret_hint);
}

/// Checks a member name of the object at `path`; nullopt when it is one of `known`.
template <class Names>
problem check_field_name(std::string_view key, std::string_view path, Names const& known) {
  if (is_secret_name(key)) {
    return can_show(key) ? secret_field_problem(member_path(path, key))
                         : fmt::format("a field named like a key {} is not allowed: {}", location(path), secret_hint);
  }
  for (std::string_view name : known)
    if (name == key) return std::nullopt;
  if (!can_show(key))
    return fmt::format("unknown field {} (its name is not shown: it may be a secret)", location(path));
  auto message = fmt::format("unknown field {} {}", as_json_string(key), location(path));
  if (auto suggestion = closest_name(key, known))
    message += fmt::format(" (did you mean {}?)", as_json_string(*suggestion));
  return message;
}

// ---- value readers ------------------------------------------------------------

template <class Unsigned>
problem read_count(json const& v, std::string const& at, Unsigned& out) {
  constexpr auto max = std::numeric_limits<Unsigned>::max();
  if (auto const* u = v.get_ptr<json::number_unsigned_t const*>()) {
    if (*u > max) return fmt::format("{} must be <= {}, got {}", at, max, *u);
    out = static_cast<Unsigned>(*u);
    return std::nullopt;
  }
  if (auto const* i = v.get_ptr<json::number_integer_t const*>()) {
    if (*i < 0) return fmt::format("{} must be >= 0, got {}", at, *i);
    if (static_cast<std::uint64_t>(*i) > max) return fmt::format("{} must be <= {}, got {}", at, max, *i);
    out = static_cast<Unsigned>(*i);
    return std::nullopt;
  }
  if (auto const* d = v.get_ptr<json::number_float_t const*>()) {
    // 20.0 is the integer 20 (some JSON writers add ".0"); 2.5 is not.
    if (!std::isfinite(*d) || std::floor(*d) != *d) return fmt::format("{} must be an integer, got {}", at, *d);
    if (*d < 0) return fmt::format("{} must be >= 0, got {}", at, *d);
    if (*d > static_cast<double>(max)) return fmt::format("{} must be <= {}, got {}", at, max, *d);
    out = static_cast<Unsigned>(*d);
    return std::nullopt;
  }
  return fmt::format("{} must be an integer, got {}", at, describe(v));
}

/// Milliseconds, integer or decimal, into a duration (rounded to the microsecond).
inline problem read_duration(json const& v, std::string const& at, duration& out) {
  auto const too_long = [&](auto got) {
    return fmt::format("{} must be <= {} (about 31 years), got {}", at, max_duration_ms, got);
  };
  if (auto const* u = v.get_ptr<json::number_unsigned_t const*>()) {
    if (*u > static_cast<std::uint64_t>(max_duration_ms)) return too_long(*u);
    out = duration{static_cast<std::int64_t>(*u) * 1000};
    return std::nullopt;
  }
  if (auto const* i = v.get_ptr<json::number_integer_t const*>()) {
    if (*i < 0) return fmt::format("{} must be >= 0, got {}", at, *i);
    if (*i > max_duration_ms) return too_long(*i);
    out = duration{*i * 1000};
    return std::nullopt;
  }
  if (auto const* d = v.get_ptr<json::number_float_t const*>()) {
    if (!std::isfinite(*d)) return fmt::format("{} must be a finite number, got {}", at, *d);
    if (*d < 0) return fmt::format("{} must be >= 0, got {}", at, *d);
    if (*d > static_cast<double>(max_duration_ms)) return too_long(*d);
    out = duration{std::llround(*d * 1000.0)};
    return std::nullopt;
  }
  return fmt::format("{} must be a number, got {}", at, describe(v));
}

inline problem read_number(json const& v, std::string const& at, double& out) {
  if (auto const* u = v.get_ptr<json::number_unsigned_t const*>()) {
    out = static_cast<double>(*u);
  } else if (auto const* i = v.get_ptr<json::number_integer_t const*>()) {
    out = static_cast<double>(*i);
  } else if (auto const* d = v.get_ptr<json::number_float_t const*>()) {
    if (!std::isfinite(*d)) return fmt::format("{} must be a finite number, got {}", at, *d);
    out = *d;
  } else {
    return fmt::format("{} must be a number, got {}", at, describe(v));
  }
  return std::nullopt;
}

inline problem read_bool(json const& v, std::string const& at, bool& out) {
  auto const* b = v.get_ptr<json::boolean_t const*>();
  if (b == nullptr) return fmt::format("{} must be true or false, got {}", at, describe(v));
  out = *b;
  return std::nullopt;
}

inline problem read_string(json const& v, std::string const& at, std::string& out) {
  auto const* s = v.get_ptr<json::string_t const*>();
  if (s == nullptr) return fmt::format("{} must be a string, got {}", at, describe(v));
  out = *s;
  return std::nullopt;
}

/// A string naming something (provider, model, route target) — it ends up in
/// logs and audit records, so a credential pasted here is refused.
inline problem read_name(json const& v, std::string const& at, std::string& out) {
  if (auto p = read_string(v, at, out)) return p;
  if (looks_like_secret(out)) return secret_value_problem(at);
  return std::nullopt;
}

template <class Enum>
struct enum_name {
  std::string_view name;
  Enum value;
};

template <class Enum, std::size_t N>
problem read_enum(json const& v, std::string const& at, std::array<enum_name<Enum>, N> const& names, Enum& out) {
  if (auto const* s = v.get_ptr<json::string_t const*>())
    for (auto const& n : names)
      if (n.name == *s) {
        out = n.value;
        return std::nullopt;
      }
  std::string choices;
  for (auto const& n : names) choices += fmt::format("{}{}", choices.empty() ? "" : ", ", n.name);
  return fmt::format("{} must be one of {}, got {}", at, choices, describe(v));
}

template <class Enum, std::size_t N>
std::string_view name_of(std::array<enum_name<Enum>, N> const& names, Enum value) {
  for (auto const& n : names)
    if (n.value == value) return n.name;
  return "unknown";
}

inline constexpr std::array<enum_name<backoff_kind>, 3> backoff_kind_names{
    {{"constant", backoff_kind::constant},
     {"linear", backoff_kind::linear},
     {"exponential", backoff_kind::exponential}}};
inline constexpr std::array<enum_name<jitter_kind>, 4> jitter_kind_names{{{"none", jitter_kind::none},
                                                                          {"full", jitter_kind::full},
                                                                          {"equal", jitter_kind::equal},
                                                                          {"decorrelated", jitter_kind::decorrelated}}};
inline constexpr std::array<enum_name<window_kind>, 2> window_kind_names{
    {{"count_based", window_kind::count_based}, {"time_based", window_kind::time_based}}};
inline constexpr std::array<enum_name<tokens::chat_format>, 5> chat_format_names{
    {{"openai", tokens::chat_format::openai},
     {"deepseek", tokens::chat_format::deepseek},
     {"anthropic", tokens::chat_format::anthropic},
     {"gemini", tokens::chat_format::gemini},
     {"llama3", tokens::chat_format::llama3}}};
inline constexpr std::array<enum_name<context_policy>, 3> context_policy_names{
    {{"refuse", context_policy::refuse},
     {"drop_oldest", context_policy::drop_oldest},
     {"cut_middle", context_policy::cut_middle}}};

// ---- objects --------------------------------------------------------------------

/// One JSON member of an options struct and how to read it.
template <class T>
struct field {
  std::string_view name;
  problem (*read)(json const& value, std::string const& at, T& out);
};

/// Reads the object at `path` member by member, in the order written, stopping at the first problem.
template <class T, std::size_t N>
problem read_fields(json const& v, std::string const& path, std::array<field<T>, N> const& fields, T& out) {
  if (!v.is_object()) return fmt::format("{} must be an object, got {}", path, describe(v));
  std::array<std::string_view, N> names{};
  for (std::size_t i = 0; i < N; ++i) names[i] = fields[i].name;
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto const& key = it.key();
    if (is_comment(key)) continue;
    if (auto p = check_field_name(key, path, names)) return p;
    for (auto const& f : fields)
      if (f.name == key) {
        if (auto p = f.read(it.value(), member_path(path, key), out)) return p;
        break;
      }
  }
  return std::nullopt;
}

inline problem read_breaker(json const& v, std::string const& at, breaker_options& out) {
  using o = breaker_options;
  static constexpr std::array<field<o>, 13> fields{{
      {"consecutive_failures",
       [](json const& j, std::string const& p, o& b) { return read_count(j, p, b.consecutive_failures); }},
      {"window",
       [](json const& j, std::string const& p, o& b) { return read_enum(j, p, window_kind_names, b.window); }},
      {"window_size", [](json const& j, std::string const& p, o& b) { return read_count(j, p, b.window_size); }},
      {"minimum_calls", [](json const& j, std::string const& p, o& b) { return read_count(j, p, b.minimum_calls); }},
      {"failure_rate_threshold",
       [](json const& j, std::string const& p, o& b) { return read_number(j, p, b.failure_rate_threshold); }},
      {"slow_call_rate_threshold",
       [](json const& j, std::string const& p, o& b) { return read_number(j, p, b.slow_call_rate_threshold); }},
      {"slow_call_duration_ms",
       [](json const& j, std::string const& p, o& b) { return read_duration(j, p, b.slow_call_duration); }},
      {"open_duration_ms",
       [](json const& j, std::string const& p, o& b) { return read_duration(j, p, b.open_duration); }},
      {"open_duration_multiplier",
       [](json const& j, std::string const& p, o& b) { return read_number(j, p, b.open_duration_multiplier); }},
      {"max_open_duration_ms",
       [](json const& j, std::string const& p, o& b) { return read_duration(j, p, b.max_open_duration); }},
      {"half_open_probes",
       [](json const& j, std::string const& p, o& b) { return read_count(j, p, b.half_open_probes); }},
      {"half_open_successes",
       [](json const& j, std::string const& p, o& b) { return read_count(j, p, b.half_open_successes); }},
      {"half_open_probe_timeout_ms",
       [](json const& j, std::string const& p, o& b) { return read_duration(j, p, b.half_open_probe_timeout); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_rate_limit(json const& v, std::string const& at, rate_limit_options& out) {
  using o = rate_limit_options;
  static constexpr std::array<field<o>, 6> fields{{
      {"requests_per_minute",
       [](json const& j, std::string const& p, o& r) { return read_number(j, p, r.requests_per_minute); }},
      {"tokens_per_minute",
       [](json const& j, std::string const& p, o& r) { return read_number(j, p, r.tokens_per_minute); }},
      {"burst_ms", [](json const& j, std::string const& p, o& r) { return read_duration(j, p, r.burst); }},
      {"token_burst_ms", [](json const& j, std::string const& p, o& r) { return read_duration(j, p, r.token_burst); }},
      {"normal_share", [](json const& j, std::string const& p, o& r) { return read_number(j, p, r.normal_share); }},
      {"batch_share", [](json const& j, std::string const& p, o& r) { return read_number(j, p, r.batch_share); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_concurrency(json const& v, std::string const& at, concurrency_options& out) {
  using o = concurrency_options;
  static constexpr std::array<field<o>, 7> fields{{
      {"max_concurrent", [](json const& j, std::string const& p, o& c) { return read_count(j, p, c.max_concurrent); }},
      {"adaptive", [](json const& j, std::string const& p, o& c) { return read_bool(j, p, c.adaptive); }},
      {"initial_limit", [](json const& j, std::string const& p, o& c) { return read_count(j, p, c.initial_limit); }},
      {"min_limit", [](json const& j, std::string const& p, o& c) { return read_count(j, p, c.min_limit); }},
      {"max_limit", [](json const& j, std::string const& p, o& c) { return read_count(j, p, c.max_limit); }},
      {"backoff_ratio", [](json const& j, std::string const& p, o& c) { return read_number(j, p, c.backoff_ratio); }},
      {"latency_threshold_ms",
       [](json const& j, std::string const& p, o& c) { return read_duration(j, p, c.latency_threshold); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_sla_tier(json const& v, std::string const& at, sla_tier& out) {
  using o = sla_tier;
  static constexpr std::array<field<o>, 3> fields{{
      {"name", [](json const& j, std::string const& p, o& t) { return read_name(j, p, t.name); }},
      {"availability", [](json const& j, std::string const& p, o& t) { return read_number(j, p, t.availability); }},
      {"p95_ms", [](json const& j, std::string const& p, o& t) { return read_duration(j, p, t.p95); }},
  }};
  if (auto p = read_fields(v, at, fields, out)) return p;
  if (!v.contains("name")) return fmt::format("{}.name is required", at);
  return std::nullopt;
}

inline problem read_sla_tiers(json const& v, std::string const& at, std::vector<sla_tier>& out) {
  if (!v.is_array()) return fmt::format("{} must be an array of SLA tiers, got {}", at, describe(v));
  out.clear();
  for (std::size_t i = 0; i < v.size(); ++i) {
    sla_tier t;
    if (auto p = read_sla_tier(v[i], element_path(at, i), t)) return p;
    out.push_back(std::move(t));
  }
  return std::nullopt;
}

inline problem read_health(json const& v, std::string const& at, health_options& out) {
  using o = health_options;
  static constexpr std::array<field<o>, 9> fields{{
      {"window_ms", [](json const& j, std::string const& p, o& h) { return read_duration(j, p, h.window); }},
      {"long_window_ms", [](json const& j, std::string const& p, o& h) { return read_duration(j, p, h.long_window); }},
      {"sla_tier", [](json const& j, std::string const& p, o& h) { return read_name(j, p, h.sla_tier); }},
      {"tiers", [](json const& j, std::string const& p, o& h) { return read_sla_tiers(j, p, h.tiers); }},
      {"probe_interval_ms",
       [](json const& j, std::string const& p, o& h) { return read_duration(j, p, h.probe_interval); }},
      {"probe_timeout_ms",
       [](json const& j, std::string const& p, o& h) { return read_duration(j, p, h.probe_timeout); }},
      {"probes_count_in_availability",
       [](json const& j, std::string const& p, o& h) { return read_bool(j, p, h.probes_count_in_availability); }},
      {"relative_accuracy",
       [](json const& j, std::string const& p, o& h) { return read_number(j, p, h.relative_accuracy); }},
      {"max_buckets", [](json const& j, std::string const& p, o& h) { return read_count(j, p, h.max_buckets); }},
  }};
  return read_fields(v, at, fields, out);
}

inline bool is_environment_variable_name(std::string_view s) {
  if (s.empty() || is_ascii_digit(s.front())) return false;
  for (char c : s)
    if (!(is_ascii_letter(c) || is_ascii_digit(c) || c == '_')) return false;
  return true;
}

inline problem read_api_key_env(json const& v, std::string const& at, std::string& out) {
  if (auto p = read_string(v, at, out)) return p;
  if (out.empty()) return std::nullopt;  // no key
  if (looks_like_secret(out)) return secret_value_problem(at);
  // Never quoted: whatever is here that is not a variable name may be the key itself.
  if (!is_environment_variable_name(out))
    return fmt::format(
        "{} must name an environment variable (letters, digits and _, not starting with a digit), not hold the key "
        "itself",
        at);
  return std::nullopt;
}

inline problem read_base_url(json const& v, std::string const& at, std::string& out) {
  if (auto p = read_string(v, at, out)) return p;
  auto const scheme_end = out.find("://");
  auto const authority_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  auto const authority =
      std::string_view{out}.substr(authority_start, out.find('/', authority_start) - authority_start);
  // Not quoted: a URL with user:password@ or ?key=... carries a credential.
  if (authority.find('@') != std::string_view::npos)
    return fmt::format("{} must not contain credentials (user:password@): {}", at, secret_hint);
  if (out.find_first_of("?#") != std::string::npos)
    return fmt::format("{} must not contain a query or fragment (\"?\", \"#\"): /chat/completions is appended to it",
                       at);
  return std::nullopt;
}

inline problem read_models(json const& v, std::string const& at, std::vector<std::string>& out) {
  if (!v.is_array()) return fmt::format("{} must be an array of model names, got {}", at, describe(v));
  out.clear();
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto const element = element_path(at, i);
    std::string model;
    if (auto p = read_name(v[i], element, model)) return p;
    if (model.empty()) return fmt::format("{} must not be empty", element);
    out.push_back(std::move(model));
  }
  return std::nullopt;
}

inline problem read_provider(json const& v, std::string const& at, provider& out) {
  using o = provider;
  static constexpr std::array<field<o>, 11> fields{{
      {"name", [](json const& j, std::string const& p, o& r) { return read_name(j, p, r.name); }},
      {"base_url", [](json const& j, std::string const& p, o& r) { return read_base_url(j, p, r.base_url); }},
      {"api_key_env", [](json const& j, std::string const& p, o& r) { return read_api_key_env(j, p, r.api_key_env); }},
      {"api_key_file",
       [](json const& j, std::string const& p, o& r) -> problem {
         if (auto bad = read_string(j, p, r.api_key_file)) return bad;
         if (r.api_key_file.empty()) return fmt::format("{} must name a file (or be left out)", p);
         if (looks_like_secret(r.api_key_file)) return secret_value_problem(p);
         return std::nullopt;
       }},
      {"models", [](json const& j, std::string const& p, o& r) { return read_models(j, p, r.models); }},
      {"connect_timeout_ms",
       [](json const& j, std::string const& p, o& r) { return read_duration(j, p, r.connect_timeout); }},
      {"attempt_timeout_ms",
       [](json const& j, std::string const& p, o& r) { return read_duration(j, p, r.attempt_timeout); }},
      {"breaker", [](json const& j, std::string const& p, o& r) { return read_breaker(j, p, r.breaker); }},
      {"rate_limit", [](json const& j, std::string const& p, o& r) { return read_rate_limit(j, p, r.rate_limit); }},
      {"concurrency", [](json const& j, std::string const& p, o& r) { return read_concurrency(j, p, r.concurrency); }},
      {"health", [](json const& j, std::string const& p, o& r) { return read_health(j, p, r.health); }},
  }};
  if (auto p = read_fields(v, at, fields, out)) return p;
  if (!v.contains("name")) return fmt::format("{}.name is required", at);
  if (out.name.empty()) return fmt::format("{}.name must not be empty", at);
  if (out.name.find('/') != std::string::npos)
    return fmt::format("{}.name must not contain \"/\" (routes name targets as \"provider/model\")", at);
  if (!v.contains("base_url")) return fmt::format("{}.base_url is required", at);
  if (!out.api_key_env.empty() && !out.api_key_file.empty())
    return fmt::format("{} has both api_key_env and api_key_file: give one", at);
  return std::nullopt;
}

inline problem read_providers(json const& v, std::string const& at, std::vector<provider>& out) {
  if (!v.is_array()) return fmt::format("{} must be an array of provider objects, got {}", at, describe(v));
  if (v.empty()) return fmt::format("{} must name at least one provider", at);
  out.clear();
  for (std::size_t i = 0; i < v.size(); ++i) {
    provider p;
    if (auto found = read_provider(v[i], element_path(at, i), p)) return found;
    out.push_back(std::move(p));
  }
  return std::nullopt;
}

inline problem read_route_chain(json const& v, std::string const& at, std::vector<target>& out) {
  if (!v.is_array()) return fmt::format("{} must be an array of \"provider/model\" targets, got {}", at, describe(v));
  if (v.empty()) return fmt::format("{} must list at least one \"provider/model\" target", at);
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto const element = element_path(at, i);
    if (!v[i].is_string())
      return fmt::format("{} must be a \"provider/model\" string, got {}", element, describe(v[i]));
    std::string text;
    if (auto p = read_name(v[i], element, text)) return p;
    auto const slash = text.find('/');  // the model may itself contain '/'
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size())
      return fmt::format("{} must be written \"provider/model\", got {}", element, shown(text));
    target t{text.substr(0, slash), text.substr(slash + 1)};
    if (looks_like_secret(t.provider) || looks_like_secret(t.model)) return secret_value_problem(element);
    out.push_back(std::move(t));
  }
  return std::nullopt;
}

/// A share written as a percentage (0 to 100, up to two decimals) into basis points.
inline problem read_percent(json const& v, std::string const& at, std::uint32_t& out) {
  double percent = 0;
  if (auto p = read_number(v, at, percent)) return p;
  if (percent < 0 || percent > 100) return fmt::format("{} must be a percentage in [0, 100], got {}", at, percent);
  out = static_cast<std::uint32_t>(std::llround(percent * 100.0));
  return std::nullopt;
}

inline problem read_canary_step(json const& v, std::string const& at, canary_step& out) {
  using o = canary_step;
  static constexpr std::array<field<o>, 2> fields{{
      {"at_ms", [](json const& j, std::string const& p, o& s) { return read_duration(j, p, s.at); }},
      {"percent", [](json const& j, std::string const& p, o& s) { return read_percent(j, p, s.basis_points); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_ramp(json const& v, std::string const& at, std::vector<canary_step>& out) {
  if (!v.is_array())
    return fmt::format("{} must be an array of {{\"at_ms\", \"percent\"}} steps, got {}", at, describe(v));
  out.clear();
  for (std::size_t i = 0; i < v.size(); ++i) {
    canary_step step;
    if (auto p = read_canary_step(v[i], element_path(at, i), step)) return p;
    out.push_back(step);
  }
  return std::nullopt;
}

inline problem read_rollback(json const& v, std::string const& at, canary_rollback_options& out) {
  using o = canary_rollback_options;
  static constexpr std::array<field<o>, 5> fields{{
      {"enabled", [](json const& j, std::string const& p, o& r) { return read_bool(j, p, r.enabled); }},
      {"window_ms", [](json const& j, std::string const& p, o& r) { return read_duration(j, p, r.window); }},
      {"min_calls", [](json const& j, std::string const& p, o& r) { return read_count(j, p, r.min_calls); }},
      {"margin", [](json const& j, std::string const& p, o& r) { return read_number(j, p, r.margin); }},
      {"z", [](json const& j, std::string const& p, o& r) { return read_number(j, p, r.z); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_canary(json const& v, std::string const& at, canary_route& out) {
  using o = canary_route;
  static constexpr std::array<field<o>, 5> fields{{
      {"chain", [](json const& j, std::string const& p, o& c) { return read_route_chain(j, p, c.chain); }},
      {"percent", [](json const& j, std::string const& p, o& c) { return read_percent(j, p, c.options.basis_points); }},
      {"ramp", [](json const& j, std::string const& p, o& c) { return read_ramp(j, p, c.options.ramp); }},
      {"by_study_type",
       [](json const& j, std::string const& p, o& c) { return read_bool(j, p, c.options.by_study_type); }},
      {"rollback", [](json const& j, std::string const& p, o& c) { return read_rollback(j, p, c.options.rollback); }},
  }};
  if (auto p = read_fields(v, at, fields, out)) return p;
  if (!v.contains("chain")) return fmt::format("{}.chain is required", at);
  return std::nullopt;
}

/// A route is a chain, or {"chain": [...], "canary": {...}}.
inline problem read_route(json const& v, std::string const& at, route& out) {
  if (v.is_array()) return read_route_chain(v, at, out.chain);
  using o = route;
  static constexpr std::array<field<o>, 2> fields{{
      {"chain", [](json const& j, std::string const& p, o& r) { return read_route_chain(j, p, r.chain); }},
      {"canary", [](json const& j, std::string const& p, o& r) { return read_canary(j, p, r.canary.emplace()); }},
  }};
  if (!v.is_object())
    return fmt::format("{} must be a \"provider/model\" list or an object with \"chain\" and \"canary\", got {}", at,
                       describe(v));
  if (auto p = read_fields(v, at, fields, out)) return p;
  if (!v.contains("chain")) return fmt::format("{}.chain is required", at);
  return std::nullopt;
}

inline problem read_routes(json const& v, std::string const& at, std::vector<route>& out) {
  if (!v.is_object())
    return fmt::format("{} must be an object mapping route names to \"provider/model\" lists, got {}", at, describe(v));
  out.clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto const& name = it.key();
    if (is_comment(name)) continue;
    if (is_secret_name(name))
      return can_show(name) ? secret_field_problem(member_path(at, name))
                            : fmt::format("a field named like a key in {} is not allowed: {}", at, secret_hint);
    if (name.empty()) return fmt::format("{} has a route with an empty name", at);
    if (looks_like_secret(name)) return secret_value_problem(route_path(name));
    route r{name, {}, std::nullopt};
    if (auto p = read_route(it.value(), route_path(name), r)) return p;
    out.push_back(std::move(r));
  }
  return std::nullopt;
}

inline problem read_backoff(json const& v, std::string const& at, backoff_options& out) {
  using o = backoff_options;
  static constexpr std::array<field<o>, 6> fields{{
      {"kind", [](json const& j, std::string const& p, o& b) { return read_enum(j, p, backoff_kind_names, b.kind); }},
      {"base_ms", [](json const& j, std::string const& p, o& b) { return read_duration(j, p, b.base); }},
      {"multiplier", [](json const& j, std::string const& p, o& b) { return read_number(j, p, b.multiplier); }},
      {"step_ms", [](json const& j, std::string const& p, o& b) { return read_duration(j, p, b.step); }},
      {"cap_ms", [](json const& j, std::string const& p, o& b) { return read_duration(j, p, b.cap); }},
      {"jitter",
       [](json const& j, std::string const& p, o& b) { return read_enum(j, p, jitter_kind_names, b.jitter); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_budget(json const& v, std::string const& at, retry_budget_options& out) {
  using o = retry_budget_options;
  static constexpr std::array<field<o>, 3> fields{{
      {"ttl_ms", [](json const& j, std::string const& p, o& b) { return read_duration(j, p, b.ttl); }},
      {"min_retries_per_second",
       [](json const& j, std::string const& p, o& b) { return read_count(j, p, b.min_retries_per_second); }},
      {"retry_ratio", [](json const& j, std::string const& p, o& b) { return read_number(j, p, b.retry_ratio); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_retry(json const& v, std::string const& at, retry_options& out) {
  using o = retry_options;
  static constexpr std::array<field<o>, 4> fields{{
      {"max_attempts_per_target",
       [](json const& j, std::string const& p, o& r) { return read_count(j, p, r.max_attempts_per_target); }},
      {"max_retry_after_ms",
       [](json const& j, std::string const& p, o& r) { return read_duration(j, p, r.max_retry_after); }},
      {"backoff", [](json const& j, std::string const& p, o& r) { return read_backoff(j, p, r.backoff); }},
      {"budget", [](json const& j, std::string const& p, o& r) { return read_budget(j, p, r.budget); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_deadlines(json const& v, std::string const& at, deadline_options& out) {
  using o = deadline_options;
  static constexpr std::array<field<o>, 3> fields{{
      {"timeout_ms", [](json const& j, std::string const& p, o& d) { return read_duration(j, p, d.timeout); }},
      {"attempt_timeout_ms",
       [](json const& j, std::string const& p, o& d) { return read_duration(j, p, d.attempt_timeout); }},
      {"min_attempt_time_ms",
       [](json const& j, std::string const& p, o& d) { return read_duration(j, p, d.min_attempt_time); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_hedge(json const& v, std::string const& at, hedge_options& out) {
  using o = hedge_options;
  static constexpr std::array<field<o>, 9> fields{{
      {"enabled", [](json const& j, std::string const& p, o& h) { return read_bool(j, p, h.enabled); }},
      {"percentile", [](json const& j, std::string const& p, o& h) { return read_number(j, p, h.percentile); }},
      {"min_delay_ms", [](json const& j, std::string const& p, o& h) { return read_duration(j, p, h.min_delay); }},
      {"max_delay_ms", [](json const& j, std::string const& p, o& h) { return read_duration(j, p, h.max_delay); }},
      {"min_samples", [](json const& j, std::string const& p, o& h) { return read_count(j, p, h.min_samples); }},
      {"max_extra_ratio",
       [](json const& j, std::string const& p, o& h) { return read_number(j, p, h.max_extra_ratio); }},
      {"same_target", [](json const& j, std::string const& p, o& h) { return read_bool(j, p, h.same_target); }},
      {"budget_window_ms",
       [](json const& j, std::string const& p, o& h) { return read_duration(j, p, h.budget_window); }},
      {"min_hedges_per_second",
       [](json const& j, std::string const& p, o& h) { return read_count(j, p, h.min_hedges_per_second); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_idempotency(json const& v, std::string const& at, idempotency_options& out) {
  using o = idempotency_options;
  static constexpr std::array<field<o>, 5> fields{{
      {"enabled", [](json const& j, std::string const& p, o& i) { return read_bool(j, p, i.enabled); }},
      {"derive_keys", [](json const& j, std::string const& p, o& i) { return read_bool(j, p, i.derive_keys); }},
      {"ttl_ms", [](json const& j, std::string const& p, o& i) { return read_duration(j, p, i.ttl); }},
      {"max_entries", [](json const& j, std::string const& p, o& i) { return read_count(j, p, i.max_entries); }},
      {"max_key_bytes", [](json const& j, std::string const& p, o& i) { return read_count(j, p, i.max_key_bytes); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_review(json const& v, std::string const& at, review_options& out) {
  using o = review_options;
  static constexpr std::array<field<o>, 6> fields{{
      {"enabled", [](json const& j, std::string const& p, o& r) { return read_bool(j, p, r.enabled); }},
      {"threshold", [](json const& j, std::string const& p, o& r) { return read_number(j, p, r.threshold); }},
      {"confidence_field",
       [](json const& j, std::string const& p, o& r) { return read_name(j, p, r.confidence_field); }},
      {"use_logprobs", [](json const& j, std::string const& p, o& r) { return read_bool(j, p, r.use_logprobs); }},
      {"missing_is_low", [](json const& j, std::string const& p, o& r) { return read_bool(j, p, r.missing_is_low); }},
      {"max_pending", [](json const& j, std::string const& p, o& r) { return read_count(j, p, r.max_pending); }},
  }};
  return read_fields(v, at, fields, out);
}

/// A count of tokens: a non-negative integer that fits in int64.
inline problem read_token_count(json const& v, std::string const& at, std::int64_t& out) {
  std::uint64_t n = 0;
  if (auto p = read_count(v, at, n)) return p;
  if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return fmt::format("{} must be <= {}, got {}", at, std::numeric_limits<std::int64_t>::max(), n);
  out = static_cast<std::int64_t>(n);
  return std::nullopt;
}

template <class T, class Read>
problem read_optional(json const& v, std::string const& at, std::optional<T>& out, Read read) {
  T value{};
  if (auto p = read(v, at, value)) return p;
  out = std::move(value);
  return std::nullopt;
}

/// A name given as an object key (model, tenant): refused when it looks like a secret.
inline problem check_key_name(std::string_view name, std::string_view at) {
  if (is_secret_name(name))
    return can_show(name) ? secret_field_problem(member_path(at, name))
                          : fmt::format("a field named like a key in {} is not allowed: {}", at, secret_hint);
  if (name.empty()) return fmt::format("{} has an entry with an empty name", at);
  if (looks_like_secret(name)) return secret_value_problem(at);
  return std::nullopt;
}

inline problem read_model(json const& v, std::string const& at, tokens::model_override& out) {
  using o = tokens::model_override;
  static constexpr std::array<field<o>, 7> fields{{
      {"encoding",
       [](json const& j, std::string const& p, o& m) -> problem {
         if (auto e = read_optional(j, p, m.encoding, read_name)) return e;
         if (m.encoding->empty()) return fmt::format("{} must not be empty", p);
         return std::nullopt;
       }},
      {"context_window", [](json const& j, std::string const& p,
                            o& m) { return read_optional(j, p, m.context_window, read_token_count); }},
      {"input_usd_per_million", [](json const& j, std::string const& p,
                                   o& m) { return read_optional(j, p, m.input_usd_per_million, read_number); }},
      {"output_usd_per_million", [](json const& j, std::string const& p,
                                    o& m) { return read_optional(j, p, m.output_usd_per_million, read_number); }},
      {"max_output_tokens", [](json const& j, std::string const& p,
                               o& m) { return read_optional(j, p, m.max_output_tokens, read_token_count); }},
      {"format",
       [](json const& j, std::string const& p, o& m) -> problem {
         tokens::chat_format f{};
         if (auto e = read_enum(j, p, chat_format_names, f)) return e;
         m.format = f;
         return std::nullopt;
       }},
      {"exact_tokenizer",
       [](json const& j, std::string const& p, o& m) { return read_optional(j, p, m.exact_tokenizer, read_bool); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_model_overrides(json const& v, std::string const& at, std::vector<tokens::model_override>& out) {
  if (!v.is_object())
    return fmt::format("{} must be an object mapping model names to settings, got {}", at, describe(v));
  out.clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto const& name = it.key();
    if (is_comment(name)) continue;
    if (auto p = check_key_name(name, at)) return p;
    tokens::model_override m;
    m.name = name;
    if (auto p = read_model(it.value(), member_path(at, name), m)) return p;
    out.push_back(std::move(m));
  }
  return std::nullopt;
}

inline problem read_tenant_budget(json const& v, std::string const& at, tenant_budget& out) {
  using o = tenant_budget;
  static constexpr std::array<field<o>, 2> fields{{
      {"daily_usd",
       [](json const& j, std::string const& p, o& b) { return read_optional(j, p, b.daily_usd, read_number); }},
      {"daily_tokens",
       [](json const& j, std::string const& p, o& b) { return read_optional(j, p, b.daily_tokens, read_token_count); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_tenants(json const& v, std::string const& at,
                            std::map<std::string, tenant_budget, std::less<>>& out) {
  if (!v.is_object())
    return fmt::format("{} must be an object mapping tenant names to budgets, got {}", at, describe(v));
  out.clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto const& name = it.key();
    if (is_comment(name)) continue;
    if (auto p = check_key_name(name, at)) return p;
    tenant_budget b;
    if (auto p = read_tenant_budget(it.value(), member_path(at, name), b)) return p;
    out.emplace(name, b);
  }
  return std::nullopt;
}

inline problem read_call_caps(json const& v, std::string const& at, call_caps& out) {
  using o = call_caps;
  static constexpr std::array<field<o>, 2> fields{{
      {"max_tokens",
       [](json const& j, std::string const& p, o& c) { return read_optional(j, p, c.max_tokens, read_token_count); }},
      {"max_usd",
       [](json const& j, std::string const& p, o& c) { return read_optional(j, p, c.max_usd, read_number); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_budgets(json const& v, std::string const& at, budget_options& out) {
  using o = budget_options;
  static constexpr std::array<field<o>, 3> fields{{
      {"per_call", [](json const& j, std::string const& p, o& b) { return read_call_caps(j, p, b.per_call); }},
      {"tenants", [](json const& j, std::string const& p, o& b) { return read_tenants(j, p, b.tenants); }},
      {"default",
       [](json const& j, std::string const& p, o& b) { return read_tenant_budget(j, p, b.default_tenant.emplace()); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_context(json const& v, std::string const& at, context_options& out) {
  using o = context_options;
  static constexpr std::array<field<o>, 1> fields{{
      {"policy",
       [](json const& j, std::string const& p, o& c) { return read_enum(j, p, context_policy_names, c.policy); }},
  }};
  return read_fields(v, at, fields, out);
}

inline constexpr std::array<enum_name<phi::mode>, 5> phi_mode_names{{{"redact", phi::mode::redact},
                                                                     {"pseudonymize", phi::mode::pseudonymize},
                                                                     {"shift", phi::mode::shift},
                                                                     {"generalize", phi::mode::generalize},
                                                                     {"keep", phi::mode::keep}}};

/// {"NAME": "pseudonymize", "DATE": "shift", ...}: a mode per category, named as in placeholders.
inline problem read_phi_modes(json const& v, std::string const& at, phi::protect_options& out) {
  if (!v.is_object()) return fmt::format("{} must be an object, got {}", at, describe(v));
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto const& key = it.key();
    if (is_comment(key)) continue;
    auto const c = phi::parse_category(key);
    if (!c || phi::to_string(*c) != key) {
      std::string names;
      for (auto const n : phi::category_names) names += fmt::format("{}{}", names.empty() ? "" : ", ", n);
      return fmt::format("{} has no category {}: the categories are {}", at, describe(json(key)), names);
    }
    if (auto p = read_enum(it.value(), member_path(at, key), phi_mode_names, out.modes[phi::cat(*c)])) return p;
  }
  return std::nullopt;
}

/// {"$.metadata.insurance.member_id": "ACCOUNT", ...}: JSON paths (phi/fields.hpp) and their categories.
inline problem read_phi_fields(json const& v, std::string const& at, std::vector<phi::field_rule>& out) {
  if (!v.is_object()) return fmt::format("{} must be an object, got {}", at, describe(v));
  out.clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto const& path = it.key();
    if (is_comment(path)) continue;
    auto const where = fmt::format("{}[{}]", at, json(path).dump());
    if (!it.value().is_string()) return fmt::format("{} must be a category name, got {}", where, describe(it.value()));
    auto const type = phi::parse_category(it.value().get_ref<std::string const&>());
    if (!type || phi::to_string(*type) != it.value().get_ref<std::string const&>()) {
      std::string names;
      for (auto const n : phi::category_names) names += fmt::format("{}{}", names.empty() ? "" : ", ", n);
      return fmt::format("{} has no category {}: the categories are {}", where, describe(it.value()), names);
    }
    auto rule = phi::field_rule::parse(path, *type);
    if (!rule) return fmt::format("{}: {}", where, rule.error_message());
    out.push_back(std::move(*rule));
  }
  return std::nullopt;
}

inline problem read_phi(json const& v, std::string const& at, phi::phi_options& out) {
  using o = phi::phi_options;
  static constexpr std::array<field<o>, 5> fields{{
      {"enabled", [](json const& j, std::string const& p, o& x) { return read_bool(j, p, x.enabled); }},
      {"modes", [](json const& j, std::string const& p, o& x) { return read_phi_modes(j, p, x.protect); }},
      {"max_shift_days",
       [](json const& j, std::string const& p, o& x) -> problem {
         std::uint32_t n = 0;
         if (auto e = read_count(j, p, n)) return e;
         if (n < 1 || n > 3650) return fmt::format("{} must be 1..3650, got {}", p, n);
         x.protect.max_shift_days = static_cast<int>(n);
         return std::nullopt;
       }},
      {"fields", [](json const& j, std::string const& p, o& x) { return read_phi_fields(j, p, x.fields); }},
      {"fields_by_name", [](json const& j, std::string const& p, o& x) { return read_bool(j, p, x.fields_by_name); }},
  }};
  return read_fields(v, at, fields, out);
}

// ---- alerts (alerts/options.hpp) ----------------------------------------------------

inline constexpr std::array<enum_name<alerts::payload_format>, 2> payload_format_names{
    {{"json", alerts::payload_format::json}, {"slack", alerts::payload_format::slack}}};

inline problem read_webhook(json const& v, std::string const& at, alerts::webhook& out) {
  using o = alerts::webhook;
  static constexpr std::array<field<o>, 6> fields{{
      {"name", [](json const& j, std::string const& p, o& w) { return read_name(j, p, w.name); }},
      // never quoted back: a webhook URL may carry its secret in the path
      {"url", [](json const& j, std::string const& p, o& w) { return read_string(j, p, w.url); }},
      {"url_env", [](json const& j, std::string const& p, o& w) { return read_api_key_env(j, p, w.url_env); }},
      {"format",
       [](json const& j, std::string const& p, o& w) { return read_enum(j, p, payload_format_names, w.format); }},
      {"token_env", [](json const& j, std::string const& p, o& w) { return read_api_key_env(j, p, w.token_env); }},
      {"timeout_ms", [](json const& j, std::string const& p, o& w) { return read_duration(j, p, w.timeout); }},
  }};
  return read_fields(v, at, fields, out);
}

template <class T, class Read>
problem read_list(json const& v, std::string const& at, std::vector<T>& out, Read read) {
  if (!v.is_array()) return fmt::format("{} must be an array, got {}", at, describe(v));
  out.clear();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (auto p = read(v[i], fmt::format("{}[{}]", at, i), out.emplace_back())) return p;
  return std::nullopt;
}

inline problem read_alert_delivery(json const& v, std::string const& at, alerts::delivery_options& out) {
  using o = alerts::delivery_options;
  static constexpr std::array<field<o>, 4> fields{{
      {"max_attempts", [](json const& j, std::string const& p, o& d) { return read_count(j, p, d.max_attempts); }},
      {"base_ms", [](json const& j, std::string const& p, o& d) { return read_duration(j, p, d.base); }},
      {"cap_ms", [](json const& j, std::string const& p, o& d) { return read_duration(j, p, d.cap); }},
      {"max_pending", [](json const& j, std::string const& p, o& d) { return read_count(j, p, d.max_pending); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_burn_window(json const& v, std::string const& at, alerts::burn_window& out) {
  using o = alerts::burn_window;
  static constexpr std::array<field<o>, 4> fields{{
      {"long_ms", [](json const& j, std::string const& p, o& w) { return read_duration(j, p, w.long_window); }},
      {"short_ms", [](json const& j, std::string const& p, o& w) { return read_duration(j, p, w.short_window); }},
      {"factor", [](json const& j, std::string const& p, o& w) { return read_number(j, p, w.factor); }},
      {"severity", [](json const& j, std::string const& p, o& w) { return read_name(j, p, w.severity); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_burn_rate(json const& v, std::string const& at, alerts::burn_rate_options& out) {
  using o = alerts::burn_rate_options;
  static constexpr std::array<field<o>, 4> fields{{
      {"enabled", [](json const& j, std::string const& p, o& b) { return read_bool(j, p, b.enabled); }},
      {"objective", [](json const& j, std::string const& p, o& b) { return read_number(j, p, b.objective); }},
      {"min_calls", [](json const& j, std::string const& p, o& b) { return read_count(j, p, b.min_calls); }},
      {"windows",
       [](json const& j, std::string const& p, o& b) { return read_list(j, p, b.windows, read_burn_window); }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_alerts(json const& v, std::string const& at, alerts::options& out) {
  using o = alerts::options;
  static constexpr std::array<field<o>, 8> fields{{
      {"webhooks", [](json const& j, std::string const& p, o& a) { return read_list(j, p, a.webhooks, read_webhook); }},
      {"delivery", [](json const& j, std::string const& p, o& a) { return read_alert_delivery(j, p, a.delivery); }},
      {"resolve_after_ms",
       [](json const& j, std::string const& p, o& a) { return read_duration(j, p, a.resolve_after); }},
      {"send_resolved", [](json const& j, std::string const& p, o& a) { return read_bool(j, p, a.send_resolved); }},
      {"breaker_open", [](json const& j, std::string const& p, o& a) { return read_bool(j, p, a.breaker_open); }},
      {"burn_rate", [](json const& j, std::string const& p, o& a) { return read_burn_rate(j, p, a.burn_rate); }},
      {"budget",
       [](json const& j, std::string const& p, o& a) -> problem {
         if (!j.is_object()) return fmt::format("{} must be an object, got {}", p, describe(j));
         for (auto it = j.begin(); it != j.end(); ++it)
           if (!is_comment(it.key()))
             if (auto e = check_field_name(it.key(), p, std::array<std::string_view, 1>{"thresholds"})) return e;
         if (auto t = j.find("thresholds"); t != j.end())
           return read_list(*t, member_path(p, "thresholds"), a.budget_thresholds, read_number);
         return std::nullopt;
       }},
      {"review_queue",
       [](json const& j, std::string const& p, o& a) -> problem {
         if (!j.is_object()) return fmt::format("{} must be an object, got {}", p, describe(j));
         for (auto it = j.begin(); it != j.end(); ++it)
           if (!is_comment(it.key()))
             if (auto e = check_field_name(it.key(), p, std::array<std::string_view, 1>{"max_age_ms"})) return e;
         if (auto t = j.find("max_age_ms"); t != j.end())
           return read_duration(*t, member_path(p, "max_age_ms"), a.review_max_age);
         return std::nullopt;
       }},
  }};
  return read_fields(v, at, fields, out);
}

inline problem read_engine(json const& v, engine_options& out) {
  using o = engine_options;
  static constexpr std::array<field<o>, 15> fields{{
      {"providers",
       [](json const& j, std::string const& p, o& e) { return read_providers(j, p, e.routing.providers); }},
      {"routes", [](json const& j, std::string const& p, o& e) { return read_routes(j, p, e.routing.routes); }},
      {"retry", [](json const& j, std::string const& p, o& e) { return read_retry(j, p, e.retry); }},
      {"deadlines", [](json const& j, std::string const& p, o& e) { return read_deadlines(j, p, e.deadlines); }},
      {"hedge", [](json const& j, std::string const& p, o& e) { return read_hedge(j, p, e.hedge); }},
      {"idempotency", [](json const& j, std::string const& p, o& e) { return read_idempotency(j, p, e.idempotency); }},
      {"review", [](json const& j, std::string const& p, o& e) { return read_review(j, p, e.review); }},
      {"models",
       [](json const& j, std::string const& p, o& e) { return read_model_overrides(j, p, e.models.overrides); }},
      {"budgets", [](json const& j, std::string const& p, o& e) { return read_budgets(j, p, e.budgets); }},
      {"context", [](json const& j, std::string const& p, o& e) { return read_context(j, p, e.context); }},
      {"phi", [](json const& j, std::string const& p, o& e) { return read_phi(j, p, e.phi); }},
      {"patient_key_secret_env",
       [](json const& j, std::string const& p, o& e) { return read_api_key_env(j, p, e.patient_key_secret_env); }},
      {"record_decisions",
       [](json const& j, std::string const& p, o& e) { return read_bool(j, p, e.record_decisions); }},
      {"alerts", [](json const& j, std::string const& p, o& e) { return read_alerts(j, p, e.alerts); }},
      // The sidecar's own settings (native/serve.cpp reads them); the engine has none there.
      {"gateway",
       [](json const& j, std::string const& p, o&) -> problem {
         if (!j.is_object()) return fmt::format("{} must be an object, got {}", p, describe(j));
         return std::nullopt;
       }},
  }};
  return read_fields(v, "", fields, out);
}

// ---- checks across fields --------------------------------------------------------

/// Duplicate provider names and route targets, checked here (rather than left
/// to route_options::validate()) so messages use the JSON paths and never
/// quote a value that may be a secret.
/// Whether route `name` was written as an object ({"chain": [...], ...}) rather than a bare list, in `document`
/// (the whole config; null when unknown, then a route with a canary counts as an object).
inline bool route_is_object(route const& r, json const* document) {
  if (document == nullptr) return r.canary.has_value();
  auto const routes = document->find("routes");
  if (routes == document->end() || !routes->is_object()) return false;
  auto const it = routes->find(r.name);
  return it != routes->end() && it->is_object();
}

inline problem check_references(route_options const& routing, json const* document = nullptr) {
  auto const& providers = routing.providers;
  for (std::size_t i = 0; i < providers.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (providers[j].name == providers[i].name)
        return fmt::format("providers[{}].name repeats providers[{}].name {}", i, j, shown(providers[i].name));
  auto check_chain = [&](std::vector<target> const& chain, std::string const& path) -> problem {
    for (std::size_t k = 0; k < chain.size(); ++k) {
      auto const& t = chain[k];
      auto const* p = routing.find_provider(t.provider);
      auto const at = element_path(path, k);
      if (p == nullptr) return fmt::format("{} names unknown provider {}", at, shown(t.provider));
      if (!p->serves(t.model))
        return fmt::format("{} names model {}, which provider {} does not list in its models", at, shown(t.model),
                           shown(t.provider));
    }
    return std::nullopt;
  };
  for (auto const& r : routing.routes) {
    if (auto p = check_chain(r.chain, route_path(r.name) + (route_is_object(r, document) ? ".chain" : ""))) return p;
    if (r.canary)
      if (auto p = check_chain(r.canary->chain, route_path(r.name) + ".canary.chain")) return p;
  }
  return std::nullopt;
}

/// The option structs' duration fields, whose JSON names add "_ms".
inline constexpr std::array<std::string_view, 23> duration_fields{"slow_call_duration",
                                                                  "open_duration",
                                                                  "max_open_duration",
                                                                  "half_open_probe_timeout",
                                                                  "base",
                                                                  "step",
                                                                  "cap",
                                                                  "ttl",
                                                                  "timeout",
                                                                  "attempt_timeout",
                                                                  "min_attempt_time",
                                                                  "max_retry_after",
                                                                  "connect_timeout",
                                                                  "burst",
                                                                  "token_burst",
                                                                  "latency_threshold",
                                                                  "window",
                                                                  "long_window",
                                                                  "probe_interval",
                                                                  "p95",
                                                                  "min_delay",
                                                                  "max_delay",
                                                                  "at"};

/// An option struct's C++ field path in JSON terms: durations gain "_ms",
/// "routes[2].chain[1]" becomes "routes.clinical-summary[1]" (or
/// "routes.clinical-summary.chain[1]" for a route written as an object),
/// canary "basis_points" are the config's "percent".
inline std::string json_path_of(std::string_view field_path, route_options const& routing,
                                json const* document = nullptr) {
  std::string out;
  bool in_route = false;
  bool object_route = false;
  std::string_view previous;
  std::size_t start = 0;
  while (start <= field_path.size()) {
    auto end = field_path.find('.', start);
    if (end == std::string_view::npos) end = field_path.size();
    auto part = field_path.substr(start, end - start);
    start = end + 1;
    std::size_t index = 0;
    if (part.starts_with("routes[") &&
        std::from_chars(part.data() + 7, part.data() + part.size(), index).ec == std::errc{} &&
        index < routing.routes.size()) {
      out = route_path(routing.routes[index].name);  // routes are at the top level
      in_route = true;
      object_route = route_is_object(routing.routes[index], document);
      continue;
    }
    if (in_route && !object_route) {
      if (part == "name" || part == "chain") continue;
      if (part.starts_with("chain[")) {
        out += part.substr(5);
        continue;
      }
    }
    if (in_route && (part == "name" || part == "options")) continue;
    std::string name{part};
    auto const bracket = part.find('[');
    auto const base = part.substr(0, bracket);
    // The breaker's "window" is its kind, not a duration.
    bool const breaker_window = base == "window" && previous == "breaker";
    for (auto d : duration_fields)
      if (base == d && !breaker_window) {
        name = fmt::format("{}_ms{}", base, bracket == std::string_view::npos ? "" : part.substr(bracket));
        break;
      }
    if (in_route && base == "basis_points") name = "percent";
    previous = part;
    if (out.empty())
      out = name;
    else
      out += (name.starts_with('[') ? "" : ".") + name;
  }
  return out;
}

/// A validate() message in JSON terms: "must be >= open_duration (30000ms), got 1000ms"
/// names the other field as "open_duration_ms".
inline std::string json_message_of(std::string_view message) {
  std::string out{message};
  for (auto d : duration_fields) {
    auto const cxx = fmt::format(" {} (", d);
    auto const json_name = fmt::format(" {}_ms (", d);
    for (auto at = out.find(cxx); at != std::string::npos; at = out.find(cxx, at + json_name.size()))
      out.replace(at, cxx.size(), json_name);
  }
  return out;
}

// ---- parsing ------------------------------------------------------------------------

/// Finds the first member name written twice in one object (nlohmann keeps
/// only the last, which would hide a mistake). Comment keys may repeat.
class duplicate_finder {
 public:
  bool on_event(json::parse_event_t event, json const& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        frames_.push_back({event == json::parse_event_t::array_start, 0, {}, {}, child_label()});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case json::parse_event_t::key:
        if (auto const* key = parsed.get_ptr<json::string_t const*>(); key != nullptr && !frames_.empty()) {
          auto& top = frames_.back();
          top.key = *key;
          if (!is_comment(*key) && !top.keys.insert(*key).second && !found_) found_ = describe_duplicate(*key);
        }
        break;
      case json::parse_event_t::value:
        child_label();
        break;
    }
    return true;  // keep everything: this is only an observer
  }

  [[nodiscard]] problem const& found() const { return found_; }

 private:
  struct frame {
    bool is_array;
    std::size_t count;
    std::string key;             // the member being read (objects)
    std::set<std::string> keys;  // the members seen so far (objects)
    std::string label;           // this container's step in the path: "[0]", "breaker", "" for the root
  };

  std::string child_label() {
    if (frames_.empty()) return {};
    auto& top = frames_.back();
    if (top.is_array) return fmt::format("[{}]", top.count++);
    return can_show(top.key) ? top.key : std::string{"(a name not shown)"};
  }

  [[nodiscard]] std::string describe_duplicate(std::string const& key) const {
    std::string path;
    for (auto const& f : frames_) {
      if (f.label.empty()) continue;
      if (!path.empty() && f.label.front() != '[') path += '.';
      path += f.label;
    }
    if (!can_show(key))
      return fmt::format("a field appears twice {} (its name is not shown: it may be a secret)", location(path));
    return fmt::format("field {} appears twice {}", as_json_string(key), location(path));
  }

  std::vector<frame> frames_;
  problem found_;
};

/// Locates a syntax error (the DOM parser without exceptions only says "discarded").
class syntax_error_finder : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, string_t const&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, std::string const&, nlohmann::detail::exception const& e) override {
    // The exception's text quotes the last token read, which may be a key: only its category is used.
    std::string_view const what = e.what();
    if (e.id == 406) {
      kind_ = "a number out of range";
    } else if (what.find("ill-formed UTF-8") != std::string_view::npos) {
      kind_ = "invalid UTF-8";
    } else if (what.find("unexpected end of input") != std::string_view::npos) {
      kind_ = "unexpected end of input";
    } else {
      kind_ = "syntax error";
    }
    position_ = position;
    return false;
  }

  [[nodiscard]] std::string message(std::string_view text) const {
    // nlohmann's position counts bytes read, so it is the 1-based offset of the
    // offending byte, one past the text at its end. (A NUL byte inside the text
    // is also reported as "end of input".)
    auto const kind = kind_ == "unexpected end of input" && position_ <= text.size() ? "syntax error" : kind_;
    auto const before = text.substr(0, std::min(text.size(), position_ == 0 ? 0 : position_ - 1));
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < before.size(); ++i)
      if (before[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    return fmt::format("not valid JSON: {} at byte {} (line {}, column {})", kind, position_, line,
                       position_ - line_start);
  }

 private:
  std::string kind_ = "syntax error";
  std::size_t position_ = 0;
};

inline error config_error(std::string_view message) { return error{fmt::format("config: {}", message)}; }

inline json duration_ms(duration d) {
  auto const us = d.count();
  if (us % 1000 == 0) return json(us / 1000);
  return json(static_cast<double>(us) / 1000.0);
}

}  // namespace detail::configuration

inline result<engine_options> parse_config(std::string_view text) {
  namespace c = detail::configuration;
  c::duplicate_finder duplicates;
  auto const document = c::json::parse(
      text,
      [&duplicates](int, c::json::parse_event_t event, c::json& parsed) { return duplicates.on_event(event, parsed); },
      false);
  if (document.is_discarded()) {
    c::syntax_error_finder finder;
    c::json::sax_parse(text, &finder);
    return c::config_error(finder.message(text));
  }
  if (auto const& p = duplicates.found()) return c::config_error(*p);
  if (!document.is_object())
    return c::config_error(fmt::format("the top level must be a JSON object, got {}", c::describe(document)));

  engine_options options;
  if (auto p = c::read_engine(document, options)) return c::config_error(*p);
  if (!document.contains("providers")) return c::config_error("providers is required: list at least one provider");
  if (auto p = c::check_references(options.routing, &document)) return c::config_error(*p);
  if (auto e = options.validate()) {
    auto const path = c::json_path_of(e->field, options.routing, &document);
    auto const message = c::json_message_of(e->message);
    return c::config_error(path.empty() ? message : fmt::format("{} {}", path, message));
  }
  return options;
}

inline config_json to_json(engine_options const& o) {
  namespace c = detail::configuration;
  using c::duration_ms;
  config_json providers = config_json::array();
  for (auto const& p : o.routing.providers) {
    config_json j;
    j["name"] = p.name;
    j["base_url"] = p.base_url;
    if (!p.api_key_env.empty()) j["api_key_env"] = p.api_key_env;
    if (!p.api_key_file.empty()) j["api_key_file"] = p.api_key_file;
    j["models"] = p.models;
    j["connect_timeout_ms"] = duration_ms(p.connect_timeout);
    j["attempt_timeout_ms"] = duration_ms(p.attempt_timeout);
    auto const& b = p.breaker;
    j["breaker"] = config_json{
        {"consecutive_failures", b.consecutive_failures},
        {"window", c::name_of(c::window_kind_names, b.window)},
        {"window_size", b.window_size},
        {"minimum_calls", b.minimum_calls},
        {"failure_rate_threshold", b.failure_rate_threshold},
        {"slow_call_rate_threshold", b.slow_call_rate_threshold},
        {"slow_call_duration_ms", duration_ms(b.slow_call_duration)},
        {"open_duration_ms", duration_ms(b.open_duration)},
        {"open_duration_multiplier", b.open_duration_multiplier},
        {"max_open_duration_ms", duration_ms(b.max_open_duration)},
        {"half_open_probes", b.half_open_probes},
        {"half_open_successes", b.half_open_successes},
        {"half_open_probe_timeout_ms", duration_ms(b.half_open_probe_timeout)},
    };
    auto const& rl = p.rate_limit;
    j["rate_limit"] = config_json{{"requests_per_minute", rl.requests_per_minute},
                                  {"tokens_per_minute", rl.tokens_per_minute},
                                  {"burst_ms", duration_ms(rl.burst)},
                                  {"token_burst_ms", duration_ms(rl.token_burst)},
                                  {"normal_share", rl.normal_share},
                                  {"batch_share", rl.batch_share}};
    auto const& cc = p.concurrency;
    j["concurrency"] = config_json{{"max_concurrent", cc.max_concurrent},
                                   {"adaptive", cc.adaptive},
                                   {"initial_limit", cc.initial_limit},
                                   {"min_limit", cc.min_limit},
                                   {"max_limit", cc.max_limit},
                                   {"backoff_ratio", cc.backoff_ratio},
                                   {"latency_threshold_ms", duration_ms(cc.latency_threshold)}};
    auto const& h = p.health;
    config_json tiers = config_json::array();
    for (auto const& t : h.tiers)
      tiers.push_back({{"name", t.name}, {"availability", t.availability}, {"p95_ms", duration_ms(t.p95)}});
    j["health"] = config_json{{"window_ms", duration_ms(h.window)},
                              {"long_window_ms", duration_ms(h.long_window)},
                              {"sla_tier", h.sla_tier},
                              {"tiers", std::move(tiers)},
                              {"probe_interval_ms", duration_ms(h.probe_interval)},
                              {"probe_timeout_ms", duration_ms(h.probe_timeout)},
                              {"probes_count_in_availability", h.probes_count_in_availability},
                              {"relative_accuracy", h.relative_accuracy},
                              {"max_buckets", h.max_buckets}};
    providers.push_back(std::move(j));
  }
  config_json routes = config_json::object();
  auto chain_json = [](std::vector<target> const& chain) {
    config_json out = config_json::array();
    for (auto const& t : chain) out.push_back(fmt::format("{}/{}", t.provider, t.model));
    return out;
  };
  auto percent = [](std::uint32_t basis_points) {
    return basis_points % 100 == 0 ? config_json(basis_points / 100) : config_json(basis_points / 100.0);
  };
  for (auto const& r : o.routing.routes) {
    if (!r.canary) {
      routes[r.name] = chain_json(r.chain);
      continue;
    }
    auto const& k = r.canary->options;
    config_json ramp = config_json::array();
    for (auto const& step : k.ramp)
      ramp.push_back({{"at_ms", duration_ms(step.at)}, {"percent", percent(step.basis_points)}});
    routes[r.name] = config_json{{"chain", chain_json(r.chain)},
                                 {"canary",
                                  {{"chain", chain_json(r.canary->chain)},
                                   {"percent", percent(k.basis_points)},
                                   {"ramp", std::move(ramp)},
                                   {"by_study_type", k.by_study_type},
                                   {"rollback",
                                    {{"enabled", k.rollback.enabled},
                                     {"window_ms", duration_ms(k.rollback.window)},
                                     {"min_calls", k.rollback.min_calls},
                                     {"margin", k.rollback.margin},
                                     {"z", k.rollback.z}}}}}};
  }
  auto const& retry = o.retry;
  config_json out;
  out["providers"] = std::move(providers);
  out["routes"] = std::move(routes);
  out["retry"] = config_json{
      {"max_attempts_per_target", retry.max_attempts_per_target},
      {"max_retry_after_ms", duration_ms(retry.max_retry_after)},
      {"backoff",
       {
           {"kind", c::name_of(c::backoff_kind_names, retry.backoff.kind)},
           {"base_ms", duration_ms(retry.backoff.base)},
           {"multiplier", retry.backoff.multiplier},
           {"step_ms", duration_ms(retry.backoff.step)},
           {"cap_ms", duration_ms(retry.backoff.cap)},
           {"jitter", c::name_of(c::jitter_kind_names, retry.backoff.jitter)},
       }},
      {"budget",
       {
           {"ttl_ms", duration_ms(retry.budget.ttl)},
           {"min_retries_per_second", retry.budget.min_retries_per_second},
           {"retry_ratio", retry.budget.retry_ratio},
       }},
  };
  out["deadlines"] = config_json{
      {"timeout_ms", duration_ms(o.deadlines.timeout)},
      {"attempt_timeout_ms", duration_ms(o.deadlines.attempt_timeout)},
      {"min_attempt_time_ms", duration_ms(o.deadlines.min_attempt_time)},
  };
  auto const& h = o.hedge;
  out["hedge"] = config_json{{"enabled", h.enabled},
                             {"percentile", h.percentile},
                             {"min_delay_ms", duration_ms(h.min_delay)},
                             {"max_delay_ms", duration_ms(h.max_delay)},
                             {"min_samples", h.min_samples},
                             {"max_extra_ratio", h.max_extra_ratio},
                             {"same_target", h.same_target},
                             {"budget_window_ms", duration_ms(h.budget_window)},
                             {"min_hedges_per_second", h.min_hedges_per_second}};
  auto const& i = o.idempotency;
  out["idempotency"] = config_json{{"enabled", i.enabled},
                                   {"derive_keys", i.derive_keys},
                                   {"ttl_ms", duration_ms(i.ttl)},
                                   {"max_entries", i.max_entries},
                                   {"max_key_bytes", i.max_key_bytes}};
  auto const& rv = o.review;
  out["review"] = config_json{{"enabled", rv.enabled},
                              {"threshold", rv.threshold},
                              {"confidence_field", rv.confidence_field},
                              {"use_logprobs", rv.use_logprobs},
                              {"missing_is_low", rv.missing_is_low},
                              {"max_pending", rv.max_pending}};
  config_json models = config_json::object();
  for (auto const& m : o.models.overrides) {
    config_json j = config_json::object();
    if (m.encoding) j["encoding"] = *m.encoding;
    if (m.context_window) j["context_window"] = *m.context_window;
    if (m.input_usd_per_million) j["input_usd_per_million"] = *m.input_usd_per_million;
    if (m.output_usd_per_million) j["output_usd_per_million"] = *m.output_usd_per_million;
    if (m.max_output_tokens) j["max_output_tokens"] = *m.max_output_tokens;
    if (m.format) j["format"] = c::name_of(c::chat_format_names, *m.format);
    if (m.exact_tokenizer) j["exact_tokenizer"] = *m.exact_tokenizer;
    models[m.name] = std::move(j);
  }
  out["models"] = std::move(models);
  auto tenant_json = [](tenant_budget const& b) {
    config_json j = config_json::object();
    if (b.daily_usd) j["daily_usd"] = *b.daily_usd;
    if (b.daily_tokens) j["daily_tokens"] = *b.daily_tokens;
    return j;
  };
  auto const& bo = o.budgets;
  config_json per_call = config_json::object();
  if (bo.per_call.max_tokens) per_call["max_tokens"] = *bo.per_call.max_tokens;
  if (bo.per_call.max_usd) per_call["max_usd"] = *bo.per_call.max_usd;
  config_json tenants = config_json::object();
  for (auto const& [name, b] : bo.tenants) tenants[name] = tenant_json(b);
  out["budgets"] = config_json{{"per_call", std::move(per_call)}, {"tenants", std::move(tenants)}};
  if (bo.default_tenant) out["budgets"]["default"] = tenant_json(*bo.default_tenant);
  out["context"] = config_json{{"policy", c::name_of(c::context_policy_names, o.context.policy)}};
  config_json modes = config_json::object();
  for (std::size_t k = 0; k < phi::category_count; ++k)
    modes[std::string{phi::category_names[k]}] = c::name_of(c::phi_mode_names, o.phi.protect.modes[k]);
  config_json fields = config_json::object();
  for (auto const& rule : o.phi.fields) fields[rule.path()] = std::string{phi::to_string(rule.type())};
  out["phi"] = config_json{{"enabled", o.phi.enabled},
                           {"modes", std::move(modes)},
                           {"max_shift_days", o.phi.protect.max_shift_days},
                           {"fields", std::move(fields)},
                           {"fields_by_name", o.phi.fields_by_name}};
  out["patient_key_secret_env"] = o.patient_key_secret_env;
  out["record_decisions"] = o.record_decisions;
  auto const& al = o.alerts;
  config_json hooks = config_json::array();
  for (auto const& w : al.webhooks) {
    config_json j{{"name", w.name}};
    if (!w.url.empty()) j["url"] = w.url;
    if (!w.url_env.empty()) j["url_env"] = w.url_env;
    j["format"] = c::name_of(c::payload_format_names, w.format);
    j["token_env"] = w.token_env;
    j["timeout_ms"] = duration_ms(w.timeout);
    hooks.push_back(std::move(j));
  }
  config_json windows = config_json::array();
  for (auto const& w : al.burn_rate.windows)
    windows.push_back(config_json{{"long_ms", duration_ms(w.long_window)},
                                  {"short_ms", duration_ms(w.short_window)},
                                  {"factor", w.factor},
                                  {"severity", w.severity}});
  out["alerts"] = config_json{{"webhooks", std::move(hooks)},
                              {"delivery", config_json{{"max_attempts", al.delivery.max_attempts},
                                                       {"base_ms", duration_ms(al.delivery.base)},
                                                       {"cap_ms", duration_ms(al.delivery.cap)},
                                                       {"max_pending", al.delivery.max_pending}}},
                              {"resolve_after_ms", duration_ms(al.resolve_after)},
                              {"send_resolved", al.send_resolved},
                              {"breaker_open", al.breaker_open},
                              {"burn_rate", config_json{{"enabled", al.burn_rate.enabled},
                                                        {"objective", al.burn_rate.objective},
                                                        {"min_calls", al.burn_rate.min_calls},
                                                        {"windows", std::move(windows)}}},
                              {"budget", config_json{{"thresholds", al.budget_thresholds}}},
                              {"review_queue", config_json{{"max_age_ms", duration_ms(al.review_max_age)}}}};
  return out;
}

inline engine_options default_options() {
  engine_options o;
  for (std::string_view name : {"primary", "fallback"}) {
    provider p;
    p.name = std::string{name};
    p.base_url = fmt::format("http://127.0.0.1:8900/{}/v1", name);
    p.models = {"gpt-4o-mini"};
    o.routing.providers.push_back(std::move(p));
  }
  o.routing.routes.push_back(
      {"clinical-summary", {{"primary", "gpt-4o-mini"}, {"fallback", "gpt-4o-mini"}}, std::nullopt});
  return o;
}

}  // namespace medgate
