// demo_config.cpp — see demo_config.hpp.
#include "demo_config.hpp"

#include <fmt/format.h>

namespace medgate::cli {

config_json demo_engine_config(std::function<std::string(std::string_view provider)> const& base_url) {
  auto const target = [](std::string_view provider) { return fmt::format("{}/{}", provider, demo_model); };
  config_json providers = config_json::array();
  for (auto const name : demo_providers) {
    config_json p = {{"name", name},
                     {"base_url", base_url(name)},
                     {"models", config_json::array({demo_model})},
                     {"connect_timeout_ms", 500},
                     {"attempt_timeout_ms", 1000}};
    if (name == "primary")
      p["breaker"] = {
          {"consecutive_failures", 3}, {"open_duration_ms", 5000}, {"half_open_probes", 1}, {"half_open_successes", 1}};
    providers.push_back(std::move(p));
  }
  return {
      {"//", "The medgate demo portal's engine: the simulated providers of `medgate demo` on this server."},
      {"providers", std::move(providers)},
      {"routes",
       {{"clinical-summary",
         {{"chain", config_json::array({target("primary"), target("fallback")})},
          {"canary",
           {{"chain", config_json::array({target("canary"), target("fallback")})},
            {"percent", demo_canary_percent},
            {"rollback", {{"enabled", true}, {"window_ms", 60000}, {"min_calls", 10}}}}}}}}},
      {"retry",
       {{"max_attempts_per_target", 2},
        {"backoff",
         {{"kind", "exponential"}, {"base_ms", 100}, {"multiplier", 2}, {"cap_ms", 1000}, {"jitter", "full"}}}}},
      {"deadlines", {{"timeout_ms", 6000}, {"attempt_timeout_ms", 1000}, {"min_attempt_time_ms", 50}}},
      {"record_decisions", true},
  };
}

}  // namespace medgate::cli
