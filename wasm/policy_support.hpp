// wasm/policy_support.hpp — what the policy bindings share: `{error}` values, the caller's milliseconds as the
// core's microseconds, a config section read with the config parser's own reader, keys given in hex.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <emscripten/val.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "medgate/config.hpp"
#include "medgate/hash.hpp"
#include "medgate/time.hpp"

namespace medgate::wasm {

using emscripten::val;

namespace cfg = detail::configuration;
using json = cfg::json;

inline val failure(std::string message) {
  val out = val::object();
  out.set("error", std::move(message));
  return out;
}

/// Milliseconds (a JavaScript number) as whole microseconds, saturating; NaN counts as 0.
inline std::int64_t us_of_ms(double ms) {
  double const us = std::round(ms * 1000.0);
  if (!(us == us)) return 0;
  if (us >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
  if (us <= -9.2e18) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(us);
}
inline instant at_ms(double ms) { return from_us(us_of_ms(ms)); }
inline duration ms(double value) { return duration{us_of_ms(value)}; }
inline double ms_of(duration d) { return static_cast<double>(d.count()) / 1000.0; }
inline double ms_of(instant t) { return static_cast<double>(to_us(t)) / 1000.0; }

/// Reads the JSON section `text` with the config parser's reader, then validate(): nullopt or the message,
/// with the field named as in the config file ("breaker.open_duration_ms must be > 0, got 0ms").
template <class T, class Reader>
std::optional<std::string> read_section(std::string const& text, std::string const& section, Reader read, T& out) {
  auto const j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return section + ": the options are not JSON";
  if (auto problem = read(j, section, out)) return *problem;
  if (auto e = out.validate()) {
    auto path = cfg::json_path_of(cfg::member_path(section, e->field), route_options{});
    // The canary's basis points are the config's percent (json_path_of maps them only inside routes).
    for (auto at = path.find("basis_points"); at != std::string::npos; at = path.find("basis_points", at))
      path.replace(at, 12, "percent");
    return fmt::format("{} {}", path, cfg::json_message_of(e->message));
  }
  return std::nullopt;
}

/// `{policy}` holding `binding`: what a create() returns when the options were good.
template <class Binding>
val made(Binding binding) {
  val out = val::object();
  out.set("policy", val{std::move(binding)});
  return out;
}

/// The create() of a policy whose options are one config section: `{policy}`, or `{error}` naming the field.
template <class Binding, class Options, class Reader>
val create_from_section(std::string const& options_json, std::string const& section, Reader read) {
  Options o;
  if (auto problem = read_section(options_json, section, read, o)) return failure(*problem);
  return made(Binding{std::move(o)});
}

/// 32 hex digits as a 16-byte key, or nullopt.
inline std::optional<siphash_key> key_of_hex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  siphash_key key{};
  auto const digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 16; ++i) {
    int const hi = digit(hex[2 * i]);
    int const lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return key;
}

}  // namespace medgate::wasm
