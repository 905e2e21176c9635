// classify.hpp — what an attempt's result means for retrying, falling back and breaker health.
//
// Every policy after an attempt asks the same few questions: did it work, is
// it worth trying again (now, later, or elsewhere), and does it count against
// the provider's health? Answering them in one place keeps the retry loop,
// the breaker and the fallback chain consistent. The rules follow the OpenAI
// API's documented errors: a 429 is a rate limit except when it means the
// account has no quota left (then waiting does not help, but another provider
// might); a 400 about the context length is final for this request; a 2xx
// whose body does not parse or whose stream was cut off is the provider's
// fault. Provider error messages may echo the prompt, so they are inspected
// but never copied: every `reason` is built from codes and numbers only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "../http.hpp"
#include "../retry_after.hpp"
#include "../time.hpp"
#include "chat.hpp"
#include "stream.hpp"

namespace medgate::openai {

// The to_string overloads below would otherwise hide medgate's (durations,
// transport failures) from code written inside this namespace.
using medgate::to_string;

enum class outcome : std::uint8_t {
  success,       ///< a usable response
  retryable,     ///< a transient failure: try again (here after backoff, or elsewhere)
  rate_limited,  ///< the provider asked us to slow down (429), often saying for how long
  final,         ///< trying the same request again will fail the same way
  malformed,     ///< a 2xx whose body is not a complete, well-formed completion
};

enum class error_code : std::uint8_t {
  none,
  bad_request,
  unauthorized,
  forbidden,
  not_found,
  conflict,
  unprocessable,
  context_length_exceeded,
  insufficient_quota,
  rate_limited,
  request_timeout,
  server_error,
  overloaded,
  timeout,
  connection_refused,
  connection_reset,
  tls,
  cancelled,
  transport_other,
  malformed_response,
  truncated_stream,
  unexpected_status,
};

constexpr std::string_view to_string(outcome o) noexcept {
  switch (o) {
    case outcome::success:
      return "success";
    case outcome::retryable:
      return "retryable";
    case outcome::rate_limited:
      return "rate_limited";
    case outcome::final:
      return "final";
    case outcome::malformed:
      return "malformed";
  }
  return "unknown";
}

constexpr std::string_view to_string(error_code c) noexcept {
  switch (c) {
    case error_code::none:
      return "none";
    case error_code::bad_request:
      return "bad_request";
    case error_code::unauthorized:
      return "unauthorized";
    case error_code::forbidden:
      return "forbidden";
    case error_code::not_found:
      return "not_found";
    case error_code::conflict:
      return "conflict";
    case error_code::unprocessable:
      return "unprocessable";
    case error_code::context_length_exceeded:
      return "context_length_exceeded";
    case error_code::insufficient_quota:
      return "insufficient_quota";
    case error_code::rate_limited:
      return "rate_limited";
    case error_code::request_timeout:
      return "request_timeout";
    case error_code::server_error:
      return "server_error";
    case error_code::overloaded:
      return "overloaded";
    case error_code::timeout:
      return "timeout";
    case error_code::connection_refused:
      return "connection_refused";
    case error_code::connection_reset:
      return "connection_reset";
    case error_code::tls:
      return "tls";
    case error_code::cancelled:
      return "cancelled";
    case error_code::transport_other:
      return "transport_other";
    case error_code::malformed_response:
      return "malformed_response";
    case error_code::truncated_stream:
      return "truncated_stream";
    case error_code::unexpected_status:
      return "unexpected_status";
  }
  return "unknown";
}

struct classification {
  outcome kind = outcome::success;
  error_code code = error_code::none;
  int status = 0;                       ///< HTTP status, 0 if there was no response
  std::optional<duration> retry_after;  ///< how long the server asked us to wait, if it said
  std::string reason;                   ///< short and content-free: "HTTP 503", "timeout", "context_length_exceeded"

  /// Counts against the provider's breaker and health: transient failures
  /// (5xx, timeouts, connection errors) and malformed responses. A rate limit
  /// is the provider working as designed, and a final error is the request's fault.
  [[nodiscard]] bool provider_fault() const noexcept {
    return kind == outcome::retryable || kind == outcome::malformed;
  }

