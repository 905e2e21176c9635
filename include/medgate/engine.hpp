// engine.hpp — the call state machine: attempt, classify, retry, fall back, finish.
//
// The engine never performs I/O. A host submits calls and feeds back what
// its transport observed; the engine answers with effects to carry out
// (`send`, `cancel`, `wake_at`) and to record (`decision`, `breaker_changed`,
// `audit`, `done`). Every entry point takes `now`, and the only randomness
// (backoff jitter) comes from the seed, so the same inputs at the same
// instants give the same effect log natively, in WebAssembly and in the
// deterministic simulator.
//
//   engine eng{options, seed{42}};
//   eng.submit(request, now);
//   while (auto e = eng.poll(now)) visit(...);          // drain effects
//   eng.on_response(attempt, response, now);              // from the transport
//
// Per call: pick the first target of the route's chain whose breaker admits
// it; send with a timeout cut from the deadline; classify the outcome; on a
// retryable failure wait (backoff, or the server's Retry-After) and try the
// same target again while its attempts, the provider's retry budget and the
// deadline allow; otherwise fall back to the next target; finish with the
// answer or a typed error that lists every attempt and skipped target.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "backoff.hpp"
#include "breaker.hpp"
#include "deadline.hpp"
#include "engine_options.hpp"
#include "http.hpp"
#include "openai/chat.hpp"
#include "openai/classify.hpp"
#include "random.hpp"
#include "result.hpp"
#include "retry_budget.hpp"
#include "route.hpp"
#include "time.hpp"

namespace medgate {

using call_id = std::uint64_t;
using attempt_id = std::uint64_t;

/// What the application asks for.
struct call_request {
  openai::chat_request chat;        ///< `chat.model` is a route alias or a model name
  std::optional<duration> timeout;  ///< whole-call deadline; `deadlines.timeout` when absent
};

/// One attempt as it happened.
struct attempt_record {
  attempt_id id = 0;
  std::uint32_t number = 0;  ///< 1-based within the call
  std::string provider;
  std::string model;
  instant started{};
  instant ended{};
  openai::classification verdict;
};

/// A target of the chain that was not attempted (further), and why.
struct skipped_target {
  std::string provider;
  std::string model;
  std::string reason;  ///< "breaker open", "retry budget exhausted", ...
};

enum class call_error_code : std::uint8_t {
  no_route,            ///< no route or provider serves the requested model
  deadline_exceeded,   ///< the deadline passed, or too little of it remained to attempt again
  rejected,            ///< a provider refused the request for a reason retrying cannot fix (e.g. 400)
  all_targets_failed,  ///< every target of the chain was tried or skipped
  cancelled,           ///< the host cancelled the call
};

constexpr std::string_view to_string(call_error_code c) noexcept {
  switch (c) {
    case call_error_code::no_route:
      return "no_route";
    case call_error_code::deadline_exceeded:
      return "deadline_exceeded";
    case call_error_code::rejected:
      return "rejected";
    case call_error_code::all_targets_failed:
      return "all_targets_failed";
    case call_error_code::cancelled:
      return "cancelled";
  }
  return "unknown";
}

struct call_error {
  call_error_code code = call_error_code::all_targets_failed;
  std::string message;  ///< what was tried and why each failed; never request or response content
  std::optional<openai::classification> last;  ///< the last attempt's verdict, if any attempt was made
};

// ---- effects -----------------------------------------------------------

/// Start an HTTP attempt. The transport POSTs `body` to `url` with the key
/// read from the environment variable `api_key_env`, and reports exactly one
/// of `on_response` / `on_failure` for `attempt`, within `timeout`.
struct send {
  call_id call = 0;
  attempt_id attempt = 0;
  std::uint32_t number = 0;  ///< 1-based attempt number within the call
  std::string provider;
  std::string model;
  std::string url;
  std::string api_key_env;
  std::string body;
  bool stream = false;
  duration timeout{};          ///< the whole attempt, cut from the call's deadline
  duration connect_timeout{};  ///< TCP/TLS connect limit, never above `timeout`
};

/// Abandon an attempt still in flight; its outcome will be ignored.
struct cancel {
  call_id call = 0;
  attempt_id attempt = 0;
};

/// Call `poll` again at `at` (earlier is harmless).
struct wake_at {
  instant at{};
};

/// Why the engine chose what it did; for `--trace`, golden traces and logs.
struct decision {
  call_id call = 0;
  std::string text;
};

struct breaker_changed {
  std::string provider;
  breaker_state from = breaker_state::closed;
  breaker_state to = breaker_state::closed;
  std::string reason;
  instant at{};
};

/// The minimal audit record of a finished call (the full hash-chained record
/// comes with the audit module). Holds no request or response content.
struct audit {
  call_id call = 0;
  instant submitted{};
  instant finished{};
  std::string outcome;  ///< "ok" or a call_error_code
  std::string provider;
  std::string model;
  std::uint32_t attempts = 0;
  std::optional<openai::usage> usage_info;
};

/// The call is over: exactly one of `response` and `error` is set.
struct done {
  call_id call = 0;
  std::optional<openai::chat_response> response;
  std::optional<call_error> error;
  std::string provider;  ///< who answered (on success)
  std::string model;
  std::vector<attempt_record> attempts;
  std::vector<skipped_target> skipped;
  instant submitted{};
  instant finished{};
};

using effect = std::variant<send, cancel, wake_at, decision, breaker_changed, audit, done>;

/// A provider's health as the engine sees it, for dashboards.
struct provider_status {
  std::string name;
  breaker::snapshot breaker_metrics;
  double retry_balance = 0;
};

// ---- the engine --------------------------------------------------------

class engine {
 public:
  /// `options` must be valid (`options.validate()` returned nothing); use
  /// `create` to have that checked.
  engine(engine_options options, seed s) : options_{std::move(options)}, rng_{s} {
    providers_.reserve(options_.routing.providers.size());
    for (auto const& p : options_.routing.providers)
      providers_.push_back({p, breaker{p.breaker}, retry_budget{options_.retry.budget}});
  }

