// field_error.hpp — the value every `xxx_options::validate()` returns.
//
// Errors are values that name what was wrong: the field's path and what was
// expected, with the offending value. The config loader prefixes the path of
// the enclosing object, so a user reads
// `config: providers.primary.breaker.window_size must be > 0, got -5`.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace medgate {

struct field_error {
  std::string field;    ///< dotted path relative to the options object, e.g. "window_size"
  std::string message;  ///< what was expected and what was found, e.g. "must be > 0, got -5"

  /// The same error seen from an enclosing object: `prefix` + "." + field,
  /// or `prefix` + field when the field is an index such as "[2]".
  [[nodiscard]] field_error within(std::string_view prefix) const {
    if (field.empty()) return {std::string{prefix}, message};
    return {fmt::format("{}{}{}", prefix, field.starts_with('[') ? "" : ".", field), message};
  }
  [[nodiscard]] std::string to_string() const { return field.empty() ? message : field + " " + message; }
};

using validation = std::optional<field_error>;

/// Builds a validation failure: `invalid("window_size", "must be > 0, got {}", v)`.
template <class... Args>
[[nodiscard]] field_error invalid(std::string field, fmt::format_string<Args...> f, Args&&... args) {
  return {std::move(field), fmt::format(f, std::forward<Args>(args)...)};
}

}  // namespace medgate
