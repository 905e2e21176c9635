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

#include "category.hpp"
#include "lexicon.hpp"
#include "names.hpp"
#include "patterns.hpp"
#include "places.hpp"
#include "words.hpp"

namespace medgate::phi {

/// Sorts `spans` and joins the ones that overlap into one, whose category is the one of its longest
/// part (the earliest of equal ones): "April" (a date) inside "April Jones" (a name) is a name.
inline std::vector<span> merge_spans(std::vector<span> spans) {
  std::sort(spans.begin(), spans.end(),
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
  // Names and places a piece of about 64 KB at a time, cut after a line break: their rules look no further
  // than a line or two, and the words of one piece stay in the cache.
  constexpr std::size_t piece = std::size_t{1} << 16;
  std::vector<text_word> words;
  words.reserve(std::min(text.size(), piece) / 5 + 16);
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.size();
    if (text.size() - at > piece) {
      end = text.find('\n', at + piece);
      end = end == std::string_view::npos ? text.size() : end + 1;
    }
    auto const upto = text.substr(0, end);
    words.clear();
    split_words(upto, lex, words, at);
    find_places(upto, words, lex, spans);  // before names: a tie ("Worcester, MA") is a place
    find_names(upto, words, spans);
    at = end;
  }
  return merge_spans(std::move(spans));
}

}  // namespace medgate::phi
