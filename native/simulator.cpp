// simulator.cpp — the provider simulator: fault profiles, the OpenAI-shaped answers, and the server.
//
// Two things cpp-httplib 0.11 does not offer are done here at the socket level,
// because a handler only sees the request, not its connection:
//
// * A real connection reset. A handler cannot abort a response: whatever it
//   returns, httplib writes a status line. So the handler finds its own
//   accepted socket (the descriptor in /proc/self/fd whose local and peer ports
//   are the request's `local_port` and `remote_port`), sets SO_LINGER {on, 0}
//   and dup2()s a fresh unconnected socket over the descriptor. dup2 closes the
//   connection — with a zero linger that sends a TCP RST at once and nothing
//   else — while the descriptor number stays valid for httplib, whose write of
//   the response then fails and which closes the descriptor as usual. A client
//   sees ECONNRESET before any response byte (httplib::Client: Error::Read).
// * Prompt stops. Hung and delayed handlers wait on a condition variable that
//   stop() signals, and poll their socket to notice a client that went away;
//   stop() also shuts down every accepted connection still open, so an idle
//   keep-alive connection does not hold httplib's stop() for its keep-alive
//   timeout.
#include "simulator.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <numbers>
#include <span>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <httplib.h>

#include "cors.hpp"
#include "medgate/random.hpp"

namespace medgate::sim {

using json = nlohmann::json;

namespace {

// ---- fault profiles ---------------------------------------------------------

constexpr duration longest_delay = std::chrono::hours{24};
constexpr std::array<std::string_view, 12> preset_order{"healthy",    "flaky",   "rate_limited", "slow",
                                                        "spiky",      "hanging", "resetting",    "malformed",
                                                        "truncating", "down",    "dripping",     "breaking"};

double as_milliseconds(duration d) { return static_cast<double>(d.count()) / 1000.0; }

json milliseconds_json(duration d) {
  if (d.count() % 1000 == 0) return d.count() / 1000;
  return as_milliseconds(d);
}

/// A JSON value shortened for an error message.
std::string describe(json const& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string join(std::span<std::string_view const> names) {
  std::string out;
  for (auto name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

validation probability_in_range(std::string field, double p) {
  if (!(p >= 0 && p <= 1)) return invalid(std::move(field), "must be from 0 to 1, got {}", p);
  return std::nullopt;
}

constexpr std::size_t most_drip_bytes = 65536;

/// The one message for a `drip.bytes` that is not a whole number (the reader) or is out of range (validate).
template <class Got>
validation bad_drip_bytes(Got const& got) {
  return invalid("drip.bytes", "must be a whole number from 1 to {}, got {}", most_drip_bytes, got);
}

validation delay_in_range(std::string field, duration d) {
  if (d.count() < 0) return invalid(std::move(field), "must be >= 0, got {}", as_milliseconds(d));
  if (d > longest_delay)
    return invalid(std::move(field), "must be at most {} (one day), got {}", as_milliseconds(longest_delay),
                   as_milliseconds(d));
  return std::nullopt;
}

/// Reads a JSON object's fields, checking each one's type; ranges are left to validate().
class profile_reader {
 public:
  explicit profile_reader(fault_profile& profile) : profile_{profile} {}

  validation read(json const& doc) {
    if (auto bad = known_fields(doc, "",
                                {"preset", "errors", "rate_limit", "latency", "hang", "reset", "reset_mid_body", "drip",
                                 "malformed", "truncate"}))
      return bad;
    if (auto bad = read_each(doc, "errors", &profile_reader::read_errors)) return bad;
    if (auto bad = read_each(doc, "rate_limit", &profile_reader::read_rate_limit)) return bad;
    if (auto bad = read_each(doc, "latency", &profile_reader::read_latency)) return bad;
    if (auto bad = read_each(doc, "hang", &profile_reader::read_hang)) return bad;
    if (auto bad = read_each(doc, "drip", &profile_reader::read_drip)) return bad;
    if (auto bad = number(doc, "reset", "reset", profile_.reset)) return bad;
    if (auto bad = number(doc, "reset_mid_body", "reset_mid_body", profile_.reset_mid_body)) return bad;
    if (auto bad = number(doc, "malformed", "malformed", profile_.malformed)) return bad;
    return number(doc, "truncate", "truncate", profile_.truncate);
  }

 private:
  using section_reader = validation (profile_reader::*)(json const&);

  static validation known_fields(json const& object, std::string_view path,
                                 std::initializer_list<std::string_view> known) {
    for (auto const& item : object.items()) {
      if (std::find(known.begin(), known.end(), item.key()) == known.end())
        return field_error{"", fmt::format("unknown field \"{}{}\"", path, item.key())};
    }
    return std::nullopt;
  }

  validation read_each(json const& doc, char const* name, section_reader reader) {
    const auto found = doc.find(name);
    if (found == doc.end()) return std::nullopt;
    if (!found->is_object()) return invalid(name, "must be an object, got {}", describe(*found));
    return (this->*reader)(*found);
  }

  static validation number(json const& object, char const* key, std::string field, double& out) {
    const auto found = object.find(key);
    if (found == object.end()) return std::nullopt;
    if (!found->is_number()) return invalid(std::move(field), "must be a number, got {}", describe(*found));
    out = found->get<double>();
    return std::nullopt;
  }

  static validation milliseconds(json const& object, char const* key, std::string field, duration& out) {
    const auto found = object.find(key);
    if (found == object.end()) return std::nullopt;
    if (!found->is_number())
      return invalid(std::move(field), "must be a number of milliseconds, got {}", describe(*found));
    const double ms = found->get<double>();
    // Beyond this the conversion to microseconds would overflow; validate() reports the real limit.
    if (!(std::abs(ms) <= 1e12))
      return invalid(std::move(field), "must be at most {} (one day), got {}", as_milliseconds(longest_delay),
                     describe(*found));
    out = duration{static_cast<duration::rep>(std::llround(ms * 1000.0))};
    return std::nullopt;
  }

  validation read_errors(json const& errors) {
    profile_.errors.clear();
    for (auto const& item : errors.items()) {
      const std::string& key = item.key();
      int status = 0;
      const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), status);
      const std::string field = "errors." + key;
      if (ec != std::errc{} || end != key.data() + key.size() || status < 400 || status > 599)
        return invalid(field, "must be an HTTP status from 400 to 599");
      if (!item.value().is_number()) return invalid(field, "must be a number, got {}", describe(item.value()));
      profile_.errors[status] = item.value().get<double>();
    }
    return std::nullopt;
  }

  validation read_rate_limit(json const& section) {
    auto& limit = profile_.rate_limit;
    if (auto bad = known_fields(section, "rate_limit.", {"probability", "retry_after_ms", "form"})) return bad;
    if (auto bad = number(section, "probability", "rate_limit.probability", limit.probability)) return bad;
    if (auto bad = milliseconds(section, "retry_after_ms", "rate_limit.retry_after_ms", limit.retry_after)) return bad;
    const auto form = section.find("form");
    if (form == section.end()) return std::nullopt;
    const std::string text = form->is_string() ? form->get<std::string>() : std::string{};
    if (text == "seconds")
      limit.form = retry_after_form::seconds;
    else if (text == "http_date")
      limit.form = retry_after_form::http_date;
    else if (text == "ms")
      limit.form = retry_after_form::milliseconds;
    else
      return invalid("rate_limit.form", "must be \"seconds\", \"http_date\" or \"ms\", got {}", describe(*form));
    return std::nullopt;
  }

  validation read_latency(json const& section) {
    auto& latency = profile_.latency;
    if (auto bad =
            known_fields(section, "latency.", {"kind", "ms", "median_ms", "sigma", "spike_probability", "spike_ms"}))
      return bad;
    if (const auto kind = section.find("kind"); kind != section.end()) {
      const std::string text = kind->is_string() ? kind->get<std::string>() : std::string{};
      if (text == "fixed")
        latency.kind = latency_kind::fixed;
      else if (text == "lognormal")
        latency.kind = latency_kind::lognormal;
      else
        return invalid("latency.kind", "must be \"fixed\" or \"lognormal\", got {}", describe(*kind));
    }
    if (auto bad = milliseconds(section, "ms", "latency.ms", latency.fixed)) return bad;
    if (auto bad = milliseconds(section, "median_ms", "latency.median_ms", latency.median)) return bad;
    if (auto bad = number(section, "sigma", "latency.sigma", latency.sigma)) return bad;
    if (auto bad = number(section, "spike_probability", "latency.spike_probability", latency.spike_probability))
      return bad;
    return milliseconds(section, "spike_ms", "latency.spike_ms", latency.spike);
  }

  validation read_hang(json const& section) {
    if (auto bad = known_fields(section, "hang.", {"probability", "ms"})) return bad;
    if (auto bad = number(section, "probability", "hang.probability", profile_.hang.probability)) return bad;
    return milliseconds(section, "ms", "hang.ms", profile_.hang.hold);
  }

  validation read_drip(json const& section) {
    auto& drip = profile_.drip;
    if (auto bad = known_fields(section, "drip.", {"probability", "bytes", "interval_ms"})) return bad;
    if (auto bad = number(section, "probability", "drip.probability", drip.probability)) return bad;
    if (const auto bytes = section.find("bytes"); bytes != section.end()) {
      if (!bytes->is_number_unsigned()) return bad_drip_bytes(describe(*bytes));
      drip.bytes = bytes->get<std::size_t>();
    }
    return milliseconds(section, "interval_ms", "drip.interval_ms", drip.interval);
  }

  fault_profile& profile_;
};

bool is_preset_word(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_' || c == '-'; });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

result<fault_profile> named_preset(std::string_view name) {
  if (auto found = preset(name)) return *found;
  const auto names = preset_names();
  return error{fmt::format("fault profile: unknown preset \"{}\" (known: {})", name, join(names))};
}

// ---- HTTP details -----------------------------------------------------------

/// RFC 9110's IMF-fixdate, written without the locale: "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(std::time_t seconds) {
  static constexpr std::array<char const*, 7> days{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<char const*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{}, {:02} {} {} {:02}:{:02}:{:02} GMT", days[static_cast<std::size_t>(utc.tm_wday)], utc.tm_mday,
                     months[static_cast<std::size_t>(utc.tm_mon)], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                     utc.tm_sec);
}

json openai_error(std::string_view message, std::string_view type, json param = nullptr, json code = nullptr) {
  return {{"error", {{"message", message}, {"type", type}, {"param", std::move(param)}, {"code", std::move(code)}}}};
}

void send_json(httplib::Response& res, int status, json const& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

std::string hex64(std::uint64_t value) { return fmt::format("{:016x}", value); }

/// FNV-1a, 64 bits: a stable digest of the prompt (not for security; it only picks sentences).
std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// ---- connections --------------------------------------------------------------

std::optional<int> socket_port(sockaddr_storage const& address) {
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in const&>(address).sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6 const&>(address).sin6_port);
  return std::nullopt;
}

struct socket_ends {
  int local_port = -1;
  int peer_port = -1;  ///< -1 when the socket is not connected (e.g. a listening socket)
};

std::optional<socket_ends> describe_socket(int descriptor) {
  sockaddr_storage local{}, peer{};
  socklen_t local_size = sizeof local, peer_size = sizeof peer;
  if (getsockname(descriptor, reinterpret_cast<sockaddr*>(&local), &local_size) != 0) return std::nullopt;
  const auto local_port = socket_port(local);
  if (!local_port) return std::nullopt;
  socket_ends ends{*local_port, -1};
  if (getpeername(descriptor, reinterpret_cast<sockaddr*>(&peer), &peer_size) == 0)
    ends.peer_port = socket_port(peer).value_or(-1);
  return ends;
}

/// Calls `visit(descriptor, ends)` for every open IP socket of this process.
template <class Visit>
void for_each_socket(Visit visit) {
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) return;
  const int own = dirfd(directory);
  while (dirent const* entry = readdir(directory)) {
    const std::string_view name = entry->d_name;
    int descriptor = -1;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), descriptor);
    if (ec != std::errc{} || end != name.data() + name.size() || descriptor == own) continue;
    if (const auto ends = describe_socket(descriptor)) {
      if (!visit(descriptor, *ends)) break;
    }
  }
  closedir(directory);
}

