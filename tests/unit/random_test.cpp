#include "medgate/random.hpp"

#include <doctest/doctest.h>

#include <array>
#include <concepts>
#include <cstdint>
#include <random>
#include <set>

using namespace medgate;

static_assert(std::uniform_random_bit_generator<rng>);

TEST_CASE("splitmix64 gives the published reference outputs for seed 1234567") {
  std::uint64_t state = 1234567;
  const std::array<std::uint64_t, 5> expected = {6457827717110365317ULL, 3203168211198807973ULL, 9817491932198370423ULL,
                                                 4593380528125082431ULL, 16408922859458223821ULL};
  for (std::uint64_t value : expected) CHECK(splitmix64(state) == value);
  CHECK(state == 1234567ULL + 5 * 0x9e3779b97f4a7c15ULL);  // the state advances by the golden-ratio increment
}

TEST_CASE("xoshiro256** from state {1, 2, 3, 4} gives the reference outputs") {
  rng r = rng::from_state({1, 2, 3, 4});
  const std::array<std::uint64_t, 10> expected = {11520ULL,
                                                  0ULL,
                                                  1509978240ULL,
                                                  1215971899390074240ULL,
                                                  1216172134540287360ULL,
                                                  607988272756665600ULL,
                                                  16172922978634559625ULL,
                                                  8476171486693032832ULL,
                                                  10595114339597558777ULL,
                                                  2904607092377533576ULL};
  for (std::uint64_t value : expected) CHECK(r.next() == value);
}

TEST_CASE("a seed is expanded into the state with four splitmix64 outputs") {
  // Expected values from an independent Python transcription of both algorithms.
  rng r{seed{42}};
  CHECK(r.state() == rng::state_type{13679457532755275413ULL, 2949826092126892291ULL, 5139283748462763858ULL,
                                     6349198060258255764ULL});
  CHECK(r.next() == 1546998764402558742ULL);
  CHECK(r.next() == 6990951692964543102ULL);
  CHECK(r.next() == 12544586762248559009ULL);
}

TEST_CASE("an all-zero state is replaced, because it would output zeros forever") {
  rng r = rng::from_state({0, 0, 0, 0});
  CHECK(r == rng{seed{0}});
  CHECK(r.next() != 0);
}

TEST_CASE("the same seed gives the same sequence; different seeds differ") {
  rng a{seed{7}}, b{seed{7}}, c{seed{8}};
  int same_as_c = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = a.next();
    CHECK(x == b.next());
    if (x == c.next()) ++same_as_c;
  }
  CHECK(same_as_c == 0);
  CHECK(a == b);
  CHECK_FALSE(a == c);
}

TEST_CASE("uniform is the top 53 bits scaled into [0, 1)") {
  rng r{seed{1}};
  rng twin{seed{1}};
  double sum = 0;
  constexpr int draws = 100'000;
  for (int i = 0; i < draws; ++i) {
    const double u = r.uniform();
    CHECK(u == static_cast<double>(twin.next() >> 11) / 9007199254740992.0);
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
  }
  // Mean of 10^5 uniforms: standard error is 0.0009, so 0.01 is > 10 sigma.
  CHECK(sum / draws == doctest::Approx(0.5).epsilon(0.02));
}

TEST_CASE("uniform of the smallest and largest draws stays in [0, 1)") {
  // The first output is rotl(s1 * 5, 7) * 9; 9 and 5 are invertible modulo
  // 2^64, so these values of s1 make it 0 and 2^64 - 1 respectively.
  rng smallest = rng::from_state({1, 0, 0, 0});
  CHECK(smallest.uniform() == 0.0);
  rng largest = rng::from_state({1, 0x4fc71c71c71c71c7ULL, 0, 0});
  CHECK(largest.uniform() == 1.0 - 0x1.0p-53);  // the top 53 bits are all ones, and 1.0 is never reached
}

TEST_CASE("below stays in [0, n) and covers it evenly") {
  rng r{seed{2024}};
  for (std::uint64_t n : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3}, std::uint64_t{7}, std::uint64_t{1000},
                          (std::uint64_t{1} << 63) + 1, ~std::uint64_t{0}}) {
    for (int i = 0; i < 2000; ++i) REQUIRE(r.below(n) < n);
  }
  std::array<int, 6> counts{};
  constexpr int draws = 60'000;
  for (int i = 0; i < draws; ++i) counts[static_cast<std::size_t>(r.below(6))] += 1;
  for (int count : counts) {  // expected 10000 each, standard deviation about 91
    CHECK(count > 9'500);
    CHECK(count < 10'500);
  }
}

TEST_CASE("below(1) is always 0, and below(0) is 0 and consumes nothing") {
  rng r{seed{3}};
  rng twin{seed{3}};
  CHECK(r.below(0) == 0);
  CHECK(r == twin);
  CHECK(r.below(1) == 0);
  CHECK_FALSE(r == twin);  // below(1) still drew a number
}

TEST_CASE("below rejects the biased tail instead of using a plain modulo") {
  // n = 2^63 + 1: 2^64 mod n = 2^63 - 1, so draws below that are rejected and
  // the first accepted draw is returned modulo n.
  const std::uint64_t n = (std::uint64_t{1} << 63) + 1;
  const std::uint64_t threshold = (std::uint64_t{1} << 63) - 1;
  rng r{seed{99}};
  rng twin{seed{99}};
  for (int i = 0; i < 200; ++i) {
    std::uint64_t draw = twin.next();
    while (draw < threshold) draw = twin.next();
    CHECK(r.below(n) == draw % n);
  }
  CHECK(r == twin);
}

TEST_CASE("fork is deterministic, leaves the parent alone and gives distinct streams") {
  rng parent{seed{5}};
  const rng before = parent;
  rng child_a = parent.fork(1);
  rng child_a_again = parent.fork(1);
  rng child_b = parent.fork(2);
  CHECK(parent == before);
  CHECK(child_a == child_a_again);
  CHECK_FALSE(child_a == child_b);
  CHECK_FALSE(child_a == parent);

  std::set<std::uint64_t> firsts;
  for (std::uint64_t stream = 0; stream < 1000; ++stream) firsts.insert(parent.fork(stream).next());
  CHECK(firsts.size() == 1000);

  // After the parent advances, the same stream number gives a different child.
  parent.next();
  CHECK_FALSE(parent.fork(1) == child_a);
}

TEST_CASE("rng works with standard distributions") {
  rng r{seed{11}};
  std::uniform_int_distribution<int> die{1, 6};
  for (int i = 0; i < 100; ++i) {
    const int roll = die(r);
    REQUIRE(roll >= 1);
    REQUIRE(roll <= 6);
  }
}
