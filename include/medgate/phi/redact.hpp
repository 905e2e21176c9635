// phi/redact.hpp — text with its PHI replaced by placeholders.
//
//   auto spans = phi::find_patterns(note);
//   std::string safe = phi::redact(note, spans);   // "Seen [DATE], call [PHONE]."
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "category.hpp"

namespace medgate::phi {

/// `text` with each span replaced by what `replace(span, its text, out)` appends to `out`. The spans must be
/// in order and not overlap (as the detectors give them); one that does not fit the text is ignored.
template <class Replace>
std::string replace_spans(std::string_view text, std::span<span const> spans, Replace&& replace) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  for (auto const& s : spans) {
    if (s.start < at || s.end <= s.start || s.end > text.size()) continue;
    out.append(text.substr(at, s.start - at));
    replace(s, text.substr(s.start, s.end - s.start), out);
    at = s.end;
  }
  out.append(text.substr(at));
  return out;
}

/// `text` with each span replaced by "[CATEGORY]" (see replace_spans).
inline std::string redact(std::string_view text, std::span<span const> spans) {
  return replace_spans(text, spans, [](span const& s, std::string_view, std::string& out) {
    out += '[';
    out.append(to_string(s.category));
    out += ']';
  });
}

}  // namespace medgate::phi
