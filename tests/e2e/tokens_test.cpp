// `medgate tokens` and the program's exact token counts, run as a user would:
// ids equal the reference tokenizers' on a corpus file, bad usage says what
// was wrong, and `medgate chat` counts a prompt with the model's own
// tokenizer when it checks a per-call budget (not the bytes/4 estimate).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "medgate/tokens/counter.hpp"
#include "program.hpp"
#include "token_data.hpp"

using medgate::testing::run_medgate;
namespace fs = std::filesystem;

namespace {

std::string slurp(fs::path const& p) {
  std::ifstream in{p, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

}  // namespace

TEST_CASE("medgate tokens prints the reference ids and the count of a clinical note") {
  auto const note = fs::path{MEDGATE_TOKEN_CORPUS_DIR} / "clinical_note.txt";
  for (auto const* name : {"cl100k_base", "o200k_base", "deepseek_v3", "llama3"}) {
    CAPTURE(name);
    auto const reference =
        nlohmann::json::parse(slurp(fs::path{MEDGATE_TOKEN_REFERENCE_DIR} / (std::string{name} + ".json")));
    auto const expected = reference.at("clinical_note.txt").get<std::vector<std::uint32_t>>();
    auto const ids = run_medgate(fmt::format("tokens --encoding {} --ids {}", name, note.string()));
    INFO(ids.err);
    REQUIRE(ids.exit_code == 0);
    std::vector<std::uint32_t> got;
    std::istringstream lines{ids.out};
    for (std::uint32_t id = 0; lines >> id;) got.push_back(id);
    CHECK(got == expected);
    auto const count = run_medgate(fmt::format("tokens --encoding {} < {}", name, note.string()));
    CHECK(count.out == fmt::format("{}\n", expected.size()));
  }
}

TEST_CASE("medgate tokens: pieces, provenance, and clear errors") {
  auto const text = fs::temp_directory_path() / fmt::format("medgate-pieces-{}.txt", ::getpid());
  std::ofstream{text} << "BP 120/80mmHg\n";
  auto const pieces = run_medgate(fmt::format("tokens --encoding o200k_base --pieces {}", text.string()));
  fs::remove(text);
  CHECK(pieces.out ==
        "\"BP\"\n\" \"\n\"120\"\n\"/\"\n\"80\"\n\"mm\"\n\"Hg\"\n\"\\n\"\n");  // o200k: lower then Upper splits
  auto const info = run_medgate("tokens --info");
  CHECK(info.exit_code == 0);
  CHECK(info.out.find("\"package\":\"gpt-tokenizer\"") != std::string::npos);
  CHECK(info.out.find("deepseek_v3") != std::string::npos);

  auto const unknown = run_medgate("tokens --encoding p50k_base < /dev/null");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown encoding 'p50k_base': known are cl100k_base, o200k_base, deepseek_v3, llama3") !=
        std::string::npos);
  auto const missing = run_medgate("tokens --encoding o200k_base --vocabularies /nonexistent < /dev/null");
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("/nonexistent/o200k_base.mgtok") != std::string::npos);
  auto const no_encoding = run_medgate("tokens < /dev/null");
  CHECK(no_encoding.exit_code == 2);
  CHECK(no_encoding.err.find("--encoding is required") != std::string::npos);
  auto const no_file = run_medgate("tokens --encoding o200k_base /nonexistent/note.txt");
  CHECK(no_file.exit_code == 2);
  CHECK(no_file.err.find("cannot read /nonexistent/note.txt") != std::string::npos);
}

TEST_CASE("medgate chat checks a per-call token cap with the model's exact count") {
  // Numbers, units and abbreviations: o200k's count is far from bytes/4 here.
  std::string const message = "Pt 67F c/o SOB x3d; SpO2 91% RA, BP 152/94, HR 108, T 38.4C; hx COPD, T2DM, CKD3a";
  auto const enc = medgate::cli::load_encoding("o200k_base");
  REQUIRE(enc.ok());
  // OpenAI's chat accounting: 3 per message, the role and content, 3 to prime the reply.
  auto const prompt = 3 + (*enc)->count("user") + (*enc)->count(message) + 3;
  REQUIRE(prompt != medgate::tokens::estimate_tokens(message) + 3 + 1 + 3);

  auto const config = fs::temp_directory_path() / fmt::format("medgate-tokens-{}.json", ::getpid());
  std::ofstream{config} << R"({
    "providers": [{"name": "p", "base_url": "http://127.0.0.1:9/v1", "models": ["gpt-4o-mini"]}],
    "routes": {"notes": ["p/gpt-4o-mini"]},
    "budgets": {"per_call": {"max_tokens": 10}}
  })";
  auto const run = run_medgate(fmt::format("chat --config {} --model notes \"{}\"", config.string(), message));
  fs::remove(config);
  INFO(run.err);
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("budget_exceeded") != std::string::npos);
  CHECK(run.err.find(fmt::format("({} prompt + ", prompt)) != std::string::npos);
}
