// token_data.cpp — see token_data.hpp.
#include "token_data.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data_dirs.hpp"
#include "files.hpp"

namespace medgate::cli {

namespace {

#ifdef MEDGATE_TOKEN_DATA_DIR
constexpr char const* build_dir = MEDGATE_TOKEN_DATA_DIR;
#else
constexpr char const* build_dir = nullptr;
#endif

}  // namespace

result<std::shared_ptr<tokens::encoding const>> load_encoding(std::string_view name, std::string const& directory) {
  if (std::find(std::begin(known_encodings), std::end(known_encodings), name) == std::end(known_encodings))
    return error{fmt::format("unknown encoding '{}': known are {}", name, fmt::join(known_encodings, ", "))};
  std::string tried;
  for (auto const& dir : data_search_path(directory, "MEDGATE_TOKENS_DIR", "tokens", build_dir)) {
    auto const file = dir / fmt::format("{}.mgtok", name);
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
      tried += fmt::format("\n  {}", file.string());
      continue;
    }
    auto bytes = read_file(file.string());
    if (!bytes) return error{bytes.error_message()};
    auto enc = tokens::encoding::load(*bytes);
    if (!enc) return error{fmt::format("{}: {}", file.string(), enc.error_message())};
    return std::make_shared<tokens::encoding const>(std::move(*enc));
  }
  return error{fmt::format(
      "no vocabulary file for {}; looked for:{}\nThe build makes them (cmake target medgate_token_data, from npm "
      "packages); point MEDGATE_TOKENS_DIR or --vocabularies at the folder that holds them.",
      name, tried)};
}

result<std::string> find_vocabulary_dir(std::string const& directory) {
  std::string tried;
  for (auto const& dir : data_search_path(directory, "MEDGATE_TOKENS_DIR", "tokens", build_dir)) {
    for (auto const name : known_encodings) {
      std::error_code ec;
      if (std::filesystem::exists(dir / fmt::format("{}.mgtok", name), ec)) return dir.string();
    }
    tried += fmt::format("\n  {}/*.mgtok", dir.string());
  }
  return error{fmt::format(
      "no vocabulary files (.mgtok); looked for:{}\nThe build makes them (cmake target medgate_token_data, from npm "
      "packages); point MEDGATE_TOKENS_DIR or --vocabularies at the folder that holds them.",
      tried)};
}

std::vector<std::pair<std::string, tokens::text_counter>> token_counters(std::string_view program) {
  std::vector<std::pair<std::string, tokens::text_counter>> out;
  for (auto const name : known_encodings) {
    auto enc = load_encoding(name);
    if (!enc) {
      std::fprintf(stderr, "%.*s: token counts for %.*s are estimates (bytes/4): %s\n",
                   static_cast<int>(program.size()), program.data(), static_cast<int>(name.size()), name.data(),
                   enc.error_message().c_str());
      continue;
    }
    out.emplace_back(std::string{name}, [e = *enc](std::string_view text) { return e->count(text); });
  }
  return out;
}

}  // namespace medgate::cli
