// tokens/encoding.hpp — an exact byte-level BPE tokenizer: cl100k_base and
// o200k_base (OpenAI, tiktoken) and DeepSeek V3 (Hugging Face), loaded from a
// `.mgtok` vocabulary file.
//
//   auto enc = tokens::encoding::load(file_bytes);   // result<encoding>
//   std::vector<std::uint32_t> ids = enc->encode("Pt c/o chest pain x2d");
//   std::size_t n = enc->count(text);                // the same number, no vector
//
// The ids are those of the reference tokenizers (tiktoken's encode_ordinary;
// Hugging Face's encode without added special tokens), checked by the parity
// tests on a varied corpus.
//
// Policies, stated once:
// - Special-token text is ordinary text. "<|endoftext|>" in a clinical note is
//   encoded as the characters it is made of, never as the control token, so
//   text from a patient or a document cannot end a prompt or forge a turn.
//   Chat accounting adds control tokens itself, by id (`special_token`).
// - Invalid UTF-8 is kept, not replaced: each bad byte is pre-tokenized like
//   U+FFFD and encoded by its own byte token, so `decode(encode(s)) == s` for
//   every byte string.
// - Linear time: the pre-tokenizers are linear, and long pre-tokens merge
//   through buckets by rank (bpe.hpp), so a 100 KB word with no break costs
//   a few milliseconds, not the reference's quadratic seconds.
#pragma once

#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "../result.hpp"
#include "bpe.hpp"
#include "piece_cache.hpp"
#include "pretokenize.hpp"
#include "unicode.hpp"
#include "vocabulary_file.hpp"

namespace medgate::tokens {

class encoding {
 public:
  /// Builds an encoding from the bytes of a `.mgtok` file (which may be freed afterwards).
  static result<encoding> load(std::string_view file_bytes) {
    auto file = read_vocabulary_file(file_bytes);
    if (!file) return error{file.error_message()};
    auto const& v = *file;
    auto const bad = [&](std::string_view what) { return error{fmt::format("vocabulary {}: {}", v.name, what)}; };
    encoding e;
    e.name_ = v.name;
    e.provenance_ = v.provenance;
    e.pre_ = v.pre;
    e.merges_by_ = v.merges_by;
    if (!e.classes_.assign(v.classes)) return bad("character class ranges out of order");

    // One copy of the file; tokens are (offset, length) into it.
    e.data_ = std::make_unique<char[]>(file_bytes.size());
    std::memcpy(e.data_.get(), file_bytes.data(), file_bytes.size());
    auto const offset_of = [&](std::string_view b) { return static_cast<std::uint32_t>(b.data() - file_bytes.data()); };

    std::uint32_t max_id = 0;
    for (auto const& t : v.tokens) max_id = std::max(max_id, t.id);
    if (max_id > (1u << 24)) return bad(fmt::format("token id {} is implausibly large", max_id));
    e.by_bytes_.reset(e.data_.get(), v.tokens.size(), max_id + 1);
    e.rank_limit_ =
        v.merges_by == merge_kind::tiktoken_ranks ? max_id + 1 : static_cast<std::uint32_t>(v.merges.size());
    std::vector<std::uint64_t> hashes(v.tokens.size());
    for (std::size_t i = 0; i < v.tokens.size(); ++i) hashes[i] = detail::hash_bytes(v.tokens[i].bytes);
    constexpr std::size_t ahead = 16;
    for (std::size_t i = 0; i < v.tokens.size(); ++i) {
      if (i + ahead < hashes.size()) e.by_bytes_.prefetch(hashes[i + ahead]);
      auto const& t = v.tokens[i];
      if (t.bytes.empty()) return bad(fmt::format("token {} is empty", t.id));
      if (!e.by_bytes_.add(offset_of(t.bytes), static_cast<std::uint32_t>(t.bytes.size()), t.id, hashes[i]))
        return bad(fmt::format("token {} repeats another token's id or bytes", t.id));
    }
    for (unsigned b = 0; b < 256; ++b) {
      char const c = static_cast<char>(b);
      e.byte_ids_[b] = e.by_bytes_.find({&c, 1});
      if (e.byte_ids_[b] == no_token) return bad(fmt::format("no token for the single byte {:#04x}", b));
    }
    if (v.merges_by == merge_kind::merge_list) {
      e.pairs_.reserve(v.merges.size());
      for (std::size_t r = 0; r < v.merges.size(); ++r) {
        if (r + ahead < v.merges.size()) e.pairs_.prefetch(v.merges[r + ahead].left, v.merges[r + ahead].right);
        auto const& m = v.merges[r];
        if (e.token_bytes(m.left).empty() || e.token_bytes(m.right).empty() || e.token_bytes(m.result).empty())
          return bad(fmt::format("merge {} names an unknown token", r));
        e.pairs_.add(m.left, m.right, {static_cast<std::uint32_t>(r), m.result});
      }
    }
    // Rules for two single bytes, where every merge starts: one array read instead of a lookup.
    if (v.merges_by == merge_kind::tiktoken_ranks) {
      for (auto const& t : v.tokens)
        if (t.bytes.size() == 2)
          e.byte_pairs_[static_cast<unsigned char>(t.bytes[0]) * 256u + static_cast<unsigned char>(t.bytes[1])] = {
              t.id, t.id};
    } else {
      for (std::size_t r = 0; r < v.merges.size(); ++r) {
        auto const left = e.token_bytes(v.merges[r].left);
        auto const right = e.token_bytes(v.merges[r].right);
        if (left.size() != 1 || right.size() != 1) continue;
        auto& rule = e.byte_pairs_[static_cast<unsigned char>(left[0]) * 256u + static_cast<unsigned char>(right[0])];
        if (rule.rank == no_token) rule = {static_cast<std::uint32_t>(r), v.merges[r].result};
      }
    }
    for (auto const& sp : v.specials) {
      if (sp.bytes.empty()) return bad("a special token has no text");
      e.specials_.push_back({std::string{sp.bytes}, sp.id});
    }
    return e;
  }

