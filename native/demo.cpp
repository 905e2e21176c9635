// demo.cpp — `medgate demo`: the server of the browser demo portal (or, with --console, the terminal scenario).
//
// One port serves everything the portal needs: the simulated providers (primary, fallback, canary, all with
// gpt-4o-mini) at /<provider>/v1 and their admin endpoint at /admin, which the page breaks and heals them
// with; the portal's static files at /, the WebAssembly package at /medgate/, the PHI lexicon at /lexicons/
// and the tokenizer vocabularies at /vocabularies/; and two generated documents: /demo/config.json, the
// engine configuration the page's WebAssembly engine loads (demo_config.hpp, checked with parse_config at
// start), and /demo/info.json. It runs until SIGINT or SIGTERM (stop_signals.hpp).
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "arguments.hpp"
#include "commands.hpp"
#include "demo_config.hpp"
#include "medgate/config.hpp"
#include "phi_data.hpp"
#include "simulator.hpp"
#include "stop_signals.hpp"
#include "token_data.hpp"

namespace medgate::cli {
namespace {

#ifdef MEDGATE_WEB_DIR
constexpr char const* built_web_dir = MEDGATE_WEB_DIR;
#else
constexpr char const* built_web_dir = "web";
#endif
#ifdef MEDGATE_WASM_PACKAGE_DIR
constexpr char const* built_wasm_dir = MEDGATE_WASM_PACKAGE_DIR;
#else
constexpr char const* built_wasm_dir = "build/wasm/wasm";
#endif
#ifdef MEDGATE_VERSION
constexpr char const* version = MEDGATE_VERSION;
#else
constexpr char const* version = "unknown";
#endif

constexpr int default_port = 8787;
constexpr std::string_view build_wasm = "cmake --preset wasm && cmake --build --preset wasm --target medgate_wasm";

void print_usage(std::FILE* out) {
  fmt::print(out,
             "usage: medgate demo [options]            the browser demo portal\n"
             "       medgate demo --console [options]  the terminal scenario (--console --help lists its options)\n"
             "\n"
             "Serves the demo clinical portal: medgate's engine runs in the browser (WebAssembly) and calls three\n"
             "simulated providers (primary, fallback, canary) on this server; the page breaks and heals them.\n"
             "\n"
             "options:\n"
             "  --host HOST          address to listen on (default 127.0.0.1)\n"
             "  --port N             port (default {}; 0 picks a free one)\n"
             "  --web DIR            the portal's files, served at / (default {})\n"
             "  --wasm DIR           the WebAssembly package, served at /medgate/ (default {})\n"
             "  --lexicons DIR       the folder of phi.mglex, served at /lexicons/ (default: the one the build made)\n"
             "  --vocabularies DIR   the folder of the .mgtok files, served at /vocabularies/ (default: as above)\n"
             "  --seed N             seed of the simulated providers' fault decisions (default 1)\n"
             "  --help               this text\n"
             "\n"
             "Also served: /demo/config.json (the engine's configuration), /demo/info.json, /<provider>/v1,\n"
             "/admin/providers (PUT /admin/providers/NAME/faults breaks or heals a provider).\n",
             default_port, built_web_dir, built_wasm_dir);
}

struct settings {
  std::string host = "127.0.0.1";
  int port = default_port;
  std::string web = built_web_dir;
  std::string wasm = built_wasm_dir;
  std::string lexicons;      ///< empty: the default search (phi_data.hpp)
  std::string vocabularies;  ///< empty: the default search (token_data.hpp)
  std::uint64_t seed = 1;
  bool help = false;
};

/// Options of the console scenario, named when given without --console.
bool is_console_option(std::string_view name) {
  return name == "--seconds" || name == "--rate" || name == "--no-color";
}

result<settings> parse(args a) {
  settings s;
  option_cursor in{a};
  while (auto item = in.next()) {
    if (item->positional) return error{fmt::format("unexpected argument '{}'", item->text)};
    std::string_view const name = item->text;
    if (name == "--help") {
      s.help = true;
      return s;
    }
    if (name == "--console") return error{"--console must come first: medgate demo --console [options]"};
    if (is_console_option(name))
      return error{fmt::format("{} is an option of the terminal scenario: medgate demo --console {}", name, name)};
    auto value = in.value();
    if (!value) return error{value.error_message()};
    if (name == "--host") {
      s.host = *value;
    } else if (name == "--port") {
      auto const port = parse_integer<int>(*value);
      if (!port || *port < 0 || *port > 65535)
        return error{fmt::format("--port must be a number from 0 to 65535, got '{}'", *value)};
      s.port = *port;
    } else if (name == "--web") {
      s.web = *value;
    } else if (name == "--wasm") {
      s.wasm = *value;
    } else if (name == "--lexicons") {
      s.lexicons = *value;
    } else if (name == "--vocabularies") {
      s.vocabularies = *value;
    } else if (name == "--seed") {
      auto const seed = parse_integer<std::uint64_t>(*value);
      if (!seed) return error{fmt::format("--seed must be a non-negative integer, got '{}'", *value)};
      s.seed = *seed;
    } else {
      return error{fmt::format("unknown option '{}'", name)};
    }
  }
  return s;
}

/// The folders to serve, each checked; the error says which is missing and how to make it.
result<std::vector<static_mount>> find_mounts(settings const& s) {
  std::error_code ec;
  if (!std::filesystem::is_directory(s.web, ec))
    return error{
        fmt::format("the portal's folder {} does not exist; pass --web DIR (the portal is web/ in the "
                    "source tree)",
                    s.web)};
  if (!std::filesystem::is_directory(s.wasm, ec))
    return error{fmt::format("the WebAssembly package {} does not exist; build it with\n  {}\nor pass --wasm DIR",
                             s.wasm, build_wasm)};
  auto lexicons = find_lexicon_dir(s.lexicons);
  if (!lexicons)
    return error{fmt::format("{}\nBuild it with: cmake --build --preset native --target medgate_lexicon_data",
                             lexicons.error_message())};
  auto vocabularies = find_vocabulary_dir(s.vocabularies);
  if (!vocabularies)
    return error{fmt::format("{}\nBuild them with: cmake --build --preset native --target medgate_token_data",
                             vocabularies.error_message())};
  return std::vector<static_mount>{
      {"/", s.web}, {"/medgate/", s.wasm}, {"/lexicons/", *lexicons}, {"/vocabularies/", *vocabularies}};
}

sim::fault_profile lognormal(int median_ms) {
  sim::fault_profile p;
  p.latency.kind = sim::latency_kind::lognormal;
  p.latency.median = std::chrono::milliseconds{median_ms};
  p.latency.sigma = 0.3;
  return p;
}

}  // namespace

int run_demo(args a) {
  if (!a.empty() && std::string_view{a[0]} == "--console") return run_demo_console(a.subspan(1));
  auto line = parse(a);
  if (!line) {
    fmt::print(stderr, "medgate demo: {}\n(`medgate demo --help` lists the options)\n", line.error_message());
    return 2;
  }
  if (line->help) {
    print_usage(stdout);
    return 0;
  }
  auto mounts = find_mounts(*line);
  if (!mounts) {
    fmt::print(stderr, "medgate demo: {}\n", mounts.error_message());
    return 2;
  }

  sim::simulator_options options;
  options.host = line->host;
  options.port = line->port;
  options.seed = line->seed;
  options.mounts = std::move(*mounts);
  options.providers = {{.name = "primary", .faults = lognormal(120)},
                       {.name = "fallback", .faults = lognormal(250)},
                       {.name = "canary", .faults = lognormal(150)}};
  for (auto& p : options.providers) p.models = {std::string{demo_model}};

  stop_signals signals;
  sim::simulator simulator{options};
  auto const port = simulator.start();
  if (!port) {
    fmt::print(stderr, "medgate demo: {}\n", port.error_message());
    return 1;
  }

  // The engine configuration names the port just bound; a configuration the parser refuses is a bug here.
  std::string const config =
      demo_engine_config([&](std::string_view provider) { return simulator.base_url(provider); }).dump(2);
  if (auto parsed = parse_config(config); !parsed) {
    fmt::print(stderr, "medgate demo: bug: the portal's engine configuration does not parse: {}\n{}\n",
               parsed.error_message(), config);
    return 1;
  }
  nlohmann::json providers = nlohmann::json::array();
  for (auto const& p : options.providers) providers.push_back(p.name);
  nlohmann::json presets = nlohmann::json::array();
  for (auto const name : sim::preset_names()) presets.push_back(name);
  nlohmann::json const info = {{"providers", providers}, {"presets", presets}, {"version", version}};
  if (!simulator.serve_document("/demo/config.json", "application/json", config) ||
      !simulator.serve_document("/demo/info.json", "application/json", info.dump(2))) {
    fmt::print(stderr, "medgate demo: bug: cannot publish /demo/config.json\n");
    return 1;
  }

  fmt::print("medgate demo: open {}/ in a browser (Ctrl-C stops)\n", simulator.root_url());
  std::fflush(stdout);
  int const received = signals.wait();
  fmt::print(stderr, "medgate demo: {}, stopping\n", received == SIGINT ? "interrupted" : "terminated");
  simulator.stop();
  return 0;
}

}  // namespace medgate::cli
