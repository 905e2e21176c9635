// idempotency.hpp — idempotency keys, coalescing of identical calls in flight, and a TTL cache of completed results.
//
// A clinician who double-clicks "summarize", or an integration engine that
// resends a message after a timeout, must not cause a second paid (and
// possibly different) answer. A call that carries an idempotency key — the
// caller's `Idempotency-Key`, or one derived from the canonical request and
// the patient-key hash — is sent to a provider at most once (its own retries
// aside): a second call with the same key either joins the call in flight and
// receives the same result, or, after it finished successfully, is answered
// from the cache.
//
// Exact semantics.
// - Keys: `derive_idempotency_key` is 64 lower-case hex digits of SHA-256 over
//   a domain-separated, length-prefixed encoding (below); a caller's key
//   becomes "k:" followed by 64 hex digits of SHA-256 (HMAC-SHA-256 when a
//   secret is given) of a different domain. A derived key has no ':' so the
//   two can never collide, and neither holds the caller's text: a key may be
//   put in a log or an audit record. Hashed layout: the ASCII domain tag, a
//   0x00 byte, then each field as its byte length in 8 big-endian bytes
//   followed by its bytes.
// - admit(key, id, now): answered from the cache if a completed result for
//   `key` is there and unexpired (kind::cached); else joins the call in flight
//   for `key` (kind::join, naming the leader); else `id` leads (kind::lead)
//   and the host sends it. An id already in the flight is not added twice.
// - complete(key, result, cache, now): the flight ends; the ids that joined
//   are returned in arrival order, to be answered with the same result, and
//   the key is released. Only when `cache` is true (a success) is the result
//   kept, until `now + ttl`: served while now < that instant, expired from it
//   on (the boundary is exclusive). A failure is not cached, so the next call
//   with the key leads a fresh attempt.
// - Size bound: beyond `max_entries` the oldest completed result (the one
//   completed first, which is also the one expiring first) is evicted. Hits do
//   not refresh the age: a result is never served longer than `ttl` after it
//   was produced.
// - Disabled: every admit leads, and nothing is tracked.
// - Time going backwards is safe: a `now` earlier than the newest instant seen
//   is taken as that newest instant, so nothing expired comes back.
// Iteration order never leaks into outputs: flights and entries are keyed in
// ordered maps and followers kept in arrival order.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "field_error.hpp"
#include "hash.hpp"
#include "time.hpp"

namespace medgate {

struct idempotency_options {
  bool enabled = true;  ///< coalesce and cache at all
  /// Derive a key from the request and the patient-key hash when the caller
  /// gave none. The engine derives keys only for calls that carry a patient
  /// key: identical prompts from anonymous callers are not deduplicated.
  bool derive_keys = true;
  duration ttl = std::chrono::minutes{10};  ///< how long a completed result is served from cache; >= 0 (0: no cache)
  std::size_t max_entries = 10000;          ///< completed results kept; the oldest is evicted beyond this (0: no cache)
  std::size_t max_key_bytes = 256;          ///< caller keys longer than this are refused; in [1, 65536]

  static constexpr std::size_t max_max_key_bytes = 65536;

