// sla_html.cpp — the SLA report as one self-contained HTML page (see sla_html.hpp).
//
// Made to be looked at: one card per provider and route with a traffic-light
// verdict, a daily availability timeline against the tier's line, a daily
// latency chart (p50, p95, p99) against the tier's p95 bound, red markers on
// the days that broke the tier, and a bar of the month's error budget left.
// Everything is inline (CSS, SVG); there is no script and no external link,
// so the file can be mailed or archived and opens offline.
#include "sla_html.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace medgate::native {

namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string percent(std::optional<double> v, int decimals = 3) {
  return v ? fmt::format("{:.{}f} %", *v * 100.0, decimals) : std::string{"no data"};
}

std::string ms(std::optional<std::int64_t> us) {
  return us ? fmt::format("{:.1f} ms", static_cast<double>(*us) / 1000.0) : std::string{"no data"};
}

double to_ms(std::int64_t us) { return static_cast<double>(us) / 1000.0; }

constexpr double chart_width = 760, chart_left = 56, chart_right = 12, chart_top = 14, chart_height = 150,
                 chart_bottom = 26;

/// x of the middle of day `index` of `count`.
double day_x(std::size_t index, std::size_t count) {
  double const plot = chart_width - chart_left - chart_right;
  return chart_left + plot * (static_cast<double>(index) + 0.5) / static_cast<double>(std::max<std::size_t>(count, 1));
}

struct day_axis {
  std::int64_t first = 0;
  std::size_t count = 0;
  [[nodiscard]] std::size_t index(std::int64_t day_start) const {
    return static_cast<std::size_t>((day_start - first) / sla::ms_per_day);
  }
};

std::string x_labels(day_axis const& axis) {
  std::string out;
  double const y = chart_top + chart_height + 16;
  std::size_t const step = axis.count > 20 ? 5 : (axis.count > 10 ? 2 : 1);
  for (std::size_t i = 0; i < axis.count; i += step)
    out +=
        fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="axis" text-anchor="middle">{}</text>)", day_x(i, axis.count),
                    y, sla::iso_day(axis.first + static_cast<std::int64_t>(i) * sla::ms_per_day).substr(5));
  return out;
}

std::string availability_chart(sla::subject_report const& s, day_axis const& axis) {
  double lowest = s.tier.availability;
  for (auto const& d : s.days)
    if (d.figures.availability) lowest = std::min(lowest, *d.figures.availability);
  // The axis starts a little below the lowest of the target and the worst day, so both show.
  double const floor_value = std::max(0.0, lowest - std::max(1.0 - lowest, 0.0005) * 0.5);
  auto y = [&](double v) { return chart_top + chart_height * (1.0 - (v - floor_value) / (1.0 - floor_value)); };
  double const plot = chart_width - chart_left - chart_right;
  double const bar = std::max(2.0, plot / static_cast<double>(std::max<std::size_t>(axis.count, 1)) - 3.0);
  std::string out = fmt::format(
      R"(<svg class="chart" viewBox="0 0 {0} {1}" width="{0}" height="{1}" role="img" aria-label="daily availability of {2}">)",
      chart_width, chart_top + chart_height + chart_bottom, escape(s.name));
  for (double tick : {floor_value, (floor_value + 1.0) / 2.0, 1.0})
    out += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="grid"/>)"
                       R"(<text x="{3}" y="{4:.1f}" class="axis" text-anchor="end">{5}</text>)",
                       chart_left, chart_width - chart_right, y(tick), chart_left - 6, y(tick) + 4,
                       fmt::format("{:.2f}%", tick * 100.0));
  for (auto const& d : s.days) {
    if (!d.figures.availability) continue;
    double const x = day_x(axis.index(d.start_unix_ms), axis.count);
    double const top = y(*d.figures.availability);
    bool const ok = d.verdict.availability_met;
    out += fmt::format(
        R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" class="{}"><title>{}: availability {} ({} of {} failed{})</title></rect>)",
        x - bar / 2, top, bar, std::max(1.0, chart_top + chart_height - top),
        !d.judged ? "bar-few" : (ok ? "bar-ok" : "bar-bad"), sla::iso_day(d.start_unix_ms),
        percent(d.figures.availability), d.figures.bad, d.figures.good + d.figures.bad,
        d.judged ? "" : "; too few to judge");
    if (!ok)
      out += fmt::format(R"(<path d="M{0:.1f} {1:.1f} l-5 -9 h10 z" class="marker"><title>breach</title></path>)", x,
                         top - 2);
  }
  double const target = y(s.tier.availability);
  out += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="target"/>)"
                     R"(<text x="{1}" y="{3:.1f}" class="target-label" text-anchor="end">{4} {5}</text>)",
                     chart_left, chart_width - chart_right, target, target - 4, escape(s.tier.name),
                     percent(s.tier.availability, 2));
  out += x_labels(axis) + "</svg>";
  return out;
}

