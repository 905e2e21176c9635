// Temporary: subcommands not written yet.
#include <cstdio>
#include "commands.hpp"
namespace medgate::cli {
int run_simulate(args) { std::fprintf(stderr, "not yet\n"); return 1; }
int run_chat(args) { std::fprintf(stderr, "not yet\n"); return 1; }
int run_demo(args) { std::fprintf(stderr, "not yet\n"); return 1; }
}
