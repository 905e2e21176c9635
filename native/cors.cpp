// cors.cpp — see cors.hpp.
#include "cors.hpp"

#include <cctype>
#include <string>
#include <string_view>

#include <httplib.h>

namespace medgate::cli {

namespace {

constexpr std::string_view allowed_headers = "authorization, content-type, x-request-id, idempotency-key";
constexpr std::string_view medgate_prefix = "x-medgate-";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// A header name the preflight may allow: a token (letters, digits and the usual punctuation).
bool is_token(std::string_view name) {
  if (name.empty()) return false;
  for (char const c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

void add_cors_headers(httplib::Response& res) {
  res.set_header("Access-Control-Allow-Origin", "*");
  res.set_header("Access-Control-Expose-Headers", "x-request-id, retry-after, retry-after-ms, date");
}

void answer_preflight(httplib::Request const& req, httplib::Response& res) {
  // "x-medgate-*" is not a pattern CORS understands, so the x-medgate- headers the browser asks for are
  // named one by one.
  std::string headers{allowed_headers};
  std::string const asked = req.get_header_value("Access-Control-Request-Headers");
  std::string_view requested = asked;
  while (!requested.empty()) {
    auto const comma = requested.find(',');
    auto const name = lower(trim(requested.substr(0, comma)));
    requested = comma == std::string_view::npos ? std::string_view{} : requested.substr(comma + 1);
    if (name.size() > medgate_prefix.size() && name.starts_with(medgate_prefix) && is_token(name))
      headers += ", " + name;
  }
  res.status = 204;
  res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS");
  res.set_header("Access-Control-Allow-Headers", headers);
  res.set_header("Access-Control-Max-Age", "600");
  res.set_header("Vary", "Access-Control-Request-Headers");
}

}  // namespace medgate::cli