std::string latency_chart(sla::subject_report const& s, day_axis const& axis) {
  double top_value = to_ms(s.tier.p95.count()) * 1.25;
  for (auto const& d : s.days)
    if (d.figures.p99_us) top_value = std::max(top_value, to_ms(*d.figures.p99_us) * 1.05);
  auto y = [&](double v) { return chart_top + chart_height * (1.0 - v / top_value); };
  std::string out = fmt::format(
      R"(<svg class="chart" viewBox="0 0 {0} {1}" width="{0}" height="{1}" role="img" aria-label="daily latency percentiles of {2}">)",
      chart_width, chart_top + chart_height + chart_bottom, escape(s.name));
  for (double tick : {0.0, top_value / 2, top_value})
    out += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="grid"/>)"
                       R"(<text x="{3}" y="{4:.1f}" class="axis" text-anchor="end">{5:.0f} ms</text>)",
                       chart_left, chart_width - chart_right, y(tick), chart_left - 6, y(tick) + 4, tick);
  struct series {
    char const* css;
    std::optional<std::int64_t> sla::stats::*field;
  };
  for (series const line :
       {series{"p50", &sla::stats::p50_us}, series{"p95", &sla::stats::p95_us}, series{"p99", &sla::stats::p99_us}}) {
    std::string points;
    for (auto const& d : s.days)
      if (auto const v = d.figures.*line.field)
        points += fmt::format("{:.1f},{:.1f} ", day_x(axis.index(d.start_unix_ms), axis.count), y(to_ms(*v)));
    out += fmt::format(R"(<polyline points="{}" class="line {}"/>)", points, line.css);
  }
  for (auto const& d : s.days) {
    if (!d.figures.p95_us) continue;
    double const x = day_x(axis.index(d.start_unix_ms), axis.count);
    out += fmt::format(
        R"(<circle cx="{:.1f}" cy="{:.1f}" r="{}" class="{}"><title>{}: p50 {}, p95 {}, p99 {}</title></circle>)", x,
        y(to_ms(*d.figures.p95_us)), d.verdict.latency_met ? 2.5 : 5.0, d.verdict.latency_met ? "dot" : "marker",
        sla::iso_day(d.start_unix_ms), ms(d.figures.p50_us), ms(d.figures.p95_us), ms(d.figures.p99_us));
  }
  double const bound = y(to_ms(s.tier.p95.count()));
  out += fmt::format(
      R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="target"/>)"
      R"(<text x="{1}" y="{3:.1f}" class="target-label" text-anchor="end">{4} p95 &#8804; {5:g} ms</text>)",
      chart_left, chart_width - chart_right, bound, bound - 4, escape(s.tier.name), to_ms(s.tier.p95.count()));
  out += x_labels(axis) + "</svg>";
  out += R"(<div class="legend"><span class="key p50"></span>p50 <span class="key p95"></span>p95 )"
         R"(<span class="key p99"></span>p99 <span class="key bound"></span>tier bound)"
         R"( <span class="key breach"></span>day over the bound</div>)";
  return out;
}

