// The tokenizer's machinery on small vocabularies written by the test: merge
// order against a naive reference of each merge rule (short and long
// pre-tokens take different code paths), the file reader's errors, and the
// byte-exact round trip of invalid UTF-8. Parity with the real references on
// the real vocabularies is tests/tokens.
#include <doctest/doctest.h>

#include <medgate/random.hpp>
#include <medgate/tokens/encoding.hpp>

#include <map>
#include <set>

#include "mgtok_writer.hpp"

using namespace medgate;
using namespace medgate::tokens;
using testing::vocabulary;

namespace {

/// tiktoken's merge as written in its reference: parts as strings, scan for
/// the first lowest-ranked adjacent pair, merge, repeat.
std::vector<std::uint32_t> naive_ranks(std::string const& piece, std::map<std::string, std::uint32_t> const& ranks) {
  if (auto it = ranks.find(piece); it != ranks.end()) return {it->second};
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  for (;;) {
    std::size_t best = parts.size();
    std::uint32_t best_rank = UINT32_MAX;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i)
      if (auto it = ranks.find(parts[i] + parts[i + 1]); it != ranks.end() && it->second < best_rank) {
        best_rank = it->second;
        best = i;
      }
    if (best == parts.size()) break;
    parts[best] += parts[best + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  std::vector<std::uint32_t> ids;
  for (auto const& p : parts) ids.push_back(ranks.at(p));
  return ids;
}

/// Hugging Face's rule: only listed pairs merge, earliest listing first.
std::vector<std::uint32_t> naive_merges(std::string const& piece, std::map<std::string, std::uint32_t> const& ids,
                                        std::vector<std::pair<std::string, std::string>> const& merges) {
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  for (;;) {
    std::size_t best = parts.size();
    std::size_t best_rank = SIZE_MAX;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i)
      for (std::size_t r = 0; r < merges.size() && r < best_rank; ++r)
        if (merges[r].first == parts[i] && merges[r].second == parts[i + 1]) {
          best_rank = r;
          best = i;
        }
    if (best == parts.size()) break;
    parts[best] += parts[best + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  std::vector<std::uint32_t> out;
  for (auto const& p : parts) out.push_back(ids.at(p));
  return out;
}

std::string random_word(rng& r, std::size_t n, std::string_view alphabet) {
  std::string w;
  for (std::size_t i = 0; i < n; ++i) w.push_back(alphabet[r.next() % alphabet.size()]);
  return w;
}

encoding load(vocabulary const& v) {
  auto e = encoding::load(testing::write_mgtok(v));
  REQUIRE_MESSAGE(e.ok(), (e.ok() ? "" : e.error_message()));
  return std::move(*e);
}

}  // namespace

TEST_CASE("tiktoken-style merges equal the naive reference on short and long pre-tokens") {
  rng r{seed{7}};
  vocabulary v;
  v.classes = testing::ascii_classes();
  std::map<std::string, std::uint32_t> ranks;
  // Bytes get high ranks, multi-byte tokens over "abcd" random low ranks, as in a trained vocabulary.
  std::set<std::string> multi;
  while (multi.size() < 300) multi.insert(random_word(r, 2 + r.next() % 5, "abcd"));
  std::uint32_t id = 0;
  std::vector<std::string> order(multi.begin(), multi.end());
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[r.next() % i]);
  for (auto const& t : order) ranks[t] = id++;
  for (int b = 0; b < 256; ++b) ranks[std::string(1, static_cast<char>(b))] = id++;
  for (auto const& [t, rank] : ranks) v.tokens.emplace_back(rank, t);
  auto const enc = load(v);

  for (std::size_t n : {1u, 2u, 3u, 7u, 31u, 32u, 33u, 40u, 128u, 300u, 1000u, 1500u}) {
    for (int k = 0; k < 20; ++k) {
      std::string const w = random_word(r, n, "abcd");  // one letter run: one pre-token
      CAPTURE(w);
      CHECK(enc.encode(w) == naive_ranks(w, ranks));
    }
  }
  // Two letters: long runs of overlapping pairs of equal rank, where the leftmost must go first.
  for (std::size_t n : {33u, 200u, 2000u}) {
    for (int k = 0; k < 10; ++k) {
      std::string const w = random_word(r, n, "ab");
      CAPTURE(w);
      CHECK(enc.encode(w) == naive_ranks(w, ranks));
    }
  }
  std::string const same(1000, 'a');
  CHECK(enc.encode(same) == naive_ranks(same, ranks));
}

TEST_CASE("merge-list merges equal the naive reference, including pairs whose join is a token by another route") {
  rng r{seed{11}};
  vocabulary v;
  v.pre = pretokenizer::deepseek_v3;
  v.merges_by = merge_kind::merge_list;
  v.classes = testing::ascii_classes();
  std::map<std::string, std::uint32_t> ids;
  std::uint32_t next = 0;
  for (int b = 0; b < 256; ++b) ids[std::string(1, static_cast<char>(b))] = next++;
  std::vector<std::pair<std::string, std::string>> merges;
  // Random merges of existing tokens: a token may be reachable by several pairs, only the listed ones merge.
  std::vector<std::string> pool{"a", "b", "c", "d"};
  while (merges.size() < 200) {
    auto const& a = pool[r.next() % pool.size()];
    auto const& b = pool[r.next() % pool.size()];
    if (a.size() + b.size() > 8) continue;
    bool listed = false;
    for (auto const& m : merges) listed = listed || (m.first == a && m.second == b);
    if (listed) continue;
    merges.emplace_back(a, b);
    if (!ids.count(a + b)) {
      ids[a + b] = next++;
      pool.push_back(a + b);
    }
  }
  for (auto const& [t, i] : ids) v.tokens.emplace_back(i, t);
  for (auto const& [a, b] : merges) v.merges.push_back({ids.at(a), ids.at(b), ids.at(a + b)});
  auto const enc = load(v);

  for (std::size_t n : {1u, 2u, 5u, 32u, 33u, 64u, 129u, 500u, 600u}) {
    for (int k = 0; k < 10; ++k) {
      std::string const w = random_word(r, n, k % 2 ? "abcd" : "ab");
      CAPTURE(w);
      CHECK(enc.encode(w) == naive_merges(w, ids, merges));
    }
  }
}

TEST_CASE("a 100 KB word and a base64 blob encode and decode back exactly") {
  vocabulary v;
  v.classes = testing::ascii_classes();
  std::uint32_t id = 0;
  for (auto const* t : {"ab", "abab", "xy", "ba"}) v.tokens.emplace_back(id++, t);
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(id++, std::string(1, static_cast<char>(b)));
  auto const enc = load(v);
  std::string word;
  for (int i = 0; i < 50'000; ++i) word += "ab";
  auto const ids = enc.encode(word);
  CHECK(ids.size() == 25'000);  // "abab" × 25 000
  CHECK(enc.decode(ids) == word);
  rng r{seed{3}};
  std::string const blob = random_word(r, 100'000, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  CHECK(enc.decode(enc.encode(blob)) == blob);
  CHECK(enc.count(blob) == enc.encode(blob).size());
}

TEST_CASE("invalid UTF-8 is kept byte for byte") {
  vocabulary v;
  v.classes = testing::ascii_classes();
  for (int b = 0; b < 256; ++b)
    v.tokens.emplace_back(static_cast<std::uint32_t>(b), std::string(1, static_cast<char>(b)));
  auto const enc = load(v);
  constexpr char raw[] = "ok \xC3\x28 \xE2\x82 \xED\xA0\x80 \xF8\x88\x80\x80\x80 \xC0\xAF end\xFF";
  std::string const bad{raw, sizeof raw - 1};
  auto const ids = enc.encode(bad);
  CHECK(ids.size() == bad.size());
  CHECK(enc.decode(ids) == bad);
}

TEST_CASE("UTF-8 decoding: valid sequences, and each kind of invalid byte") {
  CHECK(decode_utf8("\xE4\xB8\xAD", 0).cp == 0x4E2D);
  CHECK(decode_utf8("\xF0\x9F\x98\x80", 0).length == 4);
  for (std::string_view bad : {"\x80", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"}) {
    auto const d = decode_utf8(bad, 0);
    CHECK_FALSE(d.valid);
    CHECK(d.length == 1);
    CHECK(d.cp == replacement_character);
  }
}

TEST_CASE("special tokens are looked up by text, and their text in input is ordinary text") {
  vocabulary v;
  v.classes = testing::ascii_classes();
  for (int b = 0; b < 256; ++b)
    v.tokens.emplace_back(static_cast<std::uint32_t>(b), std::string(1, static_cast<char>(b)));
  v.specials.emplace_back(1000, "<|endoftext|>");
  auto const enc = load(v);
  CHECK(enc.special_token("<|endoftext|>") == 1000u);
  CHECK_FALSE(enc.special_token("<|nope|>"));
  auto const ids = enc.encode("<|endoftext|>");
  CHECK(ids.size() == 13);
  CHECK(std::find(ids.begin(), ids.end(), 1000u) == ids.end());
  std::vector<std::uint32_t> const with_special{'a', 1000};
  CHECK(enc.decode(with_special) == "a<|endoftext|>");
  std::vector<std::uint32_t> const unknown{5000};
  CHECK_FALSE(enc.decode(unknown));
}

TEST_CASE("the reader names what is wrong with a damaged file, at every cut") {
  vocabulary v;
  v.classes = testing::ascii_classes();
  for (int b = 0; b < 256; ++b)
    v.tokens.emplace_back(static_cast<std::uint32_t>(b), std::string(1, static_cast<char>(b)));
  std::string const good = testing::write_mgtok(v);
  REQUIRE(encoding::load(good).ok());
  for (std::size_t cut = 0; cut < good.size(); cut += 7) {
    auto const e = encoding::load(good.substr(0, cut));
    REQUIRE_FALSE(e.ok());
    CHECK(e.error_message().find("vocabulary file: ") == 0);
  }
  CHECK(encoding::load("not a vocabulary").error_message().find("bad magic") != std::string::npos);
  std::string trailing = good + "x";
  CHECK(encoding::load(trailing).error_message().find("END trailer") != std::string::npos);

  vocabulary missing_byte = v;
  missing_byte.tokens.pop_back();
  CHECK(encoding::load(testing::write_mgtok(missing_byte)).error_message().find("single byte 0xff") !=
        std::string::npos);
  vocabulary duplicate = v;
  duplicate.tokens.emplace_back(300, "a");
  CHECK(encoding::load(testing::write_mgtok(duplicate)).error_message().find("repeats") != std::string::npos);
}

TEST_CASE("cl100k and o200k pre-tokens on ASCII text follow the reference patterns") {
  vocabulary v;
  v.classes = testing::ascii_classes();
  for (int b = 0; b < 256; ++b)
    v.tokens.emplace_back(static_cast<std::uint32_t>(b), std::string(1, static_cast<char>(b)));
  auto const pieces = [&](pretokenizer pre, std::string_view text) {
    v.pre = pre;
    auto const enc = load(v);
    std::vector<std::string> out;
    enc.pretokens(text, [&](std::string_view p) { out.emplace_back(p); });
    return out;
  };
  using strings = std::vector<std::string>;
  auto const cl = pretokenizer::cl100k;
  auto const o2 = pretokenizer::o200k;
  CHECK(pieces(cl, "Hello world") == strings{"Hello", " world"});
  CHECK(pieces(cl, "I'LL don't") == strings{"I", "'LL", " don", "'t"});
  CHECK(pieces(o2, "I'LL don't") == strings{"I'LL", " don't"});
  CHECK(pieces(cl, "  hi") == strings{" ", " hi"});
  CHECK(pieces(cl, "x  \n\n  y  ") == strings{"x", "  \n\n", " ", " y", "  "});
  CHECK(pieces(cl, "BP 120/80mmHg, 12345") == strings{"BP", " ", "120", "/", "80", "mmHg", ",", " ", "123", "45"});
  CHECK(pieces(cl, "a ... (b)\n\nc") == strings{"a", " ...", " (", "b", ")\n\n", "c"});
  CHECK(pieces(o2, "HTTPServer iPhone ALLCAPS") == strings{"HTTPServer", " i", "Phone", " ALLCAPS"});
  CHECK(pieces(o2, "camelCase") == strings{"camel", "Case"});
  CHECK(pieces(o2, "a/b//\nc") == strings{"a", "/b", "//\n", "c"});
  CHECK(pieces(cl, "\tx\n y") == strings{"\tx", "\n", " y"});
}

TEST_CASE("deepseek_v3 pre-tokens: numbers in threes, ASCII punctuation before letters, unmatched text kept") {
  vocabulary v;
  v.pre = pretokenizer::deepseek_v3;
  v.classes = testing::ascii_classes();
  v.classes.back() = {128, 0x10FFFF, 0};
  for (int b = 0; b < 256; ++b)
    v.tokens.emplace_back(static_cast<std::uint32_t>(b), std::string(1, static_cast<char>(b)));
  auto const enc = load(v);
  std::vector<std::string> out;
  enc.pretokens("x=1234567.foo\x01\x02 bar", [&](std::string_view p) { out.emplace_back(p); });
  CHECK(out == std::vector<std::string>{"x", "=", "123", "456", "7", ".foo", "\x01\x02", " bar"});
}
