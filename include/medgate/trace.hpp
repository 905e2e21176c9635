// trace.hpp — golden traces: timestamped input events in, the engine's effect log out.
//
// A trace is a Markdown file a reviewer can read (the llhttp habit): a title,
// the engine's JSON config, the inputs (submissions and what the transport
// reported, each at an instant), and the expected effect log. The replayer
// runs the engine on a fake clock that jumps from one input or wake-up to the
// next, and renders every effect as one line. Because the engine is sans-I/O
// and seeded, the native build and the WebAssembly build must print the very
// same log; both compare it with the file.
//
//   # Primary fails twice, the fallback answers
//   ## config
//   ```json
//   { "providers": [...], "routes": {...} }
//   ```
//   ## input
//   ```
//   0ms    submit model=clinical-summary timeout=5000ms "Summarize the discharge note"
//   12ms   response attempt=1 status=503 retry-after=1
//   1012ms failure attempt=2 kind=timeout
//   ```
//   ## expect
//   ```
//   0ms send call=1 attempt=1 n=1 primary/gpt-4o-mini timeout=5000ms connect=2000ms
//   ...
//   ```
//
// Inputs: `submit [model=M] [timeout=Nms] [stream] [patient=P] [study=S]
// [priority=urgent|normal|batch] [tenant=T] [idempotency=K] [max_tokens=N] "user message"`;
// `response attempt=N status=S [retry-after=V] [retry-after-ms=V]
// [date="HTTP-date"] [body=ok|sse|sse-truncated|garbage|empty|json:{...}]`
// (body defaults to `ok` for 2xx, an OpenAI error object otherwise);
// `failure attempt=N kind=timeout|connection_refused|connection_reset|tls|cancelled|other`;
// `cancel call=N`; `probe id=N ok|fail`;
// `review call=N approve|edit|reject reviewer=R ["replacement text"]`;
// `seed N` (before the first submit).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config.hpp"
#include "engine.hpp"
#include "http.hpp"
#include "result.hpp"
#include "time.hpp"