/// The two ports that name a request's connection: the server's and the client's.
struct connection_ports {
  int local = -1;
  int peer = -1;
  explicit connection_ports(httplib::Request const& req) : local{req.local_port}, peer{req.remote_port} {}
};

/// The accepted socket carrying a request: its local port is the server's and its
/// peer port the client's. The connection stays open while its handler (and its
/// content provider) runs, so the descriptor cannot be closed and reused under us.
std::optional<int> connection_socket(connection_ports ports) {
  std::optional<int> found;
  for_each_socket([&](int descriptor, socket_ends ends) {
    if (ends.local_port == ports.local && ends.peer_port == ports.peer) {
      found = descriptor;
      return false;
    }
    return true;
  });
  return found;
}

/// Sends a TCP RST and nothing else (see the top of this file). False if the socket was not found.
bool reset_connection(connection_ports ports) {
  const auto descriptor = connection_socket(ports);
  if (!descriptor) return false;
  const linger abort_on_close{1, 0};
  setsockopt(*descriptor, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  const int blank = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (blank < 0) {
    shutdown(*descriptor, SHUT_RDWR);  // at least end the exchange
    return true;
  }
  dup2(blank, *descriptor);
  close(blank);
  return true;
}

/// True once the peer has closed or reset the connection.
bool peer_gone(int descriptor) {
  pollfd watch{descriptor, POLLRDHUP, 0};
  return poll(&watch, 1, 0) > 0 && (watch.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

// ---- answers ----------------------------------------------------------------

constexpr std::array<std::string_view, 16> summary_sentences{
    "Vital signs were stable throughout the encounter.",
    "No acute distress was noted on examination.",
    "The medication list was reviewed and reconciled.",
    "Laboratory results are within reference ranges.",
    "Follow-up in primary care is advised within two weeks.",
    "Warning signs that need urgent review were explained.",
    "Allergies were confirmed and documented.",
    "Symptoms improved after the initial treatment.",
    "Imaging showed no acute abnormality.",
    "Blood pressure remains above target; lifestyle advice was given.",
    "Renal function should be rechecked before the next dose change.",
    "Pain is controlled with the current regimen.",
    "The care plan was discussed and agreed.",
    "No new safety concerns were identified.",
    "A referral to the specialist clinic has been requested.",
    "Discharge criteria are met.",
};

/// The text of a message's content: a string, or the text parts of an array of parts.
std::string message_text(json const& message) {
  const auto content = message.find("content");
  if (content == message.end()) return {};
  if (content->is_string()) return content->get<std::string>();
  std::string text;
  if (content->is_array()) {
    for (auto const& part : *content) {
      const auto part_text = part.is_object() ? part.find("text") : part.end();
      if (part.is_object() && part_text != part.end() && part_text->is_string()) {
        if (!text.empty()) text += ' ';
        text += part_text->get<std::string>();
      }
    }
  }
  return text;
}

/// The first words of the last user message, quoted in the answer so a
/// gateway's pseudonyms visibly travel there and back.
std::string opening_words(json const& messages) {
  std::string last_user;
  for (auto const& message : messages) {
    const auto role = message.find("role");
    if (role != message.end() && role->is_string() && role->get<std::string>() == "user")
      last_user = message_text(message);
  }
  std::string quoted;
  std::size_t words = 0, i = 0;
  while (i < last_user.size()) {
    while (i < last_user.size() && std::isspace(static_cast<unsigned char>(last_user[i]))) ++i;
    const std::size_t start = i;
    while (i < last_user.size() && !std::isspace(static_cast<unsigned char>(last_user[i]))) ++i;
    if (start == i) break;
    if (words == 8) {
      quoted += "...";
      break;
    }
    if (words > 0) quoted += ' ';
    quoted.append(last_user, start, i - start);
    ++words;
  }
  return quoted;
}

/// Deterministic in the prompt: the digest of the messages seeds the choice of
/// two to four distinct sentences.
std::string answer_text(std::string_view provider, std::string_view model, json const& messages) {
  rng choose{seed{fnv1a64(messages.dump())}};
  std::array<std::size_t, summary_sentences.size()> order{};
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const std::size_t count = 2 + choose.below(3);
  for (std::size_t i = 0; i < count; ++i) std::swap(order[i], order[i + choose.below(order.size() - i)]);
  const std::string quote = opening_words(messages);
  std::string text = quote.empty() ? fmt::format("[{}/{}] Summary:", provider, model)
                                   : fmt::format("[{}/{}] Summary of \"{}\":", provider, model, quote);
  for (std::size_t i = 0; i < count; ++i) {
    text += ' ';
    text += summary_sentences[order[i]];
  }
  return text;
}

/// About four bytes per token, as OpenAI's rule of thumb for English; the
/// simulator does not tokenize.
std::int64_t approximate_tokens(std::string_view text) { return static_cast<std::int64_t>((text.size() + 3) / 4); }

json usage_json(json const& messages, std::string_view answer) {
  std::int64_t prompt = 3;  // OpenAI's per-reply priming, then a few tokens of framing per message
  for (auto const& message : messages) prompt += 3 + approximate_tokens(message_text(message));
  const std::int64_t completion = approximate_tokens(answer);
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

/// The answer split into pieces of about three words, as streaming deltas.
std::vector<std::string> delta_pieces(std::string_view text) {
  std::vector<std::string> pieces;
  std::size_t start = 0, words = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ' ' && ++words % 3 == 0) {
      pieces.emplace_back(text.substr(start, i + 1 - start));
      start = i + 1;
    }
  }
  if (start < text.size()) pieces.emplace_back(text.substr(start));
  return pieces;
}

std::string sse_event(json const& payload) { return "data: " + payload.dump() + "\n\n"; }

}  // namespace

// ---- one request's fate -------------------------------------------------------

request_plan plan_request(std::uint64_t request_seed, fault_profile const& faults) {
  rng draw{seed{request_seed}};
  const double fate = draw.uniform();
  const double spike = draw.uniform();
  const double normal_a = draw.uniform();
  const double normal_b = draw.uniform();
  request_plan plan;
  plan.completion_id = "chatcmpl-" + hex64(draw.next()).substr(0, 12) + hex64(draw.next()).substr(0, 12);
  plan.request_id = "req_" + hex64(draw.next()) + hex64(draw.next());
  plan.faults = faults;

  // The outcomes are consecutive slices of [0, 1); whatever is left answers normally.
  double edge = 0;
  auto lands_in = [&](double probability) {
    edge += probability;
    return fate < edge;
  };
  if (lands_in(faults.hang.probability))
    plan.kind = outcome::hang;
  else if (lands_in(faults.reset))
    plan.kind = outcome::reset;
  else if (lands_in(faults.malformed))
    plan.kind = outcome::malformed;
  else if (lands_in(faults.truncate))
    plan.kind = outcome::truncate;
  else if (lands_in(faults.reset_mid_body))
    plan.kind = outcome::reset_mid_body;
  else if (lands_in(faults.drip.probability))
    plan.kind = outcome::drip;
  else if (lands_in(faults.rate_limit.probability))
    plan.kind = outcome::rate_limited;
  else {
    for (auto const& [status, probability] : faults.errors) {
      if (lands_in(probability)) {
        plan.kind = outcome::error_status;
        plan.status = status;
        break;
      }
    }
  }

  auto const& latency = faults.latency;
  if (spike < latency.spike_probability) {
    plan.latency = latency.spike;
  } else if (latency.kind == latency_kind::lognormal) {
    // Box–Muller; 1 - u is in (0, 1], so the logarithm is finite.
    const double z = std::sqrt(-2.0 * std::log(1.0 - normal_a)) * std::cos(2.0 * std::numbers::pi * normal_b);
    const double us = static_cast<double>(latency.median.count()) * std::exp(latency.sigma * z);
    plan.latency =
        us < static_cast<double>(longest_delay.count()) ? duration{static_cast<duration::rep>(us)} : longest_delay;
  } else {
    plan.latency = latency.fixed;
  }
  return plan;
}

namespace {

struct stream_plan {
  std::vector<std::string> events;
  std::size_t next = 0;
  std::size_t cut_after = 0;  ///< events sent before the stream is cut; == events.size() when complete
  bool reset_at_cut = false;  ///< the cut is a TCP reset, not a close
  duration gap{0};
};

}  // namespace

// ---- fault_profile --------------------------------------------------------------

validation fault_profile::validate() const {
  double total = 0;
  for (auto const& [status, probability] : errors) {
    if (status < 400 || status > 599)
      return invalid(fmt::format("errors.{}", status), "must be an HTTP status from 400 to 599");
    if (auto bad = probability_in_range(fmt::format("errors.{}", status), probability)) return bad;
    total += probability;
  }
  if (auto bad = probability_in_range("rate_limit.probability", rate_limit.probability)) return bad;
  if (auto bad = delay_in_range("rate_limit.retry_after_ms", rate_limit.retry_after)) return bad;
  if (auto bad = delay_in_range("latency.ms", latency.fixed)) return bad;
  if (auto bad = delay_in_range("latency.median_ms", latency.median)) return bad;
  if (!(latency.sigma >= 0)) return invalid("latency.sigma", "must be >= 0, got {}", latency.sigma);
  if (latency.sigma > 10) return invalid("latency.sigma", "must be <= 10, got {}", latency.sigma);
  if (auto bad = probability_in_range("latency.spike_probability", latency.spike_probability)) return bad;
  if (auto bad = delay_in_range("latency.spike_ms", latency.spike)) return bad;
  if (auto bad = probability_in_range("hang.probability", hang.probability)) return bad;
  if (auto bad = delay_in_range("hang.ms", hang.hold)) return bad;
  if (auto bad = probability_in_range("reset", reset)) return bad;
  if (auto bad = probability_in_range("malformed", malformed)) return bad;
  if (auto bad = probability_in_range("truncate", truncate)) return bad;
  if (auto bad = probability_in_range("reset_mid_body", reset_mid_body)) return bad;
  if (auto bad = probability_in_range("drip.probability", drip.probability)) return bad;
  if (drip.bytes < 1 || drip.bytes > most_drip_bytes) return bad_drip_bytes(drip.bytes);
  if (auto bad = delay_in_range("drip.interval_ms", drip.interval)) return bad;
  total += rate_limit.probability + hang.probability + reset + malformed + truncate + reset_mid_body + drip.probability;
  if (total > 1 + 1e-9)
    return field_error{"", fmt::format("fault probabilities must add up to at most 1, got {:.6g}", total)};
  return std::nullopt;
}

std::optional<fault_profile> preset(std::string_view name) {
  using std::chrono::milliseconds;
  fault_profile p;
  if (name == "healthy") return p;
  if (name == "flaky") {
    p.errors[503] = 0.1;
  } else if (name == "rate_limited") {
    p.rate_limit.probability = 0.3;
  } else if (name == "slow") {
    p.latency.kind = latency_kind::lognormal;
    p.latency.median = milliseconds{2000};
    p.latency.sigma = 0.5;
  } else if (name == "spiky") {
    p.latency.kind = latency_kind::lognormal;
    p.latency.median = milliseconds{100};
    p.latency.sigma = 0.3;
    p.latency.spike_probability = 0.1;
    p.latency.spike = milliseconds{8000};
  } else if (name == "hanging") {
    p.hang.probability = 0.2;
  } else if (name == "resetting") {
    p.reset = 0.2;
  } else if (name == "malformed") {
    p.malformed = 0.2;
  } else if (name == "truncating") {
    p.truncate = 0.2;
  } else if (name == "down") {
    p.errors[503] = 1.0;
  } else if (name == "dripping") {
    p.drip.probability = 0.2;
  } else if (name == "breaking") {
    p.reset_mid_body = 0.2;
  } else {
    return std::nullopt;
  }
  return p;
}

std::vector<std::string_view> preset_names() { return {preset_order.begin(), preset_order.end()}; }

result<fault_profile> parse_fault_profile(std::string_view text) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    const auto word = trim(text);
    if (is_preset_word(word)) return named_preset(word);
    return error{
        "fault profile: not valid JSON; expected an object such as {\"errors\": {\"503\": 0.1}} or a preset name"};
  }
  if (doc.is_string()) return named_preset(doc.get<std::string>());
  if (!doc.is_object())
    return error{fmt::format("fault profile: must be a JSON object or a preset name, got {}", describe(doc))};

  fault_profile profile;
  if (const auto base = doc.find("preset"); base != doc.end()) {
    if (!base->is_string())
      return error{fmt::format("fault profile: preset must be a string, got {}", describe(*base))};
    auto named = named_preset(base->get<std::string>());
    if (!named) return named;
    profile = *named;
  }
  profile_reader reader{profile};
  if (auto bad = reader.read(doc)) return error{"fault profile: " + bad->to_string()};
  if (auto bad = profile.validate()) return error{"fault profile: " + bad->to_string()};
  return profile;
}

