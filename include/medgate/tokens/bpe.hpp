// tokens/bpe.hpp — byte-pair merging of one pre-token, and the two lookup
// tables it runs on.
//
// A pre-token starts as one part per byte. Repeatedly, the adjacent pair
// with the lowest merge rank is merged (the leftmost among equal ranks),
// until no adjacent pair can merge. Two vocabulary kinds say what a pair's
// rank is:
// - tiktoken (cl100k_base, o200k_base): the rank of the token whose bytes
//   are the two parts' bytes together, if there is one; the rank is the id.
// - Hugging Face (DeepSeek V3): the pair's position in the merge list, if the
//   pair is listed; the merge gives the listed token's id.
// Both break ties the same way (tiktoken scans left to right for the first
// minimum; Hugging Face orders its queue by rank, then position).
//
// Short pre-tokens (nearly all of them) use tiktoken's own scheme: rescan the
// pair ranks for the minimum after each merge, O(n²) but tiny n and no heap.
// Long ones (a 100 KB word, a base64 blob with no break) use a min-heap over
// a linked list of parts, O(n log n): the reference's quadratic loop would
// take seconds there. The two give identical merges (tested).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medgate::tokens {

namespace detail {
inline std::uint64_t hash_bytes(std::string_view s) noexcept {
  constexpr std::uint64_t m = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = 0xD6E8FEB86659FD93ull ^ (s.size() * m);
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, s.data() + i, 8);
    h = (h ^ v) * m;
    h ^= h >> 29;
  }
  std::uint64_t v = 0;
  std::memcpy(&v, s.data() + i, s.size() - i);
  h = (h ^ v) * m;
  h ^= h >> 32;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}
inline std::uint64_t hash_u64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  return x ^ (x >> 33);
}
inline std::size_t table_size_for(std::size_t n) {
  std::size_t size = 16;
  while (size < n * 2) size *= 2;  // load factor <= 1/2
  return size;
}
}  // namespace detail

inline constexpr std::uint32_t no_token = std::numeric_limits<std::uint32_t>::max();

/// Token bytes → id: open addressing over token bytes kept elsewhere (the
/// encoding's copy of its vocabulary file), with a hash tag per slot so a
/// probe compares bytes only when the tags agree.
class byte_table {
 public:
  /// Sizes the table for `n` tokens whose bytes live in `base`, which must
  /// outlive the table and not move.
  void reset(char const* base, std::size_t n) {
    base_ = base;
    entries_.clear();
    entries_.reserve(n);
    slots_.assign(detail::table_size_for(n), slot{});
    max_length_ = 0;
  }

  /// Adds the token at `base + offset`; false if its bytes are already present.
  bool add(std::uint32_t offset, std::uint32_t length, std::uint32_t id) {
    return add(offset, length, id, detail::hash_bytes({base_ + offset, length}));
  }
  /// The same, with the bytes' `hash_bytes` computed ahead (see `prefetch`).
  bool add(std::uint32_t offset, std::uint32_t length, std::uint32_t id, std::uint64_t h) {
    std::string_view const bytes{base_ + offset, length};
    auto const tag = static_cast<std::uint32_t>(h >> 32);
    std::size_t const mask = slots_.size() - 1;
    std::size_t s = h & mask;
    for (; slots_[s].entry != 0; s = (s + 1) & mask)
      if (slots_[s].tag == tag && view(slots_[s].entry - 1) == bytes) return false;
    entries_.push_back({offset, length, id});
    slots_[s] = {tag, static_cast<std::uint32_t>(entries_.size())};
    max_length_ = std::max<std::size_t>(max_length_, length);
    return true;
  }

  /// Asks the cache for the slot a hash starts probing at: bulk loads insert
  /// a few entries behind their prefetches, so the random accesses overlap.
  void prefetch(std::uint64_t h) const noexcept { __builtin_prefetch(&slots_[h & (slots_.size() - 1)]); }

