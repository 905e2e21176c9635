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
// Long ones (a 100 KB word, a base64 blob with no break) keep a linked list
// of parts in buckets by rank, found through a two-level bitmap: the
// reference's quadratic loop would take seconds there. The two give
// identical merges (tested).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hash_filter.hpp"

namespace medgate::tokens {

namespace detail {
/// Reads 8 or 4 bytes as one number (unaligned).
inline std::uint64_t load8(char const* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint64_t load4(char const* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
/// A 64-bit hash of a byte string. The bytes after the last whole 8 are read
/// as fixed-size loads that may overlap bytes already read (the length is in
/// the seed, so that loses nothing): a copy of a variable number of bytes
/// would stall on store forwarding natively and be a call under WebAssembly,
/// and BPE hashes ~100,000 short strings per 100 KB word.
inline std::uint64_t hash_bytes(std::string_view s) noexcept {
  constexpr std::uint64_t m = 0x9E3779B97F4A7C15ull;
  std::size_t const n = s.size();
  char const* const p = s.data();
  std::uint64_t h = 0xD6E8FEB86659FD93ull ^ (n * m);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h = (h ^ load8(p + i)) * m;
    h ^= h >> 29;
  }
  std::uint64_t v = 0;
  if (n >= 8) {
    if (i < n) v = load8(p + n - 8);
  } else if (n >= 4) {
    v = load4(p) | (load4(p + n - 4) << 32);
  } else if (n > 0) {
    auto const byte = [p](std::size_t k) { return std::uint64_t{static_cast<unsigned char>(p[k])}; };
    v = byte(0) | (byte(n / 2) << 8) | (byte(n - 1) << 16);
  }
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

/// Token bytes → id, and id → bytes, over bytes kept elsewhere (the
/// encoding's copy of its vocabulary file). Each slot holds a token's first
/// eight bytes, its length and its id, so most probes — BPE asks about
/// short byte pairs that are usually not tokens — touch one cache line and
/// compare no memory; only tokens longer than eight bytes compare the rest.
class byte_table {
 public:
  /// Sizes the table for `n` tokens with ids below `id_limit`, whose bytes
  /// live in `base`, which must outlive the table and not move.
  void reset(char const* base, std::size_t n, std::uint32_t id_limit) {
    base_ = base;
    count_ = 0;
    slots_.assign(detail::table_size_for(n), slot{});
    filter_.reset(n);
    by_id_.assign(id_limit, span{});
    max_length_ = 0;
  }

  /// Adds the token at `base + offset`; false if its bytes or its id are already present.
  bool add(std::uint32_t offset, std::uint32_t length, std::uint32_t id) {
    return add(offset, length, id, detail::hash_bytes({base_ + offset, length}));
  }
  /// The same, with the bytes' `hash_bytes` computed ahead (see `prefetch`).
  bool add(std::uint32_t offset, std::uint32_t length, std::uint32_t id, std::uint64_t h) {
    std::string_view const bytes{base_ + offset, length};
    if (id >= by_id_.size() || by_id_[id].length != 0 || length == 0) return false;
    std::size_t const mask = slots_.size() - 1;
    std::size_t s = h & mask;
    for (; slots_[s].length != 0; s = (s + 1) & mask)
      if (same(slots_[s], bytes, prefix_of(bytes))) return false;
    slots_[s] = {prefix_of(bytes), length, id};
    filter_.add(h);
    by_id_[id] = {offset, length};
    max_length_ = std::max<std::size_t>(max_length_, length);
    ++count_;
    return true;
  }

  /// Asks the cache for the slot a hash starts probing at: bulk loads insert
  /// a few entries behind their prefetches, so the random accesses overlap.
  void prefetch(std::uint64_t h) const noexcept { __builtin_prefetch(&slots_[h & (slots_.size() - 1)]); }

  [[nodiscard]] std::uint32_t find(std::string_view bytes) const noexcept {
    if (bytes.size() > max_length_ || bytes.empty()) return no_token;
    return find(bytes, detail::hash_bytes(bytes));
  }
  /// The same, with the bytes' `hash_bytes` computed ahead.
  [[nodiscard]] std::uint32_t find(std::string_view bytes, std::uint64_t h) const noexcept {
    if (bytes.size() > max_length_ || bytes.empty() || !filter_.may_contain(h)) return no_token;
    std::uint64_t const prefix = prefix_of(bytes);
    std::size_t const mask = slots_.size() - 1;
    for (std::size_t s = h & mask;; s = (s + 1) & mask) {
      auto const& sl = slots_[s];
      if (sl.length == 0) return no_token;
      if (same(sl, bytes, prefix)) return sl.id;
    }
  }

  /// The bytes of token `id`; empty when there is no such token.
  [[nodiscard]] std::string_view bytes_of(std::uint32_t id) const noexcept {
    if (id >= by_id_.size()) return {};
    return {base_ + by_id_[id].offset, by_id_[id].length};
  }

  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  struct slot {
    std::uint64_t prefix = 0;  ///< the first (up to) eight bytes, zero-padded
    std::uint32_t length = 0;  ///< 0 = empty
    std::uint32_t id = 0;
  };
  struct span {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };
  static std::uint64_t prefix_of(std::string_view bytes) noexcept {
    std::uint64_t p = 0;
    std::memcpy(&p, bytes.data(), std::min<std::size_t>(bytes.size(), 8));
    return p;
  }
  bool same(slot const& sl, std::string_view bytes, std::uint64_t prefix) const noexcept {
    return sl.length == bytes.size() && sl.prefix == prefix &&
           (bytes.size() <= 8 ||
            std::memcmp(base_ + by_id_[sl.id].offset + 8, bytes.data() + 8, bytes.size() - 8) == 0);
  }

  char const* base_ = nullptr;
  std::vector<slot> slots_{1};
  hash_filter filter_;  ///< of the tokens' hashes: most absent byte strings end here
  std::vector<span> by_id_;
  std::size_t count_ = 0;
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
    filter_.reset(n);
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
    std::uint64_t const h = detail::hash_u64(key);
    std::size_t const mask = keys_.size() - 1;
    std::size_t s = h & mask;
    while (keys_[s] != empty) {
      if (keys_[s] == key) return;
      s = (s + 1) & mask;
    }
    filter_.add(h);
    keys_[s] = key;
    rules_[s] = rule;
    ++count_;
  }
  [[nodiscard]] merge_rule find(std::uint32_t left, std::uint32_t right) const noexcept {
    if (keys_.empty()) return {};
    std::uint64_t const key = key_of(left, right);
    std::uint64_t const h = detail::hash_u64(key);
    if (!filter_.may_contain(h)) return {};
    std::size_t const mask = keys_.size() - 1;
    for (std::size_t s = h & mask;; s = (s + 1) & mask) {
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
  hash_filter filter_;  ///< of the keys' hashes, as in byte_table
  std::size_t count_ = 0;
};

/// Reused buffers, so encoding allocates only while they grow.
struct bpe_scratch {
  struct part {
    /// The rescanning path: this part's start byte. The long path indexes
    /// parts by start byte and keeps here the start of the next live part,
    /// so following a link reads the cache line it will read next anyway.
    std::uint32_t start = 0;
    std::uint32_t id = 0;
    std::uint32_t rank = no_token;  ///< of merging this part with the next
    std::uint32_t result = no_token;
  };
  std::vector<part> parts;
  std::vector<std::uint32_t> prev;
  /// The long path's queue: one bucket of left-part starts per rank in use,
  /// and a two-level bitmap of the ranks that have a bucket. A bucket's
  /// first entries (the byte pairs the piece starts with) lie in one shared
  /// array, grouped by bucket and in order; entries pushed while merging go
  /// to the bucket's own `later` list. Both stay allocated between calls.
  struct bucket {
    std::uint32_t rank = 0;
    std::uint32_t first = 0;  ///< the next initial entry: initial[first, last)
    std::uint32_t last = 0;
    std::uint32_t cursor = 0;  ///< later entries before it are done
    bool sorted = true;        ///< later entries from the cursor on are in order
    std::vector<std::uint32_t> later;
  };
  std::vector<std::uint32_t> initial;
  std::vector<bucket> buckets;
  std::vector<std::uint32_t> bucket_of_rank;  ///< rank → bucket index + 1; 0 = none
  std::vector<std::uint64_t> ranks_used;      ///< bit per rank with a bucket
  std::vector<std::uint64_t> words_used;      ///< bit per nonzero word of ranks_used
};

/// Pre-tokens up to this many bytes use the rescanning merge.
inline constexpr std::size_t bpe_rescan_limit = 32;

/// Merges one pre-token of `piece.size()` >= 1 bytes; every rank is below
/// `rank_limit` (a rule with a higher rank is treated as no rule). `byte_id(b)` is the id
/// of the single byte `b`; `byte_pair(a, b)` the rule for two single bytes;
/// `rule(left_start, left_id, right_start, right_end, right_id)` says
/// whether two parts can merge. Calls `emit(id)` for each final part, left
/// to right.
template <class ByteId, class BytePair, class Rule, class Emit>
void byte_pair_merge(std::string_view piece, std::uint32_t rank_limit, bpe_scratch& scratch, ByteId&& byte_id,
                     BytePair&& byte_pair, Rule&& rule, Emit&& emit) {
  auto& v = scratch.parts;
  auto const n = static_cast<std::uint32_t>(piece.size());
  auto const byte = [&](std::uint32_t i) { return static_cast<unsigned char>(piece[i]); };
  v.resize(n + 1);
  for (std::uint32_t i = 0; i < n; ++i) {
    merge_rule const r = i + 1 < n ? byte_pair(byte(i), byte(i + 1)) : merge_rule{};
    v[i] = {i, byte_id(byte(i)), r.rank, r.result};
  }
  v[n] = {n, no_token, no_token, no_token};  // a sentinel holding the end offset

  if (n <= bpe_rescan_limit) {
    // tiktoken's scheme on a compact vector: find the first minimum, merge, re-rate the neighbours.
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
        merge_rule const r =
            i + 1 < count ? rule(v[i].start, v[i].id, v[i + 1].start, v[i + 2].start, v[i + 1].id) : merge_rule{};
        v[i].rank = r.rank;
        v[i].result = r.result;
      };
      re_rate(best);
      if (best > 0) re_rate(best - 1);
    }
    for (std::uint32_t i = 0; i < count; ++i) emit(v[i].id);
    return;
  }

  // Long pre-token: parts indexed by their start byte and linked both ways;
  // candidate merges in buckets by rank, found through a two-level bitmap.
  // The lowest rank's bucket is worked left to right — the reference's
  // order: lowest rank, then leftmost — until a merge creates a pair of a
  // lower rank, which goes first. A merge of rank r never creates another
  // pair of rank r (the new pairs hold a different, longer token), and a
  // part only grows to the right, so an entry is current exactly when its
  // part is alive and still has that rank (an absorbed part has none).
  auto& prev = scratch.prev;
  prev.resize(n + 1);
  for (std::uint32_t i = 0; i <= n; ++i) {
    v[i].start = i + 1;  // from here on: the next live part
    prev[i] = i - 1;     // prev[0] wraps; never read
  }
  auto const next = [&v](std::uint32_t i) { return v[i].start; };
  auto& buckets = scratch.buckets;
  auto& bucket_of = scratch.bucket_of_rank;
  auto& used = scratch.ranks_used;
  auto& words = scratch.words_used;
  if (bucket_of.size() < rank_limit) {
    bucket_of.assign(rank_limit, 0);
    used.assign(rank_limit / 64 + 1, 0);
    words.assign(used.size() / 64 + 1, 0);
  }
  std::size_t live = 0;  // buckets[0, live) are in use
  std::uint32_t lowest_pushed = no_token;
  auto const bucket_for = [&](std::uint32_t rank) -> bpe_scratch::bucket& {
    std::uint32_t& b = bucket_of[rank];
    if (b == 0) {
      if (live == buckets.size()) buckets.emplace_back();
      auto& fresh = buckets[live];
      fresh.rank = rank;
      fresh.first = fresh.last = fresh.cursor = 0;
      fresh.sorted = true;
      fresh.later.clear();
      b = static_cast<std::uint32_t>(++live);
      used[rank / 64] |= std::uint64_t{1} << (rank % 64);
      words[rank / 4096] |= std::uint64_t{1} << (rank / 64 % 64);
    }
    return buckets[b - 1];
  };
  auto const push = [&](std::uint32_t rank, std::uint32_t start) {
    if (rank >= rank_limit) return;  // no_token, or a rule outside the vocabulary's ranks
    lowest_pushed = std::min(lowest_pushed, rank);
    auto& bk = bucket_for(rank);
    if (bk.later.size() > bk.cursor && bk.later.back() > start) bk.sorted = false;
    bk.later.push_back(start);
  };
  auto const lowest_rank = [&]() -> std::uint32_t {
    for (std::size_t w = 0; w < words.size(); ++w)
      if (words[w] != 0) {
        std::size_t const u = w * 64 + static_cast<std::size_t>(__builtin_ctzll(words[w]));
        return static_cast<std::uint32_t>(u * 64 + static_cast<std::size_t>(__builtin_ctzll(used[u])));
      }
    return no_token;
  };
  auto const retire = [&](std::uint32_t rank) {  // the bucket is done: free it, clear its bits
    std::uint32_t const b = bucket_of[rank] - 1;
    bucket_of[rank] = 0;
    used[rank / 64] &= ~(std::uint64_t{1} << (rank % 64));
    if (used[rank / 64] == 0) words[rank / 4096] &= ~(std::uint64_t{1} << (rank / 64 % 64));
    --live;
    if (b != live) {  // move the last bucket into the hole
      std::swap(buckets[b], buckets[live]);
      bucket_of[buckets[b].rank] = b + 1;
    }
  };
  auto const rate = [&](std::uint32_t i) {
    std::uint32_t const j = next(i);
    return j < n ? rule(i, v[i].id, j, next(j), v[j].id) : merge_rule{};
  };
  auto const set_rate = [&](std::uint32_t i, merge_rule r) {
    v[i].rank = r.rank;
    v[i].result = r.result;
    push(r.rank, i);
  };
  // The initial entries, by a counting sort: count per bucket, place the groups, fill them in order.
  for (std::uint32_t i = 0; i + 1 < n; ++i)
    if (v[i].rank < rank_limit) ++bucket_for(v[i].rank).last;
  std::uint32_t offset = 0;
  for (std::size_t b = 0; b < live; ++b) {
    auto& bk = buckets[b];
    bk.first = offset;
    offset += bk.last;
    bk.last = bk.first;
  }
  auto& initial = scratch.initial;
  if (initial.size() < offset) initial.resize(offset);
  for (std::uint32_t i = 0; i + 1 < n; ++i)
    if (v[i].rank < rank_limit) initial[buckets[bucket_of[v[i].rank] - 1].last++] = i;
  for (std::uint32_t rank = lowest_rank(); rank != no_token; rank = lowest_rank()) {
    lowest_pushed = no_token;
    while (lowest_pushed >= rank) {
      auto& bk = buckets[bucket_of[rank] - 1];
      if (!bk.sorted) {
        std::sort(bk.later.begin() + bk.cursor, bk.later.end());
        bk.sorted = true;
      }
      bool const has_initial = bk.first < bk.last;
      bool const has_later = bk.cursor < bk.later.size();
      if (!has_initial && !has_later) {
        retire(rank);
        break;
      }
      // The bucket's parts lie far apart in a large piece: ask for one a few entries ahead.
      if (bk.first + 8 < bk.last) __builtin_prefetch(&v[initial[bk.first + 8]]);
      // The leftmost of the two lists' next entries.
      std::uint32_t const i = has_later && (!has_initial || bk.later[bk.cursor] < initial[bk.first])
                                  ? bk.later[bk.cursor++]
                                  : initial[bk.first++];
      if (v[i].rank != rank) continue;  // stale
      std::uint32_t const j = next(i);
      v[i].id = v[i].result;
      v[j].rank = no_token;  // absorbed
      v[i].start = next(j);
      prev[next(j)] = i;
      // Both new pairs are looked up before either is queued, so the two lookups overlap.
      std::uint32_t const p = i > 0 ? prev[i] : no_token;
      merge_rule const right_rule = rate(i);
      merge_rule const left_rule = p != no_token ? rate(p) : merge_rule{};
      set_rate(i, right_rule);
      if (p != no_token) set_rate(p, left_rule);
    }
  }
  for (std::uint32_t i = 0; i < n; i = next(i)) emit(v[i].id);
}

}  // namespace medgate::tokens
