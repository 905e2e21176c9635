// phi/lexicon.hpp — the word lists behind the name and place detectors: one
// table from a folded word (or a phrase of several) to what it can be.
//
//   auto lex = phi::lexicon::parse(read_file("phi.mglex"));   // result<lexicon>
//   if (lex->lookup("Rivera") & phi::word::last) ...
//
// The table is built by lexicons/convert.mjs from pinned packages (census
// names, US cities, states and counties, street suffixes, wamerican's common
// words) and medgate's own clinical stop-list; it is never committed. Lookups
// fold ASCII letters to lower case and compare other bytes as they are, so
// "RIVERA", "Rivera" and "rivera" are one entry. The file format:
//
//   "MGLEX001"  u32 n, n bytes of provenance JSON (sources, licences, counts)
//   u32 count   then per entry, sorted by key: u16 flags, u8 length, key bytes
//
// All integers are little-endian. A phrase's words are separated by one space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../result.hpp"

namespace medgate::phi {

namespace detail {

constexpr char fold_ascii(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// The hash the lexicon and the cue words use: FNV-1a over the ASCII-folded bytes, finished with a shift. One
/// can compute it a byte at a time (hash_step) while scanning a word and finish it with hash_finish.
inline constexpr std::uint64_t hash_seed = 14695981039346656037ULL;
constexpr std::uint64_t hash_step(std::uint64_t h, char c) noexcept {
  return (h ^ static_cast<unsigned char>(fold_ascii(c))) * 1099511628211ULL;
}
constexpr std::size_t hash_finish(std::uint64_t h) noexcept { return static_cast<std::size_t>(h ^ (h >> 29)); }
inline std::size_t folded_hash(std::string_view s) noexcept {
  std::uint64_t h = hash_seed;
  for (char const c : s) h = hash_step(h, c);
  return hash_finish(h);
}

}  // namespace detail

/// What a lexicon entry can be: one bit each, as lexicons/convert.mjs writes them.
namespace word {
inline constexpr std::uint16_t first = 1U << 0;          ///< a first name
inline constexpr std::uint16_t last = 1U << 1;           ///< a surname
inline constexpr std::uint16_t common = 1U << 2;         ///< a common English word
inline constexpr std::uint16_t city = 1U << 3;           ///< a US city (the whole phrase)
inline constexpr std::uint16_t head = 1U << 4;           ///< the first word of a phrase of several words
inline constexpr std::uint16_t county = 1U << 5;         ///< a US county, without "County"
inline constexpr std::uint16_t street = 1U << 6;         ///< a street suffix or its abbreviation
inline constexpr std::uint16_t state = 1U << 7;          ///< a US state's name or two-letter code
inline constexpr std::uint16_t clinical = 1U << 8;       ///< clinical vocabulary: never PHI on its own
inline constexpr std::uint16_t frequent_last = 1U << 9;  ///< one of the 5,000 most frequent surnames
inline constexpr std::uint16_t proper = 1U << 10;        ///< a proper noun of the English word list
inline constexpr std::uint16_t country = 1U << 11;       ///< a country (not PHI: Safe Harbor keeps it)
inline constexpr std::uint16_t name = first | last;
}  // namespace word

class lexicon {
 public:
  /// Parses `.mglex` bytes (the lexicon keeps its own copy). The error says what is wrong and at which byte.
  static result<lexicon> parse(std::string bytes) {
    auto data = std::make_shared<table>();
    data->bytes = std::move(bytes);
    std::string_view const b = data->bytes;
    std::size_t at = 0;
    auto const fail = [&](std::string_view what) {
      return error{fmt::format("lexicon file: {} at byte {}", what, at)};
    };
    auto const u32 = [&](std::uint32_t& out) {
      if (b.size() - at < 4) return false;
      out = 0;
      for (std::size_t k = 4; k-- > 0;) out = (out << 8) | static_cast<unsigned char>(b[at + k]);
      at += 4;
      return true;
    };
    constexpr std::string_view magic{"MGLEX001"};
    if (b.substr(0, magic.size()) != magic) return fail("not a medgate lexicon (bad magic; expected MGLEX001)");
    at = magic.size();
    std::uint32_t n = 0;
    if (!u32(n) || b.size() - at < n) return fail("truncated provenance");
    data->provenance = b.substr(at, n);
    at += n;
    std::uint32_t count = 0;
    if (!u32(count) || count > (b.size() - at) / 4) return fail("truncated or impossible entry count");
    std::size_t capacity = 16;
    while (capacity < 2 * static_cast<std::size_t>(count)) capacity *= 2;
    data->slots.assign(capacity, slot{});
    std::string_view previous;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (b.size() - at < 3) return fail(fmt::format("entry {} of {} is truncated", i, count));
      auto const flags =
          static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) | (static_cast<unsigned char>(b[at + 1]) << 8));
      std::size_t const len = static_cast<unsigned char>(b[at + 2]);
      at += 3;
      if (len == 0 || b.size() - at < len) return fail(fmt::format("entry {} of {} is truncated or empty", i, count));
      std::string_view const key = b.substr(at, len);
      if (i > 0 && !(previous < key)) return fail(fmt::format("entry {} is out of order or repeated", i));
      for (char const c : key)
        if (c >= 'A' && c <= 'Z') return fail(fmt::format("entry {} is not folded to lower case", i));
      data->insert(static_cast<std::uint32_t>(at), static_cast<std::uint8_t>(len), flags);
      previous = key;
      at += len;
    }
    if (at != b.size()) return fail("bytes after the last entry");
    data->count = count;
    return lexicon{std::move(data)};
  }

  /// The flags of `text` (a word, or words separated by single spaces), ASCII case ignored; 0 if absent.
  [[nodiscard]] std::uint16_t lookup(std::string_view text) const noexcept {
    return lookup(text, detail::folded_hash(text));
  }
  /// The same, with `hash` = detail::folded_hash(text) already computed.
  [[nodiscard]] std::uint16_t lookup(std::string_view text, std::size_t hash) const noexcept {
    if (!data_ || text.empty() || text.size() > 255) return 0;
    std::size_t const mask = data_->slots.size() - 1;
    auto const tag = tag_of(hash);
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      slot const& s = data_->slots[i];
      if (s.length == 0) return 0;
      if (s.tag == tag && s.length == text.size() &&
          folded_equal(std::string_view{data_->bytes}.substr(s.offset, s.length), text))
        return s.flags;
    }
  }

  /// Lookups over many words at once go faster when each one's memory is asked for ahead of time: the table is
  /// larger than the cache, so a lookup waits first for its slot, then for its key's bytes. `prefetch_slot(hash)`
  /// starts loading the slot; a few lookups later `prefetch_key(hash)` (the slot now at hand) starts loading the
  /// key of a slot whose tag matches; a few more later `lookup` finds both in the cache. Hints only: they change
  /// no result.
  void prefetch_slot(std::size_t hash) const noexcept {
    if (data_) prefetch(&data_->slots[hash & (data_->slots.size() - 1)]);
  }
  void prefetch_key(std::size_t hash) const noexcept {
    if (!data_) return;
    slot const& s = data_->slots[hash & (data_->slots.size() - 1)];
    if (s.length != 0 && s.tag == tag_of(hash)) prefetch(data_->bytes.data() + s.offset);
  }

  [[nodiscard]] std::size_t size() const noexcept { return data_ ? data_->count : 0; }
  /// The JSON that says where the lists came from and under which licences.
  [[nodiscard]] std::string_view provenance() const noexcept { return data_ ? data_->provenance : std::string_view{}; }

  lexicon() = default;

 private:
  /// 8 bytes; the tag (8 more bits of the hash) spares reading the key of most slots that do not match.
  struct slot {
    std::uint32_t offset = 0;
    std::uint16_t flags = 0;
    std::uint8_t length = 0;  ///< 0: empty
    std::uint8_t tag = 0;
  };

  static constexpr std::uint8_t tag_of(std::size_t hash) noexcept { return static_cast<std::uint8_t>(hash >> 24); }
  static void prefetch([[maybe_unused]] void const* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#endif
  }
  struct table {
    std::string bytes;
    std::string_view provenance;
    std::vector<slot> slots;
    std::size_t count = 0;

    void insert(std::uint32_t offset, std::uint8_t length, std::uint16_t flags) {
      std::size_t const mask = slots.size() - 1;
      std::size_t const hash = detail::folded_hash(std::string_view{bytes}.substr(offset, length));
      std::size_t i = hash & mask;
      while (slots[i].length != 0) i = (i + 1) & mask;
      slots[i] = slot{offset, flags, length, tag_of(hash)};
    }
  };

  explicit lexicon(std::shared_ptr<table const> data) : data_{std::move(data)} {}

  /// `key` is already folded.
  static bool folded_equal(std::string_view key, std::string_view text) noexcept {
    for (std::size_t i = 0; i < key.size(); ++i)
      if (key[i] != detail::fold_ascii(text[i])) return false;
    return true;
  }

  std::shared_ptr<table const> data_;
};

}  // namespace medgate::phi
