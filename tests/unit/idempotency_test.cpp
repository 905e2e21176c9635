#include "medgate/idempotency.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "medgate/random.hpp"

using namespace medgate;
using namespace std::chrono_literals;

namespace {

instant at(duration d) { return from_us(0) + d; }

using cache = idempotency_cache<std::string>;
using kind = cache::kind;

idempotency_options with(duration ttl, std::size_t max_entries) {
  idempotency_options o;
  o.ttl = ttl;
  o.max_entries = max_entries;
  return o;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

TEST_CASE("lead, join, then answer from the cache") {
  cache c;
  auto a = c.admit("k1", 1, at(0s));
  CHECK(a.what == kind::lead);
  CHECK(a.leader == 1);
  CHECK(a.cached == nullptr);
  CHECK(c.in_flight() == 1);

  auto b = c.admit("k1", 2, at(1s));
  CHECK(b.what == kind::join);
  CHECK(b.leader == 1);
  auto d = c.admit("k1", 3, at(1s));
  CHECK(d.what == kind::join);
  CHECK(c.admit("other", 4, at(1s)).what == kind::lead);  // another key is independent
  CHECK(c.in_flight() == 2);

  auto const followers = c.complete("k1", "summary", true, at(2s));
  CHECK(followers == std::vector<std::uint64_t>{2, 3});
  CHECK(c.in_flight() == 1);
  CHECK(c.cached() == 1);

  auto e = c.admit("k1", 5, at(3s));
  CHECK(e.what == kind::cached);
  REQUIRE(e.cached != nullptr);
  CHECK(*e.cached == "summary");
  CHECK(c.in_flight() == 1);  // a cache hit starts nothing
}

TEST_CASE("an id admitted twice is not added twice and never leads twice") {
  cache c;
  CHECK(c.admit("k", 1, at(0s)).what == kind::lead);
  auto again = c.admit("k", 1, at(0s));
  CHECK(again.what == kind::join);
  CHECK(again.leader == 1);
  CHECK(c.admit("k", 2, at(0s)).what == kind::join);
  CHECK(c.admit("k", 2, at(0s)).what == kind::join);
  CHECK(c.complete("k", "r", false, at(1s)) == std::vector<std::uint64_t>{2});
}

TEST_CASE("the TTL boundary is exclusive: served before completion + ttl, expired at it") {
  cache c{with(10s, 100)};
  c.admit("k", 1, at(0s));
  c.complete("k", "r", true, at(5s));
  CHECK(c.admit("k", 2, at(15s) - 1us).what == kind::cached);
  auto const expired = c.admit("k", 3, at(15s));
  CHECK(expired.what == kind::lead);  // a fresh call goes to the provider
  CHECK(expired.leader == 3);
  CHECK(c.cached() == 0);
}

TEST_CASE("hits do not extend the TTL") {
  cache c{with(10s, 100)};
  c.admit("k", 1, at(0s));
  c.complete("k", "r", true, at(0s));
  for (int s = 1; s < 10; ++s) CHECK(c.admit("k", 100 + s, at(std::chrono::seconds{s})).what == kind::cached);
  CHECK(c.admit("k", 200, at(10s)).what == kind::lead);
}

TEST_CASE("purge_expired drops expired results") {
  cache c{with(10s, 100)};
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto const key = fmt::format("k{}", i);
    c.admit(key, i, at(std::chrono::seconds{i}));
    c.complete(key, "r", true, at(std::chrono::seconds{i}));
  }
  CHECK(c.cached() == 5);
  CHECK(c.purge_expired(at(11s) + 500ms) == 2);  // completed at 0s and 1s
  CHECK(c.cached() == 3);
  CHECK(c.purge_expired(at(100s)) == 3);
}

TEST_CASE("the size bound evicts the oldest completed result") {
  cache c{with(1h, 3)};
  for (std::uint64_t i = 0; i < 4; ++i) {
    auto const key = fmt::format("k{}", i);
    if (i > 0) REQUIRE(c.admit("k0", 100 + i, at(std::chrono::seconds{i})).what == kind::cached);  // not LRU:
    c.admit(key, i, at(std::chrono::seconds{i}));  // hits on k0 do not keep it
    c.complete(key, fmt::format("r{}", i), true, at(std::chrono::seconds{i}));
  }
  CHECK(c.cached() == 3);
  CHECK(c.admit("k0", 10, at(5s)).what == kind::lead);
  for (std::uint64_t i = 1; i < 4; ++i) {
    auto const a = c.admit(fmt::format("k{}", i), 20 + i, at(5s));
    REQUIRE(a.what == kind::cached);
    CHECK(*a.cached == fmt::format("r{}", i));
  }
}

TEST_CASE("a failed result is not cached, but the followers get it, and the key is released") {
  cache c;
  c.admit("k", 1, at(0s));
  c.admit("k", 2, at(0s));
  c.admit("k", 3, at(0s));
  CHECK(c.complete("k", "HTTP 503", false, at(1s)) == std::vector<std::uint64_t>{2, 3});
  CHECK(c.cached() == 0);
  CHECK(c.in_flight() == 0);
  auto const retry = c.admit("k", 4, at(2s));
  CHECK(retry.what == kind::lead);
  CHECK(retry.leader == 4);
}

TEST_CASE("complete without a flight returns nothing and caches nothing") {
  cache c;
  CHECK(c.complete("k", "r", true, at(0s)).empty());
  CHECK(c.cached() == 0);
}

TEST_CASE("leave removes a follower; abandon promotes the first follower") {
  cache c;
  c.admit("k", 1, at(0s));
  c.admit("k", 2, at(0s));
  c.admit("k", 3, at(0s));
  c.admit("k", 4, at(0s));
  c.leave("k", 3);
  c.leave("k", 1);        // the leader is not removed by leave
  c.leave("missing", 2);  // an unknown key is ignored
  CHECK(c.abandon("k", at(1s)) == std::optional<std::uint64_t>{2});
  CHECK(c.leader("k") == std::optional<std::uint64_t>{2});
  auto const late = c.admit("k", 5, at(1s));
  CHECK(late.what == kind::join);
  CHECK(late.leader == 2);
  CHECK(c.complete("k", "r", true, at(2s)) == std::vector<std::uint64_t>{4, 5});

  c.admit("solo", 9, at(3s));
  CHECK_FALSE(c.abandon("solo", at(3s)).has_value());  // nobody left: the key is released
  CHECK(c.in_flight() == 0);
  CHECK(c.admit("solo", 10, at(3s)).what == kind::lead);
  CHECK_FALSE(c.abandon("missing", at(3s)).has_value());
}

TEST_CASE("disabled: every call leads and nothing is tracked") {
  idempotency_options o;
  o.enabled = false;
  cache c{o};
  CHECK(c.admit("k", 1, at(0s)).what == kind::lead);
  CHECK(c.admit("k", 2, at(0s)).what == kind::lead);
  CHECK(c.complete("k", "r", true, at(0s)).empty());
  CHECK(c.in_flight() == 0);
  CHECK(c.cached() == 0);
}

TEST_CASE("ttl 0 or max_entries 0: coalescing without a cache") {
  for (auto o : {with(0s, 10), with(10s, 0)}) {
    cache c{o};
    c.admit("k", 1, at(0s));
    CHECK(c.admit("k", 2, at(0s)).what == kind::join);
    CHECK(c.complete("k", "r", true, at(0s)) == std::vector<std::uint64_t>{2});
    CHECK(c.cached() == 0);
    CHECK(c.admit("k", 3, at(0s)).what == kind::lead);
  }
}

TEST_CASE("time going backwards never brings an expired result back") {
  cache c{with(10s, 100)};
  c.admit("k", 1, at(100s));
  c.complete("k", "r", true, at(100s));
  CHECK(c.admit("x", 2, at(120s)).what == kind::lead);  // the result expired at 110s and is purged
  CHECK(c.admit("k", 3, at(105s)).what == kind::lead);  // an earlier now counts as 120s
  c.complete("k", "r2", true, at(50s));                 // completed "at" 120s: served until 130s
  CHECK(c.admit("k", 4, at(129s)).what == kind::cached);
  CHECK(c.admit("k", 5, at(60s)).what == kind::cached);
  CHECK(c.admit("k", 6, at(130s)).what == kind::lead);
}

TEST_CASE("non-copyable results and custom ids") {
  struct result {
    std::unique_ptr<int> value;
  };
  idempotency_cache<result, std::string> c;
  CHECK(c.admit("k", "call-a", at(0s)).what == idempotency_cache<result, std::string>::kind::lead);
  CHECK(c.admit("k", "call-b", at(0s)).leader == "call-a");
  CHECK(c.complete("k", result{std::make_unique<int>(7)}, true, at(0s)) == std::vector<std::string>{"call-b"});
  auto const hit = c.admit("k", "call-c", at(0s));
  REQUIRE(hit.cached != nullptr);
  CHECK(*hit.cached->value == 7);
}

TEST_CASE("PROPERTY: random interleavings never have two leaders for one key, and every follower is answered once") {
  rng r{seed{77}};
  idempotency_options o = with(5s, 4);
  cache c{o};
  constexpr int keys = 6;
  struct model_flight {
    std::uint64_t leader;
    std::vector<std::uint64_t> followers;
  };
  std::map<std::string, model_flight> model;  // who leads each key, as seen from the answers
  std::map<std::uint64_t, int> answered;      // how many times each call was answered
  std::uint64_t next_id = 1;
  std::int64_t now_ms = 0;
  int leads = 0, joins = 0, hits = 0;
  for (int step = 0; step < 20'000; ++step) {
    now_ms += static_cast<std::int64_t>(r.below(300));
    if (r.below(20) == 0) now_ms -= static_cast<std::int64_t>(r.below(2'000));  // the clock sometimes steps back
    instant const now = from_us(now_ms * 1000);
    auto const key = fmt::format("key-{}", r.below(keys));
    auto const action = r.below(10);
    if (action < 5) {
      std::uint64_t const id = next_id++;
      auto const a = c.admit(key, id, now);
      auto const m = model.find(key);
      switch (a.what) {
        case kind::lead:
          REQUIRE(m == model.end());  // never a second leader while one is in flight
          model[key] = {id, {}};
          ++leads;
          break;
        case kind::join:
          REQUIRE(m != model.end());
          REQUIRE(a.leader == m->second.leader);
          m->second.followers.push_back(id);
          ++joins;
          break;
        case kind::cached:
          REQUIRE(m == model.end());  // a key with a call in flight is never answered from the cache
          REQUIRE(a.cached != nullptr);
          REQUIRE(*a.cached == "ok " + key);
          ++answered[id];
          ++hits;
          break;
      }
    } else if (action < 8) {
      bool const ok = r.below(3) != 0;
      auto const followers = c.complete(key, ok ? "ok " + key : "failed", ok, now);
      auto const m = model.find(key);
      if (m == model.end()) {
        REQUIRE(followers.empty());
      } else {
        REQUIRE(followers == m->second.followers);
        ++answered[m->second.leader];
        for (auto id : followers) ++answered[id];
        model.erase(m);
      }
    } else if (action < 9) {
      auto const m = model.find(key);
      auto const promoted = c.abandon(key, now);
      if (m == model.end()) {
        REQUIRE_FALSE(promoted.has_value());
      } else if (m->second.followers.empty()) {
        REQUIRE_FALSE(promoted.has_value());
        model.erase(m);
      } else {
        REQUIRE(promoted == m->second.followers.front());
        m->second.leader = m->second.followers.front();
        m->second.followers.erase(m->second.followers.begin());
      }
    } else {
      auto const m = model.find(key);
      if (m != model.end() && !m->second.followers.empty()) {
        auto const i = static_cast<std::size_t>(r.below(m->second.followers.size()));
        auto const id = m->second.followers[i];
        c.leave(key, id);
        m->second.followers.erase(m->second.followers.begin() + static_cast<std::ptrdiff_t>(i));
        ++answered[id];  // it went away: counts as finished
      }
    }
    REQUIRE(c.in_flight() == model.size());
    REQUIRE(c.cached() <= o.max_entries);
  }
  for (auto const& [id, times] : answered) REQUIRE(times == 1);
  CHECK(leads > 1000);
  CHECK(joins > 1000);
  CHECK(hits > 100);
}

TEST_CASE("derived keys: equal for identical input, different when anything differs") {
  auto const k = derive_idempotency_key(R"({"messages":[],"model":"m"})", "3f2a");
  CHECK(is_hex64(k));
  CHECK(k == derive_idempotency_key(R"({"messages":[],"model":"m"})", "3f2a"));
  CHECK(k != derive_idempotency_key(R"({"messages":[],"model":"m"})", "3f2b"));
  CHECK(k != derive_idempotency_key(R"({"messages":[],"model":"n"})", "3f2a"));
  // The length prefix keeps the boundary between the two fields.
  CHECK(derive_idempotency_key("ab", "c") != derive_idempotency_key("a", "bc"));
  // Golden value, so a change in the hashed layout is caught: SHA-256 of
  // "medgate.idempotency.derived.v1" 00 | 00..02 "ab" | 00..01 "c" (lengths in 8 big-endian bytes).
  CHECK(derive_idempotency_key("ab", "c") == "f48638675be736c37b9d6242470894e22453337b5c4c3f86581a7977b873fe4e");
}

TEST_CASE("caller keys are namespaced, hashed and never equal to a derived key") {
  auto const k = caller_idempotency_key("order-42");
  CHECK(k.starts_with("k:"));
  CHECK(is_hex64(std::string_view{k}.substr(2)));
  CHECK(k.find("order-42") == std::string::npos);  // the caller's text is not kept
  CHECK(k == caller_idempotency_key("order-42"));
  CHECK(k != caller_idempotency_key("order-43"));
  CHECK(k != caller_idempotency_key("order-42", "local secret"));
  CHECK(caller_idempotency_key("order-42", "local secret") ==
        "k:15729f1a3110443b496c564dc725f05d3851f7226d7eaef03b43ad8a02b7be49");  // HMAC-SHA-256 under the secret
  CHECK(k == "k:aa1d099288b0a8930084d1889d9d106996833e23eee1f6490e73380d8b8d2945");
  // A derived key has no ':' so it cannot be a caller key, whatever the caller sends.
  auto const derived = derive_idempotency_key("{}", "h");
  CHECK(derived.find(':') == std::string::npos);
  CHECK(caller_idempotency_key(derived) != derived);
}

TEST_CASE("caller keys are checked without quoting them") {
  idempotency_options o;
  o.max_key_bytes = 8;
  CHECK_FALSE(check_caller_idempotency_key("abc-1234", o).has_value());
  auto error = [&](std::string_view key) {
    auto const e = check_caller_idempotency_key(key, o);
    REQUIRE(e.has_value());
    return e->to_string();
  };
  CHECK(error("") == "idempotency_key must not be empty");
  CHECK(error("abc-12345") == "idempotency_key must be at most 8 bytes, got 9");
  CHECK(error(std::string_view{"ab\ncd", 5}) == "idempotency_key must be printable ASCII, got byte 0x0a at offset 2");
  CHECK(error("\x7f") == "idempotency_key must be printable ASCII, got byte 0x7f at offset 0");
}

TEST_CASE("validate names the bad field") {
  CHECK_FALSE(idempotency_options{}.validate().has_value());
  idempotency_options o;
  o.ttl = -1s;
  REQUIRE(o.validate().has_value());
  CHECK(o.validate()->to_string() == "ttl must be >= 0, got -1000ms");
  o = {};
  o.max_key_bytes = 0;
  CHECK(o.validate()->to_string() == "max_key_bytes must be > 0, got 0");
  o.max_key_bytes = 65'537;
  CHECK(o.validate()->to_string() == "max_key_bytes must be <= 65536, got 65537");
  o = {};
  o.ttl = 0s;
  o.max_entries = 0;
  CHECK_FALSE(o.validate().has_value());
}

TEST_CASE("new options keep the calls in flight: followers are answered even after caching is turned off") {
  cache c{with(60s, 10)};
  CHECK(c.admit("k", 1, at(0s)).what == kind::lead);
  CHECK(c.admit("k", 2, at(1s)).what == kind::join);
  CHECK(c.admit("done", 3, at(1s)).what == kind::lead);
  c.complete("done", "cached answer", true, at(2s));
  CHECK(c.cached() == 1);

  auto off = with(60s, 10);
  off.enabled = false;
  c.set_options(off);
  CHECK(c.cached() == 0);  // nothing is answered from a cache that is off
  CHECK(c.admit("done", 4, at(3s)).what == kind::lead);
  CHECK(c.complete("k", "answer", true, at(3s)) == std::vector<std::uint64_t>{2});
  CHECK(c.cached() == 0);
  CHECK(c.in_flight() == 0);
}
