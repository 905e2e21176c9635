// budget.hpp — per-call caps and per-tenant daily budgets, in USD and tokens: reserve at submit, settle on usage.
//
// A clinical department pays for its calls, and one runaway batch job (or a
// note pasted forty times) must not spend a month's money in an afternoon.
// So a call reserves what it may cost before anything is sent — its prompt
// tokens plus the output it asks for, at the model's prices — and is refused
// when that would overspend its tenant's budget for the day. When the answer
// comes back the reservation is settled with the provider's real usage: the
// difference is released, and real usage is charged even when it exceeds
// what was reserved (the provider billed it). A call that fails with nothing
// billed releases its reservation.
//
// Days are UTC days of the wall clock (the host passes `wall_time`; no clock
// is read here). At midnight what was spent starts again from zero;
// reservations still outstanding carry into the new day and are charged to
// the day they settle on. Money is kept in integer nano-dollars, so budgets
// add up exactly and the same inputs give the same decisions in every build.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "field_error.hpp"
#include "result.hpp"
#include "time.hpp"

namespace medgate {

/// Limits on one call, checked at submit against prompt + requested output.
struct call_caps {
  std::optional<std::int64_t> max_tokens{};  ///< prompt + output tokens; absent = no cap
  std::optional<double> max_usd{};           ///< what the call may cost at list prices; absent = no cap

  [[nodiscard]] bool any() const noexcept { return max_tokens.has_value() || max_usd.has_value(); }
};

/// What one tenant may spend per UTC day. An absent limit is no limit; 0 allows nothing that counts against it.
struct tenant_budget {
  std::optional<double> daily_usd{};
  std::optional<std::int64_t> daily_tokens{};
};

struct budget_options {
  call_caps per_call{};
  std::map<std::string, tenant_budget, std::less<>> tenants{};  ///< by tenant name
  /// Applies, separately, to each tenant not listed in `tenants`; absent = unlisted tenants are not limited.
  std::optional<tenant_budget> default_tenant{};

  /// Whether anything is limited (the engine does no budget accounting otherwise).
  [[nodiscard]] bool enabled() const noexcept {
    return per_call.any() || !tenants.empty() || default_tenant.has_value();
  }

  /// The budget that applies to `tenant`, or nullptr when it is not limited.
  [[nodiscard]] tenant_budget const* budget_for(std::string_view tenant) const noexcept {
    if (auto it = tenants.find(tenant); it != tenants.end()) return &it->second;
    return default_tenant ? &*default_tenant : nullptr;
  }

