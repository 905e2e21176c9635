// sla.cpp — `medgate sla --audit FILE`: availability and latency per provider and route against contract tiers,
// from a verified audit log, as JSON, a text table or an HTML report.
//
// The chain is verified while the file is read (one pass, line by line); a
// broken chain refuses the report, since figures from a log that may have
// been edited prove nothing. The figures come from include/medgate/sla.hpp;
// the HTML page from sla_html.cpp. The report holds provider and route names
// and numbers only: never a request id, tenant, hash or decision text.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "arguments.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "medgate/audit.hpp"
#include "medgate/sla.hpp"
#include "sla_html.hpp"

namespace medgate::cli {

namespace {

constexpr std::string_view sla_usage =
    "usage: medgate sla --audit FILE [options]\n"
    "\n"
    "Availability and p50/p95/p99 latency per provider and route, per UTC day and month,\n"
    "from a medgate audit log, held against contract tiers: breach windows (hours that\n"
    "broke the tier) and the month's error budget left. The log's hash chain is verified\n"
    "first; a broken chain is refused.\n"
    "\n"
    "options:\n"
    "  --audit FILE          the JSONL audit log (required)\n"
    "  --config FILE         the gateway's config: each provider's tier is its\n"
    "                        health.sla_tier, defined in its health.tiers; a route takes\n"
    "                        the tier of the first provider of its chain\n"
    "  --default-tier NAME   tier for providers and routes without one (default standard)\n"
    "  --min-samples N       hours and days with fewer counted samples are not held\n"
    "                        against the tier (default 20: below it p95 is the maximum)\n"
    "  --since T             only calls submitted at or after T (UTC: 2026-03-01 or\n"
    "                        2026-03-01T12:00Z or 2026-03-01T12:00:00Z)\n"
    "  --until T             only calls submitted before T\n"
    "  --format F            text (default), json or html\n"
    "  --out FILE            write the report to FILE instead of standard output\n"
    "\n"
    "tiers (unless the config defines others): standard 99.5 % / p95 200 ms,\n"
    "medical-pro 99.9 % / 100 ms, medical-enterprise 99.99 % / 50 ms.\n"
    "Percentiles are exact, by nearest rank over successful attempts (calls for routes).\n"
    "\n"
    "exit status: 0 report written, 1 the audit log's chain is broken,\n"
    "2 bad usage, unreadable file or bad config\n";

struct sla_arguments {
  bool help = false;
  std::optional<std::string> audit, config, out, default_tier;
  std::optional<std::int64_t> since, until;
  std::optional<std::uint64_t> min_samples;
  std::string format = "text";
};

result<sla_arguments> parse_arguments(args a) {
  sla_arguments out;
  option_cursor in{a};
  if (auto e = in.each_valued(
          out.help,
          [&](std::string_view name, std::string* v) -> std::optional<error> {
            if (name != "--audit" && name != "--config" && name != "--out" && name != "--since" && name != "--until" &&
                name != "--format" && name != "--default-tier" && name != "--min-samples")
              return error{fmt::format("unknown option {}", name)};
            if (name == "--audit") {
              out.audit = *v;
            } else if (name == "--config") {
              out.config = *v;
            } else if (name == "--out") {
              out.out = *v;
            } else if (name == "--default-tier") {
              out.default_tier = *v;
            } else if (name == "--min-samples") {
              auto n = parse_integer<std::uint64_t>(*v);
              if (!n || *n == 0) return error{fmt::format("--min-samples must be a whole number >= 1, got \"{}\"", *v)};
              out.min_samples = *n;
            } else if (name == "--format") {
              if (*v != "text" && *v != "json" && *v != "html")
                return error{fmt::format("--format must be text, json or html, got \"{}\"", *v)};
              out.format = *v;
            } else {
              auto t = sla::parse_utc_time(*v);
              if (!t)
                return error{
                    fmt::format("{} must be a UTC date or time such as 2026-03-01, 2026-03-01T12:00Z or "
                                "2026-03-01T12:00:00Z, got \"{}\"",
                                name, *v)};
              (name == "--since" ? out.since : out.until) = *t;
            }
            return std::nullopt;
          },
          " (the log is given with --audit)"))
    return *e;
  if (out.since && out.until && *out.since >= *out.until)
    return error{
        fmt::format("--since ({}) must be before --until ({})", sla::iso_time(*out.since), sla::iso_time(*out.until))};
  return out;
}

/// Tiers from the config: each provider's health.sla_tier, from its health.tiers.
result<sla::sla_options> options_from(std::optional<std::string> const& config,
                                      std::optional<std::string> const& tier) {
  sla::sla_options options;
  if (tier) options.default_tier = *tier;
  if (config) {
    auto engine = load_engine_options(config);
    if (!engine) return error{engine.error_message()};
    auto const& providers = engine->routing.providers;
    options.tiers.clear();
    for (std::size_t i = 0; i < providers.size(); ++i) {
      for (auto const& t : providers[i].health.tiers) {
        if (auto const* known = options.find_tier(t.name)) {
          if (!(*known == t))
            return error{
                fmt::format("{}: config: providers[{}].health.tiers defines tier \"{}\" differently from an "
                            "earlier provider (one tier name, one contract)",
                            *config, i, t.name)};
        } else {
          options.tiers.push_back(t);
        }
      }
      if (!providers[i].health.sla_tier.empty()) options.providers[providers[i].name] = providers[i].health.sla_tier;
    }
    if (options.find_tier(options.default_tier) == nullptr)
      for (auto const& t : default_sla_tiers())
        if (t.name == options.default_tier && options.find_tier(t.name) == nullptr) options.tiers.push_back(t);
    for (auto const& route : engine->routing.routes) {
      if (route.chain.empty()) continue;
      if (auto it = options.providers.find(route.chain.front().provider); it != options.providers.end())
        options.routes[route.name] = it->second;
    }
  }
  if (auto bad = options.validate()) {
    if (bad->field == "default_tier") return error{fmt::format("--default-tier {}", bad->message)};
    return error{fmt::format("{}tiers: {}", config ? *config + ": " : "", bad->to_string())};
  }
  return options;
}

nlohmann::ordered_json optional_number(std::optional<double> v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json latency_ms(std::optional<std::int64_t> us) {
  return us ? nlohmann::ordered_json(static_cast<double>(*us) / 1000.0) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json window_json(sla::window_report const& w, std::string label) {
  auto const& f = w.figures;
  return {{"window", std::move(label)},
          {"start", sla::iso_time(w.start_unix_ms)},
          {"end", sla::iso_time(w.end_unix_ms)},
          {"good", f.good},
          {"bad", f.bad},
          {"excluded", f.excluded},
          {"availability", optional_number(f.availability)},
          {"p50_ms", latency_ms(f.p50_us)},
          {"p95_ms", latency_ms(f.p95_us)},
          {"p99_ms", latency_ms(f.p99_us)},
          {"judged", w.judged},
          {"availability_met", w.verdict.availability_met},
          {"latency_met", w.verdict.latency_met},
          {"met", w.verdict.met()}};
}

nlohmann::ordered_json tier_json(sla_tier const& t) {
  return {{"name", t.name}, {"availability", t.availability}, {"p95_ms", static_cast<double>(t.p95.count()) / 1000.0}};
}

nlohmann::ordered_json subject_json(sla::subject_report const& s) {
  nlohmann::ordered_json months = nlohmann::ordered_json::array(), days = nlohmann::ordered_json::array(),
                         breaches = nlohmann::ordered_json::array();
  for (auto const& m : s.months) {
    auto j = window_json(m.window, sla::iso_month(m.window.start_unix_ms));
    j["budget"] = {{"allowed_failures", m.budget.allowed_failures},
                   {"failures", m.budget.failures},
                   {"left_failures", m.budget.left_failures},
                   {"left_fraction", optional_number(m.budget.left_fraction)}};
    months.push_back(std::move(j));
  }
  for (auto const& d : s.days) days.push_back(window_json(d, sla::iso_day(d.start_unix_ms)));
  for (auto const& b : s.breaches)
    breaches.push_back({{"start", sla::iso_time(b.start_unix_ms)},
                        {"end", sla::iso_time(b.end_unix_ms)},
                        {"hours", (b.end_unix_ms - b.start_unix_ms) / sla::ms_per_hour},
                        {"availability_broken", b.availability},
                        {"latency_broken", b.latency},
                        {"worst_availability", optional_number(b.worst_availability)},
                        {"worst_p95_ms", latency_ms(b.worst_p95_us)},
                        {"good", b.good},
                        {"bad", b.bad}});
  sla::window_report whole;
  whole.figures = s.total;
  whole.verdict = sla::against(s.total, s.tier);
  auto total = window_json(whole, "all");
  total.erase("start");
  total.erase("end");
  return {{"name", s.name},
          {"tier", tier_json(s.tier)},
          {"total", std::move(total)},
          {"months", std::move(months)},
          {"days", std::move(days)},
          {"breaches", std::move(breaches)}};
}

std::string render_json(sla::report const& r, std::string const& head) {
  nlohmann::ordered_json tiers = nlohmann::ordered_json::array(), providers = nlohmann::ordered_json::array(),
                         routes = nlohmann::ordered_json::array();
  for (auto const& t : r.tiers) tiers.push_back(tier_json(t));
  for (auto const& s : r.providers) providers.push_back(subject_json(s));
  for (auto const& s : r.routes) routes.push_back(subject_json(s));
  nlohmann::ordered_json const out = {
      {"schema", "medgate-sla-report/1"},
      {"audit", {{"records", r.records}, {"calls", r.calls}, {"head", head}, {"chain", "verified"}}},
      {"since", r.since_unix_ms ? nlohmann::ordered_json(sla::iso_time(*r.since_unix_ms)) : nullptr},
      {"until", r.until_unix_ms ? nlohmann::ordered_json(sla::iso_time(*r.until_unix_ms)) : nullptr},
      {"percentiles", "nearest-rank over successful samples"},
      {"tiers", std::move(tiers)},
      {"providers", std::move(providers)},
      {"routes", std::move(routes)}};
  return out.dump(2) + "\n";
}

std::string percent(std::optional<double> v) { return v ? fmt::format("{:.3f} %", *v * 100.0) : std::string{"-"}; }

std::string ms(std::optional<std::int64_t> us) {
  return us ? fmt::format("{:.1f}", static_cast<double>(*us) / 1000.0) : std::string{"-"};
}

std::string render_text(sla::report const& r, std::string const& head) {
  std::string out = fmt::format("medgate SLA report: {} calls from {} audit records (chain verified, head {}...)\n",
                                r.calls, r.records, head.substr(0, 12));
  if (r.since_unix_ms || r.until_unix_ms)
    out += fmt::format("window: {} to {}\n", r.since_unix_ms ? sla::iso_time(*r.since_unix_ms) : "start",
                       r.until_unix_ms ? sla::iso_time(*r.until_unix_ms) : "end");
  out += "percentiles: nearest rank, milliseconds, over successful samples\n";
  auto table = [&](std::string_view title, std::vector<sla::subject_report> const& subjects) {
    out += fmt::format("\n{}\n", title);
    out += fmt::format("{:<18} {:<30} {:<8} {:>9} {:>11} {:>8} {:>8} {:>8}  {:<6} {:>12}\n", "name", "tier", "month",
                       "calls", "avail", "p50", "p95", "p99", "status", "budget left");
    for (auto const& s : subjects)
      for (auto const& m : s.months) {
        auto const& f = m.window.figures;
        std::string status = m.window.verdict.met() ? "met" : "BREACH";
        out += fmt::format(
            "{:<18} {:<30} {:<8} {:>9} {:>11} {:>8} {:>8} {:>8}  {:<6} {:>12}\n", s.name,
            fmt::format("{} {:g}%/{}ms", s.tier.name, s.tier.availability * 100.0, s.tier.p95.count() / 1000),
            sla::iso_month(m.window.start_unix_ms), f.good + f.bad, percent(f.availability), ms(f.p50_us), ms(f.p95_us),
            ms(f.p99_us), status,
            m.budget.left_fraction ? fmt::format("{:.1f} %", *m.budget.left_fraction * 100.0) : std::string{"-"});
      }
    for (auto const& s : subjects) {
      std::size_t breached_days = 0;
      for (auto const& d : s.days) breached_days += d.verdict.met() ? 0 : 1;
      if (s.breaches.empty() && breached_days == 0) continue;
      out += fmt::format("  {}: {} of {} days breached, {} breach window{}", s.name, breached_days, s.days.size(),
                         s.breaches.size(), s.breaches.size() == 1 ? "" : "s");
      // The longest windows (then the worst availability) first; all of them are in the JSON and HTML reports.
      std::vector<sla::breach_window> worst = s.breaches;
      std::stable_sort(worst.begin(), worst.end(), [](sla::breach_window const& x, sla::breach_window const& y) {
        auto const length = [](sla::breach_window const& b) { return b.end_unix_ms - b.start_unix_ms; };
        if (length(x) != length(y)) return length(x) > length(y);
        return x.worst_availability.value_or(1.0) < y.worst_availability.value_or(1.0);
      });
      constexpr std::size_t shown = 5;
      out += worst.size() > shown ? fmt::format(", the {} longest:\n", shown) : std::string{":\n"};
      if (worst.size() > shown) worst.resize(shown);
      for (auto const& b : worst)
        out += fmt::format("    {} .. {}  {}{}{}\n", sla::iso_time(b.start_unix_ms), sla::iso_time(b.end_unix_ms),
                           b.availability ? fmt::format("availability {}", percent(b.worst_availability)) : "",
                           b.availability && b.latency ? ", " : "",
                           b.latency ? fmt::format("p95 {} ms", ms(b.worst_p95_us)) : "");
    }
  };
  table("providers (per attempt)", r.providers);
  table("routes (per call)", r.routes);
  return out;
}

int usage_error(std::string_view message) {
  std::fprintf(stderr, "medgate sla: %.*s\n\n%.*s", static_cast<int>(message.size()), message.data(),
               static_cast<int>(sla_usage.size()), sla_usage.data());
  return 2;
}

int fail(std::string const& message, int code) {
  std::fprintf(stderr, "medgate sla: %s\n", message.c_str());
  return code;
}

}  // namespace

int run_sla(args a) {
  auto parsed = parse_arguments(a);
  if (!parsed) return usage_error(parsed.error_message());
  auto const& arguments = *parsed;
  if (arguments.help) {
    std::fwrite(sla_usage.data(), 1, sla_usage.size(), stdout);
    return 0;
  }
  if (!arguments.audit) return usage_error("--audit FILE is required");
  auto options = options_from(arguments.config, arguments.default_tier);
  if (!options) return fail(options.error_message(), 2);
  if (arguments.min_samples) options->min_samples = *arguments.min_samples;

  std::ifstream in{*arguments.audit, std::ios::binary};
  if (!in) return fail(fmt::format("cannot read {}: {}", *arguments.audit, std::strerror(errno)), 2);
  audit_verifier verifier;
  sla::collector collector{arguments.since, arguments.until};
  std::string line;
  while (std::getline(in, line)) {
    if (!verifier.feed(line, !in.eof())) break;
    auto record = parse_audit_line(line);
    if (record) collector.add(*record);  // the verifier accepted it, so it parses
  }
  if (in.bad()) return fail(fmt::format("cannot read {}: read error", *arguments.audit), 2);
  auto const& verified = verifier.result();
  if (!verified.ok)
    return fail(fmt::format("refusing to report on {}: its hash chain is broken at line {}: {} (figures from a log "
                            "that may have been edited prove nothing; inspect it with `medgate audit verify {}`)",
                            *arguments.audit, verified.first_bad_line.value_or(0), verified.problem, *arguments.audit),
                1);

  auto const report = sla::make_report(collector, *options, arguments.since, arguments.until);
  std::string const text = arguments.format == "json"   ? render_json(report, verified.head)
                           : arguments.format == "html" ? native::render_sla_html(report, verified.head)
                                                        : render_text(report, verified.head);
  if (arguments.out) {
    std::ofstream file{*arguments.out, std::ios::binary | std::ios::trunc};
    if (!file) return fail(fmt::format("cannot write {}: {}", *arguments.out, std::strerror(errno)), 2);
    file << text;
    file.close();
    if (!file) return fail(fmt::format("cannot write {}", *arguments.out), 2);
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return 0;
}

}  // namespace medgate::cli
