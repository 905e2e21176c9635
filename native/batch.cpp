// batch.cpp — `medgate batch`: a file of chat requests through the engine, resumable and complete.
//
// Overnight jobs over thousands of records die halfway (429 storms, a reboot,
// a kill) or, worse, lose results silently. So every item's outcome is
// appended to a journal and fsync'd before it counts as finished; a rerun of
// the same command reads the journal and sends only what has no outcome yet.
// Each item carries one idempotency key derived from its id (and its line), sent upstream as
// Idempotency-Key, so an item that was on the wire when the process died is
// not done twice by a provider that honours the header. The results file is
// written only at the end, from the journal, with exactly one line per input
// id in input order: the answer or a classified error. Calls go through the
// same engine and native transport as `medgate chat` and `medgate serve`, in
// the `batch` priority class, so the configured requests- and tokens-per-minute
// limits (and the share batch work may take of them) hold. Nothing written to
// the terminal names a patient or quotes a request or an answer: progress and
// summary are counts, bad lines are named by number.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "alert_dispatcher.hpp"
#include "arguments.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "medgate/client.hpp"
#include "medgate/hash.hpp"
#include "medgate/openai/chat.hpp"
#include "stop_signals.hpp"
#include "token_data.hpp"

namespace medgate::cli {

namespace {

using json = nlohmann::json;

constexpr std::string_view batch_usage =
    "usage: medgate batch --in FILE --out FILE [options]\n"
    "\n"
    "Sends every chat request of a JSONL file through the engine (priority class batch) and\n"
    "writes one result line per input id. Resumable: outcomes go to a journal first, and a\n"
    "rerun of the same command sends only the items that have none.\n"
    "\n"
    "options:\n"
    "  --config FILE         engine configuration (JSON); default: the built-in demo\n"
    "  --in FILE             the requests, one JSON object per line:\n"
    "                          {\"id\": \"r1\", \"request\": {OpenAI chat body}, \"patient\": \"MRN\",\n"
    "                           \"tenant\": \"t\", \"study_type\": \"s\", \"priority\": \"batch\", \"timeout_ms\": "
    "30000}\n"
    "                        id and request are required; blank lines are skipped\n"
    "  --out FILE            the results, one JSON object per input id, in input order; written when\n"
    "                        every item has an outcome\n"
    "  --journal FILE        the outcomes so far (default: the --out file + \".journal\")\n"
    "  --concurrency N       calls in flight at once (default: the smallest max_concurrent of the\n"
    "                        configured providers, else 16)\n"
    "  --item-tries N        calls per item when the engine gives up for a passing reason\n"
    "                        (throttled, all targets failed, deadline): default 3\n"
    "  --progress-ms N       progress every N ms when stderr is not a terminal (default 5000)\n"
    "  --seed N              seed for backoff jitter (default: random)\n"
    "\n"
    "result lines: {\"id\", \"status\": \"ok\", \"response\", \"provider\", \"model\", \"attempts\", \"latency_ms\",\n"
    "  \"tokens\", \"cost_usd\"} | {\"id\", \"status\": \"error\", \"error\": {\"code\", \"message\"}, ...} |\n"
    "  {\"id\", \"status\": \"held_for_review\", ...} | {\"id\", \"status\": \"bad_line\", \"line\", \"error\"}\n"
    "\n"
    "exit status: 0 every item answered (or held for review), 1 some items failed or were bad lines, 2 bad usage,\n"
    "configuration or journal, 130 stopped by SIGINT/SIGTERM (the journal is intact: rerun to continue)\n";

struct batch_arguments {
  std::optional<std::string> config_path;
  std::string in_path;
  std::string out_path;
  std::string journal_path;
  std::optional<std::size_t> concurrency;
  std::uint32_t item_tries = 3;
  std::chrono::milliseconds progress_every{5000};
  std::optional<seed> jitter_seed;
  bool help = false;
};

result<batch_arguments> parse_arguments(args a) {
  batch_arguments out;
  option_cursor in{a};
  if (auto e = in.each_valued(out.help, [&](std::string_view name, std::string* v) -> std::optional<error> {
        auto positive = [&](std::uint64_t most) -> result<std::uint64_t> {
          auto n = parse_integer<std::uint64_t>(*v);
          if (!n || *n < 1 || *n > most)
            return error{fmt::format("{} must be a whole number from 1 to {}, got \"{}\"", name, most, *v)};
          return *n;
        };
        if (name == "--config") {
          out.config_path = std::move(*v);
        } else if (name == "--in" || name == "--out" || name == "--journal") {
          if (v->empty()) return error{fmt::format("{} must not be empty", name)};
          (name == "--in" ? out.in_path : name == "--out" ? out.out_path : out.journal_path) = std::move(*v);
        } else if (name == "--concurrency") {
          auto n = positive(4096);
          if (!n) return error{n.error_message()};
          out.concurrency = static_cast<std::size_t>(*n);
        } else if (name == "--item-tries") {
          auto n = positive(100);
          if (!n) return error{n.error_message()};
          out.item_tries = static_cast<std::uint32_t>(*n);
        } else if (name == "--progress-ms") {
          auto n = positive(86'400'000);
          if (!n) return error{n.error_message()};
          out.progress_every = std::chrono::milliseconds{*n};
        } else if (name == "--seed") {
          auto n = parse_integer<std::uint64_t>(*v);
          if (!n) return error{fmt::format("--seed must be a whole number, got \"{}\"", *v)};
          out.jitter_seed = seed{*n};
        } else {
          return error{fmt::format("unknown option {}", name)};
        }
        return std::nullopt;
      }))
    return *e;
  if (out.help) return out;
  if (out.in_path.empty()) return error{"--in FILE is required"};
  if (out.out_path.empty()) return error{"--out FILE is required"};
  if (out.journal_path.empty()) out.journal_path = out.out_path + ".journal";
  return out;
}

// ---- input -----------------------------------------------------------------

/// The offset of the first byte that breaks UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
std::optional<std::size_t> invalid_utf8_at(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto const c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t low = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
      low = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      low = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      low = 0x10000;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    std::uint32_t value = c & (0xffu >> (length + 1));
    for (std::size_t k = 1; k < length; ++k) {
      auto const next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return i;
      value = (value << 6) | (next & 0x3fu);
    }
    if (value < low || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return i;
    i += length;
  }
  return std::nullopt;
}

struct item {
  std::size_t line = 0;
  std::string id;
  std::string digest;  ///< of the line as written: a journal entry counts only for the same request
  call_request call;
};

struct bad_line {
  std::size_t line = 0;
  std::optional<std::string> id;  ///< when it could be read: the line still gets its (error) result
  std::string what;
};

std::string_view json_type(json const& j) {
  if (j.is_null()) return "null";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  return "an object";
}

/// One input line: an item, or what is wrong with it (never quoting a value: lines hold PHI).
std::variant<item, bad_line> read_line(std::string_view text, std::size_t number) {
  bad_line bad{number, std::nullopt, {}};
  auto fail = [&](std::string what) {
    bad.what = std::move(what);
    return bad;
  };
  if (auto at = invalid_utf8_at(text)) return fail(fmt::format("invalid UTF-8 at byte {}", *at + 1));
  json const j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return fail("not valid JSON");
  if (!j.is_object()) return fail(fmt::format("must be a JSON object, got {}", json_type(j)));
  auto const id = j.find("id");
  if (id == j.end()) return fail("missing \"id\"");
  if (!id->is_string()) return fail(fmt::format("\"id\" must be a string, got {}", json_type(*id)));
  if (id->get_ref<std::string const&>().empty()) return fail("\"id\" must not be empty");
  bad.id = id->get<std::string>();

  item out;
  out.line = number;
  out.id = *bad.id;
  out.digest = to_hex(sha256_digest(text));
  out.call.priority_class = priority::batch;
  // The per-item key: the same on every attempt and every rerun of the same
  // line; a changed line is another request, so it gets another key. The
  // engine hashes it again before it goes anywhere (send::idempotency_key).
  out.call.idempotency_key =
      "batch-" + to_hex(sha256_digest("medgate.batch.item.v1\n" + out.id + "\n" + out.digest)).substr(0, 32);
  bool has_request = false;
  for (auto const& [key, value] : j.items()) {
    auto text_field = [&](std::string& into) -> std::optional<std::string> {
      if (!value.is_string()) return fmt::format("\"{}\" must be a string, got {}", key, json_type(value));
      into = value.get<std::string>();
      return std::nullopt;
    };
    std::optional<std::string> problem;
    if (key == "id") {
      continue;
    } else if (key == "request") {
      if (!value.is_object()) return fail(fmt::format("\"request\" must be an object, got {}", json_type(value)));
      auto chat = openai::parse_chat_request(value.dump());
      if (!chat) return fail("\"request\": " + chat.error_message());
      out.call.chat = std::move(*chat);
      has_request = true;
    } else if (key == "patient") {
      problem = text_field(out.call.patient_key);
    } else if (key == "tenant") {
      problem = text_field(out.call.tenant);
    } else if (key == "study_type") {
      problem = text_field(out.call.study_type);
    } else if (key == "priority") {
      if (!value.is_string() || value.get_ref<std::string const&>() != "batch")
        problem = "\"priority\" must be \"batch\" (a batch run never takes urgent or normal capacity)";
    } else if (key == "timeout_ms") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > 86'400'000)
        problem = "\"timeout_ms\" must be a whole number of milliseconds from 1 to 86400000";
      else
        out.call.timeout = std::chrono::milliseconds{value.get<std::int64_t>()};
    } else {
      problem = fmt::format(
          "unknown field \"{}\" (known: id, request, patient, tenant, study_type, priority, "
          "timeout_ms)",
          key.size() <= 40 ? key : key.substr(0, 40) + "...");
    }
    if (problem) return fail(std::move(*problem));
  }
  if (!has_request) return fail("missing \"request\"");
  if (out.call.chat.stream) return fail("\"request\".stream must be false or absent in a batch");
  return out;
}

