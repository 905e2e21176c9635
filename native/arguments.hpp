// arguments.hpp — small pieces shared by the subcommands' argument parsing.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

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

}  // namespace medgate::cli
