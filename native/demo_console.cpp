// demo_console.cpp — `medgate demo --console`: the policies at work against a primary that slows, fails and recovers.
//
// Starts the provider simulator with two providers on an ephemeral loopback
// port, points the engine (through the native transport) at them, and sends a
// steady stream of calls while a scenario plays on the primary. Each second
// prints what happened: answers, how many came from the fallback, retries,
// errors, latency, and both breakers' states; breaker transitions are printed
// as they happen. No API key and no network beyond loopback are needed.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "arguments.hpp"
#include "commands.hpp"
#include "medgate/config.hpp"
#include "medgate/transport/httplib.hpp"
#include "simulator.hpp"
#include "token_data.hpp"

namespace medgate::cli {
namespace {

using namespace std::chrono_literals;

struct demo_settings {
  int seconds = 30;
  int rate = 20;  ///< calls started per second
  std::uint64_t seed = 42;
  bool color = false;
};

struct phase {
  double from;  ///< fraction of the run
  std::string_view name;
  std::string_view profile;  ///< the primary's fault profile (simulator JSON)
  std::string_view story;
};

// Latency stays realistic throughout: a lognormal with a modest spread.
constexpr phase scenario[] = {
    {0.00, "healthy", R"({"latency": {"kind": "lognormal", "median_ms": 120, "sigma": 0.3}})",
     "primary healthy: every answer comes from it"},
    {0.25, "slow", R"({"latency": {"kind": "lognormal", "median_ms": 2500, "sigma": 0.3}})",
     "primary slows to ~2.5 s: attempts time out at 1 s, the breaker opens, the fallback answers"},
    {0.45, "failing", R"({"errors": {"503": 1.0}, "latency": {"kind": "fixed", "ms": 20}})",
     "primary fails with 503: half-open probes fail, the breaker stays open"},
    {0.70, "recovered", R"({"latency": {"kind": "lognormal", "median_ms": 120, "sigma": 0.3}})",
     "primary recovers: a probe succeeds, the breaker closes, traffic returns"},
};

std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) { interrupted = true; }

/// One second's outcomes.
struct second_stats {
  int started = 0;
  int ok = 0;
  int via_fallback = 0;
  int errors = 0;
  int retries = 0;
  std::vector<std::int64_t> latencies_us;
};

struct tally {
  std::mutex m;
  std::map<int, second_stats> by_second;  ///< keyed by the second the call finished in
  std::map<std::string, int> error_codes;
  std::vector<std::string> events;  ///< breaker transitions not yet printed
  int finished = 0;
  int ok = 0;
  int via_fallback = 0;
  std::int64_t worst_overrun_us = 0;  ///< how far past its deadline a call finished (should stay ~0)
};

std::string percentile(std::vector<std::int64_t> v, double p) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  auto const i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return fmt::format("{}ms", v[i] / 1000);
}

std::string paint(bool color, std::string_view code, std::string_view text) {
  return color ? fmt::format("\x1b[{}m{}\x1b[0m", code, text) : std::string{text};
}

std::string breaker_cell(bool color, breaker_state s) {
  auto const name = to_string(s);
  auto const padded = fmt::format("{:<10}", name);
  switch (s) {
    case breaker_state::closed:
      return paint(color, "32", padded);
    case breaker_state::half_open:
      return paint(color, "33", padded);
    default:
      return paint(color, "31", padded);
  }
}

int usage(std::FILE* out, int code) {
  std::fprintf(out,
               "usage: medgate demo --console [--seconds N] [--rate CALLS_PER_SECOND] [--seed N] [--no-color]\n\n"
               "Starts two simulated providers (primary, fallback) on loopback and sends a steady stream of\n"
               "calls through medgate while the primary runs healthy, slows down, fails, and recovers.\n"
               "Defaults: --seconds 30 --rate 20 --seed 42.\n");
  return code;
}

bool parse_int(std::string_view text, long long lo, long long hi, long long& out) {
  auto const v = parse_integer<long long>(text);
  if (!v || *v < lo || *v > hi) return false;
  out = *v;
  return true;
}

}  // namespace

