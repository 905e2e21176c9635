// gateway_metrics.hpp — what `medgate serve` counts, in the Prometheus text format (GET /metrics).
//
// Every finished call is recorded once, from its `done`: the route asked
// for, the target that answered and the outcome; the call's duration; each
// attempt by provider and model with its verdict; retries (another attempt
// at the same target), fallbacks (a move to the next target) and hedges;
// tokens and cost; PHI the protect step replaced, by category. Breaker states, retry budgets and what is left of each
// configured tenant's daily budget are read from the engine at scrape time. Labels hold route aliases, provider and
// model names and outcome codes only: an alias the configuration does not know is counted as "unknown", so a client
// cannot grow the series (or put request text into them). No prompt, patient key or token ever becomes a label.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "gateway_admin.hpp"
#include "medgate/engine.hpp"

namespace medgate::gateway {

class gateway_metrics {
 public:
  explicit gateway_metrics(std::vector<std::string> routes);

  /// One finished call to `route` (the model the client asked for).
  void record_call(std::string_view route, done const& d);
  /// One response of the chat endpoint, with its HTTP status (refusals before the engine included).
  void record_response(int status);
  /// A configuration reload: applied (the routes it names are labelled from now on) or refused.
  void record_reload(bool applied, std::vector<std::string> routes);

  /// The exposition text, with the engine's current state (breakers, retry budgets, tenants' budgets).
  [[nodiscard]] std::string exposition(engine_view const& now) const;

  /// Upper bounds of the call duration histogram, in seconds.
  static constexpr std::array<double, 13> duration_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                           1,     2.5,  5,     10,   30,  60};

 private:
  struct histogram {
    std::array<std::uint64_t, duration_buckets.size()> below{};  ///< per bucket, not cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };

  [[nodiscard]] std::string route_label(std::string_view route) const;

  std::vector<std::string> routes_;
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> calls_;     ///< route, target, outcome
  std::map<std::string, histogram> durations_;                                           ///< by route
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> attempts_;  ///< provider, model, verdict
  std::map<std::string, std::uint64_t> retries_;                                         ///< by provider
  std::map<std::string, std::uint64_t> hedges_;                                          ///< by provider
  std::map<std::string, std::uint64_t> fallbacks_;                                       ///< by route
  std::map<std::tuple<std::string, std::string>, std::uint64_t> tokens_;                 ///< route, kind
  std::map<std::string, double> cost_usd_;                                               ///< by route
  std::array<std::uint64_t, phi::category_count> phi_found_{};                           ///< by category
  std::map<int, std::uint64_t> responses_;                                               ///< by HTTP status
  std::array<std::uint64_t, 2> reloads_{};                                               ///< refused, applied
  bool last_reload_applied_ = true;
};

}  // namespace medgate::gateway
