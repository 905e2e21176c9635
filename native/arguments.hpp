// arguments.hpp — small pieces shared by the subcommands' argument parsing.
#pragma once

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "commands.hpp"
#include "medgate/result.hpp"

namespace medgate::cli {

/// The whole of `text` as an integer of type `Integer`, or nothing (no sign
/// tricks, no trailing characters, no overflow).
template <class Integer>
std::optional<Integer> parse_integer(std::string_view text) {
  Integer value{};
  auto const [end, problem] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (problem != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// Walks a command line: `--name value`, `--name=value`, flags, positional
/// words, and `--` after which every word is positional. "-" is positional.
///
///   option_cursor in{a};
///   while (auto item = in.next()) {
///     if (item->positional) { ... item->text ... }
///     else if (item->text == "--out") { auto v = in.value(); ... }
///     else if (item->text == "--quiet") { if (auto e = in.no_value()) return *e; ... }
///   }
///
/// Commands whose options all take a value (besides --help) use `next_valued`.
class option_cursor {
 public:
  explicit option_cursor(args a) : args_{a} {}

  struct item {
    bool positional = false;
    std::string_view text;  ///< the word, or the option's name ("--out")
  };

  std::optional<item> next() {
    has_inline_value_ = false;
    while (index_ < args_.size()) {
      std::string_view const arg = args_[index_++];
      if (options_over_ || !arg.starts_with("--")) return item{true, arg};
      if (arg == "--") {
        options_over_ = true;
        continue;
      }
      name_ = arg;
      if (auto eq = arg.find('='); eq != std::string_view::npos) {
        name_ = arg.substr(0, eq);
        inline_value_ = arg.substr(eq + 1);
        has_inline_value_ = true;
      }
      return item{false, name_};
    }
    return std::nullopt;
  }

  /// The current option's value: after '=' or the next word.
  result<std::string> value() {
    if (has_inline_value_) return std::string{inline_value_};
    if (index_ >= args_.size()) return error{fmt::format("{} needs a value", name_)};
    return std::string{args_[index_++]};
  }

  /// For flags: an error when the option was written with "=value".
  [[nodiscard]] std::optional<error> no_value() const {
    if (has_inline_value_) return error{fmt::format("{} takes no value", name_)};
    return std::nullopt;
  }

  /// One option of a command whose options all take a value, besides `--help`.
  struct valued_option {
    std::string_view name;  ///< "--config"
    std::string value;      ///< empty for --help
    bool help = false;
  };

  /// For such commands: the next option, nothing at the end, or an error for a positional word (with
  /// `positional_hint` appended), for "--help=x" or for an option missing its value.
  result<std::optional<valued_option>> next_valued(std::string_view positional_hint = {}) {
    auto const word = next();
    if (!word) return std::optional<valued_option>{};
    if (word->positional) return error{fmt::format("unexpected argument \"{}\"{}", word->text, positional_hint)};
    if (word->text == "--help") {
      if (auto e = no_value()) return *e;
      return std::optional<valued_option>{valued_option{word->text, {}, true}};
    }
    auto v = value();
    if (!v) return error{v.error_message()};
    return std::optional<valued_option>{valued_option{word->text, std::move(*v), false}};
  }

 private:
  args args_;
  std::size_t index_ = 0;
  bool options_over_ = false;
  std::string_view name_;
  // Not std::optional<string_view>: GCC 12 warns it may be read uninitialized.
  std::string_view inline_value_{};
  bool has_inline_value_ = false;
};

}  // namespace medgate::cli
