// data_dirs.hpp — where the program looks for the data the build makes (tokenizer vocabularies, the PHI
// lexicon): an explicit folder if given, else $ENV_VAR, then <program dir>/../share/medgate/<share_dir> (an
// installed medgate), then the build tree's folder (a developer's build, compiled in).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace medgate::cli {

inline std::vector<std::filesystem::path> data_search_path(std::string const& explicit_dir, char const* env_var,
                                                           std::string_view share_dir, char const* build_dir) {
  if (!explicit_dir.empty()) return {explicit_dir};
  std::vector<std::filesystem::path> dirs;
  if (char const* env = std::getenv(env_var); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  if (auto const self = std::filesystem::read_symlink("/proc/self/exe", ec); !ec)
    dirs.push_back(self.parent_path().parent_path() / "share" / "medgate" / share_dir);
  if (build_dir && *build_dir) dirs.emplace_back(build_dir);
  return dirs;
}

}  // namespace medgate::cli
