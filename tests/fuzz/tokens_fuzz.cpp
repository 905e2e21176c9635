// tokens_fuzz.cpp — libFuzzer entry point for the tokenizer and its file reader.
//
// Any byte string is valid input to a tokenizer (invalid UTF-8 included), so
// besides "no crash, no sanitizer report" it checks the promises of
// encoding.hpp on the real vocabularies: decode(encode(x)) == x and
// count(x) == encode(x).size(), in all three encodings. Inputs starting with
// "MGTOK" go to the vocabulary file reader instead, which must refuse a
// damaged file with an error, never crash.
//
//   build/fuzz/tests/fuzz_tokens_fuzz -max_total_time=60
#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY
#endif

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "medgate/tokens/encoding.hpp"

namespace {

std::vector<medgate::tokens::encoding> const& encodings() {
  static std::vector<medgate::tokens::encoding> const all = [] {
    std::vector<medgate::tokens::encoding> out;
    for (auto const* name : {"cl100k_base", "o200k_base", "deepseek_v3", "llama3"}) {
      std::ifstream in{std::string{MEDGATE_TOKEN_DATA_DIR} + "/" + name + ".mgtok", std::ios::binary};
      std::string const bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
      auto e = medgate::tokens::encoding::load(bytes);
      if (!e) std::abort();  // the build made these files; a failure here is a setup error
      out.push_back(std::move(*e));
    }
    return out;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const input{reinterpret_cast<char const*>(data), size};
  if (input.starts_with("MGTOK")) {
    (void)medgate::tokens::encoding::load(input);
    return 0;
  }
  for (auto const& enc : encodings()) {
    auto const ids = enc.encode(input);
    if (enc.count(input) != ids.size()) std::abort();
    auto const back = enc.decode(ids);
    if (!back || *back != input) std::abort();
  }
  return 0;
}
