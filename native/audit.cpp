// audit.cpp — `medgate audit verify FILE`: checks an audit log's hash chain and names the first bad line.
//
// For auditors and operators: exit 0 and "ok: N records, head HASH" when the
// chain is intact, exit 1 and "FILE:LINE: problem" (the first line that does
// not fit) when it is not, exit 2 when it could not be checked at all (bad
// usage, unreadable file). Removing records from the end of a log leaves an
// intact chain, so the head printed here should be compared with one kept
// elsewhere; --expect-head does that comparison.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "arguments.hpp"
#include "audit_log.hpp"
#include "commands.hpp"

namespace medgate::cli {

namespace {

constexpr std::string_view audit_usage =
    "usage: medgate audit verify [options] FILE\n"
    "\n"
    "Verifies the hash chain of a JSONL audit log written by medgate: every line must be\n"
    "a well-formed record in canonical form whose hash matches its contents, with the next\n"
    "sequence number and the previous line's hash. Prints \"ok: N records, head HASH\", or\n"
    "\"FILE:LINE: problem\" for the first line that fails (on stderr).\n"
    "\n"
    "options:\n"
    "  --quiet                 print nothing when the log is intact\n"
    "  --expect-head HASH      also require the last record's hash to be HASH (detects\n"
    "                          records removed from the end, given a head kept elsewhere)\n"
    "  --previous-hash HASH    the log continues another one whose head is HASH\n"
    "                          (default: a new chain, 64 zeros)\n"
    "  --first-sequence N      sequence number of the log's first record (default 1)\n"
    "\n"
    "exit status: 0 intact, 1 broken (or not the expected head), 2 bad usage or unreadable file\n";

struct audit_arguments {
  bool help = false;
  bool quiet = false;
  std::optional<std::string> expect_head;
  std::string previous_hash{audit_zero_hash};
  std::uint64_t first_sequence = 1;
  std::optional<std::string> file;
};

bool is_hash(std::string_view s) { return medgate::detail::is_sha256_hex(s); }

result<audit_arguments> parse_verify_arguments(args a) {
  audit_arguments out;
  option_cursor in{a};
  while (auto item = in.next()) {
    if (item->positional) {
      if (out.file) return error{"only one FILE may be given"};
      out.file = std::string{item->text};
      continue;
    }
    std::string_view const name = item->text;
    auto value = [&] { return in.value(); };
    if (name == "--help" || name == "--quiet") {
      if (auto e = in.no_value()) return *e;
      if (name == "--help")
        out.help = true;
      else
        out.quiet = true;
    } else if (name == "--expect-head" || name == "--previous-hash") {
      auto v = value();
      if (!v) return error{v.error_message()};
      if (!is_hash(*v)) return error{fmt::format("{} must be 64 lowercase hex digits", name)};
      if (name == "--expect-head")
        out.expect_head = std::move(*v);
      else
        out.previous_hash = std::move(*v);
    } else if (name == "--first-sequence") {
      auto v = value();
      if (!v) return error{v.error_message()};
      auto n = parse_integer<std::uint64_t>(*v);
      if (!n || *n == 0) return error{fmt::format("--first-sequence must be a positive whole number, got \"{}\"", *v)};
      out.first_sequence = *n;
    } else {
      return error{fmt::format("unknown option {}", name)};
    }
  }
  return out;
}

int usage_error(std::string_view message) {
  std::fprintf(stderr, "medgate audit: %.*s\n\n%.*s", static_cast<int>(message.size()), message.data(),
               static_cast<int>(audit_usage.size()), audit_usage.data());
  return 2;
}

int run_verify(args a) {
  auto parsed = parse_verify_arguments(a);
  if (!parsed) return usage_error(parsed.error_message());
  auto const& arguments = *parsed;
  if (arguments.help) {
    std::fwrite(audit_usage.data(), 1, audit_usage.size(), stdout);
    return 0;
  }
  if (!arguments.file) return usage_error("no FILE given");
  auto const verified = native::verify_audit_file(*arguments.file, arguments.previous_hash, arguments.first_sequence);
  if (!verified) {
    std::fprintf(stderr, "medgate audit: %s\n", verified.error_message().c_str());
    return 2;
  }
  auto const& v = *verified;
  if (!v.ok) {
    std::fprintf(stderr, "%s\n",
                 fmt::format("{}:{}: {}", *arguments.file, v.first_bad_line.value_or(0), v.problem).c_str());
    if (!arguments.quiet)
      std::fprintf(stderr, "%s\n",
                   fmt::format("({} records before it are intact; head {})", v.records, v.head).c_str());
    return 1;
  }
  if (arguments.expect_head && *arguments.expect_head != v.head) {
    std::fprintf(stderr, "%s\n",
                 fmt::format("{}: the chain is intact but ends at head {} after {} records, not at the expected "
                             "head {} (records were removed from the end, or added)",
                             *arguments.file, v.head, v.records, *arguments.expect_head)
                     .c_str());
    return 1;
  }
  if (!arguments.quiet) std::printf("%s\n", fmt::format("ok: {} records, head {}", v.records, v.head).c_str());
  return 0;
}

}  // namespace

int run_audit(args a) {
  if (a.empty()) return usage_error("no subcommand given (expected: verify)");
  std::string_view const sub = a[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fwrite(audit_usage.data(), 1, audit_usage.size(), stdout);
    return 0;
  }
  if (sub == "verify") return run_verify(a.subspan(1));
  return usage_error(fmt::format("unknown subcommand '{}' (expected: verify)", sub));
}

}  // namespace medgate::cli