json to_json(fault_profile const& profile) {
  json errors = json::object();
  for (auto const& [status, probability] : profile.errors) errors[std::to_string(status)] = probability;
  auto const& limit = profile.rate_limit;
  auto const& latency = profile.latency;
  const char* form = limit.form == retry_after_form::seconds     ? "seconds"
                     : limit.form == retry_after_form::http_date ? "http_date"
                                                                 : "ms";
  return {
      {"errors", errors},
      {"rate_limit",
       {{"probability", limit.probability}, {"retry_after_ms", milliseconds_json(limit.retry_after)}, {"form", form}}},
      {"latency",
       {{"kind", latency.kind == latency_kind::fixed ? "fixed" : "lognormal"},
        {"ms", milliseconds_json(latency.fixed)},
        {"median_ms", milliseconds_json(latency.median)},
        {"sigma", latency.sigma},
        {"spike_probability", latency.spike_probability},
        {"spike_ms", milliseconds_json(latency.spike)}}},
      {"hang", {{"probability", profile.hang.probability}, {"ms", milliseconds_json(profile.hang.hold)}}},
      {"reset", profile.reset},
      {"reset_mid_body", profile.reset_mid_body},
      {"drip",
       {{"probability", profile.drip.probability},
        {"bytes", profile.drip.bytes},
        {"interval_ms", milliseconds_json(profile.drip.interval)}}},
      {"malformed", profile.malformed},
      {"truncate", profile.truncate},
  };
}

