// tokens/vocabulary_file.hpp — reads a `.mgtok` vocabulary file.
//
// The build converts each reference vocabulary (tiktoken's base64 rank
// files, Hugging Face's tokenizer.json) into this one compact, checksummed-
// at-conversion format (see tokens/README.md and tokens/convert.mjs), so the
// library parses no JSON or base64 at run time. Layout, integers u32
// little-endian, strings a u32 length then the bytes:
//
//   "MGTOK\0\0\1"  u32 pretokenizer  u32 merge_kind  string name  string provenance
//   u32 n, n × {u32 id, string bytes}              tokens, raw bytes
//   u32 n, n × {u32 left, u32 right, u32 result}   merges in priority order
//   u32 n, n × {u32 id, string text}               special tokens
//   u32 n, n × {u32 first, u32 last, u32 mask}     Unicode class ranges
//   "END\0"
//
// Reading is bounds-checked throughout: a truncated or corrupt file gives an
// error saying which section and offset, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "../result.hpp"
#include "pretokenize.hpp"
#include "unicode.hpp"

namespace medgate::tokens {

enum class merge_kind : std::uint8_t {
  tiktoken_ranks = 0,  ///< merge the pair whose joined bytes have the lowest rank (= id)
  merge_list = 1,      ///< merge the listed pair that comes first in the list
};

struct vocabulary_file {
  pretokenizer pre = pretokenizer::cl100k;
  merge_kind merges_by = merge_kind::tiktoken_ranks;
  std::string name;
  std::string provenance;  ///< JSON: package, version, file, sha256, licence
  struct token {
    std::uint32_t id = 0;
    std::string_view bytes;  ///< points into the file's bytes
  };
  struct merge {
    std::uint32_t left = 0;
    std::uint32_t right = 0;
    std::uint32_t result = 0;
  };
  std::vector<token> tokens;
  std::vector<merge> merges;
  std::vector<token> specials;
  std::vector<class_range> classes;
};

/// Parses `.mgtok` bytes; the result's string views point into `bytes`.
inline result<vocabulary_file> read_vocabulary_file(std::string_view bytes) {
  std::size_t at = 0;
  std::string where = "header";
  auto const fail = [&](std::string_view what) {
    return error{fmt::format("vocabulary file: {} at byte {} ({})", what, at, where)};
  };
  auto const u32 = [&](std::uint32_t& out) {
    if (bytes.size() - at < 4) return false;
    out = 0;
    for (int k = 3; k >= 0; --k) out = (out << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(k)]);
    at += 4;
    return true;
  };
  auto const str = [&](std::string_view& out) {
    std::uint32_t n = 0;
    if (!u32(n) || bytes.size() - at < n) return false;
    out = bytes.substr(at, n);
    at += n;
    return true;
  };
  // Every record is at least 8 bytes; a count that cannot fit is corrupt.
  auto const count = [&](std::uint32_t& n, std::size_t record) { return u32(n) && n <= (bytes.size() - at) / record; };

  constexpr std::string_view magic{"MGTOK\0\0\1", 8};
  if (bytes.substr(0, 8) != magic) return fail("not a medgate vocabulary file (bad magic; expected MGTOK version 1)");
  at = 8;
  vocabulary_file v;
  std::uint32_t pre = 0;
  std::uint32_t kind = 0;
  std::string_view name;
  std::string_view provenance;
  if (!u32(pre) || !u32(kind) || !str(name) || !str(provenance)) return fail("truncated");
  if (pre < 1 || pre > 3) return fail(fmt::format("unknown pretokenizer {}", pre));
  if (kind > 1) return fail(fmt::format("unknown merge kind {}", kind));
  v.pre = static_cast<pretokenizer>(pre);
  v.merges_by = static_cast<merge_kind>(kind);
  v.name = name;
  v.provenance = provenance;

  std::uint32_t n = 0;
  where = "tokens";
  if (!count(n, 8)) return fail("truncated or impossible count");
  v.tokens.resize(n);
  for (auto& t : v.tokens)
    if (!u32(t.id) || !str(t.bytes)) return fail("truncated");
  where = "merges";
  if (!count(n, 12)) return fail("truncated or impossible count");
  v.merges.resize(n);
  for (auto& m : v.merges)
    if (!u32(m.left) || !u32(m.right) || !u32(m.result)) return fail("truncated");
  where = "special tokens";
  if (!count(n, 8)) return fail("truncated or impossible count");
  v.specials.resize(n);
  for (auto& t : v.specials)
    if (!u32(t.id) || !str(t.bytes)) return fail("truncated");
  where = "character classes";
  if (!count(n, 12)) return fail("truncated or impossible count");
  v.classes.resize(n);
  for (auto& r : v.classes) {
    std::uint32_t mask = 0;
    if (!u32(r.first) || !u32(r.last) || !u32(mask)) return fail("truncated");
    if (mask > cls::all) return fail(fmt::format("unknown class bits {:#x}", mask));
    r.mask = static_cast<std::uint16_t>(mask);
  }
  where = "trailer";
  if (bytes.substr(at) != std::string_view{"END\0", 4})
    return fail("missing END trailer (truncated or trailing bytes)");
  return v;
}

}  // namespace medgate::tokens