  static result<engine> create(engine_options options, seed s) {
    if (auto e = options.validate()) return error{"engine options: " + e->to_string()};
    return engine{std::move(options), s};
  }

  [[nodiscard]] engine_options const& options() const noexcept { return options_; }

  /// Accepts a call; its effects come out of `poll`.
  call_id submit(call_request request, instant now) {
    call_id const id = next_call_++;
    auto chain = options_.routing.resolve(request.chat.model);
    auto const budget = request.timeout.value_or(options_.deadlines.timeout);
    auto& c = calls_.emplace(id, call_state{}).first->second;
    c.id = id;
    c.submitted = now;
    c.dl = deadline::after(now, budget);
    c.chain = std::move(chain);
    c.request = std::move(request);
    if (c.chain.empty()) {
      finish_error(c, call_error_code::no_route,
                   fmt::format("no route or provider serves model \"{}\"", c.request.chat.model), now);
      return id;
    }
    start_attempt(c, now);
    return id;
  }

  /// The transport's HTTP response for `attempt`. Returns false when the
  /// attempt is unknown (already cancelled or finished): nothing changes.
  bool on_response(attempt_id attempt, http_response const& response, instant now) {
    auto* c = call_of(attempt);
    if (c == nullptr) return false;
    auto verdict = openai::classify_response(response, c->request.chat.stream, response.received_at);
    settle(*c, std::move(verdict.verdict), std::move(verdict.response), now);
    return true;
  }

  /// The transport could not get a response for `attempt`.
  bool on_failure(attempt_id attempt, transport_error const& failure, instant now) {
    auto* c = call_of(attempt);
    if (c == nullptr) return false;
    settle(*c, openai::classify_failure(failure), std::nullopt, now);
    return true;
  }

  /// Ends a call early (e.g. the client went away). Returns false if unknown.
  bool cancel_call(call_id id, instant now) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return false;
    auto& c = it->second;
    abandon_attempt(c, transport_failure::cancelled, now);
    finish_error(c, call_error_code::cancelled, "cancelled by the caller", now);
    return true;
  }

  /// The next effect, or nothing when the host has nothing to do before the
  /// next `wake_at` it was given (or new input arrives).
  std::optional<effect> poll(instant now) {
    fire_timers(now);
    if (!queue_.empty()) {
      effect e = std::move(queue_.front());
      queue_.pop_front();
      return e;
    }
    instant const next = next_deadline();
    if (next != never && next != announced_wake_) {
      announced_wake_ = next;
      return effect{wake_at{next}};
    }
    return std::nullopt;
  }

