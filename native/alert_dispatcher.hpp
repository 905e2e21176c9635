// alert_dispatcher.hpp — runs the alert rules (alerts/monitor.hpp) beside a host and POSTs what they raise to
// the webhooks (alerts/outbox.hpp), on a thread of its own.
//
// `medgate serve` and `medgate batch` hand it every effect of their engine
// (`observe`: a lock and a few counters, safe on the driver's thread). Once
// a second, or at once when something fired, its thread ticks the rules and
// makes the POSTs that are due, with cpp-httplib, one at a time; results go
// back to the outbox, which retries. `flush` waits for the queue to drain
// (a batch run's end); the destructor stops the thread without waiting.
//
// Logs name the webhook and the notification id — never the URL (it may hold
// a secret) and never a body.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "medgate/alerts/outbox.hpp"
#include "medgate/engine.hpp"
#include "medgate/result.hpp"

namespace medgate::native {

class alert_dispatcher {
 public:
  using logger = std::function<void(std::string_view line)>;

  /// Reads each webhook's URL (url or url_env) and token (token_env) from the environment; an unset or
  /// malformed one is an error naming the webhook and the variable. `source` names the sender in payloads.
  static result<std::unique_ptr<alert_dispatcher>> create(engine_options const& engine, std::string source, logger log);
  ~alert_dispatcher();
  alert_dispatcher(alert_dispatcher const&) = delete;
  alert_dispatcher& operator=(alert_dispatcher const&) = delete;

  /// An effect of the engine, now. Thread-safe; does not block on the network.
  void observe(effect const& e);

  /// Evaluates the rules once more, then waits until every notification was delivered or given up, or
  /// `max_wait` passed. Returns whether the queue drained.
  bool flush(std::chrono::milliseconds max_wait);

  [[nodiscard]] alerts::outbox::counters totals() const;

 private:
  struct impl;
  explicit alert_dispatcher(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace medgate::native
