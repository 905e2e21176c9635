// fetch.hpp — the WebAssembly driver: runs the engine on JavaScript's one thread with `globalThis.fetch`
// and `setTimeout` (browsers and node 18+ alike).
//
// The engine decides everything and performs nothing; this driver only
// carries out its effects and reports what happened, so no policy lives here.
// `send` and `probe` become fetch() calls with an AbortController (the
// attempt's timeout, or a `cancel`); `wake_at` becomes one setTimeout; every
// effect also goes to the host's observer (the JavaScript API turns them into
// events and settles its promises on `done`). Fetch outcomes and timers come
// back through `fetch_driver::deliver` and `fetch_driver::wake`, which the
// binding registers as the module functions `medgateFetchDone` and
// `medgateTimerFired` (the JavaScript below calls them by those names).
// `now` is performance.now() in microseconds; wall time (audit records) is
// Date.now().
//
// The API key named by `send::api_key_env` is looked up in the host's key
// table (a browser has no environment) and goes only into the Authorization
// header: never into an effect, an event or an error. In node a pending timer
// keeps the process alive only while calls are in progress.
//
// Include from exactly one translation unit: EM_JS defines its functions.
#pragma once

#ifndef __EMSCRIPTEN__
#error "transport/fetch.hpp drives the engine in WebAssembly (Emscripten); natively use transport/httplib.hpp"
#endif

#include <emscripten.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "../engine.hpp"
#include "../http.hpp"
#include "../openai/relay.hpp"
#include "../result.hpp"
#include "../time.hpp"

// ---- the JavaScript half ------------------------------------------------------
// Starts a request. headers: a JSON object; body: "" for a GET. Reports exactly once through
// Module.medgateFetchDone(driver, id, isProbe, status, headersJson, body, failure, detail). With `relay`, a
// successful answer's body is also handed over as it arrives, through Module.medgateFetchChunk(driver, id,
// text); when that returns false the request is aborted (it then reports "cancelled").
EM_JS(void, medgate_fetch_start,
      (int driver, double id, int is_probe, char const* url, char const* headers, char const* body, double timeout_ms,
       int relay),
      {
        const tables = Module.medgateFetch || (Module.medgateFetch = {aborts : new Map(), timers : new Map()});
        const key = driver + ":" + (is_probe ? "p" : "a") + id;
        const controller = new AbortController();
        let why = "";
        const timer = setTimeout(
            function() {
              why = "timeout";
              controller.abort();
            },
            timeout_ms);
        tables.aborts.set(
            key, function() {
              why = "cancelled";
              controller.abort();
            });
        const init = {
          method : is_probe ? "GET" : "POST",
          headers : JSON.parse(UTF8ToString(headers)),
          signal : controller.signal,
          cache : "no-store"
        };
        const text = UTF8ToString(body);
        if (!is_probe) init.body = text;
        let settled = false;
        const finish = function(status, headersJson, bodyText, failure, detail) {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          tables.aborts.delete(key);
          Module.medgateFetchDone(driver, id, is_probe, status, headersJson, bodyText, failure, detail);
        };
        const failed = function(e) {
          const code = (e && e.cause && e.cause.code) || "";
          let failure = "other";
          if (why)
            failure = why;
          else if (code == "ECONNREFUSED")
            failure = "connection_refused";
          else if (code == "ECONNRESET" || code == "UND_ERR_SOCKET" || code == "EPIPE")
            failure = "connection_reset";
          else if (e && e.name == "TypeError")
            failure = "connection_refused";  // fetch hides the cause in browsers: no response at all
          finish(0, "{}", "", failure, String((e && e.name) || "Error") + (code ? " " + code : ""));
        };
        let promise;
        try {
          promise = globalThis.fetch(UTF8ToString(url), init);
        } catch (e) {
          failed(e);
          return;
        }
        promise
            .then(function(response) {
              const fields = {};
              response.headers.forEach(function(value, name) { fields[name] = value; });
              if (!relay || !response.ok || !response.body || !response.body.getReader)
                return response.text().then(
                    function(bodyText) { finish(response.status, JSON.stringify(fields), bodyText, "", ""); });
              const reader = response.body.getReader();
              const decoder = new TextDecoder();
              let bodyText = "";
              const pump = function() {
                return reader.read().then(function(part) {
                  if (part.done) {
                    bodyText += decoder.decode();
                    finish(response.status, JSON.stringify(fields), bodyText, "", "");
                    return undefined;
                  }
                  const text = decoder.decode(part.value, {stream : true});
                  bodyText += text;
                  if (text && !Module.medgateFetchChunk(driver, id, text)) {
                    why = "cancelled";
                    controller.abort();
                  }
                  return pump();
                });
              };
              return pump();
            })
            .catch(failed);
      });

