// tokens/piece_cache.hpp — merged pre-tokens remembered per thread.
//
// Text repeats its words, and merging a pre-token costs a few table lookups
// per byte where a hit here costs one cache line. Two bounded tables, each
// two-way set associative (a new entry pushes the older of its set out, so
// two hot words that share a set do not evict each other in turn):
//   short: pieces up to 22 bytes and 8 ids in one 64-byte line, 8192 of them
//          (512 KB) — nearly every word, number and punctuation run;
//   long:  pieces up to 126 bytes and 40 ids, 1024 of them (300 KB) —
//          runs of CJK text, code and white space, which cost most to merge.
// Entries carry the encoding's serial number, so one cache serves every
// encoding a thread uses, and a new encoding at a recycled address never
// reads an old one's entries.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace medgate::tokens {

namespace detail {

template <std::size_t MaxBytes, std::size_t MaxIds, std::size_t Sets>
class piece_table {
 public:
  static constexpr std::size_t max_bytes = MaxBytes;
  static constexpr std::size_t max_ids = MaxIds;

  [[nodiscard]] std::span<std::uint32_t const> find(std::uint64_t serial, std::uint64_t hash,
                                                    std::string_view piece) noexcept {
    auto* set = &entries_[(hash & (Sets - 1)) * 2];
    if (set[0].holds(serial, piece)) return set[0].ids_span();
    if (set[1].holds(serial, piece)) {
      std::swap(set[0], set[1]);  // most recently used first
      return set[0].ids_span();
    }
    return {};
  }

  /// Remembers `ids` for `piece` (which must fit: see max_bytes, max_ids).
  void put(std::uint64_t serial, std::uint64_t hash, std::string_view piece,
           std::span<std::uint32_t const> ids) noexcept {
    auto* set = &entries_[(hash & (Sets - 1)) * 2];
    set[1] = set[0];
    auto& e = set[0];
    e.serial = serial;
    e.length = static_cast<std::uint8_t>(piece.size());
    e.count = static_cast<std::uint8_t>(ids.size());
    std::memcpy(e.bytes.data(), piece.data(), piece.size());
    std::copy(ids.begin(), ids.end(), e.ids.begin());
  }

 private:
  struct alignas(64) entry {
    std::uint64_t serial = 0;  ///< 0 = empty
    std::uint8_t length = 0;
    std::uint8_t count = 0;
    std::array<char, MaxBytes> bytes{};
    std::array<std::uint32_t, MaxIds> ids{};

    [[nodiscard]] bool holds(std::uint64_t s, std::string_view piece) const noexcept {
      return serial == s && length == piece.size() && std::memcmp(bytes.data(), piece.data(), piece.size()) == 0;
    }
    [[nodiscard]] std::span<std::uint32_t const> ids_span() const noexcept { return {ids.data(), count}; }
  };
  std::vector<entry> entries_ = std::vector<entry>(Sets * 2);
};

}  // namespace detail

class piece_cache {
 public:
  /// The ids remembered for `piece` under encoding `serial`; empty when none.
  [[nodiscard]] std::span<std::uint32_t const> find(std::uint64_t serial, std::uint64_t hash,
                                                    std::string_view piece) noexcept {
    if (piece.size() <= short_table::max_bytes) return short_.find(serial, hash, piece);
    if (piece.size() <= long_table::max_bytes) return long_.find(serial, hash, piece);
    return {};
  }

  /// Remembers `ids` for `piece` when they fit its table (a short piece of
  /// many ids, such as a run of emoji, is not remembered).
  void put(std::uint64_t serial, std::uint64_t hash, std::string_view piece,
           std::span<std::uint32_t const> ids) noexcept {
    if (piece.size() <= short_table::max_bytes) {
      if (ids.size() <= short_table::max_ids) short_.put(serial, hash, piece, ids);
    } else if (piece.size() <= long_table::max_bytes && ids.size() <= long_table::max_ids) {
      long_.put(serial, hash, piece, ids);
    }
  }

  /// Whether a piece of this size can be remembered at all.
  [[nodiscard]] static bool fits(std::string_view piece) noexcept { return piece.size() <= long_table::max_bytes; }

 private:
  using short_table = detail::piece_table<22, 8, 4096>;
  using long_table = detail::piece_table<126, 40, 512>;
  short_table short_;
  long_table long_;
};

}  // namespace medgate::tokens
