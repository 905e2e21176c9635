// quality_test.cpp — the PHI detectors against the seeded clinical notes (tests/phi/notes.mjs, generated at
// build time with a fixed seed) and the real lexicon: recall and precision must stay above the floors below,
// every category must be found, and notes without PHI must come out unchanged. bench/phi measures the same
// numbers on more notes and on the shared corpora; this guards them against regressions.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "medgate/phi/detect.hpp"
#include "medgate/phi/redact.hpp"
#include "score.hpp"

namespace {

namespace score = medgate::phi_score;

medgate::phi::lexicon const& lexicon() {
  static auto const lex = [] {
    std::ifstream in(MEDGATE_LEXICON_FILE, std::ios::binary);
    REQUIRE_MESSAGE(in, "cannot read " MEDGATE_LEXICON_FILE);
    auto parsed = medgate::phi::lexicon::parse(std::string{std::istreambuf_iterator<char>(in), {}});
    REQUIRE_MESSAGE(parsed.ok(), parsed.error_message());
    return std::move(parsed).value();
  }();
  return lex;
}

score::scores const& measured() {
  static auto const s = [] {
    score::scores out;
    for (auto const& d : score::read_corpus(MEDGATE_PHI_NOTES_FILE))
      score::add(out, d, medgate::phi::find_phi(d.text, lexicon()), 20);
    return out;
  }();
  return s;
}

TEST_CASE("the generated notes are read and hold every category") {
  auto const& s = measured();
  REQUIRE(s.documents == 400);
  for (std::size_t c = 0; c < medgate::phi::category_count; ++c) {
    CAPTURE(medgate::phi::category_names[c]);
    CHECK(s.span_by_gold[c].tp + s.span_by_gold[c].fn > 0);
  }
}

TEST_CASE("recall and precision on English clinical notes stay above their floors") {
  auto const& s = measured();
  for (auto const& m : s.misses) MESSAGE("missed: " << m);
  for (auto const& m : s.false_alarms) MESSAGE("false: " << m);
  CHECK(s.token_recall() >= 0.985);
  CHECK(s.span_recall() >= 0.99);
  CHECK(s.token_precision() >= 0.95);
  for (std::size_t c = 0; c < medgate::phi::category_count; ++c) {
    auto const& k = s.span_by_gold[c];
    CAPTURE(medgate::phi::category_names[c]);
    CHECK(score::ratio(k.tp, k.tp + k.fn) >= 0.9);
  }
}

TEST_CASE("notes without PHI come out unchanged") {
  auto const& s = measured();
  REQUIRE(s.clean > 5);
  CHECK(s.clean_unchanged == s.clean);
}

TEST_CASE("redacting is idempotent: a redacted note has nothing left to find") {
  for (auto const& d : score::read_corpus(MEDGATE_PHI_NOTES_FILE)) {
    auto const once = medgate::phi::redact(d.text, medgate::phi::find_phi(d.text, lexicon()));
    auto const again = medgate::phi::find_phi(once, lexicon());
    for (auto const& s : again) FAIL_CHECK("found again: " << medgate::phi_score::in_context(once, s.start, s.end));
  }
}

TEST_CASE("a 50 MB input is read in pieces that find exactly what its parts find, in linear time") {
  // The notes joined, each block ending with a blank line, repeated past 50 MB: the detectors work a piece
  // at a time, so every span of every copy must come out once, at its place, neither lost nor doubled at a
  // piece's edge, and some of the work is per piece (a rule scanning from the text's start each time would
  // take hours here, not seconds).
  std::string block;
  for (auto const& d : score::read_corpus(MEDGATE_PHI_NOTES_FILE)) {
    block += d.text;
    block += "\n\n";
  }
  REQUIRE(block.size() > 100'000);
  auto const one = medgate::phi::find_phi(block, lexicon());
  std::size_t const copies = 50'000'000 / block.size() + 1;
  std::string big;
  big.reserve(block.size() * copies);
  for (std::size_t i = 0; i < copies; ++i) big += block;
  auto const all = medgate::phi::find_phi(big, lexicon());
  REQUIRE(all.size() == one.size() * copies);
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto const& expected = one[i % one.size()];
    std::size_t const offset = (i / one.size()) * block.size();
    if (all[i].start != expected.start + offset || all[i].end != expected.end + offset ||
        all[i].category != expected.category) {
      FAIL("span " << i << " differs: " << score::in_context(big, all[i].start, all[i].end));
    }
  }
}

}  // namespace