// Aborts a request still in flight; it then reports "cancelled".
EM_JS(void, medgate_fetch_abort, (int driver, double id, int is_probe), {
  const tables = Module.medgateFetch;
  const abort = tables && tables.aborts.get(driver + ":" + (is_probe ? "p" : "a") + id);
  if (abort) abort();
});

// Arms the driver's one timer (replacing the previous): Module.medgateTimerFired(driver) after `ms`.
// Without `keep_alive` a node process may exit while it waits.
EM_JS(void, medgate_timer_arm, (int driver, double ms, int keep_alive), {
  const tables = Module.medgateFetch || (Module.medgateFetch = {aborts : new Map(), timers : new Map()});
  clearTimeout(tables.timers.get(driver));
  const timer = setTimeout(
      function() {
        tables.timers.delete(driver);
        Module.medgateTimerFired(driver);
      },
      Math.max(0, Math.ceil(ms)));
  if (!keep_alive && timer && typeof timer.unref == "function") timer.unref();
  tables.timers.set(driver, timer);
});

EM_JS(void, medgate_timer_clear, (int driver), {
  const tables = Module.medgateFetch;
  if (!tables) return;
  clearTimeout(tables.timers.get(driver));
  tables.timers.delete(driver);
});

EM_JS(double, medgate_wall_ms, (), { return Date.now(); });
EM_JS(double, medgate_now_ms, (), { return performance.now(); });

namespace medgate::transport {

struct fetch_options {
  /// API keys by the name a provider's `api_key_env` gives. A provider whose
  /// key is not here is called without an Authorization header.
  std::map<std::string, std::string> api_keys;
  /// A larger response body fails the attempt (`other`).
  std::size_t max_response_bytes = std::size_t{64} << 20;
  /// Every effect, after the driver has carried out its own part (sends, timers): the host's events.
  std::function<void(effect const&, instant)> on_effect;
  /// Every attempt's outcome as it arrives, before the engine reads it: a response or a failure.
  std::function<void(attempt_id, http_response const*, transport_error const*, instant)> on_outcome;
  /// One event of a relayed stream (`call_request::relay_stream`) the engine committed to, as it arrives and
  /// before the call's `done`.
  std::function<void(call_id, attempt_id, openai::sse_event const&)> on_stream_event;
};

/// One engine driven by fetch. Not copyable or movable: JavaScript holds its number.
class fetch_driver {
 public:
  fetch_driver(engine_options options, seed s, fetch_options host)
      : engine_{std::move(options), s}, host_{std::move(host)}, id_{next_id()} {
    engine_.set_wall_clock(wall_time{std::chrono::microseconds{
        static_cast<std::int64_t>(std::llround((medgate_wall_ms() - medgate_now_ms()) * 1000.0))}});
    registry()[id_] = this;
  }
  fetch_driver(fetch_driver const&) = delete;
  fetch_driver& operator=(fetch_driver const&) = delete;
  ~fetch_driver() {
    close();
    registry().erase(id_);
  }

