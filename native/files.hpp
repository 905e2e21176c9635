// files.hpp — reading a whole file, and the engine options from a config file, for the subcommands.
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "medgate/config.hpp"
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

/// The bytes of the file at `path`, or of standard input when `path` is "-".
inline result<std::string> read_input(std::string const& path) {
  if (path != "-") return read_file(path);
  std::ostringstream text;
  text << std::cin.rdbuf();
  return text.str();
}

/// The engine's options from the config file at `path`, or the built-in demo
/// defaults without one; the error names the file and the field.
inline result<engine_options> load_engine_options(std::optional<std::string> const& path) {
  if (!path) return default_options();
  auto text = read_file(*path);
  if (!text) return error{text.error_message()};
  auto loaded = parse_config(*text);
  if (!loaded) return error{fmt::format("{}: {}", *path, loaded.error_message())};
  // A key file that cannot be read now would fail every call later: say so at start, naming the field.
  auto const& providers = loaded->routing.providers;
  for (std::size_t i = 0; i < providers.size(); ++i)
    if (auto const& key = providers[i].api_key_file; !key.empty() && !std::ifstream{key})
      return error{fmt::format("{}: config: providers[{}].api_key_file: cannot read {}: {}", *path, i, key,
                               std::strerror(errno))};
  return loaded;
}

}  // namespace medgate::cli