  [[nodiscard]] validation validate() const {
    if (ttl < duration{0}) return invalid("ttl", "must be >= 0, got {}", to_string(ttl));
    if (max_key_bytes == 0) return invalid("max_key_bytes", "must be > 0, got 0");
    if (max_key_bytes > max_max_key_bytes)
      return invalid("max_key_bytes", "must be <= {}, got {}", max_max_key_bytes, max_key_bytes);
    return std::nullopt;
  }
};

namespace detail {
inline void append_field(std::string& out, std::string_view field) {
  auto const n = static_cast<std::uint64_t>(field.size());
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(field);
}

inline std::string idempotency_message(std::string_view domain, std::initializer_list<std::string_view> fields) {
  std::string out{domain};
  out.push_back('\0');
  for (auto f : fields) append_field(out, f);
  return out;
}
}  // namespace detail

/// Hex SHA-256 over a domain-separated encoding of (canonical request JSON,
/// patient-key hash): "medgate.idempotency.derived.v1", 0x00, then each of
/// the two fields length-prefixed (8 bytes, big-endian). Canonical JSON is
/// the caller's job (nlohmann::json::dump() of a parsed object sorts keys).
/// 64 lower-case hex digits, no prefix.
inline std::string derive_idempotency_key(std::string_view canonical_request, std::string_view patient_key_hash) {
  auto const digest = sha256_digest(
      detail::idempotency_message("medgate.idempotency.derived.v1", {canonical_request, patient_key_hash}));
  return to_hex(digest);
}

/// A caller's key, namespaced so it can never collide with a derived key:
/// "k:" + hex SHA-256 of ("medgate.idempotency.caller.v1", 0x00, key
/// length-prefixed), or of HMAC-SHA-256 under `secret` when one is given (so
/// a guessable key cannot be confirmed from the hash). The caller's text
/// itself is not kept.
inline std::string caller_idempotency_key(std::string_view key, std::string_view secret = {}) {
  auto const message = detail::idempotency_message("medgate.idempotency.caller.v1", {key});
  auto const digest = secret.empty() ? sha256_digest(message) : hmac_sha256(secret, message);
  return "k:" + to_hex(digest);
}

/// Whether a caller's Idempotency-Key is acceptable: 1 to `max_key_bytes`
/// bytes of printable ASCII (0x20..0x7e), as an HTTP header value allows. The
/// error names the field "idempotency_key" and never quotes the key.
[[nodiscard]] inline validation check_caller_idempotency_key(std::string_view key, idempotency_options const& o) {
  if (key.empty()) return invalid("idempotency_key", "must not be empty");
  if (key.size() > o.max_key_bytes)
    return invalid("idempotency_key", "must be at most {} bytes, got {}", o.max_key_bytes, key.size());
  for (std::size_t i = 0; i < key.size(); ++i) {
    auto const c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c > 0x7e)
      return invalid("idempotency_key", "must be printable ASCII, got byte 0x{:02x} at offset {}", c, i);
  }
  return std::nullopt;
}

/// In-flight coalescing and completed-result cache, keyed by idempotency key.
/// `Id` names one call of the host (copyable, equality-comparable). Not
/// thread-safe: one owner drives it.
template <class Result, class Id = std::uint64_t>
class idempotency_cache {
 public:
  explicit idempotency_cache(idempotency_options o = {}) { set_options(o); }

  /// New settings (a config reload). Calls in flight keep their followers;
  /// cached answers stay (dropped when caching is turned off) and expire at
  /// the time they were given.
  void set_options(idempotency_options o) {
    options_ = o;
    if (options_.ttl < duration{0}) options_.ttl = duration{0};
    if (!options_.enabled) {
      entries_.clear();
      order_.clear();
    }
  }

  enum class kind : std::uint8_t { lead, join, cached };
  struct admission {
    kind what;
    Id leader{};                     ///< the call to wait for (kind::join), or `id` itself (kind::lead)
    Result const* cached = nullptr;  ///< kind::cached: valid until the next mutation of the cache
  };

  [[nodiscard]] idempotency_options const& options() const noexcept { return options_; }

  /// A call with `key` arrives: lead it (nobody has it), join the leader in flight, or answer from cache.
  admission admit(std::string const& key, Id id, instant now) {
    if (!options_.enabled) return {kind::lead, id, nullptr};
    instant const t = observe(now);
    purge_expired(t);
    if (auto e = entries_.find(key); e != entries_.end()) return {kind::cached, Id{}, &e->second.result};
    if (auto f = flights_.find(key); f != flights_.end()) {
      flight& fl = f->second;
      if (!(fl.leader == id) && std::find(fl.followers.begin(), fl.followers.end(), id) == fl.followers.end())
        fl.followers.push_back(id);
      return {kind::join, fl.leader, nullptr};
    }
    flights_.emplace(key, flight{id, {}});
    return {kind::lead, id, nullptr};
  }

