// sim/invariants.hpp — what must hold after every event of a simulated run, checked as the effects go by.
//
// The deterministic simulator (sim/run.hpp, `medgate sim`) feeds this checker every effect the engine emits and
// every outcome the simulated network delivers; the checker keeps its own books, independent of the engine's, and
// records a violation the moment one of these stops holding:
//   - every call completes exactly once (a second `done`, or a call never done once the run is drained);
//   - no call finishes later than its deadline plus a tolerance (forward clock steps during its life excused);
//   - no attempt is sent with a timeout that reaches past the call's deadline;
//   - no call makes more attempts than its retries and hedges allow;
//   - over the run, retries stay within the retry budget (ratio of first attempts plus the budget's floor) and
//     hedges within the hedge budget;
//   - breakers move only along legal transitions, each from the state the last one left, and none is half-open
//     at the end once the run is drained;
//   - no tenant spends more tokens than its daily budget;
//   - no provider gets more requests than its rate limit admits (GCRA bound over a sliding window) or more
//     attempts in flight than its bulkhead;
//   - no canary PHI string appears in anything the engine emits (request bodies, decisions, audit records,
//     error messages).
// It is sans-I/O like the engine: the unit test drives it with hand-made broken sequences to prove it can fail.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../audit.hpp"
#include "../breaker.hpp"
#include "../engine.hpp"
#include "../time.hpp"

namespace medgate::sim {

struct violation {
  std::string_view
      kind;  ///< which invariant: completion, deadline, attempts, budget, breaker, tenant, rate, bulkhead, phi
  instant at{};
  call_id call = 0;  ///< 0 when no single call is concerned
  std::string what;
};

/// One provider's limits as configured, which the checker holds the traffic to.
struct provider_limits {
  double requests_per_minute = 0;    ///< 0 = unlimited
  duration burst{};                  ///< the rate limit's burst (GCRA tolerance)
  std::uint32_t max_concurrent = 0;  ///< 0 = no bulkhead
};

/// What the checker compares the run against; filled from the engine's options by `limits_from`.
struct invariant_limits {
  duration deadline_tolerance = std::chrono::milliseconds{1};
  std::uint32_t max_attempts_per_target = 1;
  std::size_t longest_chain = 1;  ///< attempts per call <= longest_chain * max_attempts_per_target + hedges
  std::uint32_t max_hedges_per_call = 1;
  double retry_ratio = 0;             ///< retries per first attempt on a target (the retry budget)
  double retry_floor_per_second = 0;  ///< per provider
  duration retry_ttl = std::chrono::seconds{10};
  double hedge_ratio = 0;  ///< hedges per call (0 with hedging off)
  double hedge_floor_per_second = 0;
  duration hedge_window = std::chrono::seconds{10};
  std::map<std::string, provider_limits, std::less<>> providers;
  std::map<std::string, std::int64_t, std::less<>> tenant_daily_tokens;
  std::vector<std::string> canaries;  ///< PHI strings put in prompts that must never leave
};

/// The limits an engine configured with `o` must keep.
inline invariant_limits limits_from(engine_options const& o, std::vector<std::string> canaries) {
  invariant_limits l;
  l.max_attempts_per_target = o.retry.max_attempts_per_target;
  l.longest_chain = 1;
  for (auto const& r : o.routing.routes) {
    l.longest_chain = std::max(l.longest_chain, r.chain.size());
    if (r.canary) l.longest_chain = std::max(l.longest_chain, r.canary->chain.size());
  }
  l.max_hedges_per_call = o.hedge.enabled ? 1 : 0;
  l.retry_ratio = o.retry.budget.retry_ratio;
  l.retry_floor_per_second = o.retry.budget.min_retries_per_second;
  l.retry_ttl = o.retry.budget.ttl;
  l.hedge_ratio = o.hedge.enabled ? o.hedge.max_extra_ratio : 0.0;
  l.hedge_floor_per_second = o.hedge.enabled ? o.hedge.min_hedges_per_second : 0.0;
  l.hedge_window = o.hedge.budget_window;
  for (auto const& p : o.routing.providers)
    l.providers[p.name] = {p.rate_limit.requests_per_minute, p.rate_limit.burst, p.concurrency.max_concurrent};
  for (auto const& [name, b] : o.budgets.tenants)
    if (b.daily_tokens) l.tenant_daily_tokens[name] = *b.daily_tokens;
  l.canaries = std::move(canaries);
  return l;
}

/// Legal breaker moves as the issue and breaker.hpp's design state them (kept here independently of the
/// engine's own table, so a wrong row there is caught, not trusted).
constexpr bool legal_breaker_move(breaker_state from, breaker_state to) noexcept {
  using s = breaker_state;
  if (from == to) return false;
  switch (from) {
    case s::closed:
      return to == s::open || to == s::forced_open || to == s::disabled;
    case s::open:
      return to == s::half_open || to == s::forced_open || to == s::disabled || to == s::closed;
    case s::half_open:
      return to == s::closed || to == s::open || to == s::forced_open || to == s::disabled;
    case s::forced_open:
      return to == s::disabled || to == s::closed;
    case s::disabled:
      return to == s::forced_open || to == s::closed;
  }
  return false;
}

class invariant_checker {
 public:
  /// How many violations of each kind are kept in full (all are counted).
  static constexpr std::size_t kept_per_kind = 5;