  /// When the engine next needs `poll` to be called; `never` when idle.
  [[nodiscard]] instant next_deadline() const noexcept { return timers_.empty() ? never : timers_.begin()->first; }

  [[nodiscard]] std::size_t calls_in_progress() const noexcept { return calls_.size(); }

  [[nodiscard]] std::vector<provider_status> providers(instant now) {
    std::vector<provider_status> out;
    for (auto& p : providers_) {
      out.push_back({p.config.name, p.health.metrics(now), p.budget.balance(now)});
      emit_breaker_events(p);
    }
    return out;
  }

 private:
  struct provider_state {
    provider config;
    breaker health;
    retry_budget budget;
  };

  enum class phase : std::uint8_t { waiting, in_flight };

  struct call_state {
    call_id id = 0;
    call_request request;
    deadline dl;
    instant submitted{};
    std::vector<target> chain;
    std::size_t target_index = 0;
    std::uint32_t attempts_on_target = 0;
    duration previous_delay{0};
    phase state = phase::waiting;
    instant timer{never};  ///< this call's entry in timers_: ready time, or the deadline while in flight
    attempt_id attempt = 0;
    breaker_permit permit{};  ///< reports the attempt's outcome to the breaker generation that admitted it
    instant attempt_started{};
    std::vector<attempt_record> attempts;
    std::vector<skipped_target> skipped;
  };

  call_state* call_of(attempt_id attempt) {
    auto it = attempts_.find(attempt);
    if (it == attempts_.end()) return nullptr;
    return &calls_.at(it->second);
  }

  provider_state& provider_of(target const& t) {
    for (auto& p : providers_)
      if (p.config.name == t.provider) return p;
    return providers_.front();  // unreachable: routes were validated against providers
  }

  void push(effect e) { queue_.push_back(std::move(e)); }

  void note(call_state const& c, std::string text) {
    if (options_.record_decisions) push(decision{c.id, std::move(text)});
  }

  void set_timer(call_state& c, instant at) {
    clear_timer(c);
    c.timer = at;
    timers_.emplace(at, c.id);
  }

  void clear_timer(call_state& c) {
    if (c.timer != never) timers_.erase({c.timer, c.id});
    c.timer = never;
  }

  void emit_breaker_events(provider_state& p) {
    for (auto const& ev : p.health.take_events())
      push(breaker_changed{p.config.name, ev.from, ev.to, std::string{ev.reason}, ev.at});
  }

  static std::string label(target const& t) { return t.provider + "/" + t.model; }

  void fire_timers(instant now) {
    while (!timers_.empty() && timers_.begin()->first <= now) {
      call_id const id = timers_.begin()->second;
      auto& c = calls_.at(id);
      clear_timer(c);
      if (c.state == phase::waiting) {
        start_attempt(c, now);
      } else {
        // The transport owed us an outcome before the deadline and gave none.
        abandon_attempt(c, transport_failure::timeout, now);
        finish_error(c, call_error_code::deadline_exceeded,
                     fmt::format("deadline exceeded with an attempt still in flight; {}", history(c)), now);
      }
    }
  }

  /// Moves the call to the next target of its chain.
  void next_target(call_state& c) {
    ++c.target_index;
    c.attempts_on_target = 0;
    c.previous_delay = duration{0};
  }

  void skip(call_state& c, std::string reason) {
    auto const& t = c.chain[c.target_index];
    note(c, fmt::format("skip {}: {}", label(t), reason));
    c.skipped.push_back({t.provider, t.model, std::move(reason)});
    next_target(c);
  }

