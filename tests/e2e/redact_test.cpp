// redact_test.cpp — `medgate redact` as a user runs it: plain text and --jsonl, byte offsets, bad lines.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "program.hpp"

namespace {

using json = nlohmann::json;
using medgate::testing::run_medgate;

std::filesystem::path write_temp(std::string const& name, std::string const& content) {
  auto const path = std::filesystem::temp_directory_path() / fmt::format("medgate-redact-{}-{}", ::getpid(), name);
  std::ofstream{path, std::ios::binary} << content;
  return path;
}

}  // namespace

TEST_CASE("medgate redact replaces PHI in a text and leaves every other byte as it was") {
  std::string const note = "Pt seen 3/4/21 at 14:30. Call (617) 555-0134 or j.doe@example.org. Pain 7/10.\n\xff ok\n";
  auto const path = write_temp("note.txt", note);
  auto const run = run_medgate(fmt::format("redact {}", path.string()));
  CHECK(run.exit_code == 0);
  CHECK(run.out == "Pt seen [DATE]. Call [PHONE] or [EMAIL]. Pain 7/10.\n\xff ok\n");
  auto const piped = run_medgate(fmt::format("redact < {}", path.string()));
  CHECK(piped.out == run.out);
  std::filesystem::remove(path);
}

TEST_CASE("medgate redact --jsonl gives spans as UTF-8 byte offsets, and names a bad line without losing the rest") {
  std::string const lines = json{{"id", 1}, {"text", "Café visit 3/4/21, MRN 0012345"}}.dump() +
                            "\n" +  // 'é' is two bytes
                            "{not json\n" + "\n" + json{{"id", "b"}, {"text", "no PHI here"}}.dump() + "\n" +
                            json{{"id", 3}, {"note", "SSN 123-45-6789 in the wrong field"}}.dump() + "\n";
  auto const path = write_temp("notes.jsonl", lines);
  auto const run = run_medgate(fmt::format("redact --jsonl {}", path.string()));
  CHECK(run.exit_code == 1);
  std::istringstream out{run.out};
  std::string line;
  std::vector<json> records;
  while (std::getline(out, line)) records.push_back(json::parse(line));
  REQUIRE(records.size() == 4);
  CHECK(records[0]["id"] == 1);
  CHECK(records[0]["text"] == "Café visit [DATE], MRN [MRN]");
  REQUIRE(records[0]["spans"].size() == 2);
  CHECK(records[0]["spans"][0] == json{{"start", 12}, {"end", 18}, {"type", "DATE"}});
  std::string const original = "Café visit 3/4/21, MRN 0012345";
  auto const second = records[0]["spans"][1];
  CHECK(original.substr(second["start"].get<std::size_t>(),
                        second["end"].get<std::size_t>() - second["start"].get<std::size_t>()) == "0012345");
  CHECK(records[1] == json{{"line", 2}, {"error", "not valid JSON (or not valid UTF-8)"}});
  CHECK(records[2] == json{{"id", "b"}, {"text", "no PHI here"}, {"spans", json::array()}});
  CHECK(records[3] == json{{"line", 5}, {"error", "no string \"text\""}});
  CHECK(run.err.find("line 2: not valid JSON") != std::string::npos);
  CHECK(run.err.find("123-45-6789") == std::string::npos);  // errors never repeat the content
  CHECK(run.out.find("123-45-6789") == std::string::npos);
  std::filesystem::remove(path);
}

TEST_CASE("medgate redact names a missing file and an unknown option") {
  auto const missing = run_medgate("redact /nonexistent/notes.txt");
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("cannot read /nonexistent/notes.txt") != std::string::npos);
  auto const unknown = run_medgate("redact --names");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown option --names") != std::string::npos);
}
