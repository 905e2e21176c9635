// mgtok_writer.hpp — writes small `.mgtok` vocabularies for the tokenizer's
// unit tests (the real ones come from tokens/convert.mjs).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <medgate/tokens/vocabulary_file.hpp>

namespace medgate::tokens::testing {

struct vocabulary {
  pretokenizer pre = pretokenizer::cl100k;
  merge_kind merges_by = merge_kind::tiktoken_ranks;
  std::vector<std::pair<std::uint32_t, std::string>> tokens;
  std::vector<vocabulary_file::merge> merges;
  std::vector<std::pair<std::uint32_t, std::string>> specials;
  std::vector<class_range> classes;
};

inline std::string write_mgtok(vocabulary const& v) {
  std::string out{"MGTOK\0\0\1", 8};
  auto const u32 = [&](std::uint32_t x) {
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((x >> (8 * k)) & 0xFF));
  };
  auto const str = [&](std::string const& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out += s;
  };
  u32(static_cast<std::uint32_t>(v.pre));
  u32(static_cast<std::uint32_t>(v.merges_by));
  str("test");
  str("{}");
  u32(static_cast<std::uint32_t>(v.tokens.size()));
  for (auto const& [id, bytes] : v.tokens) {
    u32(id);
    str(bytes);
  }
  u32(static_cast<std::uint32_t>(v.merges.size()));
  for (auto const& m : v.merges) {
    u32(m.left);
    u32(m.right);
    u32(m.result);
  }
  u32(static_cast<std::uint32_t>(v.specials.size()));
  for (auto const& [id, text] : v.specials) {
    u32(id);
    str(text);
  }
  u32(static_cast<std::uint32_t>(v.classes.size()));
  for (auto const& r : v.classes) {
    u32(r.first);
    u32(r.last);
    u32(r.mask);
  }
  out.append("END\0", 4);
  return out;
}

/// ASCII-only classes: letters (upper/lower), digits, punctuation and symbols, white space.
inline std::vector<class_range> ascii_classes() {
  std::vector<class_range> r;
  for (std::uint32_t c = 0; c < 128; ++c) {
    std::uint16_t m = 0;
    if (c >= 'A' && c <= 'Z')
      m = cls::letter | cls::upper;
    else if (c >= 'a' && c <= 'z')
      m = cls::letter | cls::lower;
    else if (c >= '0' && c <= '9')
      m = cls::number;
    else if (c == ' ' || (c >= '\t' && c <= '\r'))
      m = cls::white_space | cls::js_space;
    else if (c > ' ' && c < 127)
      m = (c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '`' || c == '|' || c == '~')
              ? cls::symbol
              : cls::punctuation;
    r.push_back({c, c, m});
  }
  r.push_back({128, 0x10FFFF, 0});
  return r;
}

}  // namespace medgate::tokens::testing