namespace medgate {

// ---- one line per effect ---------------------------------------------------

namespace detail {
inline std::string quoted(std::string_view s) { return nlohmann::json(std::string{s}).dump(); }
}  // namespace detail

/// One human-readable line for an effect. Times are absolute (the host's
/// epoch). No request or response content ever appears: these lines go to logs.
/// An audit line shows the tokens used and, when the record has it, the cost.
inline std::string describe(effect const& e) {
  struct visitor {
    std::string operator()(send const& s) const {
      return fmt::format("send call={} attempt={} n={} {}/{} timeout={} connect={}{}{}{}", s.call, s.attempt, s.number,
                         s.provider, s.model, to_string(s.timeout), to_string(s.connect_timeout),
                         s.stream ? " stream" : "", s.relay ? " relay" : "", s.hedge ? " hedge" : "");
    }
    std::string operator()(probe const& p) const {
      return fmt::format("probe id={} {} timeout={}", p.id, p.provider, to_string(p.timeout));
    }
    std::string operator()(canary_changed const& c) const {
      return fmt::format("canary {} {} bp: {}", c.route, c.basis_points, c.what);
    }
    std::string operator()(reviewed const& r) const {
      return fmt::format("reviewed call={} {} by={}", r.call, to_string(r.state), r.reviewer);
    }
    std::string operator()(cancel const& c) const {
      return fmt::format("cancel call={} attempt={}", c.call, c.attempt);
    }
    std::string operator()(wake_at const& w) const {
      return fmt::format("wake_at {}", to_string(w.at.time_since_epoch()));
    }
    std::string operator()(decision const& d) const { return fmt::format("decision call={} {}", d.call, d.text); }
    std::string operator()(breaker_changed const& b) const {
      return fmt::format("breaker {} {} -> {} ({})", b.provider, to_string(b.from), to_string(b.to), b.reason);
    }
    std::string operator()(audit const& a) const {
      auto const& r = a.record;
      std::string out = fmt::format("audit call={} #{} {} attempts={} latency={}ms", a.call, r.sequence, r.outcome,
                                    r.attempts.size(), r.finished_unix_ms - r.submitted_unix_ms);
      if (!r.provider.empty()) out += fmt::format(" by={}/{}", r.provider, r.model);
      if (r.prompt_tokens && r.completion_tokens)
        out += fmt::format(" tokens={}+{}", *r.prompt_tokens, *r.completion_tokens);
      if (r.cost_usd) out += " cost=" + format_usd(*r.cost_usd);
      if (!r.canary_arm.empty()) out += " arm=" + r.canary_arm;
      if (!r.idempotency.empty()) out += " idempotency=" + r.idempotency;
      if (r.confidence) out += fmt::format(" confidence={:.2f}", *r.confidence);
      // The chain head proves both builds hash the same bytes.
      return out + " hash=" + r.hash.substr(0, 12);
    }
    std::string operator()(done const& d) const {
      std::string extra;
      if (!d.idempotency.empty()) extra += " idempotency=" + d.idempotency;
      if (!d.canary_arm.empty()) extra += " arm=" + d.canary_arm;
      if (d.review && d.review->state == review_state::pending_review)
        return fmt::format("done call={} pending_review by={}/{} attempts={}{}", d.call, d.provider, d.model,
                           d.attempts.size(), extra);
      if (d.response) {
        // The answer may echo patient data: a log line carries its size, never its text.
        std::size_t chars = 0;
        for (auto const& c : d.response->choices) chars += c.message.content.size();
        return fmt::format("done call={} ok by={}/{} attempts={} content_bytes={}{}", d.call, d.provider, d.model,
                           d.attempts.size(), chars, extra);
      }
      return fmt::format("done call={} error={} attempts={} message={}{}", d.call, to_string(d.error->code),
                         d.attempts.size(), detail::quoted(d.error->message), extra);
    }
  };
  return std::visit(visitor{}, e);
}

// ---- trace files ---------------------------------------------------------

struct trace_input {
  instant at{};
  std::string line;  ///< the event text after the time, e.g. `response attempt=1 status=503`
  int source_line = 0;
};

struct trace_file {
  std::string title;
  std::string config_json;
  std::vector<trace_input> inputs;
  std::vector<std::string> expected;  ///< effect log lines, time first
  std::uint64_t seed = 1;
};

namespace detail {

/// Splits `key=value`, bare words and "quoted strings" (JSON escapes).
struct trace_token {
  std::string key;    ///< empty for a bare word or a quoted string
  std::string value;  ///< the word, the string, or the value after '='
};

inline result<std::vector<trace_token>> tokenize_trace_line(std::string_view line) {
  std::vector<trace_token> out;
  std::size_t i = 0;
  auto read_quoted = [&](std::string& into) -> bool {
    std::size_t j = i + 1;
    bool escaped = false;
    for (; j < line.size(); ++j) {
      if (escaped) {
        escaped = false;
      } else if (line[j] == '\\') {
        escaped = true;
      } else if (line[j] == '"') {
        break;
      }
    }
    if (j >= line.size()) return false;
    auto parsed = nlohmann::json::parse(line.substr(i, j - i + 1), nullptr, false);
    if (parsed.is_discarded() || !parsed.is_string()) return false;
    into = parsed.get<std::string>();
    i = j + 1;
    return true;
  };
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\t') {
      ++i;
      continue;
    }
    trace_token t;
    if (line[i] == '"') {
      if (!read_quoted(t.value)) return error{fmt::format("unterminated or invalid string at column {}", i + 1)};
      out.push_back(std::move(t));
      continue;
    }
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '=') ++i;
    std::string word{line.substr(start, i - start)};
    if (i < line.size() && line[i] == '=') {
      t.key = std::move(word);
      ++i;
      if (i < line.size() && line[i] == '"') {
        if (!read_quoted(t.value)) return error{fmt::format("unterminated or invalid string at column {}", i + 1)};
      } else if (t.key == "body" && line.substr(i).starts_with("json:")) {
        t.value = std::string{line.substr(i)};  // the JSON runs to the end of the line
        i = line.size();
      } else {
        start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        t.value = std::string{line.substr(start, i - start)};
      }
    } else {
      t.value = std::move(word);
    }
    out.push_back(std::move(t));
  }
  return out;
}

