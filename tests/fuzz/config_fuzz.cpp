// config_fuzz.cpp — libFuzzer entry point for the JSON configuration (config.hpp), the file an operator writes.
//
// Besides "no crash, no sanitizer report", it checks what `medgate serve`
// relies on when it reloads: every error says "config: " and what was wrong,
// and a configuration that parses writes back (to_json) to text that parses
// to the same document again — a fixed point after one round.
//
// Seeded with examples/*.json (copied into the build folder by CMake), so the
// mutations start from real configurations rather than random bytes.
//
//   build/fuzz/tests/fuzz_config_fuzz -max_total_time=60 build/fuzz/tests/fuzz-corpus/config_fuzz
#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY  // a standalone build: no fmt library to link
#endif

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "medgate/config.hpp"

namespace {

void require(bool property) {
  if (!property) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text{reinterpret_cast<const char*>(data), size};
  auto const parsed = medgate::parse_config(text);
  if (!parsed) {
    require(parsed.error_message().starts_with("config: "));
    require(parsed.error_message().size() > 8);
    return 0;
  }
  auto const once = medgate::to_json(*parsed).dump();
  auto const again = medgate::parse_config(once);
  require(again.ok());
  require(medgate::to_json(*again).dump() == once);
  return 0;
}
