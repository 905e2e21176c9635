// The tokenizer's two lookup aids: the Bloom filter in front of the
// vocabulary tables and the per-thread cache of merged pre-tokens. Both may
// only ever lose speed, never change an answer.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "medgate/tokens/bpe.hpp"
#include "medgate/tokens/hash_filter.hpp"
#include "medgate/tokens/piece_cache.hpp"

using namespace medgate::tokens;

TEST_CASE("hash filter: every added key may be present; most others are surely absent") {
  hash_filter f;
  constexpr std::uint64_t n = 50'000;
  f.reset(n);
  for (std::uint64_t k = 0; k < n; ++k) f.add(detail::hash_u64(k));
  for (std::uint64_t k = 0; k < n; ++k) REQUIRE(f.may_contain(detail::hash_u64(k)));
  std::uint64_t false_positives = 0;
  for (std::uint64_t k = n; k < 2 * n; ++k) false_positives += f.may_contain(detail::hash_u64(k)) ? 1 : 0;
  CHECK(false_positives < n / 20);  // ~3 % expected at 10 bits per key
  f.reset(10);
  CHECK_FALSE(f.may_contain(detail::hash_u64(1)));
}

TEST_CASE("byte table and pair table: the filter never hides a token or a merge") {
  std::string bytes;
  byte_table t;
  std::vector<std::string> words;
  for (int i = 0; i < 3000; ++i) words.push_back("w" + std::to_string(i * 7919));
  for (auto const& w : words) bytes += w;
  t.reset(bytes.data(), words.size(), static_cast<std::uint32_t>(words.size()));
  std::uint32_t offset = 0;
  for (std::uint32_t id = 0; id < words.size(); ++id) {
    REQUIRE(t.add(offset, static_cast<std::uint32_t>(words[id].size()), id));
    offset += static_cast<std::uint32_t>(words[id].size());
  }
  for (std::uint32_t id = 0; id < words.size(); ++id) {
    REQUIRE(t.find(words[id]) == id);
    REQUIRE(t.find(words[id], detail::hash_bytes(words[id])) == id);
  }
  CHECK(t.find("w1") == no_token);
  CHECK(t.find("not a word") == no_token);

  pair_table p;
  p.reserve(4);  // grows, and the filter with it
  for (std::uint32_t k = 0; k < 5000; ++k) p.add(k, k + 1, {k, 100'000 + k});
  for (std::uint32_t k = 0; k < 5000; ++k) REQUIRE(p.find(k, k + 1).result == 100'000 + k);
  CHECK(p.find(1, 1).rank == no_token);
}

namespace {
std::vector<std::uint32_t> ids_of(std::span<std::uint32_t const> s) { return {s.begin(), s.end()}; }
}  // namespace

TEST_CASE("piece cache: remembers by encoding and bytes; a full set forgets its oldest entry") {
  piece_cache c;
  std::vector<std::uint32_t> const ids{1, 2, 3};
  std::string const piece = "hello";
  auto const h = detail::hash_bytes(piece);
  CHECK(c.find(7, h, piece).empty());
  c.put(7, h, piece, ids);
  CHECK(ids_of(c.find(7, h, piece)) == ids);
  CHECK(c.find(8, h, piece).empty());     // another encoding
  CHECK(c.find(7, h, "hellp").empty());   // same set, other bytes
  CHECK(c.find(7, h, "hello!").empty());  // other length

  // Three pieces in one set (the same hash): the set keeps the two most recently used.
  c.put(7, h, "a", std::vector<std::uint32_t>{10});
  CHECK(ids_of(c.find(7, h, piece)) == ids);  // used: now the newer of the two
  c.put(7, h, "b", std::vector<std::uint32_t>{11});
  CHECK(c.find(7, h, "a").empty());  // the oldest went
  CHECK(ids_of(c.find(7, h, piece)) == ids);
  CHECK(ids_of(c.find(7, h, "b")) == std::vector<std::uint32_t>{11});

  // Long pieces have their own table; a piece too long, or a short one of too many ids, is not kept.
  std::string const long_piece(100, 'x');
  std::vector<std::uint32_t> const many(30, 5);
  c.put(7, h, long_piece, many);
  CHECK(ids_of(c.find(7, h, long_piece)) == many);
  CHECK(ids_of(c.find(7, h, piece)) == ids);  // the short table is untouched
  std::string const too_long(200, 'y');
  CHECK_FALSE(piece_cache::fits(too_long));
  c.put(7, h, too_long, ids);
  CHECK(c.find(7, h, too_long).empty());
  c.put(7, h, "emoji", many);
  CHECK(c.find(7, h, "emoji").empty());
}
