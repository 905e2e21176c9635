// token_data.hpp — finds and loads the `.mgtok` vocabularies for the program.
//
// Search order: an explicit directory (--vocabularies DIR), then
// $MEDGATE_TOKENS_DIR, then <program dir>/../share/medgate/tokens (an
// installed medgate), then the build tree's tokens/ folder (a developer's
// build). The vocabularies come from npm packages converted by the build
// (tokens/README.md); they are never part of the source tree.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "medgate/result.hpp"
#include "medgate/tokens/counter.hpp"
#include "medgate/tokens/encoding.hpp"

namespace medgate::cli {

/// The encodings the build converts.
inline constexpr std::string_view known_encodings[] = {"cl100k_base", "o200k_base", "deepseek_v3", "llama3"};

/// Loads the encoding `name`; `directory` empty means the default search.
/// The error lists where it looked and how to make the files.
result<std::shared_ptr<tokens::encoding const>> load_encoding(std::string_view name, std::string const& directory = {});

/// The folder holding the `.mgtok` vocabularies: `directory` if given (it must hold at least one), else the
/// first folder of the default search that holds any. The error lists where it looked and how to make them.
result<std::string> find_vocabulary_dir(std::string const& directory = {});

/// Exact counters for every encoding whose vocabulary is found, for
/// `httplib_options::token_counters`. Missing ones are reported once on
/// stderr by `program` ("medgate chat: ...") and then estimated.
std::vector<std::pair<std::string, tokens::text_counter>> token_counters(std::string_view program);

}  // namespace medgate::cli
