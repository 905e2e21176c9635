// route.hpp — providers, models and the fallback chains that connect them.
//
// A provider is an OpenAI-compatible endpoint (base URL, a *reference* to
// its API key, the models it serves, its timeouts and breaker settings). A
// route maps a model alias the application asks for ("clinical-summary") to
// an ordered chain of provider/model targets: the engine tries them in order,
// skipping targets whose breaker is open. The key itself never enters the
// core: `api_key_env` names the environment variable the transport reads.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "breaker.hpp"
#include "canary.hpp"
#include "concurrency.hpp"
#include "field_error.hpp"
#include "health.hpp"
#include "rate_limit.hpp"
#include "time.hpp"

namespace medgate {

struct provider {
  std::string name;                                    ///< unique; used in routes, metrics and audit
  std::string base_url;                                ///< e.g. "https://api.openai.com/v1" (no trailing slash needed)
  std::string api_key_env;                             ///< environment variable holding the key; empty = no key
  std::vector<std::string> models;                     ///< models it serves; empty = any model
  duration connect_timeout = std::chrono::seconds{2};  ///< TCP/TLS connect limit per attempt
  duration attempt_timeout =
      std::chrono::seconds{30};       ///< upper bound for one attempt here (cut further by the deadline)
  breaker_options breaker{};          ///< this provider's circuit breaker
  rate_limit_options rate_limit{};    ///< requests and tokens per minute we allow ourselves to send here
  concurrency_options concurrency{};  ///< bulkhead and adaptive limit on attempts in flight here
  health_options health{};            ///< latency and availability windows, SLA tier, active probes
  std::string api_key_file{};         ///< instead of api_key_env: a file holding the key (a mounted secret)

  [[nodiscard]] bool serves(std::string_view model) const {
    if (models.empty()) return true;
    for (auto const& m : models)
      if (m == model) return true;
    return false;
  }

  /// The models listing URL, used by active health probes.
  [[nodiscard]] std::string models_url() const { return base_without_slash() + "/models"; }

  /// Chat completions URL: base_url without a trailing slash + "/chat/completions".
  [[nodiscard]] std::string chat_url() const { return base_without_slash() + "/chat/completions"; }

  [[nodiscard]] std::string base_without_slash() const {
    std::string_view base = base_url;
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    return std::string{base};
  }

  [[nodiscard]] validation validate() const {
    if (name.empty()) return invalid("name", "must not be empty");
    if (!(base_url.starts_with("http://") || base_url.starts_with("https://")))
      return invalid("base_url", "must start with http:// or https://");
    if (connect_timeout <= duration::zero())
      return invalid("connect_timeout_ms", "must be > 0, got {}", to_string(connect_timeout));
    if (attempt_timeout <= duration::zero())
      return invalid("attempt_timeout_ms", "must be > 0, got {}", to_string(attempt_timeout));
    if (auto e = breaker.validate()) return e->within("breaker");
    if (auto e = rate_limit.validate()) return e->within("rate_limit");
    if (auto e = concurrency.validate()) return e->within("concurrency");
    if (auto e = health.validate()) return e->within("health");
    return std::nullopt;
  }
};

/// One step of a fallback chain.
struct target {
  std::string provider;
  std::string model;

  friend bool operator==(target const&, target const&) = default;
};

/// A second chain that serves a sticky, patient-keyed share of a route's
/// calls (see canary.hpp): the new model or provider being rolled out.
struct canary_route {
  std::vector<target> chain;  ///< tried in order for patients in the canary arm
  canary_options options{};   ///< share, ramp schedule, automatic rollback

  friend bool operator==(canary_route const&, canary_route const&) = default;
};

struct route {
  std::string name;                      ///< the model alias applications ask for
  std::vector<target> chain;             ///< tried in order (the control arm when there is a canary)
  std::optional<canary_route> canary{};  ///< patients whose bucket falls in the canary share take its chain
};

struct route_options {
  std::vector<provider> providers;
  std::vector<route> routes;

  [[nodiscard]] provider const* find_provider(std::string_view name) const {
    for (auto const& p : providers)
      if (p.name == name) return &p;
    return nullptr;
  }

  /// The chain for `model`: the route of that name if there is one, else
  /// every provider serving that model, in configuration order.
  [[nodiscard]] route const* find_route(std::string_view name) const {
    for (auto const& r : routes)
      if (r.name == name) return &r;
    return nullptr;
  }

  [[nodiscard]] std::vector<target> resolve(std::string_view model) const {
    if (auto const* r = find_route(model)) return r->chain;
    std::vector<target> chain;
    for (auto const& p : providers)
      if (p.serves(model)) chain.push_back({p.name, std::string{model}});
    return chain;
  }

  [[nodiscard]] validation validate() const {
    if (providers.empty()) return invalid("providers", "must name at least one provider");
    for (std::size_t i = 0; i < providers.size(); ++i) {
      auto const path = fmt::format("providers[{}]", i);
      if (auto e = providers[i].validate()) return e->within(path);
      for (std::size_t j = 0; j < i; ++j)
        if (providers[j].name == providers[i].name)
          return invalid(path + ".name", "duplicates providers[{}].name \"{}\"", j, providers[i].name);
    }
    for (std::size_t i = 0; i < routes.size(); ++i) {
      auto const path = fmt::format("routes[{}]", i);
      auto const& r = routes[i];
      if (r.name.empty()) return invalid(path + ".name", "must not be empty");
      if (auto e = validate_chain(r.chain)) return e->within(path + ".chain");
      if (r.canary) {
        if (auto e = validate_chain(r.canary->chain)) return e->within(path + ".canary.chain");
        if (auto e = r.canary->options.validate()) return e->within(path + ".canary");
      }
      for (std::size_t j = 0; j < i; ++j)
        if (routes[j].name == r.name) return invalid(path + ".name", "duplicates routes[{}].name \"{}\"", j, r.name);
    }
    return std::nullopt;
  }

 private:
  [[nodiscard]] validation validate_chain(std::vector<target> const& chain) const {
    if (chain.empty()) return invalid("", "must list at least one provider/model target");
    for (std::size_t k = 0; k < chain.size(); ++k) {
      auto const& t = chain[k];
      auto const at = fmt::format("[{}]", k);
      auto const* p = find_provider(t.provider);
      if (p == nullptr) return invalid(at, "names unknown provider \"{}\"", t.provider);
      if (t.model.empty()) return invalid(at, "has an empty model");
      if (!p->serves(t.model))
        return invalid(at, "model \"{}\" is not among provider \"{}\"'s models", t.model, t.provider);
    }
    return std::nullopt;
  }
};

}  // namespace medgate