// ---- journal ---------------------------------------------------------------

void sync_folder_of(std::string const& path) {
  auto const slash = path.rfind('/');
  std::string const folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  int const fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

/// The append-only record of outcomes. One JSON object per line; a line is
/// complete only with its newline, so a torn last line (a kill mid-write) is
/// cut off when the journal is opened again.
class journal {
 public:
  static result<journal> open(std::string const& path, std::unordered_map<std::string, json>& records) {
    std::string text;
    {
      std::ifstream in{path, std::ios::binary};
      if (in) text.assign(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
    }
    std::size_t const complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    std::size_t line_number = 0;
    for (std::size_t at = 0; at < complete;) {
      auto const end = text.find('\n', at);
      std::string_view const line{text.data() + at, end - at};
      ++line_number;
      at = end + 1;
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("digest"))
        return error{
            fmt::format("journal {} line {} is not a medgate batch record (was the file written by "
                        "medgate batch?)",
                        path, line_number)};
      auto id = j["id"].get<std::string>();
      records[std::move(id)] = std::move(j);
    }
    bool const created = ::access(path.c_str(), F_OK) != 0;
    int const fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return error{fmt::format("cannot open the journal {} for appending", path)};
    if (created) sync_folder_of(path);  // a new file survives a crash only once its folder entry is on disk
    if (complete < text.size() && ::ftruncate(fd, static_cast<off_t>(complete)) != 0) {
      ::close(fd);
      return error{fmt::format("cannot cut the torn last line of the journal {}", path)};
    }
    return journal{fd, text.size() - complete};
  }

  journal(journal&& other) noexcept : fd_{std::exchange(other.fd_, -1)}, torn_bytes_{other.torn_bytes_} {}
  journal& operator=(journal&&) = delete;
  journal(journal const&) = delete;
  journal& operator=(journal const&) = delete;
  ~journal() {
    if (fd_ >= 0) ::close(fd_);
  }

  /// Appends the lines and waits until they are on disk (one fsync for all of them).
  bool append(std::string const& lines) {
    std::size_t written = 0;
    while (written < lines.size()) {
      auto const n = ::write(fd_, lines.data() + written, lines.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      written += static_cast<std::size_t>(n);
    }
    return ::fsync(fd_) == 0;
  }

  [[nodiscard]] std::size_t torn_bytes() const { return torn_bytes_; }

 private:
  journal(int fd, std::size_t torn) : fd_{fd}, torn_bytes_{torn} {}
  int fd_ = -1;
  std::size_t torn_bytes_ = 0;
};

// ---- outcomes --------------------------------------------------------------

double to_ms(duration d) { return static_cast<double>(d.count()) / 1000.0; }

/// Attempts repeated at the same target, and moves to another target (as the gateway's metrics count them).
std::pair<std::uint32_t, std::uint32_t> retries_and_fallbacks(done const& d) {
  std::uint32_t retries = 0;
  std::uint32_t fallbacks = 0;
  std::string previous;
  for (auto const& a : d.attempts) {
    if (a.hedge) continue;
    std::string const target = a.provider + "/" + a.model;
    if (target == previous)
      ++retries;
    else if (!previous.empty())
      ++fallbacks;
    previous = target;
  }
  return {retries, fallbacks};
}

json record_of(item const& it, done const& d, std::uint32_t tries) {
  auto const [retries, fallbacks] = retries_and_fallbacks(d);
  json r = {{"id", it.id},
            {"digest", it.digest},
            {"attempts", d.attempts.size()},
            {"retries", retries},
            {"fallbacks", fallbacks},
            {"tries", tries},
            {"latency_ms", to_ms(elapsed(d.submitted, d.finished))}};
  if (d.review && d.review->state == review_state::pending_review) {
    r["status"] = "held_for_review";
    r["provider"] = d.provider;
    r["model"] = d.model;
  } else if (d.response) {
    r["status"] = "ok";
    r["provider"] = d.provider;
    r["model"] = d.model;
    r["response"] = json::parse(openai::to_json(*d.response), nullptr, false);
  } else {
    r["status"] = "error";
    r["error"] = {{"code", d.error ? std::string{to_string(d.error->code)} : "unknown"},
                  {"message", d.error ? d.error->message : "no outcome"}};
  }
  r["tokens"] = {{"prompt", d.tokens.prompt}, {"completion", d.tokens.completion}};
  if (d.tokens.cost_usd) r["cost_usd"] = *d.tokens.cost_usd;
  return r;
}

/// Failures another call later may not repeat: the item goes to the back of the queue.
bool passing(done const& d) {
  if (d.response || !d.error) return false;
  auto const c = d.error->code;
  return c == call_error_code::throttled || c == call_error_code::all_targets_failed ||
         c == call_error_code::deadline_exceeded;
}

/// Running totals over every item with an outcome (those of earlier runs included).
struct totals {
  std::size_t ok = 0;
  std::size_t failed = 0;  ///< errors and bad lines
  std::size_t held = 0;
  std::map<std::string, std::size_t> errors;  ///< by code ("bad_line" included)
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0;
  std::uint64_t retries = 0;
  std::uint64_t fallbacks = 0;
  std::uint64_t requeued = 0;  ///< calls again for an item after a passing failure or a lost outcome
  std::vector<double> latencies_ms;

  void add(json const& r) {
    auto const status = r.value("status", "");
    if (status == "ok") {
      ++ok;
    } else if (status == "held_for_review") {
      ++held;
    } else {
      ++failed;
      ++errors[status == "bad_line"  ? "bad_line"
               : r.contains("error") ? r["error"].value("code", "unknown")
                                     : "unknown"];
    }
    if (auto t = r.find("tokens"); t != r.end() && t->is_object()) {
      prompt_tokens += t->value("prompt", std::int64_t{0});
      completion_tokens += t->value("completion", std::int64_t{0});
    }
    cost_usd += r.value("cost_usd", 0.0);
    retries += r.value("retries", std::uint64_t{0});
    fallbacks += r.value("fallbacks", std::uint64_t{0});
    if (r.contains("latency_ms") && status != "bad_line") latencies_ms.push_back(r.value("latency_ms", 0.0));
  }
  [[nodiscard]] std::size_t done_count() const { return ok + failed + held; }
};

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto const rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string short_count(std::int64_t n) {
  if (n >= 1'000'000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
  if (n >= 10'000) return fmt::format("{:.1f}k", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::string eta_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto const s = static_cast<std::int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

/// What one finished call hands back to the main loop.
struct finished_call {
  std::size_t index = 0;  ///< into the items
  done outcome;
};

}  // namespace

int run_batch(args a) {
  auto parsed = parse_arguments(a);
  if (!parsed) {
    std::fprintf(stderr, "medgate batch: %s\n\n%.*s", parsed.error_message().c_str(),
                 static_cast<int>(batch_usage.size()), batch_usage.data());
    return 2;
  }
  auto const& arguments = *parsed;
  if (arguments.help) {
    std::fwrite(batch_usage.data(), 1, batch_usage.size(), stdout);
    return 0;
  }
  auto loaded = load_engine_options(arguments.config_path);
  if (!loaded) {
    std::fprintf(stderr, "medgate batch: %s\n", loaded.error_message().c_str());
    return 2;
  }
  engine_options options = std::move(*loaded);
  std::size_t concurrency = 16;
  if (arguments.concurrency) {
    concurrency = *arguments.concurrency;
  } else {
    std::uint32_t smallest = 0;
    for (auto const& p : options.routing.providers)
      if (p.concurrency.max_concurrent > 0)
        smallest = smallest == 0 ? p.concurrency.max_concurrent : std::min(smallest, p.concurrency.max_concurrent);
    if (smallest > 0) concurrency = smallest;
  }

  // The input, whole: line numbers for the reports, ids checked before anything is sent.
  std::string input;
  {
    std::ifstream in{arguments.in_path, std::ios::binary};
    if (!in) {
      std::fprintf(stderr, "medgate batch: cannot read --in %s\n", arguments.in_path.c_str());
      return 2;
    }
    input.assign(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
  }
  std::vector<item> items;
  std::vector<bad_line> bad_lines;
  std::unordered_map<std::string, std::size_t> first_line_of;  // id → line number
  std::vector<std::string> order;                              // ids in input order (items and bad lines with an id)
  std::size_t without_result = 0;  // bad lines with no readable id, and repeated ids: reported on stderr only
  {
    std::size_t number = 0;
    for (std::size_t at = 0; at <= input.size();) {
      auto end = input.find('\n', at);
      if (end == std::string::npos) end = input.size();
      std::string_view line{input.data() + at, end - at};
      ++number;
      at = end + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      auto read = read_line(line, number);
      std::string const* id = std::holds_alternative<item>(read) ? &std::get<item>(read).id
                              : std::get<bad_line>(read).id      ? &*std::get<bad_line>(read).id
                                                                 : nullptr;
      if (id != nullptr) {
        auto [seen, fresh] = first_line_of.emplace(*id, number);
        if (!fresh) {
          std::fprintf(stderr, "medgate batch: line %zu: bad line: duplicate id (first on line %zu); skipped\n", number,
                       seen->second);
          ++without_result;
          continue;
        }
        order.push_back(*id);
      }
      if (auto* b = std::get_if<bad_line>(&read)) {
        std::fprintf(stderr, "medgate batch: line %zu: bad line: %s%s\n", number, b->what.c_str(),
                     b->id ? "" : "; no id, so no result line");
        if (!b->id) ++without_result;
        bad_lines.push_back(std::move(*b));
      } else {
        items.push_back(std::move(std::get<item>(read)));
      }
    }
  }

  std::unordered_map<std::string, json> records;  // id → its outcome, from the journal and from this run
  auto opened = journal::open(arguments.journal_path, records);
  if (!opened) {
    std::fprintf(stderr, "medgate batch: %s\n", opened.error_message().c_str());
    return 2;
  }
  journal log = std::move(*opened);
  if (log.torn_bytes() > 0)
    std::fprintf(stderr, "medgate batch: journal: cut a torn last line (%zu bytes) left by an interrupted run\n",
                 log.torn_bytes());

  // Bad lines with an id get their result line; they need no call and no journal entry (they are read again).
  totals sum;
  for (auto const& b : bad_lines)
    if (b.id) sum.add(json{{"id", *b.id}, {"status", "bad_line"}, {"line", b.line}, {"error", b.what}});
  std::deque<std::size_t> queue;
  std::size_t resumed = 0;
  std::size_t changed = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto const found = records.find(items[i].id);
    if (found != records.end() && found->second.value("digest", "") == items[i].digest) {
      sum.add(found->second);
      ++resumed;
      continue;
    }
    if (found != records.end()) {
      ++changed;
      records.erase(found);
    }
    queue.push_back(i);
  }
  std::size_t const total = items.size() + static_cast<std::size_t>(std::count_if(bad_lines.begin(), bad_lines.end(),
                                                                                  [](auto& b) { return b.id; }));
  if (resumed > 0 || changed > 0)
    std::fprintf(stderr, "medgate batch: journal: %zu item(s) already have an outcome%s\n", resumed,
                 changed > 0 ? fmt::format("; {} changed since and will be sent again", changed).c_str() : "");

  // Declared before the driver: calls it cancels as it stops still report here.
  std::mutex finished_mutex;
  std::condition_variable finished_ready;
  std::deque<finished_call> finished;
  stop_signals signals;  // before the driver's threads start, so they inherit the blocked mask
  // Before the driver too: the driver's observer calls it until the driver is gone.
  std::unique_ptr<native::alert_dispatcher> alerts;
  transport::httplib_options transport;
  if (options.alerts.enabled()) {
    auto made = native::alert_dispatcher::create(options, "medgate batch", [](std::string_view line) {
      std::fprintf(stderr, "medgate batch: %.*s\n", static_cast<int>(line.size()), line.data());
    });
    if (!made) {
      std::fprintf(stderr, "medgate batch: %s\n", made.error_message().c_str());
      return 2;
    }
    alerts = std::move(*made);
    transport.observer = [a = alerts.get()](effect const& e) { a->observe(e); };
  }
  transport.workers = concurrency;
  transport.token_counters = token_counters("medgate batch");
  auto c = client::create(std::move(options), std::move(transport), arguments.jitter_seed);
  if (!c) {
    std::fprintf(stderr, "medgate batch: %s\n", c.error_message().c_str());
    return 2;
  }
  auto& driver = c->driver();

  std::vector<std::uint32_t> tries(items.size(), 0);
  std::map<std::size_t, call_id> in_flight;  // item index → ticket
  bool stopping = false;
  int stop_signal = 0;
  bool journal_failed = false;

  bool const terminal = ::isatty(STDERR_FILENO) == 1;
  auto const started = std::chrono::steady_clock::now();
  auto last_progress = started;
  std::size_t const done_before = sum.done_count();
  auto progress = [&](bool final_line) {
    auto const now = std::chrono::steady_clock::now();
    auto const every = terminal ? std::chrono::milliseconds{200} : arguments.progress_every;
    if (!final_line && now - last_progress < every) return;
    last_progress = now;
    auto const seconds = std::chrono::duration<double>(now - started).count();
    auto const done_now = sum.done_count();
    double const rate = seconds > 0 ? static_cast<double>(done_now - done_before) / seconds : 0;
    double const eta = rate > 0 ? static_cast<double>(total - done_now) / rate : -1;
    auto const percent = total == 0 ? 100.0 : 100.0 * static_cast<double>(done_now) / static_cast<double>(total);
    auto const tokens = short_count(sum.prompt_tokens + sum.completion_tokens);
    if (terminal) {
      constexpr int width = 24;
      auto const filled = static_cast<int>(percent / 100.0 * width);
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '.');
      std::fprintf(stderr, "\r[%s] %zu/%zu %3.0f%%  %.0f/s  ETA %s  failed %zu  tokens %s  $%.4f\x1b[K%s", bar.c_str(),
                   done_now, total, percent, rate, eta_text(eta).c_str(), sum.failed, tokens.c_str(), sum.cost_usd,
                   final_line ? "\n" : "");
    } else {
      std::fprintf(stderr, "medgate batch: %zu/%zu done (%.0f%%), %.0f/s, ETA %s, %zu failed, %s tokens, $%.4f\n",
                   done_now, total, percent, rate, eta_text(eta).c_str(), sum.failed, tokens.c_str(), sum.cost_usd);
    }
  };

  auto submit = [&](std::size_t index) {
    ++tries[index];
    auto call = items[index].call;
    auto const ticket = driver.submit(std::move(call), [&, index](done const& d) {
      {
        std::lock_guard lock{finished_mutex};
        finished.push_back(finished_call{index, d});
      }
      finished_ready.notify_one();
    });
    in_flight[index] = ticket;
  };

  // The loop: keep `concurrency` calls in flight, journal what finishes, and
  // when the queue is empty make sure nothing went missing.
  auto const stop_patience = std::chrono::seconds{10};
  std::chrono::steady_clock::time_point stop_began{};
  for (;;) {
    if (int const s = signals.poll(); s != 0 && !stopping) {
      stopping = true;
      stop_signal = s;
      stop_began = std::chrono::steady_clock::now();
      std::fprintf(stderr, "%smedgate batch: %s: stopping; %zu call(s) in flight are cancelled and stay unfinished\n",
                   terminal ? "\n" : "", s == SIGINT ? "interrupted" : "terminated", in_flight.size());
      for (auto const& [index, ticket] : in_flight) driver.cancel(ticket);
    }
    while (!stopping && in_flight.size() < concurrency && !queue.empty()) {
      auto const index = queue.front();
      queue.pop_front();
      submit(index);
    }
    std::deque<finished_call> batch;
    {
      std::unique_lock lock{finished_mutex};
      finished_ready.wait_for(lock, std::chrono::milliseconds{50}, [&] { return !finished.empty(); });
      batch.swap(finished);
    }
    std::string lines;
    std::vector<json> outcomes;
    for (auto& f : batch) {
      in_flight.erase(f.index);
      auto const& d = f.outcome;
      if (stopping && d.error && d.error->code == call_error_code::cancelled) continue;  // unfinished: not journaled
      if (!stopping && passing(d) && tries[f.index] < arguments.item_tries) {
        ++sum.requeued;
        queue.push_back(f.index);
        continue;
      }
      auto r = record_of(items[f.index], d, tries[f.index]);
      lines += r.dump() + "\n";
      outcomes.push_back(std::move(r));
    }
    if (!lines.empty()) {
      if (!log.append(lines)) {
        std::fprintf(stderr, "medgate batch: cannot write the journal %s; stopping\n", arguments.journal_path.c_str());
        journal_failed = true;
        stopping = true;
        stop_began = std::chrono::steady_clock::now();
        for (auto const& [index, ticket] : in_flight) driver.cancel(ticket);
      } else {
        for (auto& r : outcomes) {
          sum.add(r);
          auto id = r["id"].get<std::string>();
          records[std::move(id)] = std::move(r);
        }
      }
    }
    progress(false);
    if (stopping) {
      if (in_flight.empty() || std::chrono::steady_clock::now() - stop_began > stop_patience) break;
      continue;
    }
    if (queue.empty() && in_flight.empty()) {
      // Complete: every item must have an outcome; one that went missing is sent again.
      for (std::size_t i = 0; i < items.size(); ++i)
        if (!records.contains(items[i].id)) {
          ++sum.requeued;
          queue.push_back(i);
        }
      if (queue.empty()) break;
      std::fprintf(stderr, "medgate batch: %zu item(s) had no outcome; sent again\n", queue.size());
    }
  }
  progress(true);
  auto const seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  bool complete = !stopping;
  if (complete) {
    // The results: one line per id, in input order, written whole and then renamed into place.
    std::unordered_map<std::string, bad_line const*> bad_by_id;
    for (auto const& b : bad_lines)
      if (b.id) bad_by_id.emplace(*b.id, &b);
    std::string out;
    for (auto const& id : order) {
      json r;
      if (auto b = bad_by_id.find(id); b != bad_by_id.end()) {
        r = {{"id", id}, {"status", "bad_line"}, {"line", b->second->line}, {"error", b->second->what}};
      } else {
        r = records.at(id);
        r.erase("digest");
        r.erase("tries");
      }
      out += r.dump() + "\n";
    }
    auto const temporary = arguments.out_path + ".partial";
    {
      std::ofstream file{temporary, std::ios::binary | std::ios::trunc};
      file << out;
      file.flush();
      if (!file) {
        std::fprintf(stderr, "medgate batch: cannot write %s\n", temporary.c_str());
        return 2;
      }
    }
    if (std::rename(temporary.c_str(), arguments.out_path.c_str()) != 0) {
      std::fprintf(stderr, "medgate batch: cannot rename %s to %s\n", temporary.c_str(), arguments.out_path.c_str());
      return 2;
    }
  }

  // Alerts raised near the end still go out (the outbox retries failed POSTs): a minute at most, 5 s when stopped.
  if (alerts && !alerts->flush(stopping ? std::chrono::seconds{5} : std::chrono::seconds{60}))
    std::fprintf(stderr, "medgate batch: alerts: gave up waiting for the webhooks; undelivered alerts are lost\n");

  // The summary: counts only.
  std::string codes;
  for (auto const& [code, n] : sum.errors) codes += fmt::format("{}{} {}", codes.empty() ? "" : ", ", code, n);
  fmt::print("medgate batch: {} of {} items have an outcome ({} from earlier runs){}\n", sum.done_count(), total,
             resumed, complete ? "" : "; stopped before the end: rerun the same command to continue");
  fmt::print("  outcomes:  ok {}, failed {}{}, held for review {}{}\n", sum.ok, sum.failed,
             codes.empty() ? "" : " (" + codes + ")", sum.held,
             without_result == 0
                 ? std::string{}
                 : fmt::format("; {} bad line(s) without a result (no id, or a repeated id)", without_result));
  fmt::print("  tokens:    prompt {}, completion {}; cost ${:.4f}\n", sum.prompt_tokens, sum.completion_tokens,
             sum.cost_usd);
  fmt::print("  latency:   p50 {:.1f} ms, p95 {:.1f} ms, p99 {:.1f} ms\n", percentile(sum.latencies_ms, 0.50),
             percentile(sum.latencies_ms, 0.95), percentile(sum.latencies_ms, 0.99));
  fmt::print("  retries:   {} (same target), fallbacks {}, items sent again {}\n", sum.retries, sum.fallbacks,
             sum.requeued);
  fmt::print("  this run:  {} item(s) in {:.1f} s ({:.0f}/s), concurrency {}\n", sum.done_count() - done_before,
             seconds, seconds > 0 ? static_cast<double>(sum.done_count() - done_before) / seconds : 0.0, concurrency);
  if (alerts) {
    auto const sent = alerts->totals();
    fmt::print("  alerts:    {} delivered, {} retried, {} given up, {} refused by the receiver\n", sent.delivered,
               sent.retried, sent.gave_up, sent.refused);
  }
  if (complete) fmt::print("  results:   {}\n", arguments.out_path);
  std::fflush(stdout);
  if (journal_failed) return 2;
  if (!complete) return 128 + stop_signal;
  return sum.failed > 0 || without_result > 0 ? 1 : 0;
}

}  // namespace medgate::cli
