// bench/soak.cpp — `medgate serve` under ten minutes of mixed load and faults: do its memory and its open file
// descriptors stay flat?
//
// A leak shows only over time: a connection not closed on one rare error
// path, a per-call entry never erased, a cache without a bound. This runs the
// real `medgate serve` process (every policy on: retries, hedging, breakers,
// idempotency, PHI protection, budgets, audit to a file) in front of the
// in-process simulator, whose primary provider changes fault preset every
// --phase seconds (flaky, rate limited, resetting, hanging, malformed,
// truncating, down, healthy ...). Client threads send a mix at --rate
// requests/s: chat completions with clinical context and PHI, streams,
// repeated Idempotency-Keys, malformed JSON, a wrong token and oversized
// bodies. Every --every seconds it reads the gateway's resident memory, open
// descriptors and threads from /proc, and prints a line.
//
// Verdict: after a warm-up (the first fifth of the run, at least 30 s), the
// largest RSS of the last third may exceed the largest RSS of the first
// third after warm-up by at most 10 % + 8 MiB, and once the load stops the
// descriptors must come back to within 8 of where they were after warm-up.
// Calls lost (no HTTP response at all) must be 0. Not run by ctest (it takes
// ten minutes); built by CMake as `bench_soak`.
//
//   bench_soak [--duration S] [--every S] [--phase S] [--rate R] [--clients K] [--medgate PATH]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "arguments.hpp"
#include "process.hpp"
#include "simulator.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using medgate::bench::process_sample;

constexpr char const* gateway_token = "bench-soak-gateway-token-01";

struct settings {
  double duration = 600;  ///< seconds of load
  double every = 10;      ///< seconds between samples
  double phase = 30;      ///< seconds per fault preset
  double rate = 100;      ///< requests per second, all clients together
  std::size_t clients = 16;
  std::string medgate;  ///< empty: ../native/medgate next to this binary's folder
};

bool parse_arguments(int argc, char** argv, settings& s) {
  std::vector<char const*> const words(argv + 1, argv + argc);
  medgate::cli::option_cursor in{medgate::cli::args{words}};
  bool help = false;
  auto bad = in.each_valued(help, [&](std::string_view name, std::string* v) -> std::optional<medgate::error> {
    if (name == "--medgate") {
      s.medgate = *v;
      return std::nullopt;
    }
    double number = 0;
    try {
      number = std::stod(*v);
    } catch (...) {
      return medgate::error{fmt::format("{} needs a number, got \"{}\"", name, *v)};
    }
    if (!(number > 0)) return medgate::error{fmt::format("{} must be > 0, got {}", name, number)};
    if (name == "--duration")
      s.duration = number;
    else if (name == "--every")
      s.every = number;
    else if (name == "--phase")
      s.phase = number;
    else if (name == "--rate")
      s.rate = number;
    else if (name == "--clients")
      s.clients = static_cast<std::size_t>(number);
    else
      return medgate::error{fmt::format("unknown option {}", name)};
    return std::nullopt;
  });
  if (bad || help) {
    std::fprintf(help ? stdout : stderr,
                 "%s%susage: bench_soak [--duration S] [--every S] [--phase S] [--rate R] [--clients K] "
                 "[--medgate PATH]\n",
                 bad ? bad->message.c_str() : "", bad ? "\n" : "");
    return false;
  }
  return true;
}

/// What the clients saw: HTTP statuses, and calls that got no response at all.
struct tally {
  std::mutex mutex;
  std::map<int, std::uint64_t> statuses;
  std::uint64_t lost = 0;
  std::uint64_t sent = 0;
  std::map<std::string, std::uint64_t> lost_why;
};

std::string chat(std::uint64_t i, bool stream) {
  json body{{"model", "clinical-summary"},
            {"messages",
             {{{"role", "system"}, {"content", "You summarise clinical notes for the treating team."}},
              {{"role", "user"},
               {"content", fmt::format("Patient Jane Doe (MRN {:08}), seen on 03/04/2025 by Dr. Alan Smith at "
                                       "St. Mary's Hospital. BP 150/95, HR 88. Call 555-0{:03}. Summarise.",
                                       10'000'000 + i % 5000, i % 1000)}}}}};
  if (stream) body["stream"] = true;
  return body.dump();
}