  /// A final error that another provider (other keys, other account, other
  /// model names, other certificate) might not have.
  [[nodiscard]] bool try_next_target() const noexcept {
    return code == error_code::unauthorized || code == error_code::forbidden || code == error_code::not_found ||
           code == error_code::insufficient_quota || code == error_code::tls;
  }
};

struct classified {
  classification verdict;
  std::optional<chat_response> response;  ///< set on success
};

namespace detail {

/// What an error body says, reduced to identifiers; the free-text message is
/// looked at only to recognise a context-length error and then dropped.
struct error_details {
  std::optional<std::string> code, type, param;
  bool mentions_context_length = false;
};

inline bool mentions_context_length(std::string_view message) {
  std::string lower{message};
  for (auto& c : lower) c = medgate::detail::ascii_lower(c);
  for (const std::string_view phrase :
       {"maximum context length", "context length exceeded", "context_length_exceeded", "exceeds the context window"})
    if (lower.find(phrase) != std::string::npos) return true;
  return false;
}

inline error_details read_error_body(std::string_view body) {
  error_details d;
  auto parsed = parse_json(body, "error body");
  if (!parsed || !parsed->is_object()) return d;
  json const* source = &*parsed;  // some servers put code/type/message at the top level
  if (json const* e = member(*parsed, "error")) {
    if (e->is_string()) {
      d.mentions_context_length = mentions_context_length(e->get_ref<std::string const&>());
      return d;
    }
    if (e->is_object()) source = e;
  }
  d.code = identifier(member(*source, "code"));
  d.type = identifier(member(*source, "type"));
  d.param = identifier(member(*source, "param"));
  if (json const* message = member(*source, "message"))
    if (message->is_string())
      d.mentions_context_length = mentions_context_length(message->get_ref<std::string const&>());
  return d;
}

inline bool says(error_details const& d, std::string_view value) {
  return d.code == value || d.type == value || d.param == value;
}

inline bool has_content_type(http_response const& r, std::string_view type) {
  const auto value = r.headers.get("content-type");
  if (!value) return false;
  const auto trimmed = medgate::detail::trim_http_space(*value);
  return trimmed.size() >= type.size() && medgate::detail::iequals(trimmed.substr(0, type.size()), type);
}

inline classification verdict(outcome kind, error_code code, int status, std::string reason,
                              std::optional<duration> wait = std::nullopt) {
  return {kind, code, status, wait, std::move(reason)};
}

inline classified classify_success(http_response const& r, bool stream) {
  const bool as_stream =
      has_content_type(r, "text/event-stream") || (stream && !has_content_type(r, "application/json"));
  if (as_stream) {
    auto assembled = assemble(r.body);
    if (assembled.response)
      return {verdict(outcome::success, error_code::none, r.status, fmt::format("HTTP {}", r.status)),
              std::move(assembled.response.value())};
    if (assembled.truncated)
      return {verdict(outcome::malformed, error_code::truncated_stream, r.status, assembled.response.error_message()),
              std::nullopt};
    return {verdict(outcome::malformed, error_code::malformed_response, r.status,
                    "malformed response: " + assembled.response.error_message()),
            std::nullopt};
  }
  auto parsed = parse_chat_response(r.body);
  if (!parsed)
    return {verdict(outcome::malformed, error_code::malformed_response, r.status,
                    "malformed response: " + parsed.error_message()),
            std::nullopt};
  return {verdict(outcome::success, error_code::none, r.status, fmt::format("HTTP {}", r.status)),
          std::move(parsed.value())};
}

}  // namespace detail

/// Classifies an HTTP response. `stream` says whether a streamed answer was
/// requested (a 2xx is then read as an event stream unless it is labelled
/// application/json); `now` resolves an HTTP-date Retry-After when the response
/// has no Date header (falling back to `r.received_at`).
inline classified classify_response(http_response const& r, bool stream, std::optional<wall_time> now) {
  using detail::verdict;
  const int s = r.status;
  const auto http = fmt::format("HTTP {}", s);
  if (s >= 200 && s <= 299) return detail::classify_success(r, stream);
  const auto wait = [&] { return retry_after(r.headers, now ? now : r.received_at); };
  if (s >= 500 && s <= 599)
    return {verdict(outcome::retryable, s == 529 ? error_code::overloaded : error_code::server_error, s, http, wait()),
            std::nullopt};
  if (s < 400 || s > 499) return {verdict(outcome::final, error_code::unexpected_status, s, http), std::nullopt};

  const auto details = detail::read_error_body(r.body);
  switch (s) {
    case 429:
      if (detail::says(details, "insufficient_quota"))
        return {verdict(outcome::final, error_code::insufficient_quota, s, "insufficient_quota"), std::nullopt};
      return {verdict(outcome::rate_limited, error_code::rate_limited, s, http, wait()), std::nullopt};
    case 400:
      if (detail::says(details, "context_length_exceeded") || details.mentions_context_length)
        return {verdict(outcome::final, error_code::context_length_exceeded, s, "context_length_exceeded"),
                std::nullopt};
      return {verdict(outcome::final, error_code::bad_request, s, http), std::nullopt};
    case 401:
      return {verdict(outcome::final, error_code::unauthorized, s, http), std::nullopt};
    case 403:
      return {verdict(outcome::final, error_code::forbidden, s, http), std::nullopt};
    case 404:
      return {verdict(outcome::final, error_code::not_found, s, http), std::nullopt};
    case 408:
      return {verdict(outcome::retryable, error_code::request_timeout, s, http, wait()), std::nullopt};
    case 409:
      return {verdict(outcome::retryable, error_code::conflict, s, http, wait()), std::nullopt};
    case 422:
      return {verdict(outcome::final, error_code::unprocessable, s, http), std::nullopt};
    default:
      return {verdict(outcome::final, error_code::unexpected_status, s, http), std::nullopt};
  }
}

/// Classifies an attempt that produced no HTTP response. Timeouts and
/// connection failures are transient; a TLS failure is final here but another
/// provider may not have it; a cancellation is the host's own decision.
inline classification classify_failure(transport_error const& e) {
  switch (e.kind) {
    case transport_failure::timeout:
      return {outcome::retryable, error_code::timeout, 0, std::nullopt, "timeout"};
    case transport_failure::connection_refused:
      return {outcome::retryable, error_code::connection_refused, 0, std::nullopt, "connection_refused"};
    case transport_failure::connection_reset:
      return {outcome::retryable, error_code::connection_reset, 0, std::nullopt, "connection_reset"};
    case transport_failure::tls:
      return {outcome::final, error_code::tls, 0, std::nullopt, "tls"};
    case transport_failure::cancelled:
      return {outcome::final, error_code::cancelled, 0, std::nullopt, "cancelled"};
    case transport_failure::other:
      break;
  }
  return {outcome::retryable, error_code::transport_other, 0, std::nullopt, "transport_other"};
}

}  // namespace medgate::openai