  [[nodiscard]] std::uint32_t find(std::string_view bytes) const noexcept {
    if (bytes.size() > max_length_) return no_token;
    std::uint64_t const h = detail::hash_bytes(bytes);
    auto const tag = static_cast<std::uint32_t>(h >> 32);
    std::size_t const mask = slots_.size() - 1;
    for (std::size_t s = h & mask;; s = (s + 1) & mask) {
      auto const& sl = slots_[s];
      if (sl.entry == 0) return no_token;
      if (sl.tag != tag) continue;
      auto const& e = entries_[sl.entry - 1];
      if (e.length == bytes.size() && std::memcmp(base_ + e.offset, bytes.data(), bytes.size()) == 0) return e.id;
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct slot_entry {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    std::uint32_t id = 0;
  };
  struct slot {
    std::uint32_t tag = 0;
    std::uint32_t entry = 0;  ///< entry index + 1; 0 = empty
  };
  [[nodiscard]] std::string_view view(std::uint32_t e) const noexcept {
    return {base_ + entries_[e].offset, entries_[e].length};
  }

  char const* base_ = nullptr;
  std::vector<slot_entry> entries_;
  std::vector<slot> slots_{1};
  std::size_t max_length_ = 0;
};

/// A pair that can merge: its rank and the token it becomes.
struct merge_rule {
  std::uint32_t rank = no_token;
  std::uint32_t result = no_token;
};

/// (left id, right id) → merge rule, open addressing.
class pair_table {
 public:
  void reserve(std::size_t n) {
    keys_.assign(detail::table_size_for(n), empty);
    rules_.assign(keys_.size(), {});
  }
  [[nodiscard]] static std::uint64_t key_of(std::uint32_t left, std::uint32_t right) noexcept {
    return (std::uint64_t{left} << 32) | right;
  }
  /// See byte_table::prefetch.
  void prefetch(std::uint32_t left, std::uint32_t right) const noexcept {
    if (!keys_.empty()) __builtin_prefetch(&keys_[detail::hash_u64(key_of(left, right)) & (keys_.size() - 1)]);
  }
  /// Adds a pair (the first listing of a pair wins, as in the reference).
  void add(std::uint32_t left, std::uint32_t right, merge_rule rule) {
    if (count_ * 2 >= keys_.size()) grow();
    std::uint64_t const key = key_of(left, right);
    std::size_t const mask = keys_.size() - 1;
    std::size_t s = detail::hash_u64(key) & mask;
    while (keys_[s] != empty) {
      if (keys_[s] == key) return;
      s = (s + 1) & mask;
    }
    keys_[s] = key;
    rules_[s] = rule;
    ++count_;
  }
  [[nodiscard]] merge_rule find(std::uint32_t left, std::uint32_t right) const noexcept {
    if (keys_.empty()) return {};
    std::uint64_t const key = (std::uint64_t{left} << 32) | right;
    std::size_t const mask = keys_.size() - 1;
    for (std::size_t s = detail::hash_u64(key) & mask;; s = (s + 1) & mask) {
      if (keys_[s] == key) return rules_[s];
      if (keys_[s] == empty) return {};
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  static constexpr std::uint64_t empty = ~std::uint64_t{0};
  void grow() {
    auto keys = std::move(keys_);
    auto rules = std::move(rules_);
    reserve(std::max<std::size_t>(16, count_ * 2));
    count_ = 0;
    for (std::size_t s = 0; s < keys.size(); ++s)
      if (keys[s] != empty)
        add(static_cast<std::uint32_t>(keys[s] >> 32), static_cast<std::uint32_t>(keys[s]), rules[s]);
  }
  std::vector<std::uint64_t> keys_;
  std::vector<merge_rule> rules_;
  std::size_t count_ = 0;
};

/// Reused buffers, so encoding allocates only while they grow.
struct bpe_scratch {
  struct part {
    std::uint32_t start = 0;
    std::uint32_t id = 0;
    std::uint32_t rank = no_token;  ///< of merging this part with the next
    std::uint32_t result = no_token;
    std::uint32_t prev = 0;
    std::uint32_t next = 0;
    bool alive = true;
  };
  struct candidate {
    std::uint32_t rank = 0;
    std::uint32_t start = 0;
    std::uint32_t left = 0;
    std::uint32_t right_end = 0;  ///< stale once the pair's right part has grown
  };
  std::vector<part> parts;
  std::vector<candidate> heap;
};

/// Pre-tokens up to this many bytes use the rescanning merge.
inline constexpr std::size_t bpe_rescan_limit = 32;

/// Merges one pre-token of `piece.size()` >= 1 bytes. `byte_id(b)` is the id
/// of the single byte `b`; `rule(left_start, left_id, right_start, right_end,
/// right_id)` says whether the parts can merge. Calls `emit(id)` for each
/// final part, left to right.
template <class ByteId, class Rule, class Emit>
void byte_pair_merge(std::string_view piece, bpe_scratch& scratch, ByteId&& byte_id, Rule&& rule, Emit&& emit) {
  auto& parts = scratch.parts;
  auto const n = static_cast<std::uint32_t>(piece.size());
  parts.resize(n + 1);
  for (std::uint32_t i = 0; i < n; ++i)
    parts[i] = {i, byte_id(static_cast<unsigned char>(piece[i])), no_token, no_token, i - 1, i + 1, true};
  parts[n] = {n, no_token, no_token, no_token, n - 1, n + 1, true};  // a sentinel holding the end offset
  auto const end_of = [&](std::uint32_t i) { return parts[parts[i].next].start; };
  auto const rate = [&](std::uint32_t i) {
    std::uint32_t const j = parts[i].next;
    if (j >= n) {
      parts[i].rank = no_token;
      return;
    }
    merge_rule const r = rule(parts[i].start, parts[i].id, parts[j].start, end_of(j), parts[j].id);
    parts[i].rank = r.rank;
    parts[i].result = r.result;
  };
  for (std::uint32_t i = 0; i + 1 < n; ++i) rate(i);

  if (n <= bpe_rescan_limit) {
    // tiktoken's scheme on a compact vector: find the first minimum, merge, re-rate the neighbours.
    std::vector<bpe_scratch::part>& v = parts;
    std::uint32_t count = n;  // live parts are v[0, count), kept in order
    for (;;) {
      std::uint32_t best = no_token;
      std::uint32_t best_rank = no_token;
      for (std::uint32_t i = 0; i + 1 < count; ++i)
        if (v[i].rank < best_rank) {
          best_rank = v[i].rank;
          best = i;
        }
      if (best == no_token) break;
      v[best].id = v[best].result;
      std::copy(v.begin() + best + 2, v.begin() + count + 1, v.begin() + best + 1);  // drop best+1, keep sentinel
      --count;
      auto const re_rate = [&](std::uint32_t i) {
        if (i + 1 >= count) {
          v[i].rank = no_token;
          return;
        }
        merge_rule const r = rule(v[i].start, v[i].id, v[i + 1].start, v[i + 2].start, v[i + 1].id);
        v[i].rank = r.rank;
        v[i].result = r.result;
      };
      re_rate(best);
      if (best > 0) re_rate(best - 1);
    }
    for (std::uint32_t i = 0; i < count; ++i) emit(v[i].id);
    return;
  }

  // Long pre-token: a min-heap of candidate merges over the linked parts.
  auto& heap = scratch.heap;
  heap.clear();
  auto const later = [](bpe_scratch::candidate const& a, bpe_scratch::candidate const& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.start > b.start;
  };
  auto const push = [&](std::uint32_t i) {
    if (parts[i].rank == no_token) return;
    heap.push_back({parts[i].rank, parts[i].start, i, end_of(parts[i].next)});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (std::uint32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    auto const c = heap.back();
    heap.pop_back();
    auto& left = parts[c.left];
    if (!left.alive || left.next >= n || end_of(left.next) != c.right_end || left.rank != c.rank) continue;
    std::uint32_t const right = left.next;
    left.id = left.result;
    parts[right].alive = false;
    left.next = parts[right].next;
    parts[left.next].prev = c.left;
    rate(c.left);
    push(c.left);
    if (c.left > 0) {
      std::uint32_t const p = left.prev;
      rate(p);
      push(p);
    }
  }
  for (std::uint32_t i = 0; i < n; i = parts[i].next) emit(parts[i].id);
}

}  // namespace medgate::tokens
