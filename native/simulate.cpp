// simulate.cpp — `medgate simulate`: serve the fault-injecting provider simulator until interrupted.
//
// SIGINT and SIGTERM are awaited on this thread (stop_signals.hpp): a signal
// handler may not call stop(), which locks and joins, but a thread that
// receives the signal as an ordinary return value can.
#include <charconv>
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "arguments.hpp"
#include "commands.hpp"
#include "simulator.hpp"
#include "stop_signals.hpp"

namespace medgate::cli {

namespace {

constexpr int default_port = 8900;

void print_usage(std::FILE* out) {
  const auto presets = sim::preset_names();
  std::string preset_list;
  for (auto name : presets) preset_list += (preset_list.empty() ? "" : ", ") + std::string{name};
  fmt::print(out,
             "usage: medgate simulate [options]\n"
             "\n"
             "Serves fault-injecting OpenAI-compatible providers, each at http://HOST:PORT/<provider>/v1.\n"
             "\n"
             "options:\n"
             "  --host HOST               address to listen on (default 127.0.0.1)\n"
             "  --port N                  port (default {}; 0 picks a free one)\n"
             "  --provider NAME[:M1,M2]   a provider and its models (default model gpt-4o-mini); repeatable;\n"
             "                            without it: primary and fallback\n"
             "  --faults NAME=PROFILE     a provider's fault profile: a preset name or a JSON object, e.g.\n"
             "                              --faults primary=flaky\n"
             "                              --faults 'primary={{\"errors\":{{\"503\":0.2}},\"latency\":{{\"kind\":"
             "\"lognormal\",\"median_ms\":300}}}}'\n"
             "                            fields: errors, rate_limit, latency, hang, reset, reset_mid_body,\n"
             "                            drip (a slow loris: bytes, interval_ms), malformed, truncate\n"
             "  --seed N                  seed of every fault decision; the same seed repeats a run (default 1)\n"
             "  --threads N               server threads; each open connection holds one (default 64)\n"
             "  --help                    this text\n"
             "\n"
             "presets: {}\n"
             "admin:   GET /admin/providers, PUT /admin/providers/NAME/faults (body: a profile),\n"
             "         GET /admin/providers/NAME/stats, GET /admin/providers/NAME/idempotency (answers per\n"
             "         Idempotency-Key, requests per second), POST /admin/reset-stats, GET /healthz\n",
             default_port, preset_list);
}

template <class Number>
bool parse_number(std::string_view text, Number& out) {
  auto const value = parse_integer<Number>(text);
  if (value) out = *value;
  return value.has_value();
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(separator, start);
    parts.emplace_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

struct command_line {
  sim::simulator_options options;
  std::vector<std::pair<std::string, std::string>> faults;  ///< provider name → profile text
  bool help = false;
};

/// Parses the flags; on a mistake returns a message saying what was wrong.
result<command_line> parse(args a) {
  command_line line;
  line.options.port = default_port;
  std::vector<sim::provider_spec> providers;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string_view flag = a[i];
    if (flag == "--help" || flag == "-h") {
      line.help = true;
      return line;
    }
    if (i + 1 >= a.size()) {
      if (flag.starts_with("--")) return error{fmt::format("{} needs a value", flag)};
      return error{fmt::format("unexpected argument '{}'", flag)};
    }
    const std::string_view value = a[++i];
    if (flag == "--host") {
      line.options.host = value;
    } else if (flag == "--port") {
      if (!parse_number(value, line.options.port) || line.options.port < 0 || line.options.port > 65535)
        return error{fmt::format("--port must be a number from 0 to 65535, got '{}'", value)};
    } else if (flag == "--seed") {
      if (!parse_number(value, line.options.seed))
        return error{fmt::format("--seed must be a non-negative integer, got '{}'", value)};
    } else if (flag == "--threads") {
      if (!parse_number(value, line.options.threads) || line.options.threads == 0)
        return error{fmt::format("--threads must be a positive integer, got '{}'", value)};
    } else if (flag == "--provider") {
      sim::provider_spec spec;
      const auto colon = value.find(':');
      spec.name = value.substr(0, colon);
      if (colon != std::string_view::npos) spec.models = split(value.substr(colon + 1), ',');
      providers.push_back(std::move(spec));
    } else if (flag == "--faults") {
      const auto equals = value.find('=');
      if (equals == std::string_view::npos || equals == 0)
        return error{fmt::format("--faults takes NAME=PROFILE (e.g. primary=flaky), got '{}'", value)};
      line.faults.emplace_back(value.substr(0, equals), value.substr(equals + 1));
    } else {
      return error{fmt::format("unknown option '{}'", flag)};
    }
  }
  if (providers.empty()) providers = {{.name = "primary"}, {.name = "fallback"}};
  line.options.providers = std::move(providers);

  for (auto const& [name, text] : line.faults) {
    auto profile = sim::parse_fault_profile(text);
    if (!profile) return error{fmt::format("--faults {}: {}", name, profile.error_message())};
    bool found = false;
    for (auto& spec : line.options.providers) {
      if (spec.name == name) {
        spec.faults = *profile;
        found = true;
      }
    }
    if (!found) return error{fmt::format("--faults names provider '{}', which is not served", name)};
  }
  if (auto bad = line.options.validate()) return error{bad->to_string()};
  return line;
}

}  // namespace

int run_simulate(args a) {
  auto line = parse(a);
  if (!line) {
    fmt::print(stderr, "medgate simulate: {}\n(`medgate simulate --help` lists the options)\n", line.error_message());
    return 2;
  }
  if (line->help) {
    print_usage(stdout);
    return 0;
  }

  stop_signals signals;
  sim::simulator simulator{line->options};
  const auto port = simulator.start();
  if (!port) {
    fmt::print(stderr, "medgate simulate: {}\n", port.error_message());
    return 1;
  }
  fmt::print("medgate simulate: {} provider(s) on port {}, seed {}\n", line->options.providers.size(), *port,
             line->options.seed);
  for (auto const& spec : line->options.providers) {
    std::string models, faults = "healthy";
    for (auto const& m : spec.models) models += (models.empty() ? "" : ",") + m;
    for (auto const& [name, text] : line->faults)
      if (name == spec.name) faults = text;  // as the user wrote it; the last one given wins, as in parse()
    fmt::print("  {:<10} {}  models: {}  faults: {}\n", spec.name, simulator.base_url(spec.name), models, faults);
  }
  fmt::print("  {:<10} {}/admin/providers\n", "admin", simulator.root_url());
  fmt::print("Ctrl-C stops.\n");
  std::fflush(stdout);

  int const received = signals.wait();
  fmt::print(stderr, "medgate simulate: {}, stopping\n", received == SIGINT ? "interrupted" : "terminated");
  simulator.stop();
  return 0;
}

}  // namespace medgate::cli
