#include "medgate/hash.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "medgate/random.hpp"

using namespace medgate;

namespace {
std::string hex(std::array<std::uint8_t, 32> const& digest) { return to_hex(digest); }
std::string repeated(char c, std::size_t n) { return std::string(n, c); }
std::string bytes_from(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}
}  // namespace

TEST_CASE("to_hex writes two lower-case digits per byte") {
  const std::array<std::uint8_t, 5> bytes = {0x00, 0x0f, 0xa0, 0xff, 0x5c};
  CHECK(to_hex(bytes) == "000fa0ff5c");
  CHECK(to_hex(std::span<std::uint8_t const>{}) == "");
}

TEST_CASE("SHA-256 of the FIPS 180-4 example messages") {
  CHECK(hex(sha256_digest("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex(sha256_digest("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The 448-bit message: its padding needs a second block.
  CHECK(hex(sha256_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hex(sha256_digest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmno"
                          "pqrsmnopqrstnopqrstu")) ==
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST_CASE("SHA-256 of one million 'a' fed in uneven chunks") {
  const std::string chunk_source = repeated('a', 1000);
  const std::array<std::size_t, 9> chunk_sizes = {1, 63, 64, 65, 127, 3, 999, 55, 56};
  sha256 hasher;
  std::size_t fed = 0;
  for (std::size_t i = 0; fed < 1'000'000; ++i) {
    const std::size_t n = std::min(chunk_sizes[i % chunk_sizes.size()], 1'000'000 - fed);
    hasher.update(std::string_view{chunk_source}.substr(0, n));
    fed += n;
  }
  CHECK(hex(hasher.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 padding at the block boundaries") {
  // Lengths around 56 (where the length no longer fits in the block) and 64;
  // expected values from Python's hashlib.
  struct example {
    std::size_t length;
    char const* digest;
  };
  const std::array<example, 9> examples = {{
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {57, "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
      {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
  }};
  for (auto const& e : examples) {
    CAPTURE(e.length);
    CHECK(hex(sha256_digest(repeated('a', e.length))) == e.digest);
  }
}

TEST_CASE("incremental SHA-256 equals one-shot for any split, and finish resets") {
  rng r{seed{17}};
  std::string message;
  for (int i = 0; i < 300; ++i) message.push_back(static_cast<char>(r.below(256)));
  for (int trial = 0; trial < 200; ++trial) {
    const auto length = static_cast<std::size_t>(r.below(message.size() + 1));
    const std::string_view whole = std::string_view{message}.substr(0, length);
    const auto cut1 = static_cast<std::size_t>(r.below(length + 1));
    const auto cut2 = cut1 + static_cast<std::size_t>(r.below(length - cut1 + 1));
    sha256 hasher;
    hasher.update(whole.substr(0, cut1)).update(whole.substr(cut1, cut2 - cut1)).update(whole.substr(cut2));
    REQUIRE(hasher.finish() == sha256_digest(whole));
  }
  sha256 reused;
  reused.update("something else entirely");
  (void)reused.finish();
  CHECK(hex(reused.update("abc").finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("HMAC-SHA-256: RFC 4231 test cases 1 to 7") {
  // 1: a 20-byte key.
  CHECK(hex(hmac_sha256(repeated('\x0b', 20), "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // 2: a key shorter than the output.
  CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // 3: 50 bytes of data with 20 bytes of key.
  CHECK(hex(hmac_sha256(repeated('\xaa', 20), repeated('\xdd', 50))) ==
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  // 4: a 25-byte key 0x01..0x19.
  CHECK(hex(hmac_sha256(
            bytes_from({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25}),
            repeated('\xcd', 50))) == "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // 5: output truncated to 128 bits; only those are specified.
  CHECK(hex(hmac_sha256(repeated('\x0c', 20), "Test With Truncation")).substr(0, 32) ==
        "a3b6167473100ee06e0c796c2955552b");
  // 6: a 131-byte key, hashed first because it is longer than the block.
  CHECK(hex(hmac_sha256(repeated('\xaa', 131), "Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // 7: a large key and large data.
  CHECK(hex(hmac_sha256(repeated('\xaa', 131),
                        "This is a test using a larger than block-size key and a larger than block-size data. The key "
                        "needs to be hashed before being used by the HMAC algorithm.")) ==
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST_CASE("HMAC-SHA-256 keys at the block-size boundary and empty inputs") {
  // Expected values from Python's hmac module: a 64-byte key is used as is, a 65-byte key is hashed.
  CHECK(hex(hmac_sha256(repeated('k', 64), "msg")) ==
        "d62ad25bb128e96ab6ef43464aaf2bb91b5b85f013381e9ba6be747e8d0911b2");
  CHECK(hex(hmac_sha256(repeated('k', 65), "msg")) ==
        "c65585780e821bd312cfaa440c33cb28d6af6b323d4977ae83934834ce589e38");
  CHECK(hex(hmac_sha256("", "")) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("SipHash-2-4: the 64 vectors of the paper's appendix (key 00..0f, message 00..n-1)") {
  constexpr std::array<std::uint64_t, 64> expected = {
      0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL,
      0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL,
      0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL, 0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
      0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL, 0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL,
      0xbed65cf21aa2ee98ULL, 0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL, 0xb8ad50c6f649af94ULL,
      0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL, 0x2f2e6163076bcfadULL, 0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
      0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL, 0x7127512f72f27cceULL, 0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL,
      0x15e034d40fa197aeULL, 0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL, 0x9abfd8766a33735cULL,
      0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL, 0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL, 0xf935451de4f21df2ULL,
      0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL, 0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL,
      0xee64435a9752fe72ULL, 0xa192d576b245165aULL, 0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL, 0x7fa8220ba3b2eceaULL,
      0x245731c13ca42499ULL, 0xb78dbfaf3a8d83bdULL, 0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
      0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL, 0x958a324ceb064572ULL,
  };
  std::array<std::uint8_t, 16> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  std::string message;
  for (std::size_t n = 0; n < expected.size(); ++n) {
    CAPTURE(n);
    CHECK(siphash24(key, message) == expected[n]);
    message.push_back(static_cast<char>(n));
  }
}

TEST_CASE("SipHash-2-4 depends on the key") {
  std::array<std::uint8_t, 16> key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  const std::uint64_t original = siphash24(key, "patient-123");
  key[15] ^= 0x01;
  CHECK(siphash24(key, "patient-123") != original);
}