std::string budget_bar(sla::month_report const& m) {
  auto const& b = m.budget;
  if (!b.left_fraction)
    return fmt::format(R"(<div class="budget"><span class="month">{}</span> no data</div>)",
                       sla::iso_month(m.window.start_unix_ms));
  double const left = std::clamp(*b.left_fraction, 0.0, 1.0);
  char const* css = *b.left_fraction < 0 ? "spent" : (*b.left_fraction < 0.25 ? "low" : "fine");
  return fmt::format(
      R"(<div class="budget"><span class="month">{}</span><span class="track"><span class="fill {}" style="width:{:.1f}%"></span></span>)"
      R"(<span class="budget-text">{} of the error budget left ({} failures of {:.1f} allowed)</span></div>)",
      sla::iso_month(m.window.start_unix_ms), css, left * 100.0, percent(b.left_fraction, 1), b.failures,
      b.allowed_failures);
}

std::string breach_table(sla::subject_report const& s) {
  if (s.breaches.empty()) return R"(<p class="quiet">No hour broke the tier.</p>)";
  std::string out =
      "<details><summary>" + fmt::format("{} breach window{}", s.breaches.size(), s.breaches.size() == 1 ? "" : "s") +
      "</summary><table><thead><tr><th>from</th><th>to</th><th>hours</th><th>broke</th><th>worst availability</th>"
      "<th>worst p95</th></tr></thead><tbody>";
  for (auto const& b : s.breaches)
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                       sla::iso_time(b.start_unix_ms), sla::iso_time(b.end_unix_ms),
                       (b.end_unix_ms - b.start_unix_ms) / sla::ms_per_hour,
                       b.availability && b.latency ? "availability, p95" : (b.availability ? "availability" : "p95"),
                       percent(b.worst_availability), ms(b.worst_p95_us));
  return out + "</tbody></table></details>";
}

std::string card(sla::subject_report const& s, day_axis const& axis, std::string_view kind) {
  auto const verdict = sla::against(s.total, s.tier);
  std::size_t breached_days = 0;
  for (auto const& d : s.days) breached_days += d.verdict.met() ? 0 : 1;
  std::string out = fmt::format(
      R"(<section class="card" id="{0}-{1}"><h2><span class="badge {2}">{3}</span> {1} <small>{4} &middot; {5} / p95 {6:g} ms</small></h2>)",
      kind, escape(s.name), verdict.met() ? "ok" : "bad", verdict.met() ? "met" : "breached", kind,
      escape(s.tier.name) + " " + percent(s.tier.availability, 2), to_ms(s.tier.p95.count()));
  out += fmt::format(
      R"(<p class="figures">availability <b>{}</b> &middot; p50 <b>{}</b> &middot; p95 <b>{}</b> &middot; p99 <b>{}</b> &middot; {} counted, {} failed, {} excluded &middot; {} of {} days breached</p>)",
      percent(s.total.availability), ms(s.total.p50_us), ms(s.total.p95_us), ms(s.total.p99_us),
      s.total.good + s.total.bad, s.total.bad, s.total.excluded, breached_days, s.days.size());
  for (auto const& m : s.months) out += budget_bar(m);
  out += "<h3>Availability per day</h3>" + availability_chart(s, axis);
  out += "<h3>Latency per day</h3>" + latency_chart(s, axis);
  out += breach_table(s);
  return out + "</section>";
}