  explicit invariant_checker(invariant_limits l) : limits_{std::move(l)} {
    for (auto const& [name, pl] : limits_.providers) providers_[name].limits = pl;
  }

  /// A call the host submitted at `now` with this whole-call timeout. Call before draining its effects.
  void on_submit(call_id id, duration timeout, instant now) {
    auto const at = static_cast<std::size_t>(id);  // ids count up from 1: they fit a size_t in 32-bit builds too
    if (at >= calls_.size()) calls_.resize(std::max<std::size_t>(at + 1, calls_.size() * 2));
    auto& c = calls_[at];
    if (c.submitted) return fail("completion", now, id, "call id submitted twice");
    c = call_track{};
    c.submitted = true;
    c.deadline = add(now, timeout);
    c.steps_at_submit = stepped_;
    ++submitted_;
    first_at_ = std::min(first_at_, now);
  }

  /// The host's clock jumped forward by `jump` (a suspended VM, an NTP step of a clock it wrongly took as monotonic).
  void on_clock_step(duration jump) { stepped_ += jump; }

  /// Every effect the engine emitted at `now`, in order.
  void on_effect(effect const& e, instant now) {
    last_at_ = std::max(last_at_, now);
    if (auto const* s = std::get_if<send>(&e)) return on_send(*s, now);
    if (auto const* x = std::get_if<cancel>(&e)) return on_attempt_end(x->attempt, now);
    if (auto const* d = std::get_if<done>(&e)) return on_done(*d, now);
    if (auto const* b = std::get_if<breaker_changed>(&e)) return on_breaker(*b, now);
    if (auto const* n = std::get_if<decision>(&e)) return check_phi(n->text, now, n->call, "a decision");
    if (auto const* a = std::get_if<audit>(&e)) return check_audit(a->record, now, a->call);
  }

  /// The transport delivered the outcome of `attempt` (a response or a failure) at `now`.
  void on_attempt_end(attempt_id attempt, instant now) {
    auto it = attempts_.find(attempt);
    if (it == attempts_.end())
      return fail("completion", now, 0, fmt::format("attempt {} ended but was never sent or already ended", attempt));
    auto& p = providers_[it->second];
    if (p.in_flight == 0)
      fail("bulkhead", now, 0, fmt::format("provider {}: more attempts ended than were sent", it->second));
    else
      --p.in_flight;
    attempts_.erase(it);
  }

  /// A tenant's spending as the engine reports it after a call finished.
  void on_tenant_usage(std::string_view tenant, std::int64_t spent_tokens, instant now) {
    auto it = limits_.tenant_daily_tokens.find(tenant);
    if (it == limits_.tenant_daily_tokens.end() || spent_tokens <= it->second) return;
    fail("tenant", now, 0,
         fmt::format("tenant {} spent {} tokens today, over its daily budget of {}", tenant, spent_tokens, it->second));
  }