  /// The engine, for what the host reads or sets between turns (status, counters, the lexicon).
  engine& core() noexcept { return engine_; }
  [[nodiscard]] static instant now() noexcept {
    return instant{std::chrono::microseconds{static_cast<std::int64_t>(std::llround(medgate_now_ms() * 1000.0))}};
  }

  /// One turn of the engine outside a fetch or a timer: `f(engine, now)`, then the effects it caused
  /// (a reviewer's decision, for one).
  template <class F>
  auto turn(F&& f) {
    auto const t = now();
    auto out = std::forward<F>(f)(engine_, t);
    drain(t);
    return out;
  }

  call_id submit(call_request request) {
    return turn([&](engine& e, instant t) { return e.submit(std::move(request), t); });
  }
  bool cancel_call(call_id id) {
    return turn([&](engine& e, instant t) { return e.cancel_call(id, t); });
  }
  validation reconfigure(engine_options next) {
    return turn([&](engine& e, instant t) { return e.reconfigure(std::move(next), t); });
  }

  /// Cancels every call in flight (each ends `cancelled`) and stops the timer.
  void close() {
    if (closed_) return;
    auto const t = now();
    std::vector<call_id> calls;
    calls.reserve(calls_.size());
    for (auto const& [attempt, call] : calls_) {
      medgate_fetch_abort(id_, static_cast<double>(attempt), 0);
      calls.push_back(call);
    }
    for (auto const c : calls) engine_.cancel_call(c, t);
    drain(t);
    closed_ = true;
    medgate_timer_clear(id_);
  }

  /// A fetch ended (`failure` empty: `status`, `headers` JSON and `body` arrived).
  static void deliver(int driver, double id, bool is_probe, int status, std::string const& headers, std::string body,
                      std::string const& failure, std::string const& detail) {
    if (auto* d = find(driver))
      d->arrived(static_cast<std::uint64_t>(id), is_probe, status, headers, std::move(body), failure, detail);
  }

  /// The timer armed for `wake_at` fired.
  /// More of a relayed attempt's stream; false: the engine no longer wants it (abort the fetch).
  static bool chunk(int driver, double id, std::string_view text) {
    auto* d = find(driver);
    if (d == nullptr || d->closed_) return false;
    auto const attempt = static_cast<attempt_id>(id);
    auto const r = d->relays_.find(attempt);
    auto const c = d->calls_.find(attempt);
    if (r == d->relays_.end() || c == d->calls_.end()) return true;
    auto const call = c->second;
    return r->second.feed(
        text, [&] { return d->turn([&](engine& e, instant t) { return e.on_stream_start(attempt, t); }); },
        [&](openai::sse_event const& e) {
          if (d->host_.on_stream_event) d->host_.on_stream_event(call, attempt, e);
        });
  }

  static void wake(int driver) {
    if (auto* d = find(driver)) {
      d->timer_at_ = never;
      d->drain(now());
    }
  }

 private:
  static int next_id() {
    static int last = 0;
    return ++last;
  }
  static std::unordered_map<int, fetch_driver*>& registry() {
    static std::unordered_map<int, fetch_driver*> drivers;
    return drivers;
  }
  static fetch_driver* find(int id) {
    auto const it = registry().find(id);
    return it == registry().end() ? nullptr : it->second;
  }

  static transport_failure failure_of(std::string const& name) {
    if (name == "timeout") return transport_failure::timeout;
    if (name == "connection_refused") return transport_failure::connection_refused;
    if (name == "connection_reset") return transport_failure::connection_reset;
    if (name == "cancelled") return transport_failure::cancelled;
    return transport_failure::other;
  }