  /// Sends the next attempt now, or finishes the call if none can be made.
  void start_attempt(call_state& c, instant now) {
    auto const& d = options_.deadlines;
    while (true) {
      if (c.target_index >= c.chain.size()) {
        finish_error(c, call_error_code::all_targets_failed,
                     fmt::format("all {} targets failed: {}", c.chain.size(), history(c)), now);
        return;
      }
      auto const& t = c.chain[c.target_index];
      auto& p = provider_of(t);
      auto const per_attempt = std::min(p.config.attempt_timeout, d.attempt_timeout);
      auto const timeout = c.dl.attempt_timeout(now, per_attempt, d.min_attempt_time);
      if (!timeout) {
        finish_error(c, call_error_code::deadline_exceeded,
                     fmt::format("deadline exceeded: {} left, an attempt needs at least {}; {}",
                                 to_string(c.dl.remaining(now)), to_string(d.min_attempt_time), history(c)),
                     now);
        return;
      }
      auto const permit = p.health.try_acquire_permit(now);
      emit_breaker_events(p);
      if (!permit.granted()) {
        skip(c, fmt::format("breaker {}", to_string(p.health.state(now))));
        continue;
      }
      if (c.attempts_on_target == 0) p.budget.deposit(now);
      ++c.attempts_on_target;
      attempt_id const id = next_attempt_++;
      attempts_.emplace(id, c.id);
      c.attempt = id;
      c.permit = permit;
      c.attempt_started = now;
      c.state = phase::in_flight;
      set_timer(c, c.dl.end);

      auto body = c.request.chat;
      body.model = t.model;
      push(send{c.id, id, static_cast<std::uint32_t>(c.attempts.size() + 1), t.provider, t.model, p.config.chat_url(),
                p.config.api_key_env, openai::to_json(body), c.request.chat.stream, *timeout,
                std::min(p.config.connect_timeout, *timeout)});
      return;
    }
  }

  /// Drops the attempt in flight, if any, telling the transport to abandon it;
  /// the attempt stays in the call's history with `why` as its verdict.
  void abandon_attempt(call_state& c, transport_failure why, instant now) {
    if (c.state != phase::in_flight) return;
    attempts_.erase(c.attempt);
    auto const& t = c.chain[c.target_index];
    auto& p = provider_of(t);
    p.health.release(c.permit, now);
    emit_breaker_events(p);
    push(cancel{c.id, c.attempt});
    c.attempts.push_back({c.attempt, static_cast<std::uint32_t>(c.attempts.size() + 1), t.provider, t.model,
                          c.attempt_started, now, openai::classify_failure(transport_error{why, "abandoned"})});
    c.state = phase::waiting;
  }

  /// Applies an attempt's outcome: breaker, history, then retry / fall back / finish.
  void settle(call_state& c, openai::classification verdict, std::optional<openai::chat_response> response,
              instant now) {
    attempts_.erase(c.attempt);
    clear_timer(c);
    c.state = phase::waiting;
    auto const& t = c.chain[c.target_index];
    auto& p = provider_of(t);
    auto const took = elapsed(c.attempt_started, now);
    if (verdict.kind == openai::outcome::success)
      p.health.on_success(c.permit, took, now);
    else if (verdict.provider_fault())
      p.health.on_failure(c.permit, took, now);
    else
      p.health.release(c.permit, now);
    emit_breaker_events(p);
    c.attempts.push_back({c.attempt, static_cast<std::uint32_t>(c.attempts.size() + 1), t.provider, t.model,
                          c.attempt_started, now, verdict});

    using openai::outcome;
    switch (verdict.kind) {
      case outcome::success:
        finish_ok(c, std::move(*response), now);
        return;
      case outcome::final:
        if (verdict.try_next_target()) {
          note(c, fmt::format("fall back from {}: {}", label(t), verdict.reason));
          next_target(c);
          start_attempt(c, now);
        } else {
          auto message = fmt::format("{} rejected the request: {}", label(t), verdict.reason);
          if (c.attempts.size() > 1) message += "; tried " + history(c);
          finish_error(c, call_error_code::rejected, std::move(message), now);
        }
        return;
      case outcome::retryable:
      case outcome::rate_limited:
      case outcome::malformed:
        retry_or_fall_back(c, p, verdict, now);
        return;
    }
  }

