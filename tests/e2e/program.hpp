// program.hpp — runs the built `medgate` program as a user would, for end-to-end tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>

namespace medgate::testing {

struct program_run {
  int exit_code = -1;
  std::string out;  ///< what it wrote to stdout
  std::string err;  ///< what it wrote to stderr
};

/// Runs `medgate` with `arguments` (already shell-quoted) to completion.
inline program_run run_medgate(std::string const& arguments) {
  auto const err_path = std::filesystem::temp_directory_path() / fmt::format("medgate-program-{}.err", ::getpid());
  auto const command = fmt::format("{} {} 2>{}", MEDGATE_PROGRAM_PATH, arguments, err_path.string());
  program_run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
  int const status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err{err_path};
  run.err.assign(std::istreambuf_iterator<char>{err}, std::istreambuf_iterator<char>{});
  std::filesystem::remove(err_path);
  return run;
}

}  // namespace medgate::testing