/// One client: a keep-alive connection, requests on its own schedule, the mix decided by the call's number.
void client_loop(int port, settings const& s, std::size_t index, steady::time_point until,
                 std::atomic<bool> const& stop, std::atomic<std::uint64_t>& numbers, tally& t) {
  httplib::Client c{"127.0.0.1", port};
  c.set_keep_alive(true);
  c.set_read_timeout(60, 0);
  c.set_connection_timeout(5, 0);
  auto const gap = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double>(static_cast<double>(s.clients) / s.rate));
  auto next = steady::now() + gap * static_cast<long>(index) / static_cast<long>(s.clients);
  std::string const oversized(std::size_t{2} << 20, 'x');
  while (next < until && !stop) {
    std::this_thread::sleep_until(next);
    next += gap;
    std::uint64_t const i = numbers.fetch_add(1);
    httplib::Headers headers{{"Authorization", fmt::format("Bearer {}", gateway_token)},
                             {"X-Medgate-Patient", fmt::format("MRN-{}", i % 997)},
                             {"X-Medgate-Tenant", i % 3 == 0 ? "cardiology" : "oncology"},
                             {"X-Medgate-Priority", i % 7 == 0   ? "urgent"
                                                    : i % 5 == 0 ? "batch"
                                                                 : "normal"}};
    std::string body;
    if (i % 50 == 1) {
      body = R"({"model": "clinical-summary", "messages": [)";  // malformed JSON: 400
    } else if (i % 50 == 2) {
      headers.find("Authorization")->second = "Bearer wrong-token-0000000000";  // 401
      body = chat(i, false);
    } else if (i % 100 == 3) {
      body = oversized;  // over max_body_bytes: 413
    } else {
      if (i % 10 == 5) headers.emplace("Idempotency-Key", fmt::format("soak-{}", i % 40));  // repeats: joins, cache
      body = chat(i, i % 20 == 0);
    }
    auto r = c.Post("/v1/chat/completions", headers, body, "application/json");
    std::lock_guard lock{t.mutex};
    ++t.sent;
    if (r) {
      ++t.statuses[r->status];
    } else {
      ++t.lost;
      ++t.lost_why[httplib::to_string(r.error())];
    }
  }
}