json to_json(simulator::stats const& counts) {
  return {{"requests", counts.requests},
          {"ok", counts.ok},
          {"errors", counts.errors},
          {"rate_limited", counts.rate_limited},
          {"hangs", counts.hangs},
          {"resets", counts.resets},
          {"malformed", counts.malformed},
          {"truncated", counts.truncated},
          {"mid_body_resets", counts.mid_body_resets},
          {"dripped", counts.dripped},
          {"rejected", counts.rejected}};
}

// ---- simulator_options --------------------------------------------------------

validation simulator_options::validate() const {
  if (host.empty()) return invalid("host", "must not be empty");
  if (port < 0 || port > 65535) return invalid("port", "must be from 0 to 65535, got {}", port);
  if (threads < 1 || threads > 4096) return invalid("threads", "must be from 1 to 4096, got {}", threads);
  if (providers.empty()) return invalid("providers", "must name at least one provider");
  for (std::size_t i = 0; i < providers.size(); ++i) {
    auto const& p = providers[i];
    const std::string path = fmt::format("providers[{}]", i);
    const bool name_ok = !p.name.empty() && std::all_of(p.name.begin(), p.name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
    if (!name_ok || p.name == "admin" || p.name == "." || p.name == "..")
      return invalid(path + ".name", "must be letters, digits, '-', '_' or '.' (and not \"admin\"), got \"{}\"",
                     p.name);
    for (std::size_t j = 0; j < i; ++j)
      if (providers[j].name == p.name) return invalid(path + ".name", "repeats provider \"{}\"", p.name);
    if (p.models.empty()) return invalid(path + ".models", "must name at least one model");
    for (auto const& model : p.models)
      if (model.empty()) return invalid(path + ".models", "must not contain an empty name");
    if (auto bad = p.faults.validate()) return bad->within(path + ".faults");
  }
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    auto const& m = mounts[i];
    const std::string path = fmt::format("mounts[{}]", i);
    if (m.prefix.empty() || m.prefix.front() != '/' || m.prefix.back() != '/' ||
        m.prefix.find("/../") != std::string::npos)
      return invalid(path + ".prefix", "must start and end with '/' and have no \"..\" segment, got \"{}\"", m.prefix);
    const auto first = std::string_view{m.prefix}.substr(1, m.prefix.find('/', 1) - 1);
    const bool reserved =
        first == "admin" || first == "healthz" ||
        std::any_of(providers.begin(), providers.end(), [&](auto const& p) { return p.name == first; });
    if (reserved)
      return invalid(path + ".prefix", "would hide the simulator's /{}/ routes, got \"{}\"", first, m.prefix);
    if (m.directory.empty()) return invalid(path + ".directory", "must name a folder");
  }
  return std::nullopt;
}

// ---- the server ---------------------------------------------------------------

namespace {

constexpr std::size_t remembered_requests = 64;

struct provider_state {
  std::string name;
  std::vector<std::string> models;
  mutable std::mutex mutex;  // guards everything below
  fault_profile faults;
  rng generator;
  rng probe_generator;  // draws the fate of model listings (health probes) without moving `generator`
  simulator::stats counts;
  std::deque<json> received;
  /// By the request's Idempotency-Key header: what the provider did with it.
  struct key_record {
    std::uint64_t requests = 0;  ///< chat requests that carried the key
    std::uint64_t answered = 0;  ///< answers generated for it (a replay is not one)
    std::uint64_t replayed = 0;  ///< answered from the stored answer instead
    std::string answer;          ///< the stored answer (non-streamed), replayed to a repeat
  };
  std::map<std::string, key_record, std::less<>> keys;
  std::map<std::int64_t, std::uint64_t> requests_by_second;  ///< chat requests by arrival (Unix seconds)

  provider_state(provider_spec const& spec, std::uint64_t simulator_seed)
      : name{spec.name},
        models{spec.models},
        faults{spec.faults},
        // Forked by the name's digest: adding a provider does not change another's sequence.
        generator{rng{seed{simulator_seed}}.fork(fnv1a64(spec.name))},
        probe_generator{rng{seed{simulator_seed}}.fork(fnv1a64("models " + spec.name))} {}