/// "1500ms", "2s", "0.25ms", "750us" → duration.
inline std::optional<duration> parse_trace_duration(std::string_view text) {
  struct unit {
    std::string_view suffix;
    std::int64_t micros;
  };
  for (auto u : {unit{"us", 1}, unit{"ms", 1000}, unit{"s", 1'000'000}}) {
    if (!text.ends_with(u.suffix)) continue;
    auto number = text.substr(0, text.size() - u.suffix.size());
    if (number.empty()) return std::nullopt;
    std::int64_t whole = 0;
    std::int64_t frac = 0;
    std::int64_t frac_scale = 1;
    bool dot = false;
    for (char ch : number) {
      if (ch == '.' && !dot) {
        dot = true;
        continue;
      }
      if (ch < '0' || ch > '9') return std::nullopt;
      if (dot) {
        if (frac_scale < 1'000'000) {
          frac = frac * 10 + (ch - '0');
          frac_scale *= 10;
        }
      } else {
        whole = saturating_add(saturating_mul(whole, 10), ch - '0');
      }
    }
    return duration{saturating_add(saturating_mul(whole, u.micros), frac * u.micros / frac_scale)};
  }
  return std::nullopt;
}

/// The fenced block that follows the heading `## name`, or nullopt.
inline std::optional<std::string> trace_section(std::string_view text, std::string_view name, int& first_line) {
  std::size_t pos = 0;
  int line_no = 0;
  bool in_section = false;
  bool in_fence = false;
  std::string body;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_no;
    if (!in_section) {
      if (line.starts_with("## ") && line.substr(3) == name) in_section = true;
    } else if (!in_fence) {
      if (line.starts_with("```")) {
        in_fence = true;
        first_line = line_no + 1;
      } else if (line.starts_with("## ")) {
        return std::nullopt;
      }
    } else {
      if (line.starts_with("```")) return body;
      body.append(line).push_back('\n');
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  return std::nullopt;
}

inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace detail

inline result<trace_file> parse_trace(std::string_view text) {
  trace_file t;
  if (auto nl = text.find('\n'); text.starts_with("# ")) t.title = std::string{text.substr(2, nl - 2)};
  int line = 0;
  auto config = detail::trace_section(text, "config", line);
  if (!config) return error{"trace: missing \"## config\" section with a fenced JSON block"};
  t.config_json = *config;
  auto input = detail::trace_section(text, "input", line);
  if (!input) return error{"trace: missing \"## input\" section with a fenced block"};
  int n = line;
  instant previous{};
  for (auto raw : detail::split_lines(*input)) {
    int const source_line = n++;
    auto l = raw;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.empty() || l.front() == '#') continue;
    auto space = l.find_first_of(" \t");
    auto when = detail::parse_trace_duration(l.substr(0, space));
    if (!when) return error{fmt::format("trace line {}: expected a time like 120ms first", source_line)};
    auto rest = space == std::string_view::npos ? std::string_view{} : l.substr(space + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    instant const at{*when};
    if (at < previous) return error{fmt::format("trace line {}: time goes backwards", source_line)};
    previous = at;
    if (rest.starts_with("seed ")) {
      t.seed = std::strtoull(std::string{rest.substr(5)}.c_str(), nullptr, 10);
      continue;
    }
    t.inputs.push_back({at, std::string{rest}, source_line});
  }
  if (auto expect = detail::trace_section(text, "expect", line))
    for (auto l : detail::split_lines(*expect)) t.expected.emplace_back(l);
  return t;
}

namespace detail {

inline std::string sample_chat_body(send const& s) {
  nlohmann::json body = {
      {"id", fmt::format("chatcmpl-{}", s.attempt)},
      {"object", "chat.completion"},
      {"created", 0},
      {"model", s.model},
      {"choices",
       nlohmann::json::array({{{"index", 0},
                               {"message", {{"role", "assistant"}, {"content", "answer from " + s.provider}}},
                               {"finish_reason", "stop"}}})},
      {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 3}, {"total_tokens", 15}}}};
  return body.dump();
}

