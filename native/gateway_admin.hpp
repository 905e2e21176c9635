// gateway_admin.hpp — what `medgate serve` shows operators and reviewers: /admin/status and the review desk.
//
// The engine is held by one thread at a time, so its state is read while holding it
// in one go (`engine_view`, via `httplib_driver::inspect`) and turned into
// JSON on the HTTP worker. The review desk remembers, for the gateway, what
// became of answers held for review: the client that got 202 asks again at
// GET /v1/medgate/reviews/{call} and gets the approved (or edited) answer, or
// hears it was rejected. Decisions live in the engine (`engine::review`); the
// desk only keeps the outcomes, a bounded number of them, oldest dropped first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "medgate/engine.hpp"

namespace medgate::gateway {

/// The engine's state at one instant, read while holding it.
struct engine_view {
  std::vector<provider_status> providers;
  std::vector<canary_status> canaries;
  std::vector<std::pair<std::string, tenant_usage>> budgets;    ///< configured tenants, by name
  std::vector<std::pair<call_id, openai::chat_response>> held;  ///< drafts waiting for review, oldest first
  std::size_t calls_in_progress = 0;
};

/// What a tenant may still spend today (reservations of calls in flight count as spent); none when unlimited.
std::optional<double> left_usd(tenant_usage const& u);
std::optional<std::int64_t> left_tokens(tenant_usage const& u);

/// Reads the view; call while holding the engine (httplib_driver::inspect). `drafts`: include the held answers (for
/// reviewers).
engine_view take_view(engine& e, instant now, bool drafts);

/// GET /admin/status: breakers, health, limits, canary arms, budgets, review queue. No request content.
nlohmann::json status_json(engine_view const& v);

class review_desk {
 public:
  explicit review_desk(std::size_t remembered = 10'000) : remembered_{remembered} {}

  /// A call's answer was held (the client got 202).
  void held(done const& d, std::string route);
  /// A reviewer decided (the engine's `reviewed` effect).
  void decided(reviewed const& r);

  struct outcome {
    review_state state = review_state::pending_review;
    std::string route;
    std::optional<double> confidence;
    std::int64_t held_unix_ms = 0;
    std::optional<openai::chat_response> answer;  ///< approved or edited
  };
  /// What became of call `id`; nothing when the desk never saw it (or forgot it).
  [[nodiscard]] std::optional<outcome> find(call_id id) const;

 private:
  void forget_oldest();

  std::size_t remembered_;
  mutable std::mutex mutex_;
  std::map<call_id, outcome> calls_;
  std::deque<call_id> order_;
};

}  // namespace medgate::gateway
