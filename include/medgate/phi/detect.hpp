// phi/detect.hpp — every kind of PHI in a text, in one call: the shaped
// identifiers (patterns.hpp), people's names (names.hpp) and places
// (places.hpp), merged into one ordered list of disjoint spans.
//
//   auto lex = phi::lexicon::parse(bytes);        // once; see lexicon.hpp
//   auto spans = phi::find_phi(note, *lex);       // {start, end, category}, byte offsets
//   std::string safe = phi::redact(note, spans);
//
// Without a lexicon (a default-constructed one) names and places are found by
// their cues alone ("Dr. ...", "lives with her daughter ...", "..., MD",
// "12 Elm Street", "... County, IL").
#pragma once

#include <algorithm>
#include <string_view>
#include <vector>

#include "addresses.hpp"
#include "category.hpp"
#include "labels.hpp"
#include "lexicon.hpp"
#include "names.hpp"
#include "patterns.hpp"
#include "places.hpp"
#include "words.hpp"

namespace medgate::phi {

/// Sorts `spans` and joins the ones that overlap into one, whose category is the one of its longest part (of
/// equal ones, the first in `spans`: patterns, labels, places, addresses, names): "April" (a date) inside
/// "April Jones" (a name) is a name.
inline std::vector<span> merge_spans(std::vector<span> spans) {
  // Stable: of equal spans the one found first wins, whatever the sort does with the rest (and however the
  // text was cut into pieces).
  std::stable_sort(spans.begin(), spans.end(),
                   [](span const& a, span const& b) { return a.start != b.start ? a.start < b.start : a.end > b.end; });
  std::vector<span> out;
  out.reserve(spans.size());
  std::size_t longest = 0;
  for (auto const& s : spans) {
    if (s.end <= s.start) continue;
    if (!out.empty() && s.start < out.back().end) {
      auto& m = out.back();
      m.end = std::max(m.end, s.end);
      if (s.end - s.start > longest) {
        longest = s.end - s.start;
        m.category = s.category;
      }
      continue;
    }
    out.push_back(s);
    longest = s.end - s.start;
  }
  return out;
}

/// The PHI in `text`: ordered, disjoint spans of UTF-8 byte offsets.
inline std::vector<span> find_phi(std::string_view text, lexicon const& lex) {
  std::vector<span> spans = find_patterns(text);
  find_labelled(text, spans);
  // Names and places a piece of about 64 KB at a time, cut after a blank line when one comes within 16 KB (an
  // address block or a signature stays whole), else after a line break: their rules look no further than a
  // few lines, and the words of one piece stay in the cache.
  constexpr std::size_t piece = std::size_t{1} << 16;
  constexpr std::size_t reach = std::size_t{1} << 14;
  std::vector<text_word> words;
  words.reserve(std::min(text.size(), piece) / 5 + 16);
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.size();
    if (text.size() - at > piece) {
      if (auto const blank = text.substr(at + piece, reach).find("\n\n"); blank != std::string_view::npos)
        end = at + piece + blank + 2;
      else if (auto const line = text.find('\n', at + piece); line != std::string_view::npos)
        end = line + 1;
    }
    auto const upto = text.substr(0, end);
    words.clear();
    split_words(upto, lex, words, at);
    std::size_t const first_place = spans.size();
    find_places(upto, words, lex, spans);  // before names: a tie ("Worcester, MA") is a place
    find_addresses(upto, words, spans, at);
    extend_address_blocks(upto, spans, first_place);
    find_names(upto, words, spans);
    at = end;
  }
  return merge_spans(std::move(spans));
}

}  // namespace medgate::phi
