// http.hpp — HTTP messages as plain values exchanged between engine and transport.
//
// The core decides what to send and how to read what came back; it never
// opens a socket. Transports turn a `send` effect into a request and report
// either an `http_response` or a `transport_error` for each attempt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "time.hpp"

namespace medgate {

namespace detail {
constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}
}  // namespace detail

/// Header fields in arrival order; names compare case-insensitively.
struct header_list {
  std::vector<std::pair<std::string, std::string>> fields;

  void add(std::string name, std::string value) { fields.emplace_back(std::move(name), std::move(value)); }
  /// The first value of `name`, if present.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const {
    for (auto const& [n, v] : fields)
      if (detail::iequals(n, name)) return std::string_view{v};
    return std::nullopt;
  }
};

struct http_response {
  int status = 0;
  header_list headers;
  std::string body;
  /// Wall time at which the response arrived, if the host knows it; used to
  /// resolve an HTTP-date Retry-After when the response has no Date header.
  std::optional<wall_time> received_at;
};

/// Why an attempt produced no HTTP response at all.
enum class transport_failure : std::uint8_t {
  timeout,             ///< the attempt's timeout elapsed (connect, read or overall)
  connection_refused,  ///< nothing listens, or the connection could not be made
  connection_reset,    ///< the peer closed or reset the connection mid-exchange
  tls,                 ///< certificate verification or handshake failed
  cancelled,           ///< the host cancelled the attempt
  other,
};

constexpr std::string_view to_string(transport_failure f) noexcept {
  switch (f) {
    case transport_failure::timeout:
      return "timeout";
    case transport_failure::connection_refused:
      return "connection_refused";
    case transport_failure::connection_reset:
      return "connection_reset";
    case transport_failure::tls:
      return "tls";
    case transport_failure::cancelled:
      return "cancelled";
    case transport_failure::other:
      return "other";
  }
  return "other";
}

struct transport_error {
  transport_failure kind = transport_failure::other;
  std::string detail;  ///< for logs; must never contain request content
};

}  // namespace medgate
