// sla_html.hpp — the SLA report as one self-contained HTML page (inline CSS and SVG, no scripts, no network).
#pragma once

#include <string>

#include "medgate/sla.hpp"

namespace medgate::native {

/// The page: a summary table, then per provider and route an availability
/// timeline, daily p50/p95/p99 latency chart with the tier's bound, breach
/// markers, the month's error budget left and the breach windows.
std::string render_sla_html(sla::report const& report, std::string const& audit_head);

}  // namespace medgate::native
