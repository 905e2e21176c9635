// client.hpp — a blocking client for applications that just want an answer.
//
// Most clinical applications make one call at a time and wait for it; they
// should get every policy (retries, fallback, breakers, deadlines) without
// learning about effects, owner threads or callbacks. `client` wraps the
// native driver and turns its completion callback into a blocking return.
// Several threads may call `chat` at once; each blocks only for its own call.
// The default seed is drawn from std::random_device: jitter exists to keep
// many clients from retrying in lockstep, so processes must not share a seed
// unless a test asks for one.
#pragma once

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine.hpp"
#include "engine_options.hpp"
#include "openai/chat.hpp"
#include "random.hpp"
#include "result.hpp"
#include "time.hpp"
#include "transport/httplib.hpp"

namespace medgate {

class client {
 public:
  /// Checks both option sets and starts the driver's threads.
  static result<client> create(engine_options options, transport::httplib_options transport = {},
                               std::optional<seed> s = std::nullopt) {
    auto driver =
        transport::httplib_driver::create(std::move(options), s.value_or(random_seed()), std::move(transport));
    if (!driver) return error{driver.error_message()};
    return client{std::move(*driver)};
  }

  /// Sends one chat call through the engine and blocks until it is over.
  /// `timeout` is the whole call's deadline (`deadlines.timeout` when absent).
  /// Must not be called from a driver callback or observer (it would wait on
  /// the thread that has to answer it).
  done chat(openai::chat_request request, std::optional<duration> timeout = std::nullopt) {
    call_request call;
    call.chat = std::move(request);
    call.timeout = timeout;
    return chat(std::move(call));
  }

  /// Sends one call with its clinical context (patient key, priority, tenant,
  /// idempotency key) and blocks until it is over.
  done chat(call_request call) { return driver_->call(std::move(call)); }

  /// One user message to `model` (a route alias or a model name).
  done chat(std::string_view model, std::string_view user_message) {
    return chat(openai::make_chat_request(std::string{model}, {{"user", std::string{user_message}}}));
  }

  /// The providers' health as the engine sees it.
  std::vector<provider_status> providers() { return driver_->providers(); }

  /// The driver underneath, for asynchronous submissions next to blocking ones.
  transport::httplib_driver& driver() { return *driver_; }

 private:
  explicit client(std::unique_ptr<transport::httplib_driver> driver) : driver_{std::move(driver)} {}

  static seed random_seed() {
    std::random_device device;
    auto const high = static_cast<std::uint64_t>(device()) << 32;
    return seed{high | static_cast<std::uint64_t>(device())};
  }

  std::unique_ptr<transport::httplib_driver> driver_;
};

}  // namespace medgate
