// main.cpp — the medgate program: dispatches to its subcommands.
#include <cstdio>
#include <string_view>

#include "commands.hpp"

namespace {

struct command {
  std::string_view name;
  std::string_view summary;
  int (*run)(medgate::cli::args);
};

constexpr command commands[] = {
    {"demo",
     "serve the browser demo portal (engine in WebAssembly, simulated providers); --console: the terminal scenario",
     medgate::cli::run_demo},
    {"serve", "the OpenAI-compatible gateway: point a client's base URL here and every call gets every policy",
     medgate::cli::run_serve},
    {"chat", "send one chat call through the engine and print the answer (--trace shows every decision)",
     medgate::cli::run_chat},
    {"batch",
     "send a JSONL file of chat requests through the engine, resumable after a kill, one result per id "
     "(batch --in FILE --out FILE)",
     medgate::cli::run_batch},
    {"sim",
     "deterministic simulation: N calls, every policy, randomized faults, virtual time; checks invariants "
     "(sim --calls N --seed S [--scenario NAME])",
     medgate::cli::run_sim},
    {"simulate", "run the fault-injecting OpenAI-compatible provider simulator", medgate::cli::run_simulate},
    {"audit", "verify the hash chain of an audit log (audit verify FILE)", medgate::cli::run_audit},
    {"sla",
     "availability and p50/p95/p99 per provider and route against contract tiers, from an audit log (sla --audit FILE "
     "[--format text|json|html])",
     medgate::cli::run_sla},
    {"redact", "replace the PHI in a text with placeholders (redact [--jsonl] [--lexicon FILE] < FILE)",
     medgate::cli::run_redact},
    {"tokens",
     "count tokens exactly as cl100k_base, o200k_base, deepseek_v3 or llama3 do (tokens --encoding NAME < FILE)",
     medgate::cli::run_tokens},
};

void usage(std::FILE* out) {
  std::fprintf(out, "usage: medgate <command> [options]\n\ncommands:\n");
  for (auto const& c : commands)
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  std::fprintf(out, "\n`medgate <command> --help` describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view{argv[1]} == "--help" || std::string_view{argv[1]} == "-h") {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string_view const name = argv[1];
  for (auto const& c : commands)
    if (c.name == name) return c.run(medgate::cli::args{argv + 2, static_cast<std::size_t>(argc - 2)});
  std::fprintf(stderr, "medgate: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
