// gateway.hpp — the OpenAI-compatible sidecar behind `medgate serve`.
//
// Applications change one base URL and every call they make goes through the
// engine: breakers, retries within budget, fallbacks, deadlines, canaries,
// rate limits with clinical priorities, idempotency, budgets and review. The
// gateway itself holds no policy; it turns HTTP into a `call_request` and the
// call's `done` back into HTTP:
//
//   POST /v1/chat/completions  the provider's answer as received (JSON);
//                              X-Medgate-Target (provider/model) and
//                              X-Medgate-Attempts say how it was obtained.
//                              A held answer is 202 with X-Medgate-Review:
//                              pending_review (see README, "medgate serve").
//                              `stream: true`: events relayed as they arrive,
//                              once the engine commits to an attempt; a
//                              later failure ends with an error event.
//   GET  /v1/models            the route aliases, as OpenAI's model list
//   GET  /livez                the process answers
//   GET  /readyz               503 while no provider's breaker lets calls through
//   GET  /metrics              Prometheus text format (gateway_metrics.hpp)
//   GET  /v1/medgate/reviews/ID what became of a held call (ID from its 202; 202 while pending)
//   GET  /admin/status         engine state as JSON (admin token; gateway_admin.hpp)
//   GET  /admin/reviews        held answers with their drafts (admin token)
//   POST /admin/reviews/N      a reviewer's decision (admin token)
//
// Clinical context rides on headers: X-Medgate-Patient, X-Medgate-Priority
// (urgent, normal, batch), X-Medgate-Tenant, Idempotency-Key,
// X-Medgate-Deadline-Ms, X-Request-Id, or on the same keys of the body's
// `metadata` (taken out before the body goes to a provider). Every /v1 request must carry
// `Authorization: Bearer <gateway token>`; the provider keys stay with the
// gateway (api_key_env) and are never taken from or shown to clients.
// With an audit path, every call's sealed record is appended to that log
// (resuming its chain; a broken chain refuses to start, as audit_log does).
// Errors are OpenAI-shaped ({"error": {"message", "type", "code"}}) and never
// repeat request content.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "medgate/engine_options.hpp"
#include "medgate/random.hpp"
#include "medgate/result.hpp"
#include "medgate/transport/httplib.hpp"

namespace medgate::gateway {

struct gateway_options {
  std::string host = "127.0.0.1";  ///< loopback unless told otherwise
  int port = 8080;                 ///< 0: any free port
  std::string token{};             ///< what clients present as `Authorization: Bearer`; required
  /// What operators and reviewers present for /admin; empty: the admin API answers 403.
  std::string admin_token{};
  std::size_t max_body_bytes = std::size_t{4} << 20;
  /// HTTP workers: calls in progress at once (each waits for its provider on its worker; idle connections hold
  /// none). A provider answering in 5 s caps the gateway at threads / 5 calls per second.
  int threads = 256;
  /// Where each call's hash-chained audit record is appended (JSONL, audit_log.hpp); empty: no audit log.
  std::string audit_path{};

  /// The first problem, naming the option, or nothing.
  [[nodiscard]] std::optional<std::string> validate() const;
};

class server {
 public:
  /// Checks the options and starts the engine's driver (not yet the listener).
  static result<std::unique_ptr<server>> create(engine_options engine, gateway_options options,
                                                transport::httplib_options transport = {},
                                                std::optional<seed> jitter_seed = std::nullopt);
  ~server();  ///< stops
  server(server const&) = delete;
  server& operator=(server const&) = delete;

  /// Binds and serves on a background thread; returns the port.
  result<int> start();
  /// New engine options while serving (SIGHUP): calls in flight go on under
  /// the old routes, new calls take the new ones; breakers, budgets' spending,
  /// held reviews and cached answers carry over (`engine::reconfigure`), and
  /// API key files are read again. The error (`loaded`'s own, when the
  /// config could not be read) names the field; the running options stay
  /// then. Counted in /metrics either way.
  std::optional<std::string> reload(result<engine_options> loaded);
  /// Stops accepting, lets requests in flight finish, then stops. Idempotent.
  void stop();

  [[nodiscard]] int port() const;
  /// `http://HOST:PORT/v1`, the base URL an OpenAI client takes.
  [[nodiscard]] std::string base_url() const;

 private:
  struct impl;
  explicit server(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace medgate::gateway
