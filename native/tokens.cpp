// tokens.cpp — `medgate tokens`: count or list the tokens of a text.
//
//   medgate tokens --encoding o200k_base < note.txt         # prints the count
//   medgate tokens --encoding deepseek_v3 --ids note.txt    # one id per line
//   medgate tokens --encoding cl100k_base --pieces < x.txt  # pre-tokens, JSON strings
//   medgate tokens --info                                   # the vocabularies and where they came from
#include <cstdio>
#include <iterator>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "arguments.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "token_data.hpp"

namespace medgate::cli {

namespace {

constexpr char const* usage_text =
    "usage: medgate tokens --encoding NAME [--ids | --pieces] [--vocabularies DIR] [FILE | -]\n"
    "       medgate tokens --info [--vocabularies DIR]\n"
    "Counts the tokens of FILE (or standard input) exactly as the reference tokenizer does.\n"
    "  --encoding NAME      cl100k_base, o200k_base, deepseek_v3 or llama3\n"
    "  --ids                print the token ids, one per line, instead of the count\n"
    "  --pieces             print the pre-tokens, one JSON string per line\n"
    "  --vocabularies DIR   where the .mgtok files are (default: $MEDGATE_TOKENS_DIR, the install, the build)\n"
    "  --info               list the vocabularies: size, source package and sha256\n"
    "Special-token text counts as ordinary text; invalid UTF-8 bytes are kept and counted.\n";

int fail(std::string const& message) {
  std::fprintf(stderr, "medgate tokens: %s\n", message.c_str());
  return 2;
}

struct options {
  std::string encoding_name;
  std::string directory;
  std::string input = "-";
  bool ids = false;
  bool pieces = false;
  bool info = false;
  bool help = false;
};

result<options> parse(args a) {
  options out;
  option_cursor in{a};
  while (auto item = in.next()) {
    if (item->positional) {
      out.input = std::string{item->text};
      continue;
    }
    std::string_view const name = item->text;
    if (name == "--encoding" || name == "--vocabularies") {
      auto v = in.value();
      if (!v) return error{v.error_message()};
      if (name == "--encoding")
        out.encoding_name = std::move(*v);
      else
        out.directory = std::move(*v);
    } else if (name == "--ids" || name == "--pieces" || name == "--info" || name == "--help") {
      if (auto e = in.no_value()) return *e;
      if (name == "--ids") out.ids = true;
      if (name == "--pieces") out.pieces = true;
      if (name == "--info") out.info = true;
      if (name == "--help") out.help = true;
    } else {
      return error{fmt::format("unknown option {}\n{}", name, usage_text)};
    }
  }
  if (out.ids && out.pieces) return error{"--ids and --pieces exclude each other"};
  if (!out.info && !out.help && out.encoding_name.empty())
    return error{fmt::format("--encoding is required\n{}", usage_text)};
  return out;
}

}  // namespace

int run_tokens(args a) {
  auto parsed = parse(a);
  if (!parsed) return fail(parsed.error_message());
  auto const& [encoding_name, directory, input, ids, pieces, info, help] = *parsed;
  if (help) {
    std::fputs(usage_text, stdout);
    return 0;
  }
  if (info) {
    for (auto const name : known_encodings) {
      auto enc = load_encoding(name, directory);
      if (!enc) return fail(enc.error_message());
      std::printf("%s\t%zu tokens\t%s\n", std::string{name}.c_str(), (*enc)->token_count(),
                  (*enc)->provenance().c_str());
    }
    return 0;
  }
  auto enc = load_encoding(encoding_name, directory);
  if (!enc) return fail(enc.error_message());

  auto read = read_input(input);
  if (!read) return fail(read.error_message());
  std::string const& text = *read;
  std::string out;
  if (ids) {
    for (auto const id : (*enc)->encode(text)) fmt::format_to(std::back_inserter(out), "{}\n", id);
  } else if (pieces) {
    (*enc)->pretokens(text, [&](std::string_view p) {
      out += nlohmann::json(std::string{p}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out += '\n';
    });
  } else {
    out = fmt::format("{}\n", (*enc)->count(text));
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace medgate::cli