  void retry_or_fall_back(call_state& c, provider_state& p, openai::classification const& verdict, instant now) {
    auto const& t = c.chain[c.target_index];
    auto const& r = options_.retry;
    auto fall_back = [&](std::string why) {
      note(c, fmt::format("fall back from {}: {}", label(t), why));
      next_target(c);
      start_attempt(c, now);
    };
    if (auto const state = p.health.state(now); state == breaker_state::open || state == breaker_state::forced_open)
      return fall_back(fmt::format("{}; breaker {}", verdict.reason, to_string(state)));
    if (c.attempts_on_target >= r.max_attempts_per_target)
      return fall_back(fmt::format("{} attempts spent, last {}", c.attempts_on_target, verdict.reason));
    if (verdict.retry_after && *verdict.retry_after > r.max_retry_after)
      return fall_back(fmt::format("{} asks to wait {} (over max_retry_after {})", verdict.reason,
                                   to_string(*verdict.retry_after), to_string(r.max_retry_after)));
    auto const delay = with_retry_after(
        backoff_delay(r.backoff, c.attempts_on_target, c.previous_delay, rng_.uniform()), verdict.retry_after);
    if (!c.dl.fits(now, delay, options_.deadlines.min_attempt_time))
      return fall_back(
          fmt::format("{}; no time to wait {} and retry before the deadline", verdict.reason, to_string(delay)));
    if (!p.budget.try_withdraw(now)) return fall_back(fmt::format("{}; retry budget exhausted", verdict.reason));
    c.previous_delay = delay;
    note(c, fmt::format("retry {} in {} after {} (attempt {} of {} there)", label(t), to_string(delay), verdict.reason,
                        c.attempts_on_target + 1, r.max_attempts_per_target));
    set_timer(c, add(now, delay));
  }

  /// "primary/gpt-4o-mini: HTTP 503, timeout; fallback/gpt-4o-mini: breaker open"
  static std::string history(call_state const& c) {
    std::string out;
    std::string current;
    auto flush_label = [&](std::string const& l) {
      if (l == current) return;
      if (!out.empty()) out += "; ";
      out += l + ": ";
      current = l;
    };
    // Attempts and skips are reported in chain order, attempts first for each target.
    for (auto const& t : c.chain) {
      auto const l = label(t);
      bool first = true;
      for (auto const& a : c.attempts)
        if (a.provider == t.provider && a.model == t.model) {
          flush_label(l);
          out += (first ? "" : ", ") + a.verdict.reason;
          first = false;
        }
      for (auto const& s : c.skipped)
        if (s.provider == t.provider && s.model == t.model) {
          flush_label(l);
          out += (first ? "" : ", ") + s.reason;
          first = false;
        }
    }
    return out.empty() ? "nothing attempted" : out;
  }

  void finish_ok(call_state& c, openai::chat_response response, instant now) {
    auto const& t = c.chain[c.target_index];
    audit a{c.id,
            c.submitted,
            now,
            "ok",
            t.provider,
            t.model,
            static_cast<std::uint32_t>(c.attempts.size()),
            response.usage_info};
    done d{c.id,    std::move(response),   std::nullopt,         t.provider,
           t.model, std::move(c.attempts), std::move(c.skipped), c.submitted,
           now};
    finish(c, std::move(a), std::move(d));
  }

  void finish_error(call_state& c, call_error_code code, std::string message, instant now) {
    std::optional<openai::classification> last;
    if (!c.attempts.empty()) last = c.attempts.back().verdict;
    audit a{c.id,
            c.submitted,
            now,
            std::string{to_string(code)},
            {},
            {},
            static_cast<std::uint32_t>(c.attempts.size()),
            std::nullopt};
    done d{c.id,
           std::nullopt,
           call_error{code, std::move(message), std::move(last)},
           {},
           {},
           std::move(c.attempts),
           std::move(c.skipped),
           c.submitted,
           now};
    finish(c, std::move(a), std::move(d));
  }

  void finish(call_state& c, audit a, done d) {
    clear_timer(c);
    push(std::move(a));
    push(std::move(d));
    calls_.erase(c.id);
  }

  engine_options options_;
  std::vector<provider_state> providers_;
  rng rng_;
  std::map<call_id, call_state> calls_;
  std::unordered_map<attempt_id, call_id> attempts_;
  std::set<std::pair<instant, call_id>> timers_;
  std::deque<effect> queue_;
  call_id next_call_ = 1;
  attempt_id next_attempt_ = 1;
  instant announced_wake_ = never;
};

}  // namespace medgate
