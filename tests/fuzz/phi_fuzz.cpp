// phi_fuzz.cpp — libFuzzer entry point for the PHI detectors, which read whatever text a clinician or a client
// sends: besides "no crash, no sanitizer report", the properties the redactor relies on.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include tests/fuzz/phi_fuzz.cpp -o phi_fuzz
//   ./phi_fuzz -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "medgate/phi/patterns.hpp"
#include "medgate/phi/redact.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const text{reinterpret_cast<char const*>(data), size};
  auto const spans = medgate::phi::find_patterns(text);
  std::size_t last_end = 0;
  std::size_t kept = 0;  // bytes outside every span
  for (auto const& s : spans) {
    require(s.start >= last_end && s.start < s.end && s.end <= text.size());  // in order, disjoint, inside
    for (std::size_t i = s.start; i < s.end; ++i)
      require(static_cast<unsigned char>(text[i]) < 0x80);  // only ASCII is ever matched: UTF-8 is never cut
    kept += s.start - last_end;
    last_end = s.end;
  }
  kept += text.size() - last_end;
  require(medgate::phi::find_patterns(text) == spans);  // deterministic

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