  [[nodiscard]] bool serves(std::string_view model) const {
    return std::find(models.begin(), models.end(), model) != models.end();
  }
};

}  // namespace

struct simulator::impl {
  explicit impl(simulator_options o) : options{std::move(o)} {
    for (auto const& spec : options.providers)
      providers.push_back(std::make_unique<provider_state>(spec, options.seed));
  }

  simulator_options options;
  std::vector<std::unique_ptr<provider_state>> providers;
  httplib::Server server;
  std::thread listener;
  std::future<void> listener_done;
  std::atomic<int> bound_port{0};

  std::mutex lifecycle;  // start() and stop()
  bool started = false;
  bool stopped = false;

  std::mutex stop_mutex;
  std::condition_variable stop_signal;
  bool stopping = false;  // guarded by stop_mutex

  struct document {
    std::string content_type;
    std::string body;
  };
  mutable std::mutex documents_mutex;
  std::map<std::string, document, std::less<>> documents;  // guarded by documents_mutex

  /// A path the simulator's own routes answer: /healthz, /admin/..., /<provider>/...
  [[nodiscard]] bool is_route_path(std::string_view path) const {
    if (!path.starts_with('/')) return false;
    const auto first =
        path.substr(1, path.find('/', 1) == std::string_view::npos ? std::string_view::npos : path.find('/', 1) - 1);
    return first == "admin" || first == "healthz" || find(first) != nullptr;
  }

  /// Before routing (and before httplib's mounted files): preflights, published documents, and files that
  /// would take a route's place.
  httplib::Server::HandlerResponse before_routing(httplib::Request const& req, httplib::Response& res) {
    using handled = httplib::Server::HandlerResponse;
    if (req.method == "OPTIONS") {
      cli::answer_preflight(req, res);
      return handled::Handled;
    }
    if (req.method != "GET" && req.method != "HEAD") return handled::Unhandled;
    {
      std::lock_guard lock{documents_mutex};
      if (auto const it = documents.find(req.path); it != documents.end()) {
        res.status = 200;
        res.set_header("Cache-Control", "no-cache");
        res.set_content(it->second.body, it->second.content_type.c_str());
        return handled::Handled;
      }
    }
    if (!options.mounts.empty() && !is_route_path(req.path) && !cli::servable(req.path) &&
        cli::mounted_file(options.mounts, req.path)) {
      send_json(res, 404,
                openai_error(fmt::format("Unknown request URL: {} {}", req.method, req.path), "invalid_request_error",
                             nullptr, "unknown_url"));
      return handled::Handled;
    }
    if (!options.mounts.empty() && is_route_path(req.path)) {
      if (auto const file = cli::mounted_file(options.mounts, req.path)) {
        send_json(res, 500,
                  openai_error(fmt::format("The file {} in a served folder hides the simulator's route {} {}; "
                                           "remove or rename it.",
                                           *file, req.method, req.path),
                               "server_error", nullptr, "route_hidden_by_file"));
        return handled::Handled;
      }
    }
    return handled::Unhandled;
  }

  [[nodiscard]] provider_state* find(std::string_view name) const {
    for (auto const& p : providers)
      if (p->name == name) return p.get();
    return nullptr;
  }

  [[nodiscard]] std::string url_host() const {
    if (options.host == "0.0.0.0") return "127.0.0.1";
    if (options.host == "::") return "[::1]";
    if (options.host.find(':') != std::string::npos) return "[" + options.host + "]";
    return options.host;
  }

  // -- waiting -------------------------------------------------------------------

  enum class wait_end : std::uint8_t { elapsed, stopping, client_gone };

