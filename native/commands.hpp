// commands.hpp — the medgate program's subcommands, one source file each.
#pragma once

#include <span>
#include <string_view>

namespace medgate::cli {

using args = std::span<char const* const>;  ///< arguments after the subcommand name

int run_simulate(args a);
int run_chat(args a);
int run_demo(args a);
int run_demo_console(args a);  ///< `medgate demo --console` (demo_console.cpp)
int run_audit(args a);
int run_tokens(args a);
int run_serve(args a);
int run_redact(args a);
int run_sla(args a);
int run_batch(args a);
int run_sim(args a);  ///< `medgate sim`: the deterministic simulation (sim.cpp)

}  // namespace medgate::cli