  [[nodiscard]] std::string const& name() const noexcept { return name_; }
  /// JSON naming the package, version, file and sha256 the vocabulary came from.
  [[nodiscard]] std::string const& provenance() const noexcept { return provenance_; }
  /// Ordinary tokens plus control tokens that are not also ordinary ones.
  [[nodiscard]] std::size_t token_count() const noexcept {
    std::size_t n = by_bytes_.size();
    for (auto const& sp : specials_) n += token_bytes(sp.second).empty() ? 1 : 0;
    return n;
  }

  /// Appends the ids of `text` to `out`.
  void encode(std::string_view text, std::vector<std::uint32_t>& out) const {
    each_token(text, [&](std::uint32_t id) { out.push_back(id); });
  }
  [[nodiscard]] std::vector<std::uint32_t> encode(std::string_view text) const {
    std::vector<std::uint32_t> out;
    out.reserve(text.size() / 3 + 1);
    encode(text, out);
    return out;
  }
  /// The number of tokens of `text`: `encode(text).size()` without the vector.
  [[nodiscard]] std::size_t count(std::string_view text) const {
    std::size_t n = 0;
    each_token(text, [&](std::uint32_t) { ++n; });
    return n;
  }

  /// The bytes of `ids`; nothing when an id is not in the vocabulary.
  [[nodiscard]] std::optional<std::string> decode(std::span<std::uint32_t const> ids) const {
    std::string out;
    for (auto const id : ids) {
      if (auto const b = token_bytes(id); !b.empty()) {
        out.append(b);
        continue;
      }
      auto const s = std::find_if(specials_.begin(), specials_.end(), [&](auto const& sp) { return sp.second == id; });
      if (s == specials_.end()) return std::nullopt;
      out.append(s->first);
    }
    return out;
  }

  /// The bytes of an ordinary token; empty for special and unknown ids.
  [[nodiscard]] std::string_view token_bytes(std::uint32_t id) const noexcept { return by_bytes_.bytes_of(id); }

  /// The id of a control token such as "<|endoftext|>" or "<｜User｜>".
  [[nodiscard]] std::optional<std::uint32_t> special_token(std::string_view text) const noexcept {
    for (auto const& [t, id] : specials_)
      if (t == text) return id;
    return std::nullopt;
  }

  /// Calls `on_piece` with each pre-token (for tests and tools).
  template <class OnPiece>
  void pretokens(std::string_view text, OnPiece&& on_piece) const {
    pretokenize(pre_, classes_, text, on_piece);
  }

 private:
  template <class Emit>
  void each_token(std::string_view text, Emit&& emit) const {
    thread_local bpe_scratch scratch;
    thread_local piece_cache cache;
    thread_local std::vector<std::uint32_t> merged;
    pretokenize(pre_, classes_, text, [&](std::string_view piece) {
      std::uint64_t const hash = detail::hash_bytes(piece);
      // tiktoken's shortcut: a pre-token that is itself a token is that token.
      if (merges_by_ == merge_kind::tiktoken_ranks)
        if (auto const id = by_bytes_.find(piece, hash); id != no_token) return emit(id);
      bool const cacheable = piece_cache::fits(piece);
      if (cacheable)
        if (auto const ids = cache.find(serial_, hash, piece); !ids.empty()) {
          for (auto const id : ids) emit(id);
          return;
        }
      merged.clear();
      auto const keep = [&](std::uint32_t id) { merged.push_back(id); };
      auto const byte_id = [&](unsigned char b) { return byte_ids_[b]; };
      auto const byte_pair = [&](unsigned char a, unsigned char b) { return byte_pairs_[a * 256u + b]; };
      if (merges_by_ == merge_kind::tiktoken_ranks) {
        byte_pair_merge(
            piece, rank_limit_, scratch, byte_id, byte_pair,
            [&](std::uint32_t left_start, std::uint32_t, std::uint32_t, std::uint32_t right_end, std::uint32_t) {
              auto const id = by_bytes_.find(piece.substr(left_start, right_end - left_start));
              return merge_rule{id, id};
            },
            keep);
      } else {
        byte_pair_merge(
            piece, rank_limit_, scratch, byte_id, byte_pair,
            [&](std::uint32_t, std::uint32_t left, std::uint32_t, std::uint32_t, std::uint32_t right) {
              return pairs_.find(left, right);
            },
            keep);
      }
      for (auto const id : merged) emit(id);
      if (cacheable) cache.put(serial_, hash, piece, merged);
    });
  }

  static std::uint64_t next_serial() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    return ++counter;
  }

  std::uint32_t rank_limit_ = 0;          ///< every merge rank is below it
  std::uint64_t serial_ = next_serial();  ///< this encoding's key in the piece cache
  std::string name_;
  std::string provenance_;
  pretokenizer pre_ = pretokenizer::cl100k;
  merge_kind merges_by_ = merge_kind::tiktoken_ranks;
  char_classes classes_;
  byte_table by_bytes_;
  pair_table pairs_;
  std::array<std::uint32_t, 256> byte_ids_{};
  std::unique_ptr<char[]> data_;  ///< the vocabulary file; a stable address the tables point into
  std::vector<merge_rule> byte_pairs_ = std::vector<merge_rule>(256 * 256);  ///< rules for two single bytes
  std::vector<std::pair<std::string, std::uint32_t>> specials_;
};

}  // namespace medgate::tokens
