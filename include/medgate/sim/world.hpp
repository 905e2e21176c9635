// sim/world.hpp — simulated providers and network for the deterministic simulator, in virtual time.
//
// Each provider follows its own randomized fault schedule: healthy stretches alternating with fault windows
// (partial outages, flapping, 429 storms with and without Retry-After, latency spikes, hangs, connection resets,
// malformed and truncated answers), drawn lazily from the provider's own seeded stream so a schedule depends only
// on the seed and the scenario. `answer` turns one `send` into what the network delivers and when: an HTTP
// response after a latency, or a transport failure (a timeout at the attempt's timeout when the provider hangs or
// is slower than that). No sockets, no clock: the caller owns `now`.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../engine.hpp"
#include "../http.hpp"
#include "../random.hpp"
#include "../time.hpp"
#include "../trace.hpp"

namespace medgate::sim {

enum class fault : std::uint8_t {
  none,
  outage,           ///< partial or full: most answers are 503 or refused connections
  flapping,         ///< up and down every few hundred milliseconds
  storm_429,        ///< 429 without Retry-After
  storm_429_after,  ///< 429 with Retry-After (sometimes longer than the engine will wait)
  latency_spike,    ///< answers 10-40x slower, many past the attempt timeout
  hang,             ///< no answer at all: the transport times out
  reset,            ///< connections reset mid-exchange
  malformed,        ///< 200 with a body that is not JSON
  truncated,        ///< 200 with the JSON cut short
};
inline constexpr std::size_t fault_count = 10;

constexpr std::string_view to_string(fault f) noexcept {
  constexpr std::array<std::string_view, fault_count> names{
      "none",          "outage", "flapping", "storm_429", "storm_429_after",
      "latency_spike", "hang",   "reset",    "malformed", "truncated"};
  return names[static_cast<std::size_t>(f)];
}

/// How often and how long each provider is in trouble.
struct fault_profile {
  std::array<std::uint32_t, fault_count> weights{};  ///< relative odds of each fault kind (`none` ignored)
  duration mean_healthy = std::chrono::seconds{20};  ///< mean length of a healthy stretch
  duration mean_fault = std::chrono::seconds{8};     ///< mean length of a fault window
  double background_errors = 0.01;                   ///< 503s and resets even when healthy
};

/// A window of the schedule.
struct fault_window {
  instant from{};
  instant to{};
  fault kind = fault::none;
  double intensity = 0;  ///< share of attempts the fault hits, in (0, 1]
};

/// What the network delivers for one attempt.
struct outcome {
  instant at{};
  bool failed = false;  ///< a transport failure instead of a response
  transport_error failure{};
  http_response response{};
  fault cause = fault::none;
};

/// One simulated OpenAI-compatible provider.
class provider_sim {
 public:
  provider_sim(std::string name, fault_profile profile, duration latency_min, duration latency_max, seed s)
      : name_{std::move(name)}, profile_{profile}, latency_min_{latency_min}, latency_max_{latency_max}, draws_{s} {
    for (std::size_t k = 1; k < fault_count; ++k) total_weight_ += profile_.weights[k];
  }

  [[nodiscard]] std::string const& name() const noexcept { return name_; }

  /// From now on the provider is healthy and quick (the run is draining).
  void heal() noexcept { healed_ = true; }

  /// The window in force at `now` (schedules only move forward).
  fault_window const& window_at(instant now) {
    while (now >= current_.to) advance();
    return current_;
  }

