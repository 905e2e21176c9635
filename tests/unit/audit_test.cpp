#include "medgate/audit.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "medgate/hash.hpp"
#include "medgate/random.hpp"

using namespace medgate;

namespace {

constexpr std::string_view canary = "PATIENT-CANARY-Jane-Doe-1953";

std::string sha_hex(std::string_view text) { return to_hex(sha256_digest(text)); }

/// A record as the engine would build it for a call whose prompt holds `prompt`.
audit_record call_record(int n, std::string_view prompt = "Summarize the visit.") {
  audit_record r;
  r.request_id = fmt::format("call-{}", n);
  r.submitted_unix_ms = 1'700'000'000'000 + n * 1000;
  r.finished_unix_ms = r.submitted_unix_ms + 850;
  r.tenant = "clinic-a";
  r.patient_key_hash = to_hex(hmac_sha256("local-secret", "MRN-0012345"));
  r.prompt_hash =
      sha_hex(fmt::format(R"({{"model":"clinical-summary","messages":[{{"role":"user","content":"{}"}}]}})", prompt));
  r.route = "clinical-summary";
  r.priority = "urgent";
  r.canary_arm = "control";
  r.idempotency = n % 2 == 0 ? "lead" : "";
  r.attempts.push_back({1, "primary", "gpt-4o", 100, 400'100, "timeout", false});
  r.attempts.push_back({2, "fallback", "llama-3", 400'200, 850'000, "ok", n % 3 == 0});
  r.decisions = {"retry: attempt 1 timed out after 400ms", "fallback: primary -> fallback"};
  r.provider = "fallback";
  r.model = "llama-3";
  r.prompt_tokens = 120 + n;
  r.completion_tokens = 80;
  r.cost_usd = 0.00123 * n;
  r.confidence = 0.875;
  r.review = "";
  r.answer_hash = sha_hex("answer text");
  r.outcome = "ok";
  return r;
}

std::string small_log(int records) {
  audit_chain chain;
  std::string log;
  for (int i = 1; i <= records; ++i) log += to_json_line(chain.append(call_record(i))) + "\n";
  return log;
}

/// The 1-based line that holds byte `at` (a newline belongs to the line it ends).
std::uint64_t line_of(std::string const& text, std::size_t at) {
  std::uint64_t line = 1;
  for (std::size_t i = 0; i < at; ++i)
    if (text[i] == '\n') ++line;
  return line;
}

std::vector<std::string> split_lines(std::string const& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto const end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string join_lines(std::vector<std::string> const& lines) {
  std::string out;
  for (auto const& l : lines) out += l + "\n";
  return out;
}

std::string random_text(rng& random, std::size_t max_length) {
  static constexpr std::string_view alphabet[] = {
      "a",    "Z",    "0", " ", "\"", "\\", "\n", "\t", "\x01", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
      "\xff", "\xc3", "/", "}", "{",  ","};
  std::string out;
  auto const length = random.below(max_length + 1);
  for (std::uint64_t i = 0; i < length; ++i) out += alphabet[random.below(std::size(alphabet))];
  return out;
}

audit_record random_record(rng& random) {
  audit_record r;
  r.request_id = random_text(random, 12);
  r.submitted_unix_ms = static_cast<std::int64_t>(random.next());
  r.finished_unix_ms = -static_cast<std::int64_t>(random.below(1000));
  r.tenant = random_text(random, 8);
  if (random.below(2) == 0) r.patient_key_hash = to_hex(hmac_sha256("k", random_text(random, 10)));
  if (random.below(2) == 0) r.prompt_hash = sha_hex(random_text(random, 10));
  r.route = random_text(random, 6);
  auto const attempts = random.below(4);
  for (std::uint64_t i = 0; i < attempts; ++i)
    r.attempts.push_back({static_cast<std::uint32_t>(random.next()), random_text(random, 5), random_text(random, 5),
                          static_cast<std::int64_t>(random.next()), static_cast<std::int64_t>(random.next()),
                          random_text(random, 5), random.below(2) == 0});
  auto const decisions = random.below(4);
  for (std::uint64_t i = 0; i < decisions; ++i) r.decisions.push_back(random_text(random, 20));
  if (random.below(2) == 0) r.prompt_tokens = static_cast<std::int64_t>(random.below(1'000'000));
  if (random.below(2) == 0) r.completion_tokens = std::numeric_limits<std::int64_t>::max();
  switch (random.below(6)) {
    case 0:
      break;
    case 1:
      r.cost_usd = random.uniform();
      break;
    case 2:
      r.cost_usd = random.uniform() * 1e-9;
      break;
    case 3:
      r.cost_usd = static_cast<double>(random.below(1'000'000'000));
      break;
    case 4:
      r.cost_usd = std::ldexp(random.uniform(), static_cast<int>(random.below(2000)) - 1000);
      break;
    default:
      r.cost_usd = -random.uniform() * 1e20;
  }
  if (random.below(2) == 0) r.confidence = random.uniform();
  r.outcome = random_text(random, 6);
  return r;
}

}  // namespace

TEST_CASE("a chain seals records: sequence from 1, previous_hash links, hash over the canonical form") {
  audit_chain chain;
  CHECK(chain.head() == audit_zero_hash);
  auto const first = chain.append(call_record(1));
  auto const second = chain.append(call_record(2));
  CHECK(first.sequence == 1);
  CHECK(second.sequence == 2);
  CHECK(first.previous_hash == audit_zero_hash);
  CHECK(second.previous_hash == first.hash);
  CHECK(chain.head() == second.hash);
  CHECK(chain.next_sequence() == 3);
  // The documented hash: sha256 of the line without its "hash" member.
  std::string const line = to_json_line(first);
  std::string const suffix = fmt::format(",\"hash\":\"{}\"}}", first.hash);
  REQUIRE(line.size() > suffix.size());
  CHECK(line.substr(line.size() - suffix.size()) == suffix);
  CHECK(first.hash == sha_hex(line.substr(0, line.size() - suffix.size()) + "}"));
  CHECK(first.hash == audit_record_hash(first));
}

TEST_CASE("the canonical line: fixed key order, no spaces, escaped control characters, null for absent") {
  audit_record r;
  r.request_id = "a\"b\\c\nd\te\x01";
  r.outcome = "ok";
  r.previous_hash = std::string{audit_zero_hash};
  r.sequence = 7;
  std::string const line = to_json_line(r);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find(' ') == std::string::npos);
  CHECK(line.rfind(R"({"v":1,"sequence":7,"request_id":"a\"b\\c\nd\te\u0001","submitted_unix_ms":0,)", 0) == 0);
  CHECK(line.find(R"("attempts":[],"decisions":[],)") != std::string::npos);
  CHECK(line.find(R"("prompt_tokens":null,"completion_tokens":null,"cost_usd":null,"confidence":null,)") !=
        std::string::npos);
  CHECK(line.find(R"(,"outcome":"ok","previous_hash":"0000)") != std::string::npos);
  CHECK(line.substr(line.size() - 10) == R"("hash":""})");
}

TEST_CASE("a sealed record reads back equal, and its line is canonical (random records, fixed seed)") {
  rng random{seed{20240611}};
  audit_chain chain;
  std::string log;
  for (int i = 0; i < 500; ++i) {
    auto const sealed = chain.append(random_record(random));
    std::string const line = to_json_line(sealed);
    auto parsed = parse_audit_line(line);
    REQUIRE_MESSAGE(parsed.ok(), parsed.error_message());
    CHECK(*parsed == sealed);
    CHECK(to_json_line(*parsed) == line);
    log += line + "\n";
  }
  auto const v = verify_audit_log(log);
  CHECK_MESSAGE(v.ok, v.problem);
  CHECK(v.records == 500);
  CHECK(v.head == chain.head());
}

TEST_CASE("append normalizes what JSON cannot carry: invalid UTF-8, NaN, infinity, -0") {
  audit_chain chain;
  audit_record r;
  r.tenant = "bad\xff\xc3";
  r.cost_usd = std::numeric_limits<double>::quiet_NaN();
  r.confidence = -0.0;
  auto const sealed = chain.append(r);
  CHECK(sealed.tenant == "bad\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK_FALSE(sealed.cost_usd.has_value());
  REQUIRE(sealed.confidence.has_value());
  CHECK_FALSE(std::signbit(*sealed.confidence));
  r.cost_usd = std::numeric_limits<double>::infinity();
  auto const second = chain.append(r);
  CHECK_FALSE(second.cost_usd.has_value());
  auto const v = verify_audit_log(to_json_line(sealed) + "\n" + to_json_line(second) + "\n");
  CHECK_MESSAGE(v.ok, v.problem);
}

TEST_CASE("append drops a patient key or prompt that is not a hash, and says so") {
  audit_chain chain;
  audit_record r;
  r.patient_key_hash = "MRN-0012345";  // a raw key passed by mistake
  r.prompt_hash = std::string{canary};
  r.answer_hash = "ABCDEF";  // upper case: not the canonical hex
  auto const sealed = chain.append(r);
  CHECK(sealed.patient_key_hash.empty());
  CHECK(sealed.prompt_hash.empty());
  CHECK(sealed.answer_hash.empty());
  REQUIRE(sealed.decisions.size() == 3);
  CHECK(sealed.decisions[0] == "audit: patient_key_hash dropped: not a lowercase hex hash");
  std::string const line = to_json_line(sealed);
  CHECK(line.find("MRN") == std::string::npos);
  CHECK(line.find(canary) == std::string::npos);
}

TEST_CASE("canary: a record built from a prompt holding PHI never contains it, only hashes") {
  std::string const prompt = fmt::format("Patient {} has chest pain", canary);
  audit_chain chain;
  auto r = call_record(1, prompt);
  r.patient_key_hash = to_hex(hmac_sha256("local-secret", canary));
  r.answer_hash = sha_hex(fmt::format("Advice for {}", canary));
  std::string const line = to_json_line(chain.append(r));
  CHECK(line.find(canary) == std::string::npos);
  CHECK(line.find("Jane") == std::string::npos);
  CHECK(line.find("1953") == std::string::npos);
  CHECK(line.find("chest pain") == std::string::npos);
}

TEST_CASE("parse_audit_line names the wrong field") {
  audit_chain chain;
  std::string const good = to_json_line(chain.append(call_record(1)));
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    auto const at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
    return s;
  };
  auto message = [](std::string const& line) {
    auto p = parse_audit_line(line);
    REQUIRE_FALSE(p.ok());
    return p.error_message();
  };
  CHECK(message(replace("\"tenant\":\"clinic-a\"", "\"tenant\":5")) == "field tenant must be a string");
  CHECK(message(replace("\"tenant\":\"clinic-a\",", "")) == "missing field tenant");
  CHECK(message(replace("\"number\":1,", "\"number\":-1,")) ==
        "field attempts[0].number must be an integer from 0 to 4294967295");
  CHECK(message(replace("\"hedge\":false", "\"hedge\":0")) == "field attempts[0].hedge must be true or false");
  CHECK(message(replace("\"sequence\":1,", "\"sequence\":0,")) == "field sequence must be a positive integer");
  CHECK(message(replace("\"v\":1,", "\"v\":2,")) == "field v must be 1 (this reader's format version)");
  CHECK(message(replace("\"cost_usd\":0.00123", "\"cost_usd\":\"cheap\"")) ==
        "field cost_usd must be a number or null");
  CHECK(message(replace("\"prompt_tokens\":121", "\"prompt_tokens\":1.5")) ==
        "field prompt_tokens must be a 64-bit integer or null");
  CHECK(message(replace("\"decisions\":[", "\"decisions\":[3,")) == "field decisions[0] must be a string");
  CHECK(message(replace("\"tenant\"", "\"zzz\":1,\"tenant\"")).find("unexpected field") != std::string::npos);
  CHECK(message(replace("\"patient_key_hash\":\"", "\"patient_key_hash\":\"MRN")).find("patient_key_hash must be") !=
        std::string::npos);
  CHECK(message("[1,2]") == "record must be a JSON object");
  CHECK(message(good.substr(0, 40)).find("unexpected end of input") != std::string::npos);
  // Errors never quote values from the line.
  CHECK(message(replace("\"tenant\":\"clinic-a\"", fmt::format("\"tenant\":[\"{}\"]", canary))).find(canary) ==
        std::string::npos);
}

TEST_CASE("a good log verifies; an empty log is ok with zero records; the trailing newline is optional") {
  std::string const log = small_log(3);
  auto const v = verify_audit_log(log);
  CHECK(v.ok);
  CHECK(v.records == 3);
  CHECK_FALSE(v.first_bad_line.has_value());
  CHECK(v.next_sequence == 4);
  CHECK(verify_audit_log(log.substr(0, log.size() - 1)).ok);
  auto const empty = verify_audit_log("");
  CHECK(empty.ok);
  CHECK(empty.records == 0);
  CHECK(empty.head == audit_zero_hash);
}

TEST_CASE("every single-byte change is detected and reported on the line that holds the byte") {
  std::string const log = small_log(3);
  REQUIRE(verify_audit_log(log).ok);
  int checked = 0;
  for (std::size_t at = 0; at < log.size(); ++at) {
    auto const expected_line = line_of(log, at);
    auto const original = static_cast<unsigned char>(log[at]);
    for (unsigned char replacement :
         {static_cast<unsigned char>(original ^ 0x01), static_cast<unsigned char>(original ^ 0x20),
          static_cast<unsigned char>(original ^ 0x80), static_cast<unsigned char>('\n'),
          static_cast<unsigned char>(' '), static_cast<unsigned char>('0')}) {
      if (replacement == original) continue;
      std::string mutated = log;
      mutated[at] = static_cast<char>(replacement);
      auto const v = verify_audit_log(mutated);
      INFO("byte ", at, " set to ", int{replacement});
      REQUIRE_FALSE(v.ok);
      REQUIRE(v.first_bad_line.has_value());
      CHECK(*v.first_bad_line == expected_line);
      CHECK(v.records == expected_line - 1);
      ++checked;
    }
  }
  CHECK(checked > 5 * static_cast<int>(log.size()));
}

TEST_CASE("deleting or inserting any single byte is detected on that line") {
  std::string const log = small_log(3);
  for (std::size_t at = 0; at < log.size(); ++at) {
    INFO("byte ", at);
    std::string inserted = log;
    inserted.insert(at, 1, 'a');
    auto const vi = verify_audit_log(inserted);
    REQUIRE_FALSE(vi.ok);
    CHECK(*vi.first_bad_line == line_of(log, at));
    if (at == log.size() - 1) continue;  // removing the final newline leaves a complete record: documented as fine
    std::string deleted = log;
    deleted.erase(at, 1);
    auto const vd = verify_audit_log(deleted);
    REQUIRE_FALSE(vd.ok);
    CHECK(*vd.first_bad_line == line_of(log, at));
  }
}

TEST_CASE("a deleted record is named as missing at the line where it should be") {
  auto lines = split_lines(small_log(5));
  lines.erase(lines.begin() + 2);  // record 3
  auto const v = verify_audit_log(join_lines(lines));
  CHECK_FALSE(v.ok);
  CHECK(v.first_bad_line == 3);
  CHECK(v.problem == "sequence 4 where 3 was expected: record 3 is missing");
  CHECK(v.records == 2);

  auto first_gone = split_lines(small_log(3));
  first_gone.erase(first_gone.begin());
  auto const w = verify_audit_log(join_lines(first_gone));
  CHECK(w.first_bad_line == 1);
  CHECK(w.problem == "sequence 2 where 1 was expected: record 1 is missing");
}

TEST_CASE("reordered records are reported at the first line out of place") {
  auto lines = split_lines(small_log(5));
  std::swap(lines[1], lines[3]);
  auto const v = verify_audit_log(join_lines(lines));
  CHECK(v.first_bad_line == 2);
  CHECK(v.problem == "sequence 4 where 2 was expected: records 2 to 3 are missing");
  auto back = split_lines(small_log(3));
  std::swap(back[1], back[2]);
  std::swap(back[0], back[1]);  // 3 1 2
  CHECK(verify_audit_log(join_lines(back)).first_bad_line == 1);
}

TEST_CASE("an inserted record is caught: a repeated one, a forged one, a resealed one") {
  auto lines = split_lines(small_log(4));
  auto repeated = lines;
  repeated.insert(repeated.begin() + 2, lines[1]);
  auto const v = verify_audit_log(join_lines(repeated));
  CHECK(v.first_bad_line == 3);
  CHECK(v.problem == "sequence 2 where 3 was expected: a record is repeated or out of order");

  // A forger who seals a new record correctly after line 2 still breaks line 4 (old record 3).
  audit_chain forger{parse_audit_line(lines[1])->hash, 3};
  auto forged = lines;
  forged.insert(forged.begin() + 2, to_json_line(forger.append(call_record(99))));
  auto const w = verify_audit_log(join_lines(forged));
  CHECK(w.first_bad_line == 4);
  CHECK(w.problem == "sequence 3 where 4 was expected: a record is repeated or out of order");

  // Replacing record 2 by a resealed edit (right sequence, right previous_hash) breaks line 3's link.
  audit_chain resealer{parse_audit_line(lines[0])->hash, 2};
  auto edited = call_record(2);
  edited.outcome = "rate_limited";
  auto replaced = lines;
  replaced[1] = to_json_line(resealer.append(edited));
  auto const x = verify_audit_log(join_lines(replaced));
  CHECK(x.first_bad_line == 3);
  CHECK(x.problem == "previous_hash does not match the hash of line 2: a record before this one was replaced");
}

TEST_CASE("a truncated final line is reported as such; dropping whole last records changes only the head") {
  std::string const log = small_log(3);
  auto const full = verify_audit_log(log);
  auto const last_start = log.rfind('\n', log.size() - 2) + 1;
  for (std::size_t cut = last_start + 1; cut < log.size() - 1; ++cut) {
    INFO("cut at ", cut);
    auto const v = verify_audit_log(std::string_view{log}.substr(0, cut));
    REQUIRE_FALSE(v.ok);
    CHECK(v.first_bad_line == 3);
    CHECK(v.problem.rfind("truncated final line", 0) == 0);
    CHECK(v.records == 2);
  }
  auto const shorter = verify_audit_log(std::string_view{log}.substr(0, last_start));
  CHECK(shorter.ok);
  CHECK(shorter.records == 2);
  CHECK(shorter.head != full.head);  // only a head kept elsewhere can show the tail was removed
}

TEST_CASE("empty lines, CRLF and spaces are refused") {
  std::string const log = small_log(2);
  auto const first_end = log.find('\n');
  std::string blank = log;
  blank.insert(first_end + 1, "\n");
  CHECK(verify_audit_log(blank).first_bad_line == 2);
  CHECK(verify_audit_log(blank).problem == "empty line (every line must be one record)");
  std::string crlf = log;
  crlf.insert(first_end, "\r");
  CHECK(verify_audit_log(crlf).first_bad_line == 1);
  CHECK(verify_audit_log(crlf).problem.rfind("not in canonical form", 0) == 0);
  CHECK(verify_audit_log(log + "\n").first_bad_line == 3);
}

TEST_CASE("a continued chain verifies from its anchor, and not from the zero hash") {
  audit_chain chain;
  std::string first_file, second_file;
  for (int i = 1; i <= 3; ++i) first_file += to_json_line(chain.append(call_record(i))) + "\n";
  auto const head = chain.head();
  audit_chain resumed{head, chain.next_sequence()};
  for (int i = 4; i <= 5; ++i) second_file += to_json_line(resumed.append(call_record(i))) + "\n";
  CHECK(verify_audit_log(first_file + second_file).ok);
  auto const anchored = verify_audit_log(second_file, head, 4);
  CHECK(anchored.ok);
  CHECK(anchored.records == 2);
  auto const unanchored = verify_audit_log(second_file);
  CHECK(unanchored.first_bad_line == 1);
  auto const wrong_anchor = verify_audit_log(second_file, std::string{audit_zero_hash}, 4);
  CHECK(wrong_anchor.first_bad_line == 1);
  CHECK(wrong_anchor.problem.rfind("previous_hash does not match the chain's anchor", 0) == 0);
}

TEST_CASE("the incremental verifier agrees with the whole-text one and stops at the first problem") {
  auto lines = split_lines(small_log(4));
  lines[2][10] = 'X';
  audit_verifier verifier;
  CHECK(verifier.feed(lines[0]));
  CHECK(verifier.feed(lines[1]));
  CHECK_FALSE(verifier.feed(lines[2]));
  CHECK_FALSE(verifier.feed(lines[3]));  // ignored after the first problem
  CHECK(verifier.result().first_bad_line == 3);
  CHECK(verifier.result().records == 2);
  auto const whole = verify_audit_log(join_lines(lines));
  CHECK(whole.problem == verifier.result().problem);
}