  /// The run is drained: every call should be done, no attempt in flight, no breaker half-open.
  /// `breakers` is each provider's state as the engine reports it now.
  void on_drained(std::vector<std::pair<std::string, breaker_state>> const& breakers, std::size_t engine_calls_left,
                  instant now) {
    for (std::size_t id = 0; id < calls_.size(); ++id)
      if (calls_[id].submitted && !calls_[id].done) fail("completion", now, id, "call never completed");
    if (engine_calls_left != 0)
      fail("completion", now, 0, fmt::format("the engine still holds {} calls", engine_calls_left));
    if (!attempts_.empty()) fail("completion", now, 0, fmt::format("{} attempts still in flight", attempts_.size()));
    for (auto const& [name, state] : breakers)
      if (state == breaker_state::half_open) fail("breaker", now, 0, fmt::format("breaker of {} left half-open", name));
    double const seconds = std::max(0.0, to_seconds(elapsed(first_at_ == never ? now : first_at_, now)));
    double const retry_allowed = limits_.retry_ratio * static_cast<double>(first_attempts_) +
                                 limits_.retry_floor_per_second * (seconds + to_seconds(limits_.retry_ttl)) *
                                     static_cast<double>(std::max<std::size_t>(providers_.size(), 1));
    if (static_cast<double>(retries_) > retry_allowed)
      fail("budget", now, 0,
           fmt::format("{} retries, over the retry budget's {:.0f} ({} first attempts x {} + floor)", retries_,
                       retry_allowed, first_attempts_, limits_.retry_ratio));
    double const hedge_allowed = limits_.hedge_ratio * static_cast<double>(submitted_) +
                                 limits_.hedge_floor_per_second * (seconds + to_seconds(limits_.hedge_window)) + 1.0;
    if (static_cast<double>(hedges_) > hedge_allowed)
      fail("budget", now, 0, fmt::format("{} hedges, over the hedge budget's {:.0f}", hedges_, hedge_allowed));
  }

  [[nodiscard]] std::uint64_t violation_count() const noexcept { return count_; }
  /// The first few of each kind, in the order they happened.
  [[nodiscard]] std::vector<violation> const& violations() const noexcept { return first_; }
  [[nodiscard]] std::map<std::string_view, std::uint64_t> const& violations_by_kind() const noexcept {
    return by_kind_;
  }
  [[nodiscard]] std::uint64_t attempts() const noexcept { return sends_; }
  [[nodiscard]] std::uint64_t first_attempts() const noexcept { return first_attempts_; }
  [[nodiscard]] std::uint64_t retries() const noexcept { return retries_; }
  [[nodiscard]] std::uint64_t hedges() const noexcept { return hedges_; }
  [[nodiscard]] std::uint64_t calls() const noexcept { return submitted_; }
  [[nodiscard]] std::uint64_t illegal_breaker_moves() const noexcept { return illegal_moves_; }

 private:
  struct call_track {
    bool submitted = false;
    bool done = false;
    instant deadline{};
    duration steps_at_submit{};
    std::uint32_t attempts = 0;
    std::uint32_t hedges = 0;
    /// Providers this call sent a non-hedge attempt to (a later non-hedge one there is a retry).
    std::vector<std::string> tried;
  };

  struct provider_track {
    provider_limits limits;
    std::uint32_t in_flight = 0;
    std::deque<instant> recent_sends;  ///< within the rate window, for the GCRA bound
    std::optional<breaker_state> breaker;
  };

  /// The rate bound is checked over windows of this length: GCRA admits at most 1 + (window + burst) / T.
  static constexpr duration rate_window = std::chrono::seconds{10};

  void fail(std::string_view kind, instant at, call_id id, std::string what) {
    ++count_;
    if (++by_kind_[kind] <= kept_per_kind) first_.push_back({kind, at, id, std::move(what)});
  }

  /// Leeway on a call's deadline: the tolerance plus every forward clock step during its life.
  [[nodiscard]] instant latest_end(call_track const& c) const {
    return add(c.deadline, limits_.deadline_tolerance + (stepped_ - c.steps_at_submit));
  }

  call_track* track(call_id id, instant now, std::string_view what) {
    auto const at = static_cast<std::size_t>(id);
    if (id >= calls_.size() || !calls_[at].submitted) {
      fail("completion", now, id, fmt::format("{} for a call never submitted", what));
      return nullptr;
    }
    return &calls_[at];
  }

