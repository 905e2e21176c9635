// chat.cpp — `medgate chat`: one chat call through the engine and the native transport.
//
// The quickest way to see the policies at work against a real endpoint (or
// the simulator): the answer goes to stdout, so it can be piped; everything
// about how it was obtained goes to stderr, and --trace shows every effect
// the engine emitted as it happened. Exit codes let scripts tell a failed
// call (1) from a mistake in how it was asked (2).
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "arguments.hpp"
#include "audit_log.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "medgate/client.hpp"
#include "medgate/config.hpp"
#include "medgate/trace.hpp"
#include "token_data.hpp"

namespace medgate::cli {

namespace {

constexpr std::string_view chat_usage =
    "usage: medgate chat [options] MESSAGE...\n"
    "\n"
    "Sends MESSAGE (the remaining arguments, joined by spaces) as one user message\n"
    "through the engine and prints the answer's content on stdout.\n"
    "\n"
    "options:\n"
    "  --config FILE     engine configuration (JSON); default: the built-in demo\n"
    "                    (providers primary and fallback on the simulator at 127.0.0.1:8900)\n"
    "  --model M         route alias or model name (default: clinical-summary)\n"
    "  --timeout-ms N    the whole call's deadline (default: deadlines.timeout_ms)\n"
    "  --stream          ask the provider for a server-sent event stream\n"
    "                    (the answer is printed once complete)\n"
    "  --trace           print every effect the engine emits to stderr, with the time since start\n"
    "  --seed N          seed for backoff jitter (default: random)\n"
    "  --patient KEY     the patient the call concerns (MRN or other stable id): picks the\n"
    "                    canary arm and keys deduplication; only its keyed hash is recorded\n"
    "  --priority P      urgent, normal (default) or batch\n"
    "  --tenant T        who the call is for, recorded in the audit\n"
    "  --idempotency-key K  calls with the same key are sent once\n"
    "  --audit FILE      append the call's hash-chained audit record to FILE (JSONL)\n"
    "\n"
    "exit status: 0 answered, 1 the call failed (the error and every attempt go to stderr),\n"
    "2 bad usage or configuration, 3 the answer is held for human review\n";

struct chat_arguments {
  std::optional<std::string> config_path;
  std::string model = "clinical-summary";
  std::optional<duration> timeout;
  bool stream = false;
  bool trace = false;
  std::optional<seed> jitter_seed;
  std::string patient;
  priority priority_class = priority::normal;
  std::string tenant;
  std::string idempotency_key;
  std::optional<std::string> audit_path;
  std::string message;
  bool help = false;
};

result<chat_arguments> parse_arguments(args a) {
  chat_arguments out;
  option_cursor in{a};
  while (auto item = in.next()) {
    if (item->positional) {
      if (!out.message.empty()) out.message += ' ';
      out.message += item->text;
      continue;
    }
    std::string_view const name = item->text;
    auto value = [&] { return in.value(); };
    auto flag = [&](bool& into) -> std::optional<error> {
      if (auto e = in.no_value()) return e;
      into = true;
      return std::nullopt;
    };
    if (name == "--help") {
      out.help = true;
    } else if (name == "--stream") {
      if (auto e = flag(out.stream)) return *e;
    } else if (name == "--trace") {
      if (auto e = flag(out.trace)) return *e;
    } else if (name == "--config") {
      auto v = value();
      if (!v) return error{v.error_message()};
      out.config_path = std::move(*v);
    } else if (name == "--model") {
      auto v = value();
      if (!v) return error{v.error_message()};
      if (v->empty()) return error{"--model must not be empty"};
      out.model = std::move(*v);
    } else if (name == "--timeout-ms") {
      auto v = value();
      if (!v) return error{v.error_message()};
      auto ms = parse_integer<std::int64_t>(*v);
      if (!ms || *ms <= 0 || *ms > 1'000'000'000'000)
        return error{fmt::format("--timeout-ms must be a positive whole number of milliseconds, got \"{}\"", *v)};
      out.timeout = std::chrono::milliseconds{*ms};
    } else if (name == "--seed") {
      auto v = value();
      if (!v) return error{v.error_message()};
      auto s = parse_integer<std::uint64_t>(*v);
      if (!s) return error{fmt::format("--seed must be a whole number, got \"{}\"", *v)};
      out.jitter_seed = seed{*s};
    } else if (name == "--patient" || name == "--tenant" || name == "--idempotency-key" || name == "--audit") {
      auto v = value();
      if (!v) return error{v.error_message()};
      if (v->empty()) return error{fmt::format("{} must not be empty", name)};
      if (name == "--patient")
        out.patient = std::move(*v);
      else if (name == "--tenant")
        out.tenant = std::move(*v);
      else if (name == "--idempotency-key")
        out.idempotency_key = std::move(*v);
      else
        out.audit_path = std::move(*v);
    } else if (name == "--priority") {
      auto v = value();
      if (!v) return error{v.error_message()};
      auto p = parse_priority(*v);
      if (!p) return error{fmt::format("--priority must be urgent, normal or batch, got \"{}\"", *v)};
      out.priority_class = *p;
    } else {
      return error{fmt::format("unknown option {}", name)};
    }
  }
  return out;
}

void report_failure(done const& d) {
  std::fprintf(stderr, "medgate chat: %s: %s\n", std::string{to_string(d.error->code)}.c_str(),
               d.error->message.c_str());
  for (auto const& attempt : d.attempts)
    std::fprintf(stderr, "  attempt %u %s/%s: %s after %s\n", attempt.number, attempt.provider.c_str(),
                 attempt.model.c_str(), attempt.verdict.reason.c_str(),
                 to_string(elapsed(attempt.started, attempt.ended)).c_str());
  for (auto const& skipped : d.skipped)
    std::fprintf(stderr, "  skipped %s/%s: %s\n", skipped.provider.c_str(), skipped.model.c_str(),
                 skipped.reason.c_str());
}

}  // namespace

int run_chat(args a) {
  auto parsed = parse_arguments(a);
  if (!parsed) {
    std::fprintf(stderr, "medgate chat: %s\n\n%.*s", parsed.error_message().c_str(),
                 static_cast<int>(chat_usage.size()), chat_usage.data());
    return 2;
  }
  auto& arguments = *parsed;
  if (arguments.help) {
    std::fwrite(chat_usage.data(), 1, chat_usage.size(), stdout);
    return 0;
  }
  if (arguments.message.empty()) {
    std::fprintf(stderr, "medgate chat: no MESSAGE given\n\n%.*s", static_cast<int>(chat_usage.size()),
                 chat_usage.data());
    return 2;
  }

  auto loaded = load_engine_options(arguments.config_path);
  if (!loaded) {
    std::fprintf(stderr, "medgate chat: %s\n", loaded.error_message().c_str());
    return 2;
  }
  engine_options options = std::move(*loaded);

  transport::httplib_options transport;
  transport.token_counters = token_counters("medgate chat");
  std::optional<native::audit_log> audit_file;
  if (arguments.audit_path) {
    auto log = native::audit_log::open(*arguments.audit_path);
    if (!log) {
      std::fprintf(stderr, "medgate chat: %s\n", log.error_message().c_str());
      return 2;
    }
    transport.resume_audit = std::pair{log->head(), log->next_sequence()};
    audit_file.emplace(std::move(*log));
  }
  auto const started = std::chrono::steady_clock::now();
  bool const trace = arguments.trace;
  transport.observer = [started, trace, &audit_file](effect const& e) {
    if (trace) {
      auto const since = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
      std::fprintf(stderr, "%s\n", fmt::format("+{:.1f}ms {}", since.count(), describe(e)).c_str());
    }
    if (auto const* record = std::get_if<audit>(&e); record != nullptr && audit_file) {
      if (auto written = audit_file->write(record->record); !written)
        std::fprintf(stderr, "medgate chat: audit: %s\n", written.error_message().c_str());
    }
  };
  auto c = client::create(std::move(options), std::move(transport), arguments.jitter_seed);
  if (!c) {
    std::fprintf(stderr, "medgate chat: %s\n", c.error_message().c_str());
    return 2;
  }

  call_request call;
  call.chat = openai::make_chat_request(arguments.model, {{"user", arguments.message}}, arguments.stream);
  call.timeout = arguments.timeout;
  call.patient_key = arguments.patient;
  call.priority_class = arguments.priority_class;
  call.tenant = arguments.tenant;
  call.idempotency_key = arguments.idempotency_key;
  auto const d = c->chat(std::move(call));
  if (d.review && d.review->state == review_state::pending_review) {
    std::fprintf(stderr, "medgate chat: the answer from %s/%s is held for human review (confidence %s, %s)\n",
                 d.provider.c_str(), d.model.c_str(),
                 d.review->confidence ? fmt::format("{:.2f}", *d.review->confidence).c_str() : "unknown",
                 d.review->source.c_str());
    return 3;
  }
  if (!d.response) {
    report_failure(d);
    return 1;
  }
  std::string content;
  if (!d.response->choices.empty()) content = d.response->choices.front().message.content;
  std::fwrite(content.data(), 1, content.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace medgate::cli