  /// The network's answer to `s`, sent at `now`.
  outcome answer(send const& s, instant now) {
    auto const& w = healed_ ? healthy_ : window_at(now);
    bool const hit = w.kind != fault::none && draws_.uniform() < w.intensity;
    fault const f = hit ? w.kind : fault::none;
    duration latency = between(latency_min_, latency_max_);
    outcome o;
    o.cause = f;
    auto fail_with = [&](transport_failure kind, duration after, std::string detail) {
      o.failed = true;
      o.failure = transport_error{kind, std::move(detail)};
      o.at = add(now, std::min(after, s.timeout));
      if (after >= s.timeout) o.failure = transport_error{transport_failure::timeout, "attempt timeout"};
    };
    auto respond = [&](int status, std::string body) {
      if (latency >= s.timeout) return fail_with(transport_failure::timeout, s.timeout, "attempt timeout");
      o.at = add(now, latency);
      o.response.status = status;
      o.response.body = std::move(body);
    };
    if (!healed_ && f == fault::none && draws_.uniform() < profile_.background_errors) {
      if (draws_.below(2) == 0)
        respond(503, error_body(503));
      else
        fail_with(transport_failure::connection_reset, latency / 2, "connection reset by peer");
      return o;
    }
    switch (f) {
      case fault::none:
        respond(200, chat_body(s));
        break;
      case fault::outage:
        if (draws_.below(3) == 0)
          fail_with(transport_failure::connection_refused, std::chrono::milliseconds{1}, "connection refused");
        else
          respond(503, error_body(503));
        break;
      case fault::flapping: {
        // Down in every other 300 ms stretch of the window.
        auto const phase = elapsed(w.from, now).count() / 300'000;
        if (phase % 2 == 1)
          respond(503, error_body(503));
        else
          respond(200, chat_body(s));
        break;
      }
      case fault::storm_429:
        respond(429, error_body(429));
        break;
      case fault::storm_429_after: {
        respond(429, error_body(429));
        // Mostly a short wait; one in five longer than the engine's max_retry_after.
        auto const seconds = draws_.below(5) == 0 ? 60 + draws_.below(60) : draws_.below(3);
        o.response.headers.add("Retry-After", fmt::format("{}", seconds));
        break;
      }
      case fault::latency_spike:
        latency = latency * static_cast<std::int64_t>(10 + draws_.below(31));
        respond(200, chat_body(s));
        break;
      case fault::hang:
        fail_with(transport_failure::timeout, s.timeout, "attempt timeout");
        break;
      case fault::reset:
        fail_with(transport_failure::connection_reset, latency / 2, "connection reset by peer");
        break;
      case fault::malformed:
        respond(200, "<html>502 Bad Gateway</html");
        break;
      case fault::truncated: {
        auto body = chat_body(s);
        body.resize(body.size() / 2);
        respond(200, std::move(body));
        break;
      }
    }
    return o;
  }

 private:
  duration between(duration lo, duration hi) {
    return lo + duration{static_cast<std::int64_t>(draws_.below(static_cast<std::uint64_t>((hi - lo).count()) + 1))};
  }

  /// detail::sample_error_body, made once per status.
  static std::string const& error_body(int status) {
    static std::string const unavailable = detail::sample_error_body(503), too_many = detail::sample_error_body(429);
    return status == 429 ? too_many : unavailable;
  }

  /// A chat completion answer as providers send it (the fields detail::sample_chat_body has, written directly:
  /// the simulator sends millions).
  static std::string chat_body(send const& s) {
    return fmt::format(
        R"({{"id":"chatcmpl-{}","object":"chat.completion","created":0,"model":"{}","choices":[{{"index":0,)"
        R"("message":{{"role":"assistant","content":"answer from {}"}},"finish_reason":"stop"}}],)"
        R"("usage":{{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}}})",
        s.attempt, s.model, s.provider);
  }

  /// An exponential length with mean `mean` (at least 1 ms).
  duration exponential(duration mean) {
    double const u = std::max(draws_.uniform(), 1e-12);
    auto const us = static_cast<std::int64_t>(-std::log(u) * static_cast<double>(mean.count()));
    return std::max(duration{1000}, duration{us});
  }

  void advance() {
    instant const from = current_.to == never ? instant{} : current_.to;
    bool const was_healthy = current_.kind == fault::none && started_;
    started_ = true;
    if (total_weight_ == 0 || !was_healthy) {
      current_ = {from, add(from, exponential(profile_.mean_healthy)), fault::none, 0};
      return;
    }
    auto pick = draws_.below(total_weight_);
    std::size_t k = 1;
    for (; k < fault_count; ++k) {
      if (pick < profile_.weights[k]) break;
      pick -= profile_.weights[k];
    }
    auto const kind = static_cast<fault>(std::min(k, fault_count - 1));
    double const intensity = 0.5 + 0.5 * draws_.uniform();
    current_ = {from, add(from, exponential(profile_.mean_fault)), kind, intensity};
  }

  std::string name_;
  fault_profile profile_;
  duration latency_min_, latency_max_;
  rng draws_;
  std::uint64_t total_weight_ = 0;
  bool started_ = false;
  bool healed_ = false;
  fault_window current_{instant{}, instant{}, fault::none, 0};
  fault_window healthy_{instant{}, never, fault::none, 0};
};

}  // namespace medgate::sim
