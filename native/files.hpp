// files.hpp — reading a whole file, for the subcommands.
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "medgate/result.hpp"

namespace medgate::cli {

/// The bytes of the file at `path`, or an error naming it and the reason.
inline result<std::string> read_file(std::string const& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return error{fmt::format("cannot read {}: {}", path, std::strerror(errno))};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return error{fmt::format("cannot read {}", path)};
  return text.str();
}

}  // namespace medgate::cli