  [[nodiscard]] validation validate() const {
    if (per_call.max_tokens && *per_call.max_tokens < 1)
      return invalid("per_call.max_tokens", "must be >= 1, got {}", *per_call.max_tokens);
    if (per_call.max_usd && !(std::isfinite(*per_call.max_usd) && *per_call.max_usd > 0))
      return invalid("per_call.max_usd", "must be a number > 0, got {}", *per_call.max_usd);
    auto check = [](tenant_budget const& b) -> validation {
      if (b.daily_usd && !(std::isfinite(*b.daily_usd) && *b.daily_usd >= 0 && *b.daily_usd <= 1e9))
        return invalid("daily_usd", "must be a number in [0, 1e9], got {}", *b.daily_usd);
      if (b.daily_tokens && *b.daily_tokens < 0)
        return invalid("daily_tokens", "must be >= 0, got {}", *b.daily_tokens);
      return std::nullopt;
    };
    for (auto const& [name, b] : tenants) {
      if (name.empty()) return invalid("tenants", "has a tenant with an empty name");
      if (auto e = check(b)) return e->within("tenants." + name);
    }
    if (default_tenant)
      if (auto e = check(*default_tenant)) return e->within("default");
    return std::nullopt;
  }
};

namespace detail {

inline constexpr std::int64_t nanos_per_usd = 1'000'000'000;

/// USD into integer nano-dollars (negative and non-finite amounts count as 0; saturates near 9e9 USD).
inline std::int64_t to_nano_usd(double usd) noexcept {
  if (!std::isfinite(usd) || usd <= 0) return 0;
  double const nanos = usd * static_cast<double>(nanos_per_usd);
  if (nanos >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
  return std::llround(nanos);
}

inline double from_nano_usd(std::int64_t nanos) noexcept {
  return static_cast<double>(nanos) / static_cast<double>(nanos_per_usd);
}

/// The UTC day (days since 1970-01-01) of a wall time.
inline std::int64_t utc_day(wall_time t) noexcept {
  return std::chrono::floor<std::chrono::days>(t).time_since_epoch().count();
}

}  // namespace detail

/// "$0.03", "$1.25", "$0.0000018": at least cents, more digits only when they are not zero.
inline std::string format_usd(double usd) {
  auto const nanos = detail::to_nano_usd(std::abs(usd));
  auto fraction = fmt::format("{:09}", nanos % detail::nanos_per_usd);
  while (fraction.size() > 2 && fraction.back() == '0') fraction.pop_back();
  return fmt::format("{}${}.{}", usd < 0 ? "-" : "", nanos / detail::nanos_per_usd, fraction);
}

/// Why a call exceeds the per-call caps, or nothing when it fits.
inline std::optional<std::string> over_call_caps(call_caps const& caps, std::int64_t prompt_tokens,
                                                 std::int64_t output_tokens, double usd) {
  auto const tokens = saturating_add(prompt_tokens, output_tokens);
  if (caps.max_tokens && tokens > *caps.max_tokens)
    return fmt::format("the call needs {} tokens ({} prompt + {} output), over the per-call cap of {}", tokens,
                       prompt_tokens, output_tokens, *caps.max_tokens);
  if (caps.max_usd && detail::to_nano_usd(usd) > detail::to_nano_usd(*caps.max_usd))
    return fmt::format("the call may cost {} ({} prompt + {} output tokens), over the per-call cap of {}",
                       format_usd(usd), prompt_tokens, output_tokens, format_usd(*caps.max_usd));
  return std::nullopt;
}

/// The most output tokens a call with `prompt_tokens` may ask for within the
/// caps at these per-million prices; int64 max when nothing caps it, 0 or
/// less when even the prompt alone is over.
inline std::int64_t max_output_within(call_caps const& caps, std::int64_t prompt_tokens, double input_usd_per_million,
                                      double output_usd_per_million) {
  auto most = std::numeric_limits<std::int64_t>::max();
  if (caps.max_tokens) most = std::min(most, saturating_sub(*caps.max_tokens, prompt_tokens));
  if (caps.max_usd) {
    double const left = *caps.max_usd - static_cast<double>(prompt_tokens) * input_usd_per_million / 1e6;
    if (left < 0) {
      most = std::min<std::int64_t>(most, 0);
    } else if (output_usd_per_million > 0) {
      double const tokens = std::floor(left * 1e6 / output_usd_per_million);
      if (tokens < 9e18) most = std::min(most, static_cast<std::int64_t>(tokens));
    }
  }
  return most;
}

/// What a call holds against its tenant's budget between submit and settle.
struct budget_reservation {
  std::string tenant;
  std::int64_t tokens = 0;
  std::int64_t nano_usd = 0;
  bool tracked = false;  ///< false when the tenant has no budget: settle and release do nothing

  [[nodiscard]] double usd() const noexcept { return detail::from_nano_usd(nano_usd); }
};

/// A tenant's day so far, for dashboards and tests.
struct tenant_usage {
  std::int64_t day = 0;  ///< UTC days since 1970-01-01
  double spent_usd = 0, reserved_usd = 0;
  std::int64_t spent_tokens = 0, reserved_tokens = 0;
  std::optional<tenant_budget> budget;  ///< absent: the tenant is not limited
};

/// The tenants' daily accounts. A value type; every call takes the wall time.
class budget_ledger {
 public:
  explicit budget_ledger(budget_options options = {}) : options_{std::move(options)} {}

  [[nodiscard]] budget_options const& options() const noexcept { return options_; }

  /// New caps and budgets (a config reload); today's spending and reservations stay.
  void set_options(budget_options o) { options_ = std::move(o); }