  /// The leader finished. Returns the ids that joined it (in arrival order) so the host can answer them with the
  /// same result; caches `result` for `ttl` when `cache` is true. A key with no flight returns nothing (and caches
  /// nothing: only a leader's completion counts).
  std::vector<Id> complete(std::string const& key, Result result, bool cache, instant now) {
    instant const t = observe(now);
    purge_expired(t);
    auto f = flights_.find(key);
    if (f == flights_.end()) return {};  // always so while disabled: admit keeps no flights then
    std::vector<Id> followers = std::move(f->second.followers);
    flights_.erase(f);
    if (cache && options_.enabled) store(key, std::move(result), t);
    return followers;
  }

  /// A joined call went away (cancelled) before the leader finished. The leader itself is not removed by
  /// `leave`: use `abandon`.
  void leave(std::string const& key, Id id) {
    auto f = flights_.find(key);
    if (f == flights_.end()) return;
    auto& followers = f->second.followers;
    followers.erase(std::remove(followers.begin(), followers.end(), id), followers.end());
  }

  /// The leader was cancelled: the first follower (if any) becomes the leader; returns it. With no follower the
  /// key is released.
  std::optional<Id> abandon(std::string const& key, instant now) {
    observe(now);
    auto f = flights_.find(key);
    if (f == flights_.end()) return std::nullopt;
    auto& followers = f->second.followers;
    if (followers.empty()) {
      flights_.erase(f);
      return std::nullopt;
    }
    f->second.leader = followers.front();
    followers.erase(followers.begin());
    return f->second.leader;
  }

  /// The leader of the call in flight for `key`, if any.
  [[nodiscard]] std::optional<Id> leader(std::string const& key) const {
    auto f = flights_.find(key);
    if (f == flights_.end()) return std::nullopt;
    return f->second.leader;
  }

  /// Drops completed results expired by `now`; returns how many.
  std::size_t purge_expired(instant now) {
    instant const t = effective(now);
    std::size_t dropped = 0;
    while (!order_.empty()) {
      auto e = entries_.find(order_.front());
      if (e->second.expires > t) break;
      entries_.erase(e);
      order_.pop_front();
      ++dropped;
    }
    return dropped;
  }

  /// Keys with a call in flight.
  [[nodiscard]] std::size_t in_flight() const { return flights_.size(); }
  /// Completed results held (expired ones go at the next admit, complete or purge_expired).
  [[nodiscard]] std::size_t cached() const { return entries_.size(); }

 private:
  struct flight {
    Id leader;
    std::vector<Id> followers;  // arrival order
  };
  struct entry {
    Result result;
    instant expires;
    std::list<std::string>::iterator position;  // in order_
  };

  [[nodiscard]] instant effective(instant now) const noexcept { return newest_ && *newest_ > now ? *newest_ : now; }

  instant observe(instant now) {
    instant const t = effective(now);
    newest_ = t;
    return t;
  }

  void store(std::string const& key, Result result, instant t) {
    if (options_.ttl <= duration{0} || options_.max_entries == 0) return;
    if (auto old = entries_.find(key); old != entries_.end()) {  // cannot happen through admit; kept safe anyway
      order_.erase(old->second.position);
      entries_.erase(old);
    }
    order_.push_back(key);
    entries_.emplace(key, entry{std::move(result), add(t, options_.ttl), std::prev(order_.end())});
    while (entries_.size() > options_.max_entries) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
  }

  idempotency_options options_;
  std::map<std::string, flight> flights_;
  std::map<std::string, entry> entries_;
  std::list<std::string> order_;  // cached keys, oldest completion first; expiry times are non-decreasing along it
  std::optional<instant> newest_;
};

}  // namespace medgate
