// sim/run.hpp — the deterministic simulation: the engine with every policy against simulated providers, in
// virtual time, every event checked against sim/invariants.hpp.
//
// Why: breakers stuck half-open, cooldowns skipped across fallbacks, retry budgets counted wrong — such bugs live
// in rare interleavings of faults that unit tests never reach. Because the engine is sans-I/O and seeded, a whole
// run (arrivals, faults, latencies, clock steps, jitter) is a function of (scenario, calls, seed): a million calls
// replay in seconds, and a failing seed replays exactly. Single-threaded, no sockets, no clock: the host measures
// wall time itself (`medgate sim` does).
//
//   auto const* sc = sim::find_scenario("mixed");
//   auto report = sim::run({.calls = 100'000, .seed = 1, .mix = sc});
//   fmt::print("{}", sim::format_report(report, std::nullopt));   // ends with "violations: N"
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../engine.hpp"
#include "../random.hpp"
#include "../time.hpp"
#include "invariants.hpp"
#include "world.hpp"

namespace medgate::sim {

/// A named fault mix.
struct scenario {
  std::string_view name;
  std::string_view summary;
  fault_profile primary;            ///< faults of the first provider of the chain
  fault_profile others;             ///< faults of the fallbacks
  duration mean_clock_step_gap{0};  ///< 0 = no clock steps
  duration max_clock_step{0};       ///< forward jumps are uniform in [1 ms, this]
  double calls_per_second = 800;    ///< arrival rate in virtual time (Poisson)
};

namespace detail {

constexpr fault_profile profile(std::array<std::uint32_t, fault_count> weights, int healthy_s, int fault_s,
                                double background = 0.01) {
  return {weights, std::chrono::seconds{healthy_s}, std::chrono::seconds{fault_s}, background};
}

// weights:                          none outage flap 429 429ra spike hang reset malformed truncated
constexpr std::array<std::uint32_t, fault_count> all_faults{0, 3, 2, 2, 2, 2, 2, 2, 1, 1};

}  // namespace detail

/// Every scenario `medgate sim --scenario NAME` knows; the first is the default.
inline std::vector<scenario> const& scenarios() {
  using namespace std::chrono_literals;
  using detail::profile;
  static std::vector<scenario> const all{
      {"mixed", "every fault kind on every provider, and clock steps", profile(detail::all_faults, 6, 4),
       profile(detail::all_faults, 12, 3), 10s, 15s},
      {"outage", "long partial and full outages of the primary, short ones of the fallbacks",
       profile({0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 6, 12, 0.005), profile({0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 20, 3)},
      {"flapping", "providers going up and down every 300 ms", profile({0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 4, 8),
       profile({0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 10, 4)},
      {"storm_429", "429 storms with and without Retry-After", profile({0, 0, 0, 1, 1, 0, 0, 0, 0, 0}, 4, 6),
       profile({0, 0, 0, 1, 1, 0, 0, 0, 0, 0}, 8, 4)},
      {"hangs", "hangs, latency spikes and connection resets", profile({0, 0, 0, 0, 0, 1, 2, 1, 0, 0}, 4, 4),
       profile({0, 0, 0, 0, 0, 1, 1, 1, 0, 0}, 10, 3)},
      {"garbage", "malformed and truncated answers", profile({0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, 4, 4),
       profile({0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, 10, 3)},
      {"clock_steps", "frequent forward jumps of the host's clock over light faults",
       profile(detail::all_faults, 20, 2), profile(detail::all_faults, 20, 2), 3s, 30s},
  };
  return all;
}

inline scenario const* find_scenario(std::string_view name) {
  for (auto const& s : scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

/// The providers of the simulated deployment, in chain order.
inline constexpr std::array<std::string_view, 3> provider_names{"primary", "secondary", "tertiary"};

/// Every policy on: three providers with breakers, rate limits and bulkheads; retries with jittered
/// exponential backoff and a retry budget; hedging with its budget; deadlines; a canary arm; idempotency;
/// per-call and per-tenant token budgets; PHI redaction. One direct route per provider drains the run.
inline engine_options simulation_options() {
  using namespace std::chrono_literals;
  engine_options o;
  for (auto const name : provider_names) {
    provider p;
    p.name = std::string{name};
    p.base_url = fmt::format("http://sim.invalid/{}/v1", name);
    p.connect_timeout = 500ms;
    p.attempt_timeout = 3s;
    p.breaker.consecutive_failures = 5;
    p.breaker.window_size = 50;
    p.breaker.minimum_calls = 20;
    p.breaker.open_duration = 2s;
    p.breaker.open_duration_multiplier = 2.0;
    p.breaker.max_open_duration = 20s;
    p.breaker.half_open_probes = 3;
    p.breaker.half_open_successes = 2;
    p.breaker.half_open_probe_timeout = 10s;
    p.breaker.slow_call_duration = 2s;
    p.rate_limit.requests_per_minute = name == "tertiary" ? 12'000 : 60'000;
    p.rate_limit.burst = 500ms;
    p.concurrency.max_concurrent = name == "tertiary" ? 100 : 400;
    o.routing.providers.push_back(std::move(p));
  }
  route main{"clinical-summary",
             {{"primary", "gpt-4o-mini"}, {"secondary", "gpt-4o-mini"}, {"tertiary", "gpt-4o-mini"}},
             std::nullopt};
  canary_route k;
  k.chain = {{"secondary", "gpt-4o"}, {"primary", "gpt-4o-mini"}};
  k.options.basis_points = 1000;
  k.options.ramp = {{60s, 2000}, {300s, 3000}};
  main.canary = std::move(k);
  o.routing.routes.push_back(std::move(main));
  for (auto const name : provider_names)
    o.routing.routes.push_back({fmt::format("direct-{}", name), {{std::string{name}, "gpt-4o-mini"}}, std::nullopt});
  o.retry.max_attempts_per_target = 3;
  o.retry.backoff = {backoff_kind::exponential, 50ms, 2.0, 250ms, 1s, jitter_kind::full};
  o.retry.budget = {10s, 5, 0.2};
  o.retry.max_retry_after = 5s;
  o.deadlines = {8s, 3s, 50ms};
  o.hedge.enabled = true;
  o.hedge.percentile = 0.95;
  o.hedge.min_delay = 100ms;
  o.hedge.max_delay = 2s;
  o.hedge.min_samples = 20;
  o.hedge.max_extra_ratio = 0.1;
  o.hedge.min_hedges_per_second = 1;
  o.idempotency.derive_keys = false;
  o.budgets.per_call.max_tokens = 4000;
  o.budgets.tenants["research"] = tenant_budget{std::nullopt, 400'000};
  o.phi.enabled = true;
  o.record_decisions = false;
  o.patient_key_secret = "simulation secret";
  return o;
}

/// PHI put into the prompts; none may appear in anything the engine emits.
inline std::vector<std::string> const& canary_phi() {
  static std::vector<std::string> const all{"512-44-9087",      "617-555-0142",        "eleanor.vasquez@example.org",
                                            "4111111111111111", "4012 8888 8888 1881", "10.44.201.17"};
  return all;
}

struct run_options {
  std::uint64_t calls = 100'000;
  std::uint64_t seed = 1;
  scenario const* mix = nullptr;  ///< the scenario; null: the first of `scenarios()`
};

/// What a run did; deterministic for (calls, seed, scenario).
struct report {
  std::string scenario;
  std::uint64_t seed = 0;
  std::uint64_t offered = 0;
  std::uint64_t drain_calls = 0;
  std::uint64_t completed = 0;
  std::uint64_t ok = 0;
  std::map<std::string, std::uint64_t> errors;  ///< by call_error_code
  std::uint64_t attempts = 0, first_attempts = 0, retries = 0, hedges = 0, cancels = 0;
  std::uint64_t fell_back = 0;  ///< calls whose attempts went to more than one provider
  std::uint64_t joined = 0, cached = 0, canary_arm = 0;
  std::uint64_t canary_changes = 0;                    ///< ramp steps and automatic rollbacks
  std::array<std::uint64_t, fault_count> faults{};     ///< attempts hit by each fault kind
  std::map<std::string, std::uint64_t> breaker_moves;  ///< "closed->open" ...
  std::vector<std::pair<std::string, breaker_state>> final_breakers;
  std::uint64_t effects = 0, deliveries = 0, events = 0;
  std::uint64_t clock_steps = 0;
  duration stepped{0};
  duration virtual_time{0};
  std::uint64_t violation_count = 0;
  std::map<std::string_view, std::uint64_t> violations_by_kind;
  std::vector<violation> violations;  ///< the first few of each kind
};

namespace detail {

/// One simulated run; see `run`.
class simulation {
 public:
  simulation(run_options const& o, scenario const& sc)
      : opts_{o},
        sc_{sc},
        options_{simulation_options()},
        eng_{options_, seed{o.seed}},
        checker_{limits_from(options_, canary_phi())},
        workload_{seed{o.seed ^ 0x9e3779b97f4a7c15ULL}},
        steps_{seed{o.seed ^ 0xc2b2ae3d27d4eb4fULL}} {
    using namespace std::chrono_literals;
    for (std::size_t k = 0; k < provider_names.size(); ++k)
      providers_.emplace_back(std::string{provider_names[k]}, k == 0 ? sc.primary : sc.others, 20ms,
                              k == 0 ? 400ms : 700ms, seed{o.seed * 1'000'003 + k + 1});
    rep_.scenario = std::string{sc.name};
    rep_.seed = o.seed;
    next_step_ = sc.mean_clock_step_gap > duration{0} ? add(instant{}, gap(sc.mean_clock_step_gap)) : never;
  }

  report run() {
    using namespace std::chrono_literals;
    next_arrival_ = instant{};
    loop([&] { return rep_.offered < opts_.calls || eng_.calls_in_progress() != 0; });
    // Drain: the providers heal; each breaker not closed gets calls of its own until it closes (a breaker that
    // stays half-open with healthy traffic is stuck).
    next_step_ = never;
    for (auto& p : providers_) p.heal();
    for (int round = 0; round < 12; ++round) {
      now_ = add(now_, 25s);
      bool any = false;
      for (auto const& s : eng_.providers(now_)) {
        if (s.breaker_metrics.state == breaker_state::closed) continue;
        any = true;
        for (int k = 0; k < 3; ++k) submit(fmt::format("direct-{}", s.name), true);
      }
      drain();
      if (!any) break;
      loop([&] { return eng_.calls_in_progress() != 0; });
    }
    for (auto const& s : eng_.providers(now_)) rep_.final_breakers.emplace_back(s.name, s.breaker_metrics.state);
    drain();
    checker_.on_drained(rep_.final_breakers, eng_.calls_in_progress(), now_);
    rep_.attempts = checker_.attempts();
    rep_.first_attempts = checker_.first_attempts();
    rep_.retries = checker_.retries();
    rep_.hedges = checker_.hedges();
    rep_.events = rep_.effects + rep_.deliveries + rep_.offered + rep_.drain_calls + rep_.clock_steps;
    rep_.virtual_time = elapsed(instant{}, now_);
    rep_.violation_count = checker_.violation_count();
    rep_.violations = checker_.violations();
    rep_.violations_by_kind = checker_.violations_by_kind();
    return std::move(rep_);
  }

 private:
  struct due {
    instant at;
    std::uint64_t order;
    attempt_id attempt;
    friend bool operator>(due const& a, due const& b) { return std::tie(a.at, a.order) > std::tie(b.at, b.order); }
  };

  duration gap(duration mean) {
    double const u = std::max(steps_.uniform(), 1e-12);
    return duration{
        std::max<std::int64_t>(1000, static_cast<std::int64_t>(-std::log(u) * static_cast<double>(mean.count())))};
  }

  template <class More>
  void loop(More more) {
    std::uint32_t stalled = 0;
    while (more()) {
      instant next = eng_.next_deadline();
      if (rep_.offered < opts_.calls) next = std::min(next, next_arrival_);
      if (!due_.empty()) next = std::min(next, due_.top().at);
      if (next_step_ <= next) {
        step_clock();
        continue;
      }
      if (next == never) break;  // nothing can happen any more: the checker reports what never completed
      if (next <= now_) {
        if (++stalled > 1000) now_ = add(now_, duration{1});
      } else {
        stalled = 0;
        now_ = next;
      }
      while (rep_.offered < opts_.calls && next_arrival_ <= now_) {
        submit("clinical-summary", false);
        next_arrival_ = add(next_arrival_, arrival_gap());
      }
      while (!due_.empty() && due_.top().at <= now_) {
        auto const d = due_.top();
        due_.pop();
        deliver(d.attempt);
      }
      drain();
    }
  }

  duration arrival_gap() {
    double const u = std::max(workload_.uniform(), 1e-12);
    return duration{static_cast<std::int64_t>(-std::log(u) * 1e6 / sc_.calls_per_second)};
  }

  void step_clock() {
    using namespace std::chrono_literals;
    now_ = std::max(now_, next_step_);
    auto const jump = 1ms + duration{static_cast<std::int64_t>(
                                steps_.below(static_cast<std::uint64_t>((sc_.max_clock_step - 1ms).count())))};
    now_ = add(now_, jump);
    // Only the host's reading of the clock jumps: callers keep arriving and answers keep coming at their pace,
    // so everything already scheduled is read that much later.
    next_arrival_ = add(next_arrival_, jump);
    std::vector<due> later;
    later.reserve(due_.size());
    for (; !due_.empty(); due_.pop()) later.push_back({add(due_.top().at, jump), due_.top().order, due_.top().attempt});
    for (auto const& d : later) due_.push(d);
    checker_.on_clock_step(jump);
    ++rep_.clock_steps;
    rep_.stepped += jump;
    next_step_ = add(now_, gap(sc_.mean_clock_step_gap));
    drain();
  }

  void submit(std::string route, bool draining) {
    using namespace std::chrono_literals;
    static constexpr std::array<std::string_view, 4> notes{
        "Summarize for the discharge letter: chest pain, troponin negative twice, discharged home. SSN {}; "
        "call back on {}.",
        "Patient email {} asked about her results; Visa {}. Draft a short, kind reply.",
        "Follow-up note: device at {} logged a fall alert; phone {}. List the next steps for the nurse.",
        "Referral: SSN {}, reachable at {}. Shortness of breath on exertion, BNP 410. Suggest the workup."};
    auto const& phi = canary_phi();
    auto const which = workload_.below(notes.size());
    std::string text;
    switch (which) {
      case 0:
        text = fmt::format(fmt::runtime(notes[0]), phi[0], phi[1]);
        break;
      case 1:
        text = fmt::format(fmt::runtime(notes[1]), phi[2], phi[3]);
        break;
      case 2:
        text = fmt::format(fmt::runtime(notes[2]), phi[4], phi[1]);
        break;
      default:
        text = fmt::format(fmt::runtime(notes[3]), phi[0], phi[2]);
        break;
    }
    call_request r;
    r.chat = openai::make_chat_request(std::move(route), {{"user", std::move(text)}});
    r.chat.max_tokens = 256;
    r.chat.body["max_tokens"] = 256;
    auto const pick = workload_.below(100);
    r.priority_class = pick < 10 ? priority::urgent : pick < 70 ? priority::normal : priority::batch;
    if (r.priority_class == priority::urgent) r.timeout = 3s;
    r.tenant = workload_.below(5) == 0 ? "research" : "clinic";
    r.patient_key = fmt::format("patient-{}", workload_.below(20'000));
    if (!draining && workload_.below(100) < 3) r.idempotency_key = fmt::format("idem-{}", workload_.below(64));
    duration const timeout = r.timeout.value_or(options_.deadlines.timeout);
    r.request_id = "sim";
    // The call's effects wait in the engine's queue until `drain` polls them, after the checker knows it.
    checker_.on_submit(eng_.submit(std::move(r), now_), timeout, now_);
    if (draining)
      ++rep_.drain_calls;
    else
      ++rep_.offered;
    drain();
  }

  void deliver(attempt_id attempt) {
    auto it = pending_.find(attempt);
    if (it == pending_.end()) return;  // cancelled
    auto o = std::move(it->second);
    pending_.erase(it);
    ++rep_.deliveries;
    checker_.on_attempt_end(attempt, now_);
    if (o.failed)
      eng_.on_failure(attempt, o.failure, now_);
    else
      eng_.on_response(attempt, o.response, now_);
  }

  void drain() {
    while (auto e = eng_.poll(now_)) {
      ++rep_.effects;
      checker_.on_effect(*e, now_);
      if (auto* s = std::get_if<send>(&*e)) {
        auto& p = provider_named(s->provider);
        auto o = p.answer(*s, now_);
        ++rep_.faults[static_cast<std::size_t>(o.cause)];
        due_.push({o.at, order_++, s->attempt});
        pending_.emplace(s->attempt, std::move(o));
      } else if (auto const* c = std::get_if<cancel>(&*e)) {
        ++rep_.cancels;
        pending_.erase(c->attempt);
      } else if (auto const* d = std::get_if<done>(&*e)) {
        on_done(*d);
      } else if (auto const* b = std::get_if<breaker_changed>(&*e)) {
        ++rep_.breaker_moves[fmt::format("{}->{}", to_string(b->from), to_string(b->to))];
      } else if (std::holds_alternative<canary_changed>(*e)) {
        ++rep_.canary_changes;
      } else if (auto const* pr = std::get_if<probe>(&*e)) {
        eng_.on_probe_result(pr->id, true, now_);
      }
    }
  }

  void on_done(done const& d) {
    ++rep_.completed;
    if (d.response)
      ++rep_.ok;
    else if (d.error)
      ++rep_.errors[std::string{to_string(d.error->code)}];
    if (d.idempotency == "join") ++rep_.joined;
    if (d.idempotency == "cached") ++rep_.cached;
    if (d.canary_arm == "canary") ++rep_.canary_arm;
    std::string_view first;
    for (auto const& a : d.attempts) {
      if (a.hedge) continue;
      if (first.empty())
        first = a.provider;
      else if (a.provider != first) {
        ++rep_.fell_back;
        break;
      }
    }
    checker_.on_tenant_usage("research", eng_.budget_usage("research", now_).spent_tokens, now_);
  }

  provider_sim& provider_named(std::string_view name) {
    for (auto& p : providers_)
      if (p.name() == name) return p;
    return providers_.front();
  }

  run_options opts_;
  scenario const& sc_;
  engine_options options_;
  engine eng_;
  invariant_checker checker_;
  rng workload_;
  rng steps_;
  std::vector<provider_sim> providers_;
  std::priority_queue<due, std::vector<due>, std::greater<>> due_;
  std::unordered_map<attempt_id, outcome> pending_;
  instant now_{};
  instant next_arrival_{};
  instant next_step_{never};
  std::uint64_t order_ = 0;
  report rep_;
};

}  // namespace detail

/// Runs `o.calls` calls of the scenario and checks every invariant after every event.
inline report run(run_options const& o) {
  scenario const& sc = o.mix != nullptr ? *o.mix : scenarios().front();
  return detail::simulation{o, sc}.run();
}

/// The command that replays a run exactly.
inline std::string replay_command(report const& r, std::uint64_t calls) {
  return fmt::format("medgate sim --calls {} --seed {} --scenario {}", calls, r.seed, r.scenario);
}

/// The summary `medgate sim` prints, ending with "violations: N". `wall_seconds` is left out when absent, so two
/// runs of one seed print the same bytes.
inline std::string format_report(report const& r, std::optional<double> wall_seconds) {
  auto seconds = [](duration d) { return static_cast<double>(d.count()) / 1e6; };
  std::string out;
  auto line = [&](std::string_view label, std::string const& text) { out += fmt::format("{:<12}{}\n", label, text); };
  line("scenario:", fmt::format("{} (seed {})", r.scenario, r.seed));
  line("calls:", fmt::format("{} offered, {} drain calls, {} completed", r.offered, r.drain_calls, r.completed));
  std::string outcomes = fmt::format("ok {}", r.ok);
  for (auto const& [code, n] : r.errors) outcomes += fmt::format(", {} {}", code, n);
  line("outcomes:", outcomes);
  line("attempts:", fmt::format("{} ({} first on a target, {} retries, {} hedges, {} cancelled)", r.attempts,
                                r.first_attempts, r.retries, r.hedges, r.cancels));
  line("fallbacks:", fmt::format("{} calls went on to another provider", r.fell_back));
  line("admission:", fmt::format("{} joined a call in flight, {} answered from cache, {} in the canary arm "
                                 "({} canary changes: ramp steps and rollbacks)",
                                 r.joined, r.cached, r.canary_arm, r.canary_changes));
  std::string faults;
  for (std::size_t k = 1; k < fault_count; ++k)
    faults += fmt::format("{}{} {}", faults.empty() ? "" : ", ", to_string(static_cast<fault>(k)), r.faults[k]);
  line("faults:", faults + " attempts hit");
  std::uint64_t moves = 0;
  std::string by_move;
  for (auto const& [m, n] : r.breaker_moves) {
    moves += n;
    by_move += fmt::format("{}{} {}", by_move.empty() ? "" : ", ", m, n);
  }
  line("breakers:", fmt::format("{} transitions ({})", moves, by_move));
  std::string finals;
  for (auto const& [name, state] : r.final_breakers)
    finals += fmt::format("{}{} {}", finals.empty() ? "" : ", ", name, to_string(state));
  line("at the end:", finals);
  line("events:",
       fmt::format("{} ({} effects, {} deliveries); virtual time {:.1f} s, {} clock steps of {:.1f} s", r.events,
                   r.effects, r.deliveries, seconds(r.virtual_time), r.clock_steps, seconds(r.stepped)));
  if (wall_seconds)
    line("wall time:", fmt::format("{:.2f} s, {:.0f} calls/s", *wall_seconds,
                                   static_cast<double>(r.offered) / std::max(*wall_seconds, 1e-9)));
  for (auto const& v : r.violations)
    out += fmt::format("VIOLATION ({}) at {} us{}: {}\n", v.kind, to_us(v.at),
                       v.call != 0 ? fmt::format(" call {}", v.call) : "", v.what);
  if (r.violation_count != 0) {
    std::string kinds;
    for (auto const& [kind, n] : r.violations_by_kind)
      kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", kind, n);
    line("by kind:", kinds);
    line("replay:", replay_command(r, r.offered));
  }
  out += fmt::format("violations: {}\n", r.violation_count);
  return out;
}

}  // namespace medgate::sim
