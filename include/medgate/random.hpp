// random.hpp — seeded xoshiro256** (state expanded from the seed with splitmix64); the only randomness in medgate.
//
// Jitter, hedging and canary decisions must replay identically in a native
// server, in the browser and in the simulator, so the core never asks the
// platform for randomness: a host seeds one `rng`, and every component that
// needs its own sequence takes a `fork(stream)` of it. Everything here is
// plain 64-bit integer arithmetic, so the same seed gives the same numbers on
// every platform (the doubles of `uniform()` are exact multiples of 2^-53).
#pragma once

#include <array>
#include <cstdint>
#include <limits>

namespace medgate {

/// The value a host seeds medgate with; a named type so a seed is never
/// confused with a count or an id.
struct seed {
  std::uint64_t value = 0;
};

/// One step of splitmix64 (Steele, Lea and Flood): advances `state` by the
/// golden-ratio increment and returns a well-mixed 64-bit value. Used to
/// expand a 64-bit seed into xoshiro's 256-bit state.
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  state += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace detail {
constexpr std::uint64_t rotate_left(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
}  // namespace detail

/// xoshiro256** 1.0 (Blackman and Vigna): fast, 256 bits of state, passes
/// BigCrush. Not cryptographic — it only decides jitter and sampling, never
/// secrets. It also satisfies std::uniform_random_bit_generator.
class rng {
 public:
  using result_type = std::uint64_t;
  using state_type = std::array<std::uint64_t, 4>;

  /// The state is four successive splitmix64 outputs starting from the seed,
  /// as the xoshiro authors recommend; it can never be all zero.
  explicit rng(seed s) noexcept {
    std::uint64_t expander = s.value;
    for (auto& word : state_) word = splitmix64(expander);
  }

  /// A generator with exactly this state (for reference vectors and for
  /// restoring a saved generator). An all-zero state would output zeros
  /// forever, so it is replaced by the state of `rng{seed{0}}`.
  static rng from_state(state_type const& state) noexcept {
    rng r{seed{0}};
    if ((state[0] | state[1] | state[2] | state[3]) != 0) r.state_ = state;
    return r;
  }

  [[nodiscard]] state_type const& state() const noexcept { return state_; }

  /// The next 64 random bits.
  std::uint64_t next() noexcept {
    const std::uint64_t result = detail::rotate_left(state_[1] * 5, 7) * 9;
    const std::uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = detail::rotate_left(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1): the top 53 bits scaled by 2^-53, so every value is
  /// exact and 1.0 is never returned.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Uniform in [0, n) without modulo bias: draws below 2^64 mod n are
  /// rejected (fewer than half of all draws in the worst case, almost none
  /// for small n). `below(0)` is 0 and consumes nothing.
  std::uint64_t below(std::uint64_t n) noexcept {
    if (n == 0) return 0;
    const std::uint64_t threshold = (0 - n) % n;  // == 2^64 mod n
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

  /// A child generator for one consumer (e.g. one per provider), derived from
  /// this generator's current state and `stream`. It does not advance this
  /// generator; the same state and stream always give the same child, and
  /// different streams give unrelated sequences (the inputs are hashed
  /// through the splitmix64 finalizer before seeding).
  [[nodiscard]] rng fork(std::uint64_t stream) const noexcept {
    std::uint64_t mixer = stream;
    std::uint64_t derived = splitmix64(mixer);
    for (std::uint64_t word : state_) {
      mixer = derived ^ word;
      derived = splitmix64(mixer);
    }
    return rng{seed{derived}};
  }

  // std::uniform_random_bit_generator, so <random> distributions accept it.
  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }
  result_type operator()() noexcept { return next(); }

  friend bool operator==(rng const&, rng const&) = default;

 private:
  state_type state_{};
};

}  // namespace medgate