constexpr std::string_view style = R"(
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#17324d;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;opacity:.85}main{padding:20px 32px;max-width:840px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}th,td{padding:5px 8px;border-bottom:1px solid #e2e6ea;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#eef1f4}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:14px 20px;margin:18px 0}
.card h2{font-size:19px;margin:0 0 6px}.card h2 small{font-weight:400;color:#5b6b7b;font-size:13px}
.card h3{font-size:14px;margin:14px 0 2px;color:#3d4d5c}.figures{margin:4px 0 10px;color:#33414f}
.badge{display:inline-block;border-radius:10px;padding:1px 10px;font-size:13px;color:#fff;vertical-align:2px}
.badge.ok{background:#2e8b57}.badge.bad{background:#c0392b}
.chart{max-width:100%;height:auto;display:block}.grid{stroke:#e6e9ed}.axis{font-size:10px;fill:#6b7a89}
.bar-ok{fill:#7fbf9a}.bar-few{fill:#c9d1d9}.bar-bad{fill:#d9534f}.marker{fill:#c0392b}.dot{fill:#e08a1e}
.target{stroke:#c0392b;stroke-dasharray:5 4;stroke-width:1.5}.target-label{font-size:11px;fill:#c0392b}
.line{fill:none;stroke-width:2}.line.p50{stroke:#3a7bd5}.line.p95{stroke:#e08a1e}.line.p99{stroke:#8e44ad}
.legend{font-size:12px;color:#5b6b7b}.key{display:inline-block;width:14px;height:3px;margin:0 4px 3px 10px}
.key.p50{background:#3a7bd5}.key.p95{background:#e08a1e}.key.p99{background:#8e44ad}
.key.bound{background:#c0392b}.key.breach{background:#c0392b;height:9px;width:9px;border-radius:5px}
.budget{display:flex;align-items:center;gap:10px;margin:4px 0;font-size:13px}.month{width:60px;color:#5b6b7b}
.track{flex:0 0 220px;height:12px;background:#e6e9ed;border-radius:6px;overflow:hidden}
.fill{display:block;height:100%}.fill.fine{background:#2e8b57}.fill.low{background:#e08a1e}.fill.spent{background:#c0392b}
.quiet{color:#5b6b7b;font-size:13px}details{margin-top:8px}summary{cursor:pointer;color:#17324d}
.status-ok{color:#2e8b57;font-weight:600}.status-bad{color:#c0392b;font-weight:600}
)";

std::string summary_rows(std::vector<sla::subject_report> const& subjects, std::string_view kind) {
  std::string out;
  for (auto const& s : subjects)
    for (auto const& m : s.months) {
      auto const& f = m.window.figures;
      out += fmt::format(
          R"(<tr><td><a href="#{}-{}">{}</a> <small>({})</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td>{}</td></tr>)",
          kind, escape(s.name), escape(s.name), kind, escape(s.tier.name), sla::iso_month(m.window.start_unix_ms),
          f.good + f.bad, percent(f.availability), ms(f.p95_us), m.window.verdict.met() ? "status-ok" : "status-bad",
          m.window.verdict.met() ? "met" : "breached", percent(m.budget.left_fraction, 1));
    }
  return out;
}

}  // namespace

std::string render_sla_html(sla::report const& report, std::string const& audit_head) {
  day_axis axis;
  std::optional<std::int64_t> first, last;
  for (auto const* group : {&report.providers, &report.routes})
    for (auto const& s : *group)
      for (auto const& d : s.days) {
        first = std::min(first.value_or(d.start_unix_ms), d.start_unix_ms);
        last = std::max(last.value_or(d.start_unix_ms), d.start_unix_ms);
      }
  if (first) {
    axis.first = *first;
    axis.count = static_cast<std::size_t>((*last - *first) / sla::ms_per_day) + 1;
  }
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>medgate SLA report</title>"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>";
  out += style;
  out += "</style></head><body><header><h1>SLA report</h1>";
  out += fmt::format("<p>{} calls from {} audit records &middot; hash chain verified (head {}&hellip;)", report.calls,
                     report.records, escape(audit_head.substr(0, 16)));
  if (first) out += fmt::format(" &middot; {} to {}", sla::iso_day(*first), sla::iso_day(*last));
  if (report.since_unix_ms || report.until_unix_ms)
    out += fmt::format(" &middot; window {} to {}",
                       report.since_unix_ms ? sla::iso_time(*report.since_unix_ms) : std::string{"start"},
                       report.until_unix_ms ? sla::iso_time(*report.until_unix_ms) : std::string{"end"});
  out += "</p></header><main>";
  out +=
      "<table><thead><tr><th>provider / route</th><th>tier</th><th>month</th><th>counted</th><th>availability</th>"
      "<th>p95</th><th>status</th><th>budget left</th></tr></thead><tbody>";
  out += summary_rows(report.providers, "provider") + summary_rows(report.routes, "route");
  out += "</tbody></table>";
  out +=
      "<p class=\"quiet\">Providers count attempts, routes count calls. Percentiles are exact (nearest rank) over "
      "successful samples. Days and months are UTC; a breach window is a run of hours that each broke the tier.</p>";
  for (auto const& s : report.providers) out += card(s, axis, "provider");
  for (auto const& s : report.routes) out += card(s, axis, "route");
  out += "</main></body></html>\n";
  return out;
}

}  // namespace medgate::native