inline std::string sample_stream_body(send const& s, bool truncated) {
  auto chunk = [&](nlohmann::json delta, nlohmann::json finish) {
    nlohmann::json c = {
        {"id", fmt::format("chatcmpl-{}", s.attempt)},
        {"object", "chat.completion.chunk"},
        {"created", 0},
        {"model", s.model},
        {"choices", nlohmann::json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    return "data: " + c.dump() + "\n\n";
  };
  std::string out = chunk({{"role", "assistant"}, {"content", ""}}, nullptr);
  out += chunk({{"content", "answer from "}}, nullptr);
  if (truncated) return out;
  out += chunk({{"content", s.provider}}, nullptr);
  out += chunk(nlohmann::json::object(), "stop");
  out += "data: [DONE]\n\n";
  return out;
}

inline std::string sample_error_body(int status) {
  nlohmann::json body = {
      {"error", {{"message", fmt::format("simulated HTTP {}", status)}, {"type", "server_error"}, {"code", nullptr}}}};
  return body.dump();
}

}  // namespace detail

/// Runs a trace and returns its effect log (one line per effect), or an
/// error naming the input line that could not be understood.
inline result<std::vector<std::string>> replay(trace_file const& t) {
  auto opts = parse_config(t.config_json);
  if (!opts) return error{"trace config: " + opts.error_message()};
  engine eng{std::move(*opts), seed{t.seed}};
  std::vector<std::string> log;
  std::map<attempt_id, send> sends;
  instant now{};
  auto drain = [&] {
    while (auto e = eng.poll(now)) {
      if (auto const* s = std::get_if<send>(&*e)) sends[s->attempt] = *s;
      log.push_back(to_string(now.time_since_epoch()) + " " + describe(*e));
    }
  };
  // Jumps the clock to each wake-up due before `until`, then to `until`.
  auto advance_to = [&](instant until) {
    while (eng.next_deadline() <= until && eng.next_deadline() != never) {
      now = std::max(now, eng.next_deadline());
      drain();
    }
    now = until;
  };

  for (auto const& in : t.inputs) {
    advance_to(in.at);
    auto where = [&](std::string_view what) { return error{fmt::format("trace line {}: {}", in.source_line, what)}; };
    auto tokens = detail::tokenize_trace_line(in.line);
    if (!tokens) return where(tokens.error_message());
    if (tokens->empty()) continue;
    auto const verb = (*tokens)[0].value;
    std::map<std::string, std::string> kv;
    std::vector<std::string> words;
    for (std::size_t i = 1; i < tokens->size(); ++i) {
      auto const& tok = (*tokens)[i];
      if (tok.key.empty())
        words.push_back(tok.value);
      else
        kv[tok.key] = tok.value;
    }
    auto number = [&](std::string const& key) -> std::optional<std::uint64_t> {
      auto it = kv.find(key);
      if (it == kv.end() || it->second.empty()) return std::nullopt;
      char* end = nullptr;
      auto v = std::strtoull(it->second.c_str(), &end, 10);
      if (*end != '\0') return std::nullopt;
      return v;
    };

    if (verb == "submit") {
      std::string message = "hello";
      bool stream = false;
      for (auto const& w : words) {
        if (w == "stream")
          stream = true;
        else
          message = w;
      }
      auto model = kv.count("model") ? kv["model"] : std::string{"clinical-summary"};
      call_request req;
      req.chat = openai::make_chat_request(model, {{"user", message}}, stream);
      if (kv.count("timeout")) {
        auto d = detail::parse_trace_duration(kv["timeout"]);
        if (!d) return where("timeout must look like 5000ms");
        req.timeout = *d;
      }
      if (kv.count("max_tokens")) {
        auto n = number("max_tokens");
        if (!n) return where("max_tokens must be a whole number");
        req.chat.max_tokens = static_cast<std::int64_t>(*n);
      }
      req.patient_key = kv["patient"];
      req.study_type = kv["study"];
      req.tenant = kv["tenant"];
      req.idempotency_key = kv["idempotency"];
      if (kv.count("priority")) {
        auto p = parse_priority(kv["priority"]);
        if (!p) return where("priority must be urgent, normal or batch");
        req.priority_class = *p;
      }
      eng.submit(std::move(req), now);
    } else if (verb == "response") {
      auto attempt = number("attempt");
      auto status = number("status");
      if (!attempt || !status) return where("response needs attempt=N status=S");
      auto sent = sends.find(*attempt);
      if (sent == sends.end()) return where(fmt::format("attempt {} was never sent", *attempt));
      http_response r;
      r.status = static_cast<int>(*status);
      r.received_at = wall_time{std::chrono::seconds{1'700'000'000}} + now.time_since_epoch();
      if (kv.count("retry-after")) r.headers.add("Retry-After", kv["retry-after"]);
      if (kv.count("retry-after-ms")) r.headers.add("retry-after-ms", kv["retry-after-ms"]);
      if (kv.count("date")) r.headers.add("Date", kv["date"]);
      bool const ok = r.status >= 200 && r.status < 300;
      auto const body = kv.count("body") ? kv["body"] : std::string{ok ? "ok" : "error"};
      if (body == "ok")
        r.body = sent->second.stream ? detail::sample_stream_body(sent->second, false)
                                     : detail::sample_chat_body(sent->second);
      else if (body == "sse")
        r.body = detail::sample_stream_body(sent->second, false);
      else if (body == "sse-truncated")
        r.body = detail::sample_stream_body(sent->second, true);
      else if (body == "error")
        r.body = detail::sample_error_body(r.status);
      else if (body == "garbage")
        r.body = "<html>502 Bad Gateway</html";
      else if (body == "empty")
        r.body.clear();
      else if (body.starts_with("json:"))
        r.body = body.substr(5);
      else
        return where("body must be ok, sse, sse-truncated, error, garbage, empty or json:{...}");
      eng.on_response(*attempt, r, now);
    } else if (verb == "failure") {
      auto attempt = number("attempt");
      if (!attempt) return where("failure needs attempt=N");
      static constexpr std::pair<std::string_view, transport_failure> kinds[] = {
          {"timeout", transport_failure::timeout},
          {"connection_refused", transport_failure::connection_refused},
          {"connection_reset", transport_failure::connection_reset},
          {"tls", transport_failure::tls},
          {"cancelled", transport_failure::cancelled},
          {"other", transport_failure::other}};
      std::optional<transport_failure> kind;
      for (auto const& [name, k] : kinds)
        if (kv["kind"] == name) kind = k;
      if (!kind)
        return where("failure kind must be timeout, connection_refused, connection_reset, tls, cancelled or other");
      eng.on_failure(*attempt, transport_error{*kind, "trace"}, now);
    } else if (verb == "probe") {
      auto id = number("id");
      bool const ok = std::find(words.begin(), words.end(), "ok") != words.end();
      bool const fail = std::find(words.begin(), words.end(), "fail") != words.end();
      if (!id || ok == fail) return where("probe needs id=N and one of ok, fail");
      eng.on_probe_result(*id, ok, now);
    } else if (verb == "review") {
      auto call = number("call");
      if (!call || words.empty()) return where("review needs call=N and approve, edit or reject");
      review_action action;
      action.reviewer = kv["reviewer"];
      action.reason = kv["reason"];
      if (words[0] == "approve")
        action.decision = review_state::approved;
      else if (words[0] == "edit")
        action.decision = review_state::edited;
      else if (words[0] == "reject")
        action.decision = review_state::rejected;
      else
        return where("review decision must be approve, edit or reject");
      if (words.size() > 1) action.replacement = words[1];
      if (auto r = eng.review(*call, action, now); !r)
        log.push_back(to_string(now.time_since_epoch()) + " review refused: " + r.error_message());
    } else if (verb == "cancel") {
      auto call = number("call");
      if (!call) return where("cancel needs call=N");
      eng.cancel_call(*call, now);
    } else {
      return where(
          fmt::format("unknown event \"{}\" (expected submit, response, failure, cancel, probe or review)", verb));
    }
    drain();
  }
  // Let the timers run until every call has ended in the log (health probes
  // and ramp steps would wake the engine forever).
  for (int guard = 0; guard < 100'000 && eng.next_deadline() != never && eng.calls_in_progress() > 0; ++guard)
    advance_to(eng.next_deadline());
  drain();
  return log;
}

}  // namespace medgate
