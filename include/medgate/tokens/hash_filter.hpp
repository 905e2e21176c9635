// tokens/hash_filter.hpp — a blocked Bloom filter over 64-bit hashes, so the
// vocabulary lookups that byte-pair merging makes can say "no" without
// touching the vocabulary's tables.
//
// Most lookups BPE makes are for pairs that are not tokens: a 100 KB word
// of random letters asks about ~50,000 absent pairs and ~5,000 present ones.
// Each absent one costs a random read of a table several megabytes large
// (a trip to memory). This filter holds ~10 bits per key, 2 bits set per
// key within one 64-byte block: a lookup reads one cache line of a table
// small enough to stay in L2 (256 KB for 200,000 keys), and answers "surely
// absent" for about 97 % of absent keys. Present keys always say "maybe".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace medgate::tokens {

class hash_filter {
 public:
  /// Empties the filter and sizes it for `n` keys.
  void reset(std::size_t n) {
    std::size_t blocks = 1;
    while (blocks * bits_per_block < n * 10) blocks *= 2;
    blocks_.assign(blocks, block{});
  }

  void add(std::uint64_t hash) noexcept {
    auto& b = blocks_[index(hash)];
    b[word(hash, 40)] |= bit(hash, 40);
    b[word(hash, 49)] |= bit(hash, 49);
  }

  /// False when no key with this hash was added; true when one may have been.
  [[nodiscard]] bool may_contain(std::uint64_t hash) const noexcept {
    auto const& b = blocks_[index(hash)];
    return (b[word(hash, 40)] & bit(hash, 40)) != 0 && (b[word(hash, 49)] & bit(hash, 49)) != 0;
  }

 private:
  static constexpr std::size_t bits_per_block = 512;
  struct alignas(64) block {
    std::array<std::uint64_t, 8> words{};
    std::uint64_t& operator[](std::size_t i) noexcept { return words[i]; }
    std::uint64_t operator[](std::size_t i) const noexcept { return words[i]; }
  };
  // The block comes from the hash's low bits (as the tables' slots do); the
  // two bits within it from bits 40–48 and 49–57, which the block index
  // never reaches (at most 2^24 blocks).
  [[nodiscard]] std::size_t index(std::uint64_t hash) const noexcept { return hash & (blocks_.size() - 1); }
  static std::size_t word(std::uint64_t hash, int shift) noexcept { return (hash >> (shift + 6)) & 7; }
  static std::uint64_t bit(std::uint64_t hash, int shift) noexcept {
    return std::uint64_t{1} << ((hash >> shift) & 63);
  }

  std::vector<block> blocks_ = std::vector<block>(1);
};

}  // namespace medgate::tokens