  void arrived(std::uint64_t id, bool is_probe, int status, std::string const& headers, std::string body,
               std::string const& failure, std::string const& detail) {
    auto const t = now();
    if (is_probe) {
      engine_.on_probe_result(id, failure.empty() && status >= 200 && status < 300, t);
      drain(t);
      return;
    }
    calls_.erase(id);
    relays_.erase(id);
    std::optional<http_response> response;
    std::optional<transport_error> error;
    if (!failure.empty()) {
      error = transport_error{failure_of(failure), detail};
    } else if (body.size() > host_.max_response_bytes) {
      error = transport_error{transport_failure::other, "response body over the size limit"};
    } else {
      response.emplace();
      response->status = status;
      response->body = std::move(body);
      auto const fields = nlohmann::json::parse(headers, nullptr, false);
      if (fields.is_object())
        for (auto const& [name, value] : fields.items())
          if (value.is_string()) response->headers.add(name, value.get<std::string>());
      response->received_at =
          wall_time{std::chrono::microseconds{static_cast<std::int64_t>(std::llround(medgate_wall_ms() * 1000.0))}};
    }
    if (host_.on_outcome) host_.on_outcome(id, response ? &*response : nullptr, error ? &*error : nullptr, t);
    if (response)
      engine_.on_response(id, *response, t);
    else
      engine_.on_failure(id, *error, t);
    drain(t);
  }

  /// `idempotency_key`: the engine's form of the caller's key (send::idempotency_key), empty for none.
  std::string headers_for(std::string const& key_env, bool json_body, std::string const& idempotency_key = {}) const {
    nlohmann::json h = nlohmann::json::object();
    if (json_body) h["content-type"] = "application/json";
    if (!idempotency_key.empty()) h["idempotency-key"] = idempotency_key;
    h["accept"] = "application/json, text/event-stream";
    if (auto const k = host_.api_keys.find(key_env); !key_env.empty() && k != host_.api_keys.end())
      h["authorization"] = "Bearer " + k->second;
    return h.dump();
  }

  static double milliseconds(duration d) { return static_cast<double>(d.count()) / 1000.0; }

  void perform(effect const& e) {
    if (auto const* s = std::get_if<send>(&e)) {
      calls_[s->attempt] = s->call;
      if (s->relay) relays_.try_emplace(s->attempt);
      medgate_fetch_start(id_, static_cast<double>(s->attempt), 0, s->url.c_str(),
                          headers_for(s->api_key_env, true, s->idempotency_key).c_str(), s->body.c_str(),
                          milliseconds(s->timeout), s->relay ? 1 : 0);
    } else if (auto const* c = std::get_if<cancel>(&e)) {
      medgate_fetch_abort(id_, static_cast<double>(c->attempt), 0);
    } else if (auto const* p = std::get_if<probe>(&e)) {
      medgate_fetch_start(id_, static_cast<double>(p->id), 1, p->url.c_str(),
                          headers_for(p->api_key_env, false).c_str(), "", milliseconds(p->timeout), 0);
    }
  }

  /// Carries out every effect the engine has for `t`, tells the host, and arms the timer for the engine's
  /// next deadline (read from the engine rather than from `wake_at`, so a timer that fires a little early
  /// is simply armed again).
  void drain(instant t) {
    if (closed_) return;
    while (auto e = engine_.poll(t)) {
      perform(*e);
      if (host_.on_effect) host_.on_effect(*e, t);
    }
    instant const next = engine_.next_deadline();
    if (next == never) {
      if (timer_at_ != never) medgate_timer_clear(id_);
    } else if (next != timer_at_ || (engine_.calls_in_progress() > 0) != timer_keeps_alive_) {
      timer_keeps_alive_ = engine_.calls_in_progress() > 0;
      medgate_timer_arm(id_, milliseconds(next - t), timer_keeps_alive_ ? 1 : 0);
    }
    timer_at_ = next;
  }

  engine engine_;
  fetch_options host_;
  int id_;
  bool closed_ = false;
  instant timer_at_ = never;  ///< when the armed timer fires; never: none armed
  bool timer_keeps_alive_ = false;
  std::map<attempt_id, call_id> calls_;  ///< attempts whose fetch has not reported, and their calls
  std::map<attempt_id, openai::stream_relay_reader> relays_;  ///< relayed attempts' streams so far
};

}  // namespace medgate::transport
