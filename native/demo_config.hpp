// demo_config.hpp — the engine configuration of the browser demo portal (`medgate demo`, GET /demo/config.json).
//
// The portal runs medgate's engine in the browser (WebAssembly) against the simulated providers that
// `medgate demo` serves; this is the configuration it loads, in the format `parse_config` reads
// (include/medgate/config.hpp), with absolute base URLs on the port the simulator bound:
//
//   route clinical-summary: primary/gpt-4o-mini, then fallback/gpt-4o-mini; a patient-sticky canary sends
//   20 % of patients to canary/gpt-4o-mini (then fallback); primary's breaker opens after 3 consecutive
//   failures and half-opens after 5 s; 2 attempts per target with exponential backoff (100 ms doubling, cap
//   1 s, full jitter); attempts time out after 1 s, calls after 6 s; every decision is recorded.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "medgate/config.hpp"

namespace medgate::cli {

/// The simulated providers the portal's configuration names, in fallback order.
inline constexpr std::string_view demo_providers[] = {"primary", "fallback", "canary"};
inline constexpr std::string_view demo_model = "gpt-4o-mini";
inline constexpr int demo_canary_percent = 20;

/// The configuration; `base_url(name)` gives each provider's `http://HOST:PORT/<name>/v1`.
config_json demo_engine_config(std::function<std::string(std::string_view provider)> const& base_url);

}  // namespace medgate::cli
