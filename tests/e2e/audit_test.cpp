// The JSONL audit sink and `medgate audit verify`, run as an operator would.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "audit_log.hpp"
#include "medgate/hash.hpp"
#include "program.hpp"
#include "simulator.hpp"

using medgate::testing::run_medgate;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view canary = "PATIENT-CANARY-Jane-Doe-1953";

struct temp_file {
  fs::path path;
  explicit temp_file(std::string_view name)
      : path{fs::temp_directory_path() / fmt::format("medgate-audit-{}-{}.jsonl", ::getpid(), name)} {
    fs::remove(path);
  }
  ~temp_file() { fs::remove(path); }
  std::string read() const {
    std::ifstream in{path, std::ios::binary};
    return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  }
  void overwrite(std::string const& text) const { std::ofstream{path, std::ios::binary | std::ios::trunc} << text; }
};

medgate::audit_record record(int n) {
  medgate::audit_record r;
  r.request_id = fmt::format("call-{}", n);
  r.tenant = "clinic-a";
  r.patient_key_hash = medgate::to_hex(medgate::hmac_sha256("secret", canary));
  r.prompt_hash = medgate::to_hex(medgate::sha256_digest(fmt::format("summarize {}", canary)));
  r.route = "clinical-summary";
  r.attempts.push_back({1, "primary", "gpt-4o", 0, 1000, "ok", false});
  r.provider = "primary";
  r.outcome = "ok";
  return r;
}

void write_records(fs::path const& path, int from, int to) {
  auto log = medgate::native::audit_log::open(path);
  REQUIRE_MESSAGE(log.ok(), log.error_message());
  for (int i = from; i <= to; ++i) REQUIRE(log->write(record(i)).ok());
}

}  // namespace

TEST_CASE("medgate audit verify accepts a log written by audit_log and names the line of a flipped byte") {
  temp_file file{"flip"};
  write_records(file.path, 1, 3);
  write_records(file.path, 4, 5);  // reopening resumes the chain
  std::string const text = file.read();
  CHECK(text.find(canary) == std::string::npos);

  auto const ok = run_medgate(fmt::format("audit verify {}", file.path.string()));
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
  auto const head = medgate::verify_audit_log(text).head;
  CHECK(ok.out == fmt::format("ok: 5 records, head {}\n", head));
  CHECK(run_medgate(fmt::format("audit verify --quiet {}", file.path.string())).out.empty());
  CHECK(run_medgate(fmt::format("audit verify --expect-head {} {}", head, file.path.string())).exit_code == 0);

  // Flip one byte inside line 4 (its tenant).
  std::size_t line_start = 0;
  for (int i = 0; i < 3; ++i) line_start = text.find('\n', line_start) + 1;
  auto const at = text.find("clinic-a", line_start);
  REQUIRE(at != std::string::npos);
  std::string tampered = text;
  tampered[at] = 'C';
  file.overwrite(tampered);
  auto const bad = run_medgate(fmt::format("audit verify {}", file.path.string()));
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.rfind(fmt::format("{}:4: ", file.path.string()), 0) == 0);
  CHECK(bad.err.find("hash does not match") != std::string::npos);

  // audit_log refuses to append to the broken chain and says where it is broken.
  auto reopened = medgate::native::audit_log::open(file.path);
  REQUIRE_FALSE(reopened.ok());
  CHECK(reopened.error_message().find("chain is broken at line 4") != std::string::npos);
  CHECK(file.read() == tampered);  // nothing was appended
}

TEST_CASE("removing the last records is caught only against a head kept elsewhere") {
  temp_file file{"tail"};
  write_records(file.path, 1, 3);
  std::string const text = file.read();
  auto const head = medgate::verify_audit_log(text).head;
  file.overwrite(text.substr(0, text.rfind('\n', text.size() - 2) + 1));
  CHECK(run_medgate(fmt::format("audit verify {}", file.path.string())).exit_code == 0);
  auto const run = run_medgate(fmt::format("audit verify --expect-head {} {}", head, file.path.string()));
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("not at the expected head") != std::string::npos);
}

