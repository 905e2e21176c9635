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
/// Commands whose options all take a value (besides --help) use `each_valued`.
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

  /// For commands whose options all take a value, besides `--help` (which sets `help`): calls
  /// `apply(name, &value)` for each option in order, and returns the first error it returns. A positional word
  /// (with `positional_hint` appended to the message), "--help=x" and an option missing its value are errors too.
  template <class Apply>
  std::optional<error> each_valued(bool& help, Apply&& apply, std::string_view positional_hint = {}) {
    while (auto const word = next()) {
      if (word->positional) return error{fmt::format("unexpected argument \"{}\"{}", word->text, positional_hint)};
      if (word->text == "--help") {
        if (auto e = no_value()) return e;
        help = true;
        continue;
      }
      auto v = value();
      if (!v) return error{v.error_message()};
      if (std::optional<error> e = apply(word->text, &*v)) return e;
    }
    return std::nullopt;
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
