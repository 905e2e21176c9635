// hash.hpp — SHA-256, HMAC-SHA-256 (RFC 2104), SipHash-2-4; portable (same bytes natively and in WASM).
//
// The audit log chains records with SHA-256, idempotency keys and pseudonyms
// are HMACs under a local secret, and canary arms come from a keyed SipHash
// of the patient key. All three must give the same bytes in a server and in a
// browser, so every multi-byte word is assembled from single bytes with
// shifts: no endianness, alignment or pointer-punning assumptions, and no
// platform crypto library. Checked against the published test vectors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace medgate {

namespace detail {
constexpr std::uint32_t rotate_right32(std::uint32_t x, int k) noexcept { return (x >> k) | (x << (32 - k)); }
constexpr std::uint64_t rotate_left64(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
constexpr std::uint8_t byte_at(std::string_view bytes, std::size_t i) noexcept {
  return static_cast<std::uint8_t>(bytes[i]);
}
}  // namespace detail

/// Incremental SHA-256 (FIPS 180-4): feed any number of `update`s, then
/// `finish`. After `finish` the object is reset and can hash a new message.
class sha256 {
 public:
  using digest = std::array<std::uint8_t, 32>;

  sha256() noexcept { reset(); }

  sha256& update(std::string_view bytes) noexcept {
    length_bytes_ += bytes.size();
    std::size_t i = 0;
    if (buffered_ > 0) {  // top up the partial block first
      while (buffered_ < block_size && i < bytes.size()) buffer_[buffered_++] = bytes[i++];
      if (buffered_ < block_size) return *this;
      compress(buffer_.data());
      buffered_ = 0;
    }
    for (; bytes.size() - i >= block_size; i += block_size) compress(bytes.data() + i);
    while (i < bytes.size()) buffer_[buffered_++] = bytes[i++];
    return *this;
  }