  /// Waits `d`, or less if the simulator stops or the client goes away. Long
  /// waits watch the connection so a client's timeout frees the thread.
  wait_end hold(httplib::Request const* req, duration d) {
    const auto until = std::chrono::steady_clock::now() + d;
    const std::optional<int> descriptor =
        req != nullptr && d >= std::chrono::milliseconds{50} ? connection_socket(connection_ports{*req}) : std::nullopt;
    std::unique_lock lock{stop_mutex};
    for (;;) {
      if (stopping) return wait_end::stopping;
      const auto now = std::chrono::steady_clock::now();
      if (now >= until) return wait_end::elapsed;
      if (descriptor && peer_gone(*descriptor)) return wait_end::client_gone;
      const auto slice = descriptor
                             ? std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds{20})
                             : until - now;
      stop_signal.wait_for(lock, slice);
    }
  }

  // -- routes ----------------------------------------------------------------------

  void install_routes() {
    server.new_task_queue = [threads = options.threads] { return new httplib::ThreadPool(threads); };
    server.set_payload_max_length(std::size_t{16} << 20);
    server.set_tcp_nodelay(true);           // headers and body go out as separate writes: no Nagle/delayed-ACK stall
    server.set_keep_alive_max_count(1000);  // clients reuse connections as they would with a real provider
    // httplib's default sets SO_REUSEPORT, which lets a second server bind the
    // same port and silently take half the traffic; a busy port must fail start().
    server.set_socket_options([](int sock) {
      const int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });

    server.set_pre_routing_handler(httplib::Server::HandlerWithResponse{
        [this](httplib::Request const& req, httplib::Response& res) { return before_routing(req, res); }});
    server.set_post_routing_handler([](httplib::Request const&, httplib::Response& res) {
      if (!res.has_header("Date")) res.set_header("Date", http_date(std::time(nullptr)));
      cli::add_cors_headers(res);
    });
    // httplib's own errors (no route, bad request line, body too large) get
    // OpenAI's error shape too; bodies the handlers wrote are left alone.
    server.set_error_handler(
        httplib::Server::HandlerWithResponse{[](httplib::Request const& req, httplib::Response& res) {
          if (!res.body.empty() || res.content_provider_) return httplib::Server::HandlerResponse::Unhandled;
          const bool no_route = res.status == 404;
          send_json(res, res.status,
                    openai_error(no_route ? fmt::format("Unknown request URL: {} {}", req.method, req.path)
                                          : fmt::format("The request could not be handled (HTTP {})", res.status),
                                 "invalid_request_error", nullptr, no_route ? json("unknown_url") : json(nullptr)));
          return httplib::Server::HandlerResponse::Handled;
        }});
    server.set_exception_handler([](httplib::Request const&, httplib::Response& res, std::exception_ptr) {
      send_json(res, 500, openai_error("The simulator failed while handling the request.", "server_error"));
    });

    server.Get("/healthz", [](httplib::Request const&, httplib::Response& res) {
      send_json(res, 200, {{"status", "ok"}});
    });
    server.Get("/admin/providers", [this](httplib::Request const&, httplib::Response& res) {
      json list = json::array();
      for (auto const& p : providers) list.push_back(describe_provider(*p));
      send_json(res, 200, {{"providers", list}, {"seed", options.seed}});
    });
    server.Get(R"(/admin/providers/([^/]+))", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) { send_json(res, 200, describe_provider(p)); });
    });
    server.Get(R"(/admin/providers/([^/]+)/faults)", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) {
        std::lock_guard lock{p.mutex};
        send_json(res, 200, to_json(p.faults));
      });
    });
    server.Put(R"(/admin/providers/([^/]+)/faults)", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) {
        auto parsed = parse_fault_profile(req.body);
        if (!parsed) {
          send_json(res, 400,
                    openai_error(parsed.error_message(), "invalid_request_error", nullptr, "invalid_fault_profile"));
          return;
        }
        {
          std::lock_guard lock{p.mutex};
          p.faults = *parsed;
        }
        send_json(res, 200, {{"name", p.name}, {"faults", to_json(*parsed)}});
      });
    });
    server.Get(R"(/admin/providers/([^/]+)/stats)", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) {
        std::lock_guard lock{p.mutex};
        send_json(res, 200, to_json(p.counts));
      });
    });
    server.Get(R"(/admin/providers/([^/]+)/requests)", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) {
        std::lock_guard lock{p.mutex};
        json list = json::array();
        for (auto const& body : p.received) list.push_back(body);
        send_json(res, 200, {{"requests", list}});
      });
    });
    server.Get(R"(/admin/providers/([^/]+)/idempotency)", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) { send_json(res, 200, idempotency_json(p)); });
    });
    server.Post("/admin/reset-stats", [this](httplib::Request const&, httplib::Response& res) {
      reset_stats();
      send_json(res, 200, {{"reset", true}});
    });

    server.Get(R"(/([^/]+)/v1/models)", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) {
        // A provider that is down is down for its model list too, so health
        // probes see the same faults (status errors, 429s, resets, hangs, latency).
        request_plan plan;
        {
          std::lock_guard lock{p.mutex};
          plan = plan_request(p.probe_generator.next(), p.faults);
        }
        if (plan.kind == outcome::hang) return hang(req, res, plan.faults.hang.hold);
        if (hold(&req, plan.latency) != wait_end::elapsed) return abandon(req, res);
        const std::time_t now = std::time(nullptr);
        if (answer_fault(req, res, plan, now, "Rate limit reached on requests per min (RPM)")) return;
        json data = json::array();
        for (auto const& m : p.models) data.push_back(model_json(p, m));
        send_json(res, 200, {{"object", "list"}, {"data", data}});
      });
    });
    server.Get(R"(/([^/]+)/v1/models/([^/]+))", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) {
        const std::string model = req.matches[2];
        if (p.serves(model))
          send_json(res, 200, model_json(p, model));
        else
          send_json(res, 404, model_not_found(model));
      });
    });
    server.Post(R"(/([^/]+)/v1/chat/completions)", [this](httplib::Request const& req, httplib::Response& res) {
      with_provider(req, res, [&](provider_state& p) { chat(p, req, res); });
    });
  }

  template <class Handle>
  void with_provider(httplib::Request const& req, httplib::Response& res, Handle handle) {
    const std::string name = req.matches[1];
    if (provider_state* p = find(name)) return handle(*p);
    std::string known;
    for (auto const& q : providers) known += (known.empty() ? "" : ", ") + q->name;
    send_json(res, 404,
              openai_error(fmt::format("Unknown provider \"{}\" (known: {})", name, known), "invalid_request_error",
                           nullptr, "unknown_provider"));
  }

  [[nodiscard]] json describe_provider(provider_state const& p) const {
    std::lock_guard lock{p.mutex};
    return {{"name", p.name},
            {"base_url", fmt::format("http://{}:{}/{}/v1", url_host(), bound_port.load(), p.name)},
            {"models", p.models},
            {"faults", to_json(p.faults)},
            {"stats", to_json(p.counts)}};
  }

  /// What happened per Idempotency-Key, and the chat requests of each second: what a test needs to show that
  /// no item was answered twice and that no window of time saw more requests than a client's limit allows.
  static json idempotency_json(provider_state const& p) {
    std::lock_guard lock{p.mutex};
    std::uint64_t answered = 0;
    std::uint64_t replayed = 0;
    std::uint64_t answered_twice = 0;
    std::uint64_t most_answers = 0;
    for (auto const& [key, record] : p.keys) {
      answered += record.answered;
      replayed += record.replayed;
      if (record.answered > 1) ++answered_twice;
      most_answers = std::max(most_answers, record.answered);
    }
    json seconds = json::array();
    for (auto const& [second, count] : p.requests_by_second) seconds.push_back({second, count});
    return {{"keys", p.keys.size()},
            {"answered", answered},
            {"replayed", replayed},
            {"answered_twice", answered_twice},
            {"most_answers_per_key", most_answers},
            {"requests_by_second", seconds}};
  }

  static json model_json(provider_state const& p, std::string_view model) {
    return {{"id", model}, {"object", "model"}, {"created", 1700000000}, {"owned_by", p.name}};
  }

  static json model_not_found(std::string_view model) {
    return openai_error(fmt::format("The model `{}` does not exist or you do not have access to it.", model),
                        "invalid_request_error", nullptr, "model_not_found");
  }

  // -- chat completions -----------------------------------------------------------

  /// Light validation, as a provider would answer it; nullopt when the request is acceptable.
  static std::optional<std::pair<int, json>> check_request(json const& body, provider_state const& p) {
    auto bad = [](std::string message, json param, json code = nullptr) {
      return std::make_pair(400, openai_error(message, "invalid_request_error", std::move(param), std::move(code)));
    };
    if (body.is_discarded())
      return bad(
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
          "HTTP library correctly.)",
          nullptr);
    if (!body.is_object()) return bad("The request body must be a JSON object.", nullptr);
    const auto model = body.find("model");
    if (model == body.end()) return bad("you must provide a model parameter", nullptr);
    if (!model->is_string()) return bad("Invalid type for 'model': expected a string.", "model", "invalid_type");
    const auto messages = body.find("messages");
    if (messages == body.end())
      return bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
    if (!messages->is_array() || messages->empty())
      return bad("Invalid 'messages': expected a non-empty array of messages.", "messages", "invalid_type");
    for (std::size_t i = 0; i < messages->size(); ++i) {
      json const& message = (*messages)[i];
      const auto role = message.is_object() ? message.find("role") : message.end();
      if (!message.is_object() || role == message.end() || !role->is_string())
        return bad(fmt::format("Missing required parameter: 'messages[{}].role'.", i),
                   fmt::format("messages.[{}].role", i), "missing_required_parameter");
    }
    if (const auto stream = body.find("stream"); stream != body.end() && !stream->is_boolean() && !stream->is_null())
      return bad("Invalid type for 'stream': expected a boolean.", "stream", "invalid_type");
    if (!p.serves(model->get<std::string>())) return std::make_pair(404, model_not_found(model->get<std::string>()));
    return std::nullopt;
  }

  /// The counter an outcome adds to.
  static std::uint64_t simulator::stats::*counter(outcome kind) {
    switch (kind) {
      case outcome::answer:
        return &simulator::stats::ok;
      case outcome::error_status:
        return &simulator::stats::errors;
      case outcome::rate_limited:
        return &simulator::stats::rate_limited;
      case outcome::hang:
        return &simulator::stats::hangs;
      case outcome::reset:
        return &simulator::stats::resets;
      case outcome::malformed:
        return &simulator::stats::malformed;
      case outcome::truncate:
        return &simulator::stats::truncated;
      case outcome::reset_mid_body:
        return &simulator::stats::mid_body_resets;
      case outcome::drip:
        return &simulator::stats::dripped;
    }
    return &simulator::stats::ok;
  }

  void chat(provider_state& p, httplib::Request const& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, false);
    const auto rejection = check_request(body, p);

    request_plan plan;
    const std::string key = req.get_header_value("Idempotency-Key");
    std::string replay;
    {
      std::lock_guard lock{p.mutex};
      ++p.counts.requests;
      ++p.requests_by_second[static_cast<std::int64_t>(std::time(nullptr))];
      const std::uint64_t request_seed = p.generator.next();  // one draw per request, valid or not
      if (!key.empty()) {
        auto& record = p.keys[key];
        ++record.requests;
        if (!record.answer.empty() && !rejection) {
          ++record.replayed;
          replay = record.answer;
        }
      }
      if (body.is_object()) {
        p.received.push_back(body);
        if (p.received.size() > remembered_requests) p.received.pop_front();
      }
      if (rejection) {
        ++p.counts.rejected;
      } else if (replay.empty()) {
        plan = plan_request(request_seed, p.faults);
        if (plan.kind == outcome::malformed) plan.variant = p.counts.malformed;
        ++(p.counts.*counter(plan.kind));
      }
    }
    if (rejection) return send_json(res, rejection->first, rejection->second);
    if (!replay.empty()) {
      // As providers that honour Idempotency-Key do: the first answer again, no new work and no fault.
      res.set_header("Idempotent-Replayed", "true");
      res.status = 200;
      res.set_content(replay, "application/json");
      return;
    }

    if (plan.kind == outcome::hang) return hang(req, res, plan.faults.hang.hold);
    if (hold(&req, plan.latency) != wait_end::elapsed) return abandon(req, res);
    // Date, `created` and an HTTP-date Retry-After all come from this one reading, taken after the delay.
    const std::time_t now = std::time(nullptr);
    res.set_header("Date", http_date(now));
    res.set_header("x-request-id", plan.request_id);
    res.set_header("openai-processing-ms", std::to_string(plan.latency.count() / 1000));
    res.set_header("x-ratelimit-limit-requests", "10000");
    res.set_header("x-ratelimit-remaining-requests", plan.kind == outcome::rate_limited ? "0" : "9999");

    const std::string model = body.find("model")->get<std::string>();
    if (answer_fault(req, res, plan, now,
                     fmt::format("Rate limit reached for {} on requests per min (RPM): Limit 10000. Please try again "
                                 "later.",
                                 model)))
      return;

    const json& messages = *body.find("messages");
    const std::string text = answer_text(p.name, model, messages);
    const auto stream = body.find("stream");
    if (stream != body.end() && stream->is_boolean() && stream->get<bool>())
      return send_stream(req, res, plan, model, messages, text, body, now);

    const json answer = {
        {"id", plan.completion_id},
        {"object", "chat.completion"},
        {"created", now},
        {"model", model},
        {"choices", json::array({{{"index", 0},
                                  {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
                                  {"logprobs", nullptr},
                                  {"finish_reason", "stop"}}})},
        {"usage", usage_json(messages, text)},
        {"system_fingerprint", "fp_medgate_sim"},
    };
    if (plan.kind == outcome::malformed) {
      res.status = 200;
      if (plan.variant % 2 == 0)  // an upstream proxy's error page, labelled as JSON
        res.set_content("<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>",
                        "application/json");
      else  // valid JSON, but no `choices`
        res.set_content(
            json{{"id", plan.completion_id}, {"object", "chat.completion"}, {"model", model}, {"result", text}}.dump(),
            "application/json");
      return;
    }
    if (plan.kind == outcome::truncate) {
      // Content-Length promises the whole body; half of it is sent and the connection closes.
      auto whole = std::make_shared<std::string>(answer.dump());
      res.status = 200;
      res.set_content_provider(whole->size(), "application/json",
                               [whole](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                 if (offset > 0) return false;
                                 return sink.write(whole->data(), whole->size() / 2);
                               });
      return;
    }
    // From here the provider has done the work, whether or not the answer arrives whole.
    auto whole = std::make_shared<std::string>(answer.dump());
    if (!key.empty()) {
      std::lock_guard lock{p.mutex};
      auto& record = p.keys[key];
      ++record.answered;
      record.answer = *whole;
    }
    res.status = 200;
    if (plan.kind == outcome::reset_mid_body) {
      // Content-Length promises the whole body; half of it is sent, then a TCP reset.
      res.set_content_provider(
          whole->size(), "application/json",
          [whole, ports = connection_ports{req}](std::size_t offset, std::size_t, httplib::DataSink& sink) {
            if (offset == 0 && sink.write(whole->data(), whole->size() / 2)) return true;
            reset_connection(ports);
            return false;
          });
      return;
    }
    if (plan.kind == outcome::drip) {
      res.set_content_provider(whole->size(), "application/json", dripping(whole, plan.faults.drip));
      return;
    }
    res.set_content(*whole, "application/json");
  }

  /// A content provider that writes `text` `drip.bytes` at a time, `drip.interval` apart (a slow loris).
  httplib::ContentProvider dripping(std::shared_ptr<std::string> text, drip_profile const& drip) {
    return [this, text = std::move(text), drip](std::size_t offset, std::size_t, httplib::DataSink& sink) {
      if (offset > 0 && hold(nullptr, drip.interval) != wait_end::elapsed) return false;
      const std::size_t n = std::min(drip.bytes, text->size() - offset);
      return sink.write(text->data() + offset, n);
    };
  }

  /// Answers a reset, a 429 (with `rate_limit_message`) or an injected error
  /// status as `plan` says; false when the plan is none of those.
  bool answer_fault(httplib::Request const& req, httplib::Response& res, request_plan const& plan, std::time_t now,
                    std::string const& rate_limit_message) {
    switch (plan.kind) {
      case outcome::reset:
        abandon(req, res);
        return true;
      case outcome::rate_limited:
        add_retry_after(res, plan.faults.rate_limit, now);
        send_json(res, 429, openai_error(rate_limit_message, "requests", "requests", "rate_limit_exceeded"));
        return true;
      case outcome::error_status:
        send_injected_error(res, plan, now);
        return true;
      default:
        return false;
    }
  }

  static void add_retry_after(httplib::Response& res, rate_limit_profile const& limit, std::time_t now) {
    const auto us = limit.retry_after.count();
    const auto seconds = (us + 999'999) / 1'000'000;  // rounded up: never invite a retry too early
    switch (limit.form) {
      case retry_after_form::seconds:
        res.set_header("Retry-After", std::to_string(seconds));
        break;
      case retry_after_form::http_date:
        res.set_header("Retry-After", http_date(now + static_cast<std::time_t>(seconds)));
        break;
      case retry_after_form::milliseconds:
        res.set_header("retry-after-ms", fmt::format("{}", as_milliseconds(limit.retry_after)));
        break;
    }
  }

  static void send_injected_error(httplib::Response& res, request_plan const& plan, std::time_t now) {
    const int status = plan.status;
    if (status == 503 || status == 429) add_retry_after(res, plan.faults.rate_limit, now);
    std::string_view message = "The server had an error while processing your request. Sorry about that!";
    std::string_view type = "server_error";
    if (status == 503) message = "The engine is currently overloaded, please try again later.";
    if (status == 502) message = "Bad gateway.";
    if (status == 504) message = "Gateway timeout.";
    if (status < 500) {
      type = "invalid_request_error";
      message = "The simulator injected this client error.";
      if (status == 401) message = "Incorrect API key provided.";
      if (status == 429) message = "Rate limit reached. Please try again later.";
    }
    send_json(res, status, openai_error(message, type, nullptr, nullptr));
  }

  void send_stream(httplib::Request const& req, httplib::Response& res, request_plan const& plan,
                   std::string_view model, json const& messages, std::string const& text, json const& body,
                   std::time_t now) {
    bool include_usage = false;
    if (const auto requested = body.find("stream_options"); requested != body.end() && requested->is_object()) {
      const auto flag = requested->find("include_usage");
      include_usage = flag != requested->end() && flag->is_boolean() && flag->get<bool>();
    }
    auto chunk = [&](json choices) {
      json event = {
          {"id", plan.completion_id}, {"object", "chat.completion.chunk"},      {"created", now},
          {"model", model},           {"system_fingerprint", "fp_medgate_sim"}, {"choices", std::move(choices)}};
      if (include_usage) event["usage"] = nullptr;
      return event;
    };
    auto delta = [&](json d, json finish = nullptr) {
      return chunk(json::array(
          {{{"index", 0}, {"delta", std::move(d)}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}}}));
    };

    auto stream = std::make_shared<stream_plan>();
    stream->events.push_back(sse_event(delta({{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}})));
    for (auto const& piece : delta_pieces(text)) stream->events.push_back(sse_event(delta({{"content", piece}})));
    stream->events.push_back(sse_event(delta(json::object(), "stop")));
    if (include_usage) {
      json last = chunk(json::array());
      last["usage"] = usage_json(messages, text);
      stream->events.push_back(sse_event(last));
    }
    stream->events.push_back("data: [DONE]\n\n");
    stream->cut_after = stream->events.size();

    if (plan.kind == outcome::truncate || plan.kind == outcome::reset_mid_body) {
      stream->cut_after = std::min<std::size_t>(3, stream->events.size() - 1);  // the role and two deltas
      stream->reset_at_cut = plan.kind == outcome::reset_mid_body;
    } else if (plan.kind == outcome::malformed) {
      // Replaces the first content delta: cut-off JSON, or JSON of the wrong shape.
      std::string bad =
          plan.variant % 2 == 0
              ? fmt::format(
                    "data: "
                    "{{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"delta\":{{\"content\":"
                    "\"Summ\n\n",
                    plan.completion_id)
              : sse_event({{"id", plan.completion_id}, {"object", "chat.completion.chunk"}, {"choices", "not a list"}});
      stream->events[1] = std::move(bad);
    }
    // A small pause between events makes the stream visibly live; it follows the latency profile.
    stream->gap = std::min<duration>(plan.latency / 10, std::chrono::milliseconds{100});
    if (plan.kind == outcome::drip) {
      // The same bytes, `drip.bytes` at a time and `drip.interval` apart, events split wherever a piece ends.
      std::string all;
      for (auto const& event : stream->events) all += event;
      stream->events.clear();
      for (std::size_t at = 0; at < all.size(); at += plan.faults.drip.bytes)
        stream->events.push_back(all.substr(at, plan.faults.drip.bytes));
      stream->cut_after = stream->events.size();
      stream->gap = plan.faults.drip.interval;
    }

    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, stream, ports = connection_ports{req}](std::size_t, httplib::DataSink& sink) {
          if (stream->next > 0 && hold(nullptr, stream->gap) != wait_end::elapsed) return false;
          if (stream->next >= stream->cut_after) {  // cut: no terminating chunk; the connection closes or is reset
            if (stream->reset_at_cut) reset_connection(ports);
            return false;
          }
          auto const& event = stream->events[stream->next++];
          if (!sink.write(event.data(), event.size())) return false;
          if (stream->next == stream->events.size()) sink.done();
          return true;
        });
  }

  /// Accepts the request and never answers: the connection is held until the
  /// hold time passes, the client leaves, or the simulator stops, then reset.
  void hang(httplib::Request const& req, httplib::Response& res, duration hold_for) {
    hold(&req, hold_for);
    abandon(req, res);
  }

  /// Ends the exchange without a response: a TCP reset.
  void abandon(httplib::Request const& req, httplib::Response& res) {
    if (reset_connection(connection_ports{req})) {
      res.status = 500;  // httplib's write of this fails: the descriptor no longer carries the connection
      res.set_content("reset", "text/plain");
      return;
    }
    // Not expected: the socket was not found. A response cut before its first
    // body byte is the closest cpp-httplib can do.
    res.status = 200;
    res.set_content_provider(1, "application/json", [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
  }

  void reset_stats() {
    for (auto const& p : providers) {
      std::lock_guard lock{p->mutex};
      p->counts = {};
      p->keys.clear();
      p->requests_by_second.clear();
    }
  }

  /// Shuts down every accepted connection of this server that is still open.
  void close_open_connections() const {
    const int port = bound_port.load();
    for_each_socket([port](int descriptor, socket_ends ends) {
      if (ends.local_port == port && ends.peer_port >= 0) shutdown(descriptor, SHUT_RDWR);
      return true;
    });
  }
};

// ---- simulator ------------------------------------------------------------------

simulator::simulator(simulator_options options) : impl_{std::make_unique<impl>(std::move(options))} {}

simulator::~simulator() { stop(); }

result<int> simulator::start() {
  impl& s = *impl_;
  std::lock_guard lock{s.lifecycle};
  if (s.started) return error{"simulator: already started (a simulator starts once)"};
  if (auto bad = s.options.validate()) return error{"simulator: " + bad->to_string()};
  s.install_routes();
  if (auto bad = cli::mount_static(s.server, s.options.mounts)) return error{"simulator: " + bad->message};
  int port = s.options.port;
  if (port == 0) {
    port = s.server.bind_to_any_port(s.options.host);
  } else if (!s.server.bind_to_port(s.options.host, port)) {
    port = -1;
  }
  if (port <= 0)
    return error{fmt::format("simulator: cannot listen on {}:{} (is the address valid and the port free?)",
                             s.options.host, s.options.port)};
  s.bound_port = port;
  s.started = true;
  std::packaged_task<void()> serve{[&server = s.server] { server.listen_after_bind(); }};
  s.listener_done = serve.get_future();
  s.listener = std::thread{std::move(serve)};
  // httplib's stop() does nothing until the server runs: wait for that, so a stop() right after start() works.
  while (!s.server.is_running() &&
         s.listener_done.wait_for(std::chrono::milliseconds{1}) == std::future_status::timeout) {
  }
  return port;
}

void simulator::stop() {
  if (!impl_) return;
  impl& s = *impl_;
  std::lock_guard lock{s.lifecycle};
  if (!s.started || s.stopped) return;
  s.stopped = true;
  {
    std::lock_guard stop_lock{s.stop_mutex};
    s.stopping = true;
  }
  s.stop_signal.notify_all();
  s.server.stop();
  // httplib joins its threads before listen returns; keep closing connections
  // that are still open (an idle keep-alive one would otherwise wait out its timeout).
  do s.close_open_connections();
  while (s.listener_done.wait_for(std::chrono::milliseconds{20}) == std::future_status::timeout);
  s.listener.join();
}

int simulator::port() const { return impl_->bound_port.load(); }

std::string simulator::base_url(std::string_view provider) const {
  return fmt::format("http://{}:{}/{}/v1", impl_->url_host(), impl_->bound_port.load(), provider);
}

std::string simulator::root_url() const {
  return fmt::format("http://{}:{}", impl_->url_host(), impl_->bound_port.load());
}

bool simulator::serve_document(std::string path, std::string content_type, std::string body) {
  if (!path.starts_with('/') || impl_->is_route_path(path)) return false;
  std::lock_guard lock{impl_->documents_mutex};
  impl_->documents.insert_or_assign(std::move(path), impl::document{std::move(content_type), std::move(body)});
  return true;
}

bool simulator::set_faults(std::string_view provider, fault_profile faults) {
  provider_state* p = impl_->find(provider);
  if (p == nullptr || faults.validate()) return false;
  std::lock_guard lock{p->mutex};
  p->faults = std::move(faults);
  return true;
}

std::optional<fault_profile> simulator::faults(std::string_view provider) const {
  provider_state const* p = impl_->find(provider);
  if (p == nullptr) return std::nullopt;
  std::lock_guard lock{p->mutex};
  return p->faults;
}

simulator::stats simulator::provider_stats(std::string_view provider) const {
  provider_state const* p = impl_->find(provider);
  if (p == nullptr) return {};
  std::lock_guard lock{p->mutex};
  return p->counts;
}

void simulator::reset_stats() { impl_->reset_stats(); }

std::vector<json> simulator::received(std::string_view provider) const {
  provider_state const* p = impl_->find(provider);
  if (p == nullptr) return {};
  std::lock_guard lock{p->mutex};
  return {p->received.begin(), p->received.end()};
}

}  // namespace medgate::sim
