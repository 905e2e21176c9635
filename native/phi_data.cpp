// phi_data.cpp — see phi_data.hpp.
#include "phi_data.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "data_dirs.hpp"
#include "files.hpp"

namespace medgate::cli {

namespace {

#ifdef MEDGATE_LEXICON_FILE
constexpr char const* build_file = MEDGATE_LEXICON_FILE;
#else
constexpr char const* build_file = "";
#endif

result<phi::lexicon> load_file(std::string const& file) {
  auto bytes = read_file(file);
  if (!bytes) return error{bytes.error_message()};
  auto lex = phi::lexicon::parse(std::move(*bytes));
  if (!lex) return error{fmt::format("{}: {}", file, lex.error_message())};
  return std::move(*lex);
}

}  // namespace

result<std::string> find_lexicon_dir(std::string const& directory) {
  std::string const build_dir = std::filesystem::path{build_file}.parent_path().string();
  std::string tried;
  for (auto const& dir : data_search_path(directory, "MEDGATE_LEXICONS_DIR", "lexicons", build_dir.c_str())) {
    auto const path = dir / "phi.mglex";
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return dir.string();
    tried += fmt::format("\n  {}", path.string());
  }
  return error{fmt::format(
      "no PHI lexicon (phi.mglex); looked for:{}\nThe build makes it (cmake target medgate_lexicon_data, from npm and "
      "Debian packages); point MEDGATE_LEXICONS_DIR or --lexicon at it.",
      tried)};
}

result<phi::lexicon> load_lexicon(std::string const& file) {
  if (!file.empty()) return load_file(file);
  auto dir = find_lexicon_dir();
  if (!dir) return error{dir.error_message()};
  return load_file((std::filesystem::path{*dir} / "phi.mglex").string());
}

}  // namespace medgate::cli