  /// Holds `tokens` and `usd` for a call of `tenant`, or says why that would overspend its day.
  result<budget_reservation> reserve(std::string_view tenant, std::int64_t tokens, double usd, wall_time now) {
    budget_reservation r{std::string{tenant}, std::max<std::int64_t>(tokens, 0), detail::to_nano_usd(usd), false};
    auto const* budget = options_.budget_for(tenant);
    if (budget == nullptr) return r;
    auto& a = account(tenant, now);
    if (budget->daily_usd) {
      auto const limit = detail::to_nano_usd(*budget->daily_usd);
      if (saturating_add(saturating_add(a.spent_nano_usd, a.reserved_nano_usd), r.nano_usd) > limit)
        return error{fmt::format(
            "tenant {} would overspend its daily budget of {}: {} spent and {} reserved today, this call {}",
            quoted(tenant), format_usd(*budget->daily_usd), format_usd(detail::from_nano_usd(a.spent_nano_usd)),
            format_usd(detail::from_nano_usd(a.reserved_nano_usd)), format_usd(r.usd()))};
    }
    if (budget->daily_tokens &&
        saturating_add(saturating_add(a.spent_tokens, a.reserved_tokens), r.tokens) > *budget->daily_tokens)
      return error{fmt::format(
          "tenant {} would overspend its daily budget of {} tokens: {} spent and {} reserved today, this call {}",
          quoted(tenant), *budget->daily_tokens, a.spent_tokens, a.reserved_tokens, r.tokens)};
    a.reserved_nano_usd = saturating_add(a.reserved_nano_usd, r.nano_usd);
    a.reserved_tokens = saturating_add(a.reserved_tokens, r.tokens);
    r.tracked = true;
    return r;
  }

  /// Replaces the reservation with the real usage (charged even above what was reserved).
  void settle(budget_reservation const& r, std::int64_t real_in, std::int64_t real_out, double usd, wall_time now) {
    if (!r.tracked) return;
    auto& a = account(r.tenant, now);
    unhold(a, r);
    a.spent_tokens = saturating_add(
        a.spent_tokens, saturating_add(std::max<std::int64_t>(real_in, 0), std::max<std::int64_t>(real_out, 0)));
    a.spent_nano_usd = saturating_add(a.spent_nano_usd, detail::to_nano_usd(usd));
  }

  /// Gives the reservation back: the call failed with nothing billed.
  void release(budget_reservation const& r, wall_time now) {
    if (!r.tracked) return;
    unhold(account(r.tenant, now), r);
  }

  [[nodiscard]] tenant_usage usage(std::string_view tenant, wall_time now) const {
    tenant_usage u;
    u.day = detail::utc_day(now);
    if (auto const* b = options_.budget_for(tenant)) u.budget = *b;
    auto it = accounts_.find(tenant);
    if (it == accounts_.end()) return u;
    auto const& a = it->second;
    bool const today = a.day == u.day;
    u.spent_usd = today ? detail::from_nano_usd(a.spent_nano_usd) : 0.0;
    u.spent_tokens = today ? a.spent_tokens : 0;
    u.reserved_usd = detail::from_nano_usd(a.reserved_nano_usd);
    u.reserved_tokens = a.reserved_tokens;
    return u;
  }

 private:
  struct account_state {
    std::int64_t day = 0;
    std::int64_t spent_nano_usd = 0, reserved_nano_usd = 0;
    std::int64_t spent_tokens = 0, reserved_tokens = 0;
  };

  static std::string quoted(std::string_view s) { return fmt::format("\"{}\"", s); }

  /// The tenant's account for the day of `now`: a new day starts with nothing spent.
  account_state& account(std::string_view tenant, wall_time now) {
    auto it = accounts_.find(tenant);
    if (it == accounts_.end()) it = accounts_.emplace(std::string{tenant}, account_state{}).first;
    auto& a = it->second;
    auto const day = detail::utc_day(now);
    if (a.day != day) {
      a.day = day;
      a.spent_nano_usd = 0;
      a.spent_tokens = 0;
    }
    return a;
  }

  static void unhold(account_state& a, budget_reservation const& r) {
    a.reserved_nano_usd = std::max<std::int64_t>(saturating_sub(a.reserved_nano_usd, r.nano_usd), 0);
    a.reserved_tokens = std::max<std::int64_t>(saturating_sub(a.reserved_tokens, r.tokens), 0);
  }

  budget_options options_;
  std::map<std::string, account_state, std::less<>> accounts_;
};

}  // namespace medgate