  void on_send(send const& s, instant now) {
    ++sends_;
    check_phi(s.body, now, s.call, "a request body");
    auto* c = track(s.call, now, "send");
    if (c == nullptr) return;
    if (c->done) fail("completion", now, s.call, fmt::format("attempt {} sent after the call completed", s.attempt));
    if (add(now, s.timeout) > latest_end(*c))
      fail("deadline", now, s.call,
           fmt::format("attempt {} sent with timeout {} reaching {} past the deadline", s.attempt, to_string(s.timeout),
                       to_string(elapsed(c->deadline, add(now, s.timeout)))));
    ++c->attempts;
    if (s.hedge) {
      ++hedges_;
      if (++c->hedges > limits_.max_hedges_per_call)
        fail("attempts", now, s.call,
             fmt::format("{} hedges, more than {} allowed per call", c->hedges, limits_.max_hedges_per_call));
    } else if (std::find(c->tried.begin(), c->tried.end(), s.provider) == c->tried.end()) {
      c->tried.push_back(s.provider);
      ++first_attempts_;
    } else {
      ++retries_;
    }
    auto const most = static_cast<std::uint32_t>(limits_.longest_chain) * limits_.max_attempts_per_target +
                      limits_.max_hedges_per_call;
    if (c->attempts > most)
      fail("attempts", now, s.call,
           fmt::format("attempt {} of the call, more than its retries and hedges allow ({})", c->attempts, most));
    if (!attempts_.emplace(s.attempt, s.provider).second)
      fail("attempts", now, s.call, fmt::format("attempt id {} sent twice", s.attempt));
    auto& p = providers_[s.provider];
    ++p.in_flight;
    if (p.limits.max_concurrent != 0 && p.in_flight > p.limits.max_concurrent)
      fail("bulkhead", now, s.call,
           fmt::format("{} attempts in flight at {}, over its bulkhead of {}", p.in_flight, s.provider,
                       p.limits.max_concurrent));
    if (p.limits.requests_per_minute > 0) {
      auto& q = p.recent_sends;
      q.push_back(now);
      instant const from = add(now, -rate_window);
      while (!q.empty() && q.front() <= from) q.pop_front();
      double const interval_s = 60.0 / p.limits.requests_per_minute;
      auto const allowed =
          1 + static_cast<std::size_t>((to_seconds(rate_window) + to_seconds(p.limits.burst)) / interval_s);
      if (q.size() > allowed)
        fail("rate", now, s.call,
             fmt::format("{} requests to {} within {}, over its rate limit's {}", q.size(), s.provider,
                         to_string(rate_window), allowed));
    }
  }

  void on_done(done const& d, instant now) {
    auto* c = track(d.call, now, "done");
    if (c == nullptr) return;
    if (c->done) return fail("completion", now, d.call, "call completed twice");
    c->done = true;
    c->tried.clear();
    c->tried.shrink_to_fit();
    ++completed_;
    if (now > latest_end(*c))
      fail("deadline", now, d.call,
           fmt::format("call completed {} after its deadline", to_string(elapsed(c->deadline, now))));
    if (d.error) check_phi(d.error->message, now, d.call, "an error message");
  }

  void on_breaker(breaker_changed const& b, instant now) {
    auto& p = providers_[b.provider];
    bool const continuous = !p.breaker ? b.from == breaker_state::closed : *p.breaker == b.from;
    if (!continuous || !legal_breaker_move(b.from, b.to)) {
      ++illegal_moves_;
      fail("breaker", now, 0,
           fmt::format("breaker of {}: illegal move {} -> {} ({}), last known state {}", b.provider, to_string(b.from),
                       to_string(b.to), b.reason, p.breaker ? to_string(*p.breaker) : std::string_view{"closed"}));
    }
    p.breaker = b.to;
  }

  /// Every text field of the record (the rest are numbers, hashes and fixed words).
  void check_audit(audit_record const& r, instant now, call_id id) {
    for (auto const* text : {&r.request_id, &r.tenant, &r.route, &r.priority, &r.provider, &r.model, &r.outcome,
                             &r.reviewer, &r.review, &r.idempotency, &r.canary_arm})
      check_phi(*text, now, id, "an audit record");
    for (auto const& d : r.decisions) check_phi(d, now, id, "an audit record");
    for (auto const& a : r.attempts) check_phi(a.verdict, now, id, "an audit record");
  }

  void check_phi(std::string_view text, instant now, call_id id, std::string_view where) {
    for (auto const& canary : limits_.canaries)
      if (text.find(canary) != std::string_view::npos)
        fail("phi", now, id,
             fmt::format("canary PHI string #{} found in {}", &canary - limits_.canaries.data(), where));
  }

  static double to_seconds(duration d) { return static_cast<double>(d.count()) / 1e6; }

  invariant_limits limits_;
  std::vector<call_track> calls_;
  std::unordered_map<attempt_id, std::string> attempts_;
  std::map<std::string, provider_track, std::less<>> providers_;
  duration stepped_{0};
  instant first_at_{never};
  instant last_at_{};
  std::uint64_t submitted_ = 0, completed_ = 0, sends_ = 0, first_attempts_ = 0, retries_ = 0, hedges_ = 0;
  std::uint64_t illegal_moves_ = 0;
  std::uint64_t count_ = 0;
  std::vector<violation> first_;
  std::map<std::string_view, std::uint64_t> by_kind_;
};

}  // namespace medgate::sim
