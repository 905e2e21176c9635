// phi_fuzz.cpp — libFuzzer entry point for the PHI detectors (phi::find_phi with the real lexicon when the
// build made one, MEDGATE_LEXICON_FILE), which read whatever text a clinician or a client sends: besides "no
// crash, no sanitizer report", the properties the redactor relies on.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include tests/fuzz/phi_fuzz.cpp -o phi_fuzz
//   ./phi_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "medgate/phi/detect.hpp"
#include "medgate/phi/redact.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

medgate::phi::lexicon const& lexicon() {
  static auto const lex = [] {
#ifdef MEDGATE_LEXICON_FILE
    std::ifstream in(MEDGATE_LEXICON_FILE, std::ios::binary);
    auto parsed = medgate::phi::lexicon::parse(std::string{std::istreambuf_iterator<char>(in), {}});
    if (parsed) return std::move(parsed).value();
#endif
    return medgate::phi::lexicon{};
  }();
  return lex;
}

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

/// Whether byte i lies inside a well-formed multi-byte UTF-8 sequence that starts before it (stray continuation
/// bytes of invalid input belong to no sequence).
bool inside_sequence(std::string_view text, std::size_t i) {
  for (std::size_t back = 1; back <= 3 && back <= i; ++back) {
    auto const lead = static_cast<unsigned char>(text[i - back]);
    std::size_t const n = lead >= 0xF0 && lead < 0xF5 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
    if (n == 0) continue;
    if (n <= back || i - back + n > text.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if (!continuation(text[i - back + k])) return false;
    return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const text{reinterpret_cast<char const*>(data), size};
  auto const spans = medgate::phi::find_phi(text, lexicon());
  std::size_t last_end = 0;
  std::size_t kept = 0;  // bytes outside every span
  for (auto const& s : spans) {
    require(s.start >= last_end && s.start < s.end && s.end <= text.size());  // in order, disjoint, inside
    // A span never cuts a UTF-8 sequence.
    require(!inside_sequence(text, s.start) && (s.end == text.size() || !inside_sequence(text, s.end)));
    kept += s.start - last_end;
    last_end = s.end;
  }
  kept += text.size() - last_end;
  require(medgate::phi::find_phi(text, lexicon()) == spans);  // deterministic

  // The redacted text is every byte outside the spans, in order, with one placeholder per span.
  auto const redacted = medgate::phi::redact(text, spans);
  std::size_t placeholders = 0;
  for (auto const& s : spans) placeholders += medgate::phi::to_string(s.category).size() + 2;
  require(redacted.size() == kept + placeholders);
  std::size_t at = 0;
  std::size_t out = 0;
  for (auto const& s : spans) {
    require(redacted.compare(out, s.start - at, text.substr(at, s.start - at)) == 0);
    out += s.start - at + medgate::phi::to_string(s.category).size() + 2;
    at = s.end;
  }
  require(redacted.compare(out, std::string::npos, text.substr(at)) == 0);
  return 0;
}
