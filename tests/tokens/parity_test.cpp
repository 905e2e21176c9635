// Parity: for every corpus file and every encoding, our token ids equal the
// reference ids that tiktoken (cl100k_base, o200k_base) and
// @lenml/tokenizers (deepseek_v3) produced in node at build time
// (tests/tokens/reference.mjs), and llama3's equal tiktoken's on Llama 3's
// ranks. Chat counts equal the token counts of the prompts that DeepSeek V3's
// and Llama 3's own chat templates render. The same test runs natively, under
// ASan/UBSan, and compiled to WebAssembly under node.
#include <doctest/doctest.h>

#include <medgate/openai/chat.hpp>
#include <medgate/tokens/chat_count.hpp>
#include <medgate/tokens/encoding.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace medgate;

namespace {

std::string slurp(std::filesystem::path const& p) {
  std::ifstream in{p, std::ios::binary};
  REQUIRE_MESSAGE(in.good(), "cannot read " << p.string());
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

tokens::encoding load(std::string const& name) {
  auto enc = tokens::encoding::load(slurp(std::filesystem::path{MEDGATE_TOKEN_DATA_DIR} / (name + ".mgtok")));
  REQUIRE_MESSAGE(enc.ok(), (enc.ok() ? "" : enc.error_message()));
  return std::move(*enc);
}

/// The first position where two id lists differ, with a little context.
std::string first_difference(std::vector<std::uint32_t> const& ours, std::vector<std::uint32_t> const& ref) {
  std::size_t i = 0;
  while (i < ours.size() && i < ref.size() && ours[i] == ref[i]) ++i;
  std::string s = fmt::format("first difference at token {} of {} (reference has {}):", i, ours.size(), ref.size());
  for (std::size_t k = i; k < i + 8 && k < ours.size(); ++k) s += fmt::format(" {}", ours[k]);
  s += " vs";
  for (std::size_t k = i; k < i + 8 && k < ref.size(); ++k) s += fmt::format(" {}", ref[k]);
  return s;
}

void check_encoding(std::string const& name) {
  auto const enc = load(name);
  auto const reference =
      nlohmann::json::parse(slurp(std::filesystem::path{MEDGATE_TOKEN_REFERENCE_DIR} / (name + ".json")));
  REQUIRE(reference.size() >= 12);
  for (auto const& item : reference.items()) {  // no structured binding: CAPTURE's lambda can't see one in clang 14
    std::string const file = item.key();
    auto const& ids = item.value();
    CAPTURE(file);
    std::string const text = slurp(std::filesystem::path{MEDGATE_TOKEN_CORPUS_DIR} / file);
    auto const expected = ids.get<std::vector<std::uint32_t>>();
    auto const ours = enc.encode(text);
    CHECK_MESSAGE(ours == expected, first_difference(ours, expected));
    CHECK(enc.count(text) == expected.size());
    CHECK(enc.decode(ours) == text);
  }
}

}  // namespace

TEST_CASE("cl100k_base ids equal tiktoken's on the whole corpus") { check_encoding("cl100k_base"); }
TEST_CASE("o200k_base ids equal tiktoken's on the whole corpus") { check_encoding("o200k_base"); }
TEST_CASE("deepseek_v3 ids equal @lenml/tokenizers' on the whole corpus") { check_encoding("deepseek_v3"); }
TEST_CASE("llama3 ids equal tiktoken's on Llama 3's ranks on the whole corpus") { check_encoding("llama3"); }

TEST_CASE("chat counts equal the tokens of the prompts the models' own chat templates render") {
  auto const chats = nlohmann::json::parse(slurp(std::filesystem::path{MEDGATE_TOKEN_REFERENCE_DIR} / "chats.json"));
  REQUIRE(chats.size() >= 5);
  for (auto const& model :
       {std::pair{"deepseek_v3", tokens::chat_format::deepseek}, std::pair{"llama3", tokens::chat_format::llama3}}) {
    std::string const encoding = model.first;  // no structured binding: INFO's lambda can't see one in clang 14
    auto const format = model.second;
    auto const enc = load(encoding);
    tokens::text_counter const counter = [&enc](std::string_view text) { return enc.count(text); };
    for (auto const& chat : chats) {
      std::string const body = nlohmann::json{{"model", "m"}, {"messages", chat.at("messages")}}.dump();
      auto const request = openai::parse_chat_request(body);
      REQUIRE_MESSAGE(request.ok(), body);
      INFO(encoding << ": " << body);
      CHECK(tokens::count_prompt(*request, format, counter) == chat.at(encoding).get<std::int64_t>());
    }
  }
}

TEST_CASE("the vocabularies know their control tokens") {
  CHECK(load("cl100k_base").special_token("<|endoftext|>") == 100257u);
  CHECK(load("o200k_base").special_token("<|endofprompt|>") == 200018u);
  auto const ds = load("deepseek_v3");
  CHECK(ds.special_token("<｜begin▁of▁sentence｜>") == 0u);
  CHECK(ds.special_token("<｜Assistant｜>").has_value());
  auto const llama = load("llama3");
  CHECK(llama.special_token("<|begin_of_text|>") == 128000u);
  CHECK(llama.special_token("<|eot_id|>") == 128009u);
}

TEST_CASE("a 100 KB word and a 100 KB base64 blob encode, count and decode back in every encoding") {
  std::string word;
  for (int i = 0; i < 100'000; ++i) word.push_back(static_cast<char>('a' + (i * 7 + i / 13) % 26));
  std::string blob;
  std::uint64_t x = 88172645463325252ull;
  constexpr std::string_view b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 100'000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    blob.push_back(b64[x % 64]);
  }
  for (auto const* name : {"cl100k_base", "o200k_base", "deepseek_v3", "llama3"}) {
    CAPTURE(name);
    auto const enc = load(name);
    for (auto const* text : {&word, &blob}) {
      auto const ids = enc.encode(*text);
      CHECK(ids.size() > 10'000);
      CHECK(enc.count(*text) == ids.size());
      CHECK(enc.decode(ids) == *text);
    }
  }
}