  digest finish() noexcept {
    const std::uint64_t length_bits = length_bytes_ * 8;
    std::array<char, block_size + 8> padding{};
    padding[0] = static_cast<char>(0x80);
    // Pad with 0x80 then zeros up to 56 mod 64, then the 64-bit big-endian bit length.
    std::size_t n = buffered_ < 56 ? 56 - buffered_ : 120 - buffered_;  // 0x80 and the zeros
    for (int shift = 56; shift >= 0; shift -= 8) padding[n++] = static_cast<char>(length_bits >> shift);
    update({padding.data(), n});
    digest out{};
    for (std::size_t i = 0; i < 8; ++i)
      for (std::size_t j = 0; j < 4; ++j) out[i * 4 + j] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * j));
    reset();
    return out;
  }

 private:
  static constexpr std::size_t block_size = 64;

  void reset() noexcept {
    h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    buffered_ = 0;
    length_bytes_ = 0;
  }

  void compress(char const* block) noexcept {
    static constexpr std::array<std::uint32_t, 64> round_constants = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::array<std::uint32_t, 64> w{};
    for (std::size_t i = 0; i < 16; ++i) {
      w[i] = std::uint32_t{static_cast<std::uint8_t>(block[4 * i])} << 24 |
             std::uint32_t{static_cast<std::uint8_t>(block[4 * i + 1])} << 16 |
             std::uint32_t{static_cast<std::uint8_t>(block[4 * i + 2])} << 8 |
             std::uint32_t{static_cast<std::uint8_t>(block[4 * i + 3])};
    }
    for (std::size_t i = 16; i < 64; ++i) {
      const std::uint32_t s0 =
          detail::rotate_right32(w[i - 15], 7) ^ detail::rotate_right32(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 =
          detail::rotate_right32(w[i - 2], 17) ^ detail::rotate_right32(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (std::size_t i = 0; i < 64; ++i) {
      const std::uint32_t sum1 =
          detail::rotate_right32(e, 6) ^ detail::rotate_right32(e, 11) ^ detail::rotate_right32(e, 25);
      const std::uint32_t choose = (e & f) ^ (~e & g);
      const std::uint32_t t1 = h + sum1 + choose + round_constants[i] + w[i];
      const std::uint32_t sum0 =
          detail::rotate_right32(a, 2) ^ detail::rotate_right32(a, 13) ^ detail::rotate_right32(a, 22);
      const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
      const std::uint32_t t2 = sum0 + majority;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  std::array<std::uint32_t, 8> h_{};
  std::array<char, block_size> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_bytes_ = 0;
};

/// SHA-256 of one message.
inline std::array<std::uint8_t, 32> sha256_digest(std::string_view bytes) noexcept {
  return sha256{}.update(bytes).finish();
}

/// HMAC-SHA-256 (RFC 2104 / FIPS 198-1). Keys longer than the 64-byte block
/// are hashed first, as the RFC requires.
inline std::array<std::uint8_t, 32> hmac_sha256(std::string_view key, std::string_view message) noexcept {
  constexpr std::size_t block_size = 64;
  std::array<char, block_size> block_key{};
  if (key.size() > block_size) {
    const auto hashed = sha256_digest(key);
    for (std::size_t i = 0; i < hashed.size(); ++i) block_key[i] = static_cast<char>(hashed[i]);
  } else {
    for (std::size_t i = 0; i < key.size(); ++i) block_key[i] = key[i];
  }
  std::array<char, block_size> inner_pad{};
  std::array<char, block_size> outer_pad{};
  for (std::size_t i = 0; i < block_size; ++i) {
    inner_pad[i] = static_cast<char>(static_cast<std::uint8_t>(block_key[i]) ^ 0x36);
    outer_pad[i] = static_cast<char>(static_cast<std::uint8_t>(block_key[i]) ^ 0x5c);
  }
  const auto inner = sha256{}.update({inner_pad.data(), block_size}).update(message).finish();
  return sha256{}
      .update({outer_pad.data(), block_size})
      .update({reinterpret_cast<char const*>(inner.data()), inner.size()})
      .finish();
}

namespace detail {
constexpr std::uint64_t load_little_endian64(std::uint8_t const* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct sip_state {
  std::uint64_t v0, v1, v2, v3;
  constexpr void round() noexcept {
    v0 += v1;
    v1 = rotate_left64(v1, 13);
    v1 ^= v0;
    v0 = rotate_left64(v0, 32);
    v2 += v3;
    v3 = rotate_left64(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotate_left64(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotate_left64(v1, 17);
    v1 ^= v2;
    v2 = rotate_left64(v2, 32);
  }
  constexpr void absorb(std::uint64_t m) noexcept {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};
}  // namespace detail

/// SipHash-2-4 (Aumasson and Bernstein): a fast keyed hash. With a secret key
/// nobody can choose patient keys that all land in one canary arm or one
/// hash-table bucket. The 16-byte key is read as two little-endian words,
/// as in the reference implementation.
inline std::uint64_t siphash24(std::array<std::uint8_t, 16> const& key, std::string_view message) noexcept {
  const std::uint64_t k0 = detail::load_little_endian64(key.data());
  const std::uint64_t k1 = detail::load_little_endian64(key.data() + 8);
  detail::sip_state s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
                      k1 ^ 0x7465646279746573ULL};
  const std::size_t whole = message.size() - message.size() % 8;
  std::array<std::uint8_t, 8> word{};
  for (std::size_t i = 0; i < whole; i += 8) {
    for (std::size_t j = 0; j < 8; ++j) word[j] = detail::byte_at(message, i + j);
    s.absorb(detail::load_little_endian64(word.data()));
  }
  // The last word holds the remaining 0..7 bytes and the length (mod 256) in its top byte.
  word = {};
  for (std::size_t j = 0; whole + j < message.size(); ++j) word[j] = detail::byte_at(message, whole + j);
  word[7] = static_cast<std::uint8_t>(message.size());
  s.absorb(detail::load_little_endian64(word.data()));
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/// Lower-case hexadecimal, two digits per byte.
inline std::string to_hex(std::span<std::uint8_t const> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  return out;
}

}  // namespace medgate