int run_demo_console(args a) {
  demo_settings s;
  s.color = isatty(STDOUT_FILENO) != 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::string_view const arg = a[i];
    auto value = [&](long long lo, long long hi, long long& out) {
      if (i + 1 >= a.size() || !parse_int(a[i + 1], lo, hi, out)) {
        std::fprintf(stderr, "medgate demo: %.*s needs a whole number from %lld to %lld\n",
                     static_cast<int>(arg.size()), arg.data(), lo, hi);
        return false;
      }
      ++i;
      return true;
    };
    long long v = 0;
    if (arg == "--help" || arg == "-h") return usage(stdout, 0);
    if (arg == "--no-color") {
      s.color = false;
    } else if (arg == "--seconds") {
      if (!value(4, 3600, v)) return 2;
      s.seconds = static_cast<int>(v);
    } else if (arg == "--rate") {
      if (!value(1, 500, v)) return 2;
      s.rate = static_cast<int>(v);
    } else if (arg == "--seed") {
      if (!value(0, 1'000'000'000'000, v)) return 2;
      s.seed = static_cast<std::uint64_t>(v);
    } else {
      std::fprintf(stderr, "medgate demo: unknown option '%.*s'\n\n", static_cast<int>(arg.size()), arg.data());
      return usage(stderr, 2);
    }
  }

  // ---- the simulated providers ----
  auto primary_faults = sim::parse_fault_profile(scenario[0].profile);
  auto fallback_faults =
      sim::parse_fault_profile(R"({"latency": {"kind": "lognormal", "median_ms": 250, "sigma": 0.3}})");
  if (!primary_faults || !fallback_faults) {
    std::fprintf(stderr, "medgate demo: internal scenario error\n");
    return 1;
  }
  sim::simulator_options so;
  so.providers = {{"primary", {"gpt-4o-mini"}, *primary_faults}, {"fallback", {"gpt-4o-mini"}, *fallback_faults}};
  so.seed = s.seed;
  so.threads = static_cast<std::size_t>(std::max(64, s.rate * 8));
  sim::simulator simulator{so};
  auto port = simulator.start();
  if (!port) {
    std::fprintf(stderr, "medgate demo: cannot start the simulator: %s\n", port.error_message().c_str());
    return 1;
  }

  // ---- medgate in front of them ----
  auto options = default_options();
  for (auto& p : options.routing.providers) {
    p.base_url = simulator.base_url(p.name);
    p.attempt_timeout = 1s;
    p.breaker.consecutive_failures = 5;
    p.breaker.window_size = 20;
    p.breaker.minimum_calls = 10;
    p.breaker.failure_rate_threshold = 50;
    p.breaker.slow_call_duration = 800ms;
    p.breaker.slow_call_rate_threshold = 80;
    p.breaker.open_duration = 3s;
    p.breaker.half_open_probes = 2;
    p.breaker.half_open_successes = 2;
  }
  options.retry.max_attempts_per_target = 2;
  options.retry.backoff.base = 100ms;
  options.retry.backoff.cap = 1s;
  options.deadlines.timeout = 4s;
  options.record_decisions = false;

  tally t;
  auto const start = std::chrono::steady_clock::now();
  auto second_of = [&](std::chrono::steady_clock::time_point when) {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(when - start).count());
  };
  transport::httplib_options topt;
  topt.token_counters = token_counters("medgate demo");
  topt.workers = static_cast<std::size_t>(std::max(16, s.rate * 4));
  topt.observer = [&](effect const& e) {
    if (auto const* b = std::get_if<breaker_changed>(&e)) {
      std::lock_guard lock{t.m};
      t.events.push_back(
          fmt::format("{} breaker {} -> {} ({})", b->provider, to_string(b->from), to_string(b->to), b->reason));
    }
  };
  auto driver = transport::httplib_driver::create(options, seed{s.seed}, topt);
  if (!driver) {
    std::fprintf(stderr, "medgate demo: %s\n", driver.error_message().c_str());
    return 1;
  }

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  std::printf("medgate demo — %d calls/s for %ds; primary and fallback simulated at http://127.0.0.1:%d\n", s.rate,
              s.seconds, *port);
  std::printf(
      "route clinical-summary: primary/gpt-4o-mini, then fallback/gpt-4o-mini; attempt timeout 1s, "
      "deadline 4s, 2 attempts per provider\n\n");
  std::printf("%5s  %-10s %5s %5s %9s %6s %7s %7s %7s  %-10s %-10s\n", "time", "phase", "calls", "ok", "fallback",
              "errors", "retries", "p50", "p95", "primary", "fallback");

  std::size_t phase_index = 0;
  int started_total = 0;
  auto const total = std::chrono::seconds{s.seconds};
  auto const interval = std::chrono::microseconds{1'000'000 / s.rate};
  auto next_call = start;
  int printed_second = 0;
  std::printf("       %s\n", std::string{scenario[0].story}.c_str());

  auto print_second = [&](int sec) {
    std::vector<std::string> events;
    second_stats row;
    {
      std::lock_guard lock{t.m};
      events.swap(t.events);
      row = t.by_second[sec];
    }
    for (auto const& e : events) std::printf("       %s\n", paint(s.color, "36", "! " + e).c_str());
    auto health = (*driver)->providers();
    auto state_of = [&](std::string_view name) {
      for (auto const& p : health)
        if (p.name == name) return p.breaker_metrics.state;
      return breaker_state::disabled;
    };
    std::printf("%4ds  %-10s %5d %5d %9d %6s %7d %7s %7s  %s %s\n", sec + 1,
                std::string{scenario[phase_index].name}.c_str(), row.started, row.ok, row.via_fallback,
                row.errors ? paint(s.color, "31", fmt::format("{:>6}", row.errors)).c_str() : "     0", row.retries,
                percentile(row.latencies_us, 0.5).c_str(), percentile(row.latencies_us, 0.95).c_str(),
                breaker_cell(s.color, state_of("primary")).c_str(),
                breaker_cell(s.color, state_of("fallback")).c_str());
    std::fflush(stdout);
  };

  while (!interrupted) {
    auto const now = std::chrono::steady_clock::now();
    auto const running_for = now - start;
    if (running_for >= total) break;
    // Advance the scenario.
    double const fraction = std::chrono::duration<double>(running_for) / std::chrono::duration<double>(total);
    if (phase_index + 1 < std::size(scenario) && fraction >= scenario[phase_index + 1].from) {
      ++phase_index;
      if (auto f = sim::parse_fault_profile(scenario[phase_index].profile)) simulator.set_faults("primary", *f);
      std::printf("       %s\n", paint(s.color, "1", scenario[phase_index].story).c_str());
    }
    // Print each completed second.
    while (second_of(now) > printed_second) print_second(printed_second++);
    // Start the calls that are due.
    while (next_call <= now) {
      int const n = ++started_total;
      int const sec = second_of(next_call);
      {
        std::lock_guard lock{t.m};
        ++t.by_second[sec].started;
      }
      call_request request;
      request.chat = openai::make_chat_request(
          "clinical-summary", {{"user", fmt::format("Summarize the ward round note for bed {}.", n % 32 + 1)}});
      (*driver)->submit(std::move(request), [&t, &second_of, timeout = options.deadlines.timeout](done const& d) {
        auto const finished = std::chrono::steady_clock::now();
        std::lock_guard lock{t.m};
        auto& row = t.by_second[second_of(finished)];
        ++t.finished;
        auto const latency = elapsed(d.submitted, d.finished);
        t.worst_overrun_us = std::max(t.worst_overrun_us, (latency - timeout).count());
        if (d.response) {
          ++row.ok;
          ++t.ok;
          row.latencies_us.push_back(latency.count());
          if (d.provider != "primary") {
            ++row.via_fallback;
            ++t.via_fallback;
          }
        } else {
          ++row.errors;
          ++t.error_codes[std::string{to_string(d.error->code)}];
        }
        for (std::size_t i = 1; i < d.attempts.size(); ++i)
          if (d.attempts[i].provider == d.attempts[i - 1].provider) ++row.retries;
      });
      next_call += interval;
    }
    std::this_thread::sleep_until(std::min(next_call, start + std::chrono::seconds{printed_second + 1}));
  }
  // Let the calls in flight finish (each ends within its 4 s deadline).
  auto const wait_until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < wait_until && !interrupted) {
    {
      std::lock_guard lock{t.m};
      if (t.finished == started_total) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  while (printed_second < s.seconds && !interrupted) print_second(printed_second++);
  driver->reset();  // cancels anything still in flight and joins the transport's threads

  std::lock_guard lock{t.m};
  std::printf("\n%d calls: %d answered (%.1f%%), %d of them by the fallback", started_total, t.ok,
              started_total ? 100.0 * t.ok / started_total : 0.0, t.via_fallback);
  if (t.error_codes.empty()) {
    std::printf("; no errors.\n");
  } else {
    std::printf("; errors:");
    for (auto const& [code, n] : t.error_codes) std::printf(" %s=%d", code.c_str(), n);
    std::printf(".\n");
  }
  std::printf("Every call ended by its deadline: %s (latest %.1f ms past it).\n",
              t.worst_overrun_us <= 50'000 ? "yes" : "NO",
              static_cast<double>(std::max<std::int64_t>(0, t.worst_overrun_us)) / 1000.0);
  auto const st = simulator.provider_stats("primary");
  std::printf("The primary received %llu attempts for %d calls: its breaker kept the rest away while it was down.\n",
              static_cast<unsigned long long>(st.requests), started_total);
  simulator.stop();
  return t.finished == started_total ? 0 : 1;
}

}  // namespace medgate::cli
