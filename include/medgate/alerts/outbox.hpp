// alerts/outbox.hpp — delivers notifications to webhooks: at least once, retried with backoff, each at most once
// per webhook from here.
//
// Sans-I/O: `add` queues a notification for every webhook; `due(now)` hands
// out the POSTs to make (each once, until its result comes back);
// `succeeded` / `failed` report how they went. A failure is retried after
// base · 2^(attempt−1), capped (or after the receiver's Retry-After, when
// longer), up to `max_attempts`; a 4xx other than 408 and 429 is the
// receiver refusing the payload, and is not retried. A notification id
// (`notification::id`) already queued or delivered is not queued again, and
// every POST carries it (the host sends it as `Idempotency-Key`), so a
// receiver can drop the duplicate a lost acknowledgement causes.
//
// `render` gives the body: the notification as JSON, or Slack's incoming
// webhook shape (`text` plus blocks), which Mattermost and Teams' Slack
// connectors also take.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "monitor.hpp"
#include "options.hpp"

namespace medgate::alerts {

/// RFC 3339 UTC with milliseconds: 2026-11-23T10:00:00.000Z.
inline std::string rfc3339(wall_time t) {
  auto const ms = std::chrono::floor<std::chrono::milliseconds>(t);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", std::chrono::floor<std::chrono::seconds>(ms),
                     (ms.time_since_epoch().count() % 1000 + 1000) % 1000);
}

/// The body of a webhook POST (see the header comment); `source` names the sender ("medgate serve").
inline std::string render(notification const& n, payload_format format, std::string_view source) {
  using json = nlohmann::ordered_json;
  json labels = json::object();
  for (auto const& [k, v] : n.labels) labels[k] = v;
  json values = json::object();
  for (auto const& [k, v] : n.values) values[k] = v;
  if (format == payload_format::json)
    return json{{"id", n.id()},
                {"key", n.key},
                {"incident", n.incident},
                {"status", to_string(n.state)},
                {"rule", n.rule},
                {"severity", n.severity},
                {"summary", n.summary},
                {"labels", std::move(labels)},
                {"values", std::move(values)},
                {"at", rfc3339(n.at)},
                {"source", source}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
  bool const firing = n.state == status::firing;
  auto const headline = fmt::format(
      "{} [{}] {}", firing ? ":rotating_light:" : ":white_check_mark:", firing ? "FIRING" : "RESOLVED", n.summary);
  std::string facts =
      fmt::format("*rule* {} · *severity* {} · *incident* {} #{}", n.rule, n.severity, n.key, n.incident);
  for (auto const& [k, v] : n.labels) facts += fmt::format(" · *{}* {}", k, v);
  json blocks = json::array();
  blocks.push_back(json{{"type", "section"}, {"text", json{{"type", "mrkdwn"}, {"text", headline}}}});
  blocks.push_back(json{
      {"type", "context"},
      {"elements",
       json::array({json{{"type", "mrkdwn"}, {"text", fmt::format("{} · {} · {}", facts, source, rfc3339(n.at))}}})}});
  return json{{"text", headline}, {"blocks", std::move(blocks)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// One POST to make.
struct post {
  std::uint64_t delivery = 0;  ///< report the result under this
  std::size_t webhook = 0;     ///< index into options::webhooks
  std::string notification_id;
  std::string body;
  std::uint32_t attempt = 1;
};

class outbox {
 public:
  struct counters {
    std::uint64_t queued = 0, delivered = 0, retried = 0, gave_up = 0, refused = 0, dropped = 0, duplicates = 0;
  };

  outbox(options o, std::string source) : options_{std::move(o)}, source_{std::move(source)} {}

  /// Queues `n` for every webhook, unless it was queued before.
  void add(notification const& n, instant now) {
    auto const id = n.id();
    if (!seen_.insert(id).second) {
      ++counters_.duplicates;
      return;
    }
    seen_order_.push_back(id);
    if (seen_order_.size() > 4 * std::size_t{options_.delivery.max_pending}) {
      seen_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
    for (std::size_t w = 0; w < options_.webhooks.size(); ++w) {
      if (pending_.size() >= options_.delivery.max_pending) {
        pending_.pop_front();
        ++counters_.dropped;
      }
      pending_.push_back(
          queued_post{next_id_++, w, id, render(n, options_.webhooks[w].format, source_), 0, now, false});
      ++counters_.queued;
    }
  }

  /// The POSTs due at `now`; each is handed out once until `succeeded` or `failed` reports it.
  std::vector<post> due(instant now) {
    std::vector<post> out;
    for (auto& d : pending_) {
      if (d.in_flight || d.due > now) continue;
      d.in_flight = true;
      ++d.attempts;
      out.push_back(post{d.id, d.webhook, d.notification_id, d.body, d.attempts});
    }
    return out;
  }

  void succeeded(std::uint64_t delivery) {
    if (auto it = find(delivery); it != pending_.end()) {
      pending_.erase(it);
      ++counters_.delivered;
    }
  }

  /// `status`: the receiver's HTTP status, 0 when there was no answer (refused, reset, timed out).
  /// Returns whether it will be tried again.
  bool failed(std::uint64_t delivery, int status, instant now, std::optional<duration> retry_after = std::nullopt) {
    auto it = find(delivery);
    if (it == pending_.end()) return false;
    bool const refused = status >= 400 && status < 500 && status != 408 && status != 429;
    if (refused || it->attempts >= options_.delivery.max_attempts) {
      ++(refused ? counters_.refused : counters_.gave_up);
      pending_.erase(it);
      return false;
    }
    auto wait = options_.delivery.base;
    for (std::uint32_t i = 1; i < it->attempts && wait < options_.delivery.cap; ++i) wait *= 2;
    wait = std::min(wait, options_.delivery.cap);
    if (retry_after)
      wait = std::max(wait, std::min(*retry_after, std::chrono::duration_cast<duration>(std::chrono::minutes{10})));
    it->due = now + wait;
    it->in_flight = false;
    ++counters_.retried;
    return true;
  }

  /// When the next queued POST falls due; nothing when none waits (in-flight ones excluded).
  [[nodiscard]] std::optional<instant> next_due() const {
    std::optional<instant> next;
    for (auto const& d : pending_)
      if (!d.in_flight && (!next || d.due < *next)) next = d.due;
    return next;
  }

  /// Nothing queued and nothing in flight.
  [[nodiscard]] bool idle() const noexcept { return pending_.empty(); }
  [[nodiscard]] counters const& totals() const noexcept { return counters_; }
  [[nodiscard]] options const& settings() const noexcept { return options_; }

 private:
  struct queued_post {
    std::uint64_t id = 0;
    std::size_t webhook = 0;
    std::string notification_id;
    std::string body;
    std::uint32_t attempts = 0;
    instant due{};
    bool in_flight = false;
  };

  std::deque<queued_post>::iterator find(std::uint64_t id) {
    return std::find_if(pending_.begin(), pending_.end(), [&](queued_post const& d) { return d.id == id; });
  }

  options options_;
  std::string source_;
  std::deque<queued_post> pending_;
  std::set<std::string, std::less<>> seen_;
  std::deque<std::string> seen_order_;
  std::uint64_t next_id_ = 1;
  counters counters_;
};

}  // namespace medgate::alerts