TEST_CASE("a truncated final line is reported as such, and audit_log will not build on it") {
  temp_file file{"truncated"};
  write_records(file.path, 1, 2);
  std::string const text = file.read();
  file.overwrite(text.substr(0, text.size() - 30));
  auto const run = run_medgate(fmt::format("audit verify {}", file.path.string()));
  CHECK(run.exit_code == 1);
  CHECK(run.err.find(fmt::format("{}:2: truncated final line", file.path.string())) == 0);
  CHECK_FALSE(medgate::native::audit_log::open(file.path).ok());
}

TEST_CASE("audit_log takes one writer at a time") {
  temp_file file{"lock"};
  auto first = medgate::native::audit_log::open(file.path);
  REQUIRE(first.ok());
  auto second = medgate::native::audit_log::open(file.path);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error_message().find("locked by another writer") != std::string::npos);
}

TEST_CASE("medgate audit verify: a missing file, bad usage and --help") {
  temp_file file{"missing"};
  auto const missing = run_medgate(fmt::format("audit verify {}", file.path.string()));
  CHECK(missing.exit_code == 2);
  CHECK(missing.err == fmt::format("medgate audit: cannot read {}: No such file or directory\n", file.path.string()));
  CHECK(run_medgate("audit verify").exit_code == 2);
  CHECK(run_medgate("audit").exit_code == 2);
  CHECK(run_medgate("audit frobnicate x").exit_code == 2);
  CHECK(run_medgate("audit verify --expect-head nothex x").err.find("64 lowercase hex") != std::string::npos);
  auto const help = run_medgate("audit verify --help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("usage: medgate audit verify") == 0);
}

TEST_CASE("medgate chat --audit appends chained records that carry no patient data, and verify accepts them") {
  medgate::sim::simulator_options so;
  so.providers = {{"primary", {"gpt-4o-mini"}, {}}, {"fallback", {"gpt-4o-mini"}, {}}};
  medgate::sim::simulator simulator{so};
  auto port = simulator.start();
  REQUIRE(port.ok());
  temp_file config{"config"};
  config.overwrite(fmt::format(
      R"({{"providers": [{{"name": "primary", "base_url": "{}", "models": ["gpt-4o-mini"]}},
                         {{"name": "fallback", "base_url": "{}", "models": ["gpt-4o-mini"]}}],
          "routes": {{"clinical-summary": ["primary/gpt-4o-mini", "fallback/gpt-4o-mini"]}}}})",
      simulator.base_url("primary"), simulator.base_url("fallback")));
  temp_file log{"chat"};
  ::setenv("MEDGATE_PATIENT_KEY_SECRET", "test-secret-for-the-e2e-run", 1);
  auto const ask = [&](std::string_view message) {
    return run_medgate(fmt::format("chat --config {} --audit {} --patient {} --tenant clinic-a --priority urgent {}",
                                   config.path.string(), log.path.string(), canary, message));
  };
  auto const first = ask(fmt::format("Summarize the note of {}", canary));
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  auto const second = ask("Summarize the discharge plan");
  REQUIRE_MESSAGE(second.exit_code == 0, second.err);

  auto const text = log.read();
  CHECK(text.find(canary) == std::string::npos);
  CHECK(text.find("Jane") == std::string::npos);
  CHECK(text.find("test-secret") == std::string::npos);
  auto const lines = medgate::verify_audit_log(text);
  CHECK(lines.ok);
  CHECK(lines.records == 2);
  auto const first_record = medgate::parse_audit_line(text.substr(0, text.find('\n')));
  REQUIRE(first_record.ok());
  CHECK(first_record->tenant == "clinic-a");
  CHECK(first_record->priority == "urgent");
  CHECK(first_record->patient_key_hash.size() == 32);
  CHECK(text.find(first_record->patient_key_hash, text.find('\n')) != std::string::npos);  // same patient, same hash

  auto const verified = run_medgate(fmt::format("audit verify {}", log.path.string()));
  CHECK(verified.exit_code == 0);
  CHECK(verified.out.starts_with("ok: 2 records"));
}