std::string gateway_config(medgate::sim::simulator const& sim, fs::path const& dir) {
  return json{
      {"providers",
       {{{"name", "primary"},
         {"base_url", sim.base_url("primary")},
         {"models", {"gpt-4o-mini"}},
         {"attempt_timeout_ms", 1500},
         {"rate_limit", {{"requests_per_minute", 600000}}}},
        {{"name", "fallback"}, {"base_url", sim.base_url("fallback")}, {"models", {"gpt-4o-mini"}}}}},
      {"routes", {{"clinical-summary", {"primary/gpt-4o-mini", "fallback/gpt-4o-mini"}}}},
      {"retry", {{"max_attempts_per_target", 2}, {"backoff", {{"base_ms", 20}, {"cap_ms", 200}}}}},
      {"deadlines", {{"timeout_ms", 4000}, {"attempt_timeout_ms", 1500}}},
      {"hedge", {{"enabled", true}, {"percentile", 0.9}, {"min_delay_ms", 50}}},
      {"idempotency", {{"enabled", true}}},
      {"budgets", {{"tenants", {{"cardiology", {{"daily_usd", 1000000}}}}}, {"default", {{"daily_usd", 1000000}}}}},
      {"phi", {{"enabled", true}}},
      {"gateway",
       {{"listen", "127.0.0.1:0"},
        {"threads", 64},
        {"max_body_bytes", 1 << 20},
        {"audit", (dir / "audit.jsonl").string()}}}}
      .dump(2);
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  if (!parse_arguments(argc, argv, s)) return argc > 1 && std::string_view{argv[1]} == "--help" ? 0 : 2;

  medgate::sim::simulator sim{
      {.host = "127.0.0.1", .port = 0, .providers = {{"primary"}, {"fallback"}}, .seed = 11, .threads = 256}};
  if (auto port = sim.start(); !port) {
    std::fprintf(stderr, "bench_soak: simulator: %s\n", port.error_message().c_str());
    return 2;
  }
  medgate::bench::temp_dir dir;
  fs::path const program = s.medgate.empty() ? medgate::bench::default_medgate_path() : fs::path{s.medgate};
  auto served = medgate::bench::start_medgate_serve(program, gateway_config(sim, dir.path), dir.path,
                                                    {{"MEDGATE_GATEWAY_TOKEN", gateway_token}});
  if (!served) {
    std::fprintf(stderr, "bench_soak: %s\n", served.error_message().c_str());
    return 2;
  }
  pid_t const pid = served->process->pid();
  fmt::print(
      "bench_soak: medgate serve (pid {}) at 127.0.0.1:{}, {} s at {} req/s from {} clients, faults change "
      "every {} s\n",
      pid, served->port, s.duration, s.rate, s.clients, s.phase);
  fmt::print("{:>6}  {:>9}  {:>5}  {:>7}  {:>9}  {:>6}  {}\n", "t (s)", "RSS (MiB)", "fds", "threads", "requests",
             "lost", "primary's faults");

  std::vector<std::string_view> const presets{"healthy",   "flaky",      "rate_limited", "resetting", "hanging",
                                              "malformed", "truncating", "spiky",        "down",      "healthy"};
  auto const start = steady::now();
  auto const until = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s.duration));
  tally t;
  std::atomic<std::uint64_t> numbers{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (std::size_t k = 0; k < s.clients; ++k)
    clients.emplace_back([&, k] { client_loop(served->port, s, k, until, stop, numbers, t); });

  struct row {
    double at = 0;
    process_sample sample;
  };
  std::vector<row> rows;
  std::string preset{"healthy"};
  auto next_sample = start;
  std::size_t phase_index = 0;
  while (steady::now() < until) {
    double const elapsed = std::chrono::duration<double>(steady::now() - start).count();
    auto const phase = static_cast<std::size_t>(elapsed / s.phase);
    if (phase != phase_index) {
      phase_index = phase;
      preset = std::string{presets[phase % presets.size()]};
      if (auto profile = medgate::sim::preset(preset)) {
        if (preset == "hanging") profile->hang.hold = std::chrono::seconds{3};  // held, then reset
        sim.set_faults("primary", *profile);
      }
    }
    if (steady::now() >= next_sample) {
      next_sample += std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s.every));
      auto const sample = medgate::bench::sample_process(pid);
      if (!sample) {
        std::fprintf(stderr, "bench_soak: medgate serve (pid %d) is gone: %s\n", pid,
                     medgate::bench::tail(dir.path / "medgate.err").c_str());
        stop = true;
        break;
      }
      rows.push_back({elapsed, *sample});
      std::lock_guard lock{t.mutex};
      fmt::print("{:>6.0f}  {:>9.1f}  {:>5}  {:>7}  {:>9}  {:>6}  {}\n", elapsed,
                 static_cast<double>(sample->rss_kib) / 1024.0, sample->open_fds, sample->threads, t.sent, t.lost,
                 preset);
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  for (auto& c : clients) c.join();
  sim.set_faults("primary", medgate::sim::fault_profile{});
  std::this_thread::sleep_for(std::chrono::seconds{5});  // idle: connections close, hung attempts end
  auto const after = medgate::bench::sample_process(pid);

  // The verdict (see the header comment).
  double const warmup = std::max(30.0, s.duration / 5);
  auto const largest_rss = [&](double from, double to) {
    std::uint64_t most = 0;
    for (auto const& r : rows)
      if (r.at >= from && r.at <= to) most = std::max(most, r.sample.rss_kib);
    return most;
  };
  double const span = s.duration - warmup;
  std::uint64_t const early = largest_rss(warmup, warmup + span / 3);
  std::uint64_t const late = largest_rss(s.duration - span / 3, s.duration);
  std::optional<std::size_t> fds_after_warmup;
  for (auto const& r : rows)
    if (r.at >= warmup) {
      fds_after_warmup = r.sample.open_fds;
      break;
    }
  std::lock_guard lock{t.mutex};
  fmt::print("\nrequests {} in {:.0f} s; statuses:", t.sent, s.duration);
  for (auto const& [status, n] : t.statuses) fmt::print(" {} x{}", status, n);
  fmt::print("; lost {}", t.lost);
  for (auto const& [why, n] : t.lost_why) fmt::print(" ({} x{})", why, n);
  fmt::print("\n");
  bool const rss_flat =
      early > 0 && late > 0 && static_cast<double>(late) <= static_cast<double>(early) * 1.10 + 8 * 1024;
  bool const fds_flat = after && fds_after_warmup && after->open_fds <= *fds_after_warmup + 8;
  fmt::print("RSS: largest {:.1f} MiB early (after {:.0f} s of warm-up), {:.1f} MiB late: {}\n",
             static_cast<double>(early) / 1024.0, warmup, static_cast<double>(late) / 1024.0,
             rss_flat ? "flat" : "GROWING");
  fmt::print("open descriptors: {} after warm-up, {} when idle after the load: {}\n",
             fds_after_warmup ? std::to_string(*fds_after_warmup) : "?", after ? std::to_string(after->open_fds) : "?",
             fds_flat ? "flat" : "GROWING");
  bool const pass = rss_flat && fds_flat && t.lost == 0;
  fmt::print("{}\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
