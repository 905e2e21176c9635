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
#include <string>
#include <string_view>
#include <vector>

#include "breaker.hpp"
#include "field_error.hpp"
#include "time.hpp"

namespace medgate {

struct provider {
  std::string name;                                    ///< unique; used in routes, metrics and audit
  std::string base_url;                                ///< e.g. "https://api.openai.com/v1" (no trailing slash needed)
  std::string api_key_env;                             ///< environment variable holding the key; empty = no key
  std::vector<std::string> models;                     ///< models it serves; empty = any model
  duration connect_timeout = std::chrono::seconds{2};  ///< TCP/TLS connect limit per attempt
  duration attempt_timeout =
      std::chrono::seconds{30};  ///< upper bound for one attempt here (cut further by the deadline)
  breaker_options breaker{};     ///< this provider's circuit breaker

  [[nodiscard]] bool serves(std::string_view model) const {
    if (models.empty()) return true;
    for (auto const& m : models)
      if (m == model) return true;
    return false;
  }

  /// Chat completions URL: base_url without a trailing slash + "/chat/completions".
  [[nodiscard]] std::string chat_url() const {
    std::string_view base = base_url;
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    return std::string{base} + "/chat/completions";
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
    return std::nullopt;
  }
};

/// One step of a fallback chain.
struct target {
  std::string provider;
  std::string model;
};

struct route {
  std::string name;           ///< the model alias applications ask for
  std::vector<target> chain;  ///< tried in order
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
  [[nodiscard]] std::vector<target> resolve(std::string_view model) const {
    for (auto const& r : routes)
      if (r.name == model) return r.chain;
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
      if (r.chain.empty()) return invalid(path + ".chain", "must list at least one provider/model target");
      for (std::size_t k = 0; k < r.chain.size(); ++k) {
        auto const& t = r.chain[k];
        auto const* p = find_provider(t.provider);
        if (p == nullptr)
          return invalid(fmt::format("{}.chain[{}]", path, k), "names unknown provider \"{}\"", t.provider);
        if (t.model.empty()) return invalid(fmt::format("{}.chain[{}]", path, k), "has an empty model");
        if (!p->serves(t.model))
          return invalid(fmt::format("{}.chain[{}]", path, k), "model \"{}\" is not among provider \"{}\"'s models",
                         t.model, t.provider);
      }
      for (std::size_t j = 0; j < i; ++j)
        if (routes[j].name == r.name) return invalid(path + ".name", "duplicates routes[{}].name \"{}\"", j, r.name);
    }
    return std::nullopt;
  }
};

}  // namespace medgate
