// wasm/engine_binding.cpp — the engine with every policy, driven by fetch (transport/fetch.hpp), as the embind
// class `Engine`.
//
// Thin raw methods that take and give JSON text; wasm/engine.mjs wraps them into the idiomatic API
// (`createMedgate`, `chat()` promises, events, thrown Errors) and wasm/index.d.ts types it. Errors are values:
//
//   const r = Module.Engine.create(configJson, seed, envJson, listener);  // {engine} | {error}
//   // listener(json): '{"event": "send" | "attempt" | "decision" | "breaker" | "canary" | "audit" | "done"
//   //                   | "reviewed" | "chunk", "data": {...}}' (engine_json.hpp)
//   r.engine.submit(requestJson, contextJson)   // '{"call": 7}' or '{"error": "..."}'; the call ends in a done event
//   r.engine.cancel(7); r.engine.status(); r.engine.reconfigure(json) ('' or the error)
//   r.engine.review(7, '{"decision": "approved", "reviewer": "r-1"}')   // '{"state": "approved"}' or '{"error"}'
//   r.engine.pendingReviews()                                           // '[{"call": 7, "draft": {...}}]'
//   r.engine.setLexicon(uint8Array); r.engine.setCounter('o200k_base', uint8Array)   // '' or the error
//   r.engine.close(); r.engine.delete()
//
// `env` is the environment a browser lacks: API keys and the patient key secret by the variable names the
// config gives (`api_key_env`, `patient_key_secret_env`). Keys go into Authorization headers only.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <emscripten/bind.h>
#include <emscripten/val.h>
#include <nlohmann/json.hpp>

#include "engine_json.hpp"
#include "medgate/config.hpp"
#include "medgate/phi/lexicon.hpp"
#include "medgate/tokens/encoding.hpp"
#include "medgate/transport/fetch.hpp"
#include "typed_arrays.hpp"

namespace medgate::wasm {

namespace {

using emscripten::val;
using nlohmann::json;

std::string error_json(std::string const& message) { return json{{"error", message}}.dump(); }

/// The call's context from the JavaScript CallContext; errors name the field, never its value.
result<call_request> context_of(json const& ctx, openai::chat_request chat) {
  call_request call;
  call.chat = std::move(chat);
  if (!ctx.is_object()) return call;
  auto const text = [&](char const* key, std::string& out) -> std::optional<std::string> {
    auto const it = ctx.find(key);
    if (it == ctx.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return fmt::format("context.{} must be a string", key);
    out = it->get<std::string>();
    return std::nullopt;
  };
  std::string priority_name;
  for (auto [key, out] : {std::pair{"patient", &call.patient_key}, std::pair{"tenant", &call.tenant},
                          std::pair{"idempotencyKey", &call.idempotency_key}, std::pair{"requestId", &call.request_id},
                          std::pair{"phiMap", &call.phi_map}, std::pair{"priority", &priority_name}})
    if (auto bad = text(key, *out)) return error{*bad};
  if (auto const it = ctx.find("relay"); it != ctx.end() && !it->is_null()) {
    if (!it->is_boolean()) return error{"context.relay must be a boolean"};
    call.relay_stream = it->get<bool>();
  }
  if (!priority_name.empty()) {
    auto const p = parse_priority(priority_name);
    if (!p) return error{"context.priority must be urgent, normal or batch"};
    call.priority_class = *p;
  }
  if (auto const it = ctx.find("deadlineMs"); it != ctx.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 86'400'000)
      return error{"context.deadlineMs must be a number of milliseconds from 1 to 86400000"};
    call.timeout = std::chrono::microseconds{static_cast<std::int64_t>(it->get<double>() * 1000.0)};
  }
  return call;
}

class engine_binding {
 public:
  /// `{engine}`, or `{error}` naming the bad field of the config or of `env`.
  static val create(std::string const& config, double seed_value, std::string const& env_json, val listener) {
    val out = val::object();
    auto options = parse_config(config);
    if (!options) {
      out.set("error", "config: " + options.error_message());
      return out;
    }
    auto const env = json::parse(env_json, nullptr, false);
    if (!env.is_object()) {
      out.set("error", std::string{"env must be an object of strings"});
      return out;
    }
    transport::fetch_options host;
    for (auto const& [name, value] : env.items()) {
      if (!value.is_string()) {
        out.set("error", fmt::format("env.{} must be a string", name));
        return out;
      }
      host.api_keys[name] = value.get<std::string>();
    }
    if (options->patient_key_secret.empty())
      if (auto const s = host.api_keys.find(options->patient_key_secret_env); s != host.api_keys.end())
        options->patient_key_secret = s->second;
    if (seed_value < 0 || seed_value != seed_value) {
      out.set("error", std::string{"seed must be a non-negative number"});
      return out;
    }
    out.set("engine", val{engine_binding{std::move(*options), static_cast<std::uint64_t>(seed_value), std::move(host),
                                         listener}});
    return out;
  }

  engine_binding(engine_options options, std::uint64_t s, transport::fetch_options host, val listener)
      : state_{std::make_shared<state>(std::move(listener))} {
    host.on_effect = [st = state_.get()](effect const& e, instant now) { st->announce(e, now); };
    host.on_outcome = [st = state_.get()](attempt_id a, http_response const* r, transport_error const* f, instant now) {
      st->arrived(a, r, f, now);
    };
    host.on_stream_event = [st = state_.get()](call_id c, attempt_id a, openai::sse_event const& e) {
      st->emit(stream_event_json(c, a, e));
    };
    state_->driver = std::make_unique<transport::fetch_driver>(std::move(options), seed{s}, std::move(host));
  }

  [[nodiscard]] std::string submit(std::string const& request, std::string const& context) {
    if (!state_->driver) return error_json("the engine is closed");
    auto chat = openai::parse_chat_request(request);
    if (!chat) return error_json(chat.error_message());
    auto call = context_of(json::parse(context, nullptr, false), std::move(*chat));
    if (!call) return error_json(call.error_message());
    auto const id = state_->driver->submit(std::move(*call));
    return json{{"call", id}}.dump();
  }

  bool cancel(double id) { return state_->driver && state_->driver->cancel_call(static_cast<call_id>(id)); }

  [[nodiscard]] std::string status() const {
    if (!state_->driver) return error_json("the engine is closed");
    return status_json(state_->driver->core(), transport::fetch_driver::now()).dump();
  }

  [[nodiscard]] std::string reconfigure(std::string const& config) {
    if (!state_->driver) return "the engine is closed";
    auto options = parse_config(config);
    if (!options) return "config: " + options.error_message();
    if (auto bad = state_->driver->reconfigure(std::move(*options))) return "config: " + bad->to_string();
    return "";
  }

  /// A reviewer's decision on a held answer (parse_review_action's JSON): '{"state": "approved"}' or
  /// '{"error": "..."}'. The decision arrives as a `reviewed` event and an `audit` record.
  [[nodiscard]] std::string review(double id, std::string const& action_json) {
    if (!state_->driver) return error_json("the engine is closed");
    auto action = parse_review_action(action_json);
    if (!action) return error_json(action.error_message());
    auto const call = static_cast<call_id>(id);
    auto const state = state_->driver->turn([&](engine& e, instant now) -> result<review_state> {
      if (e.review_draft(call) == nullptr)
        return error{fmt::format("no answer of call {} is waiting for review", call)};
      return e.review(call, *action, now);
    });
    if (!state) return error_json(state.error_message());
    return json{{"state", to_string(*state)}}.dump();
  }

  /// The answers held for a reviewer: '[{"call": 7, "draft": {...the chat response...}}]'.
  [[nodiscard]] std::string pending_reviews() const {
    if (!state_->driver) return error_json("the engine is closed");
    auto& core = state_->driver->core();
    json held = json::array();
    for (auto const id : core.pending_reviews())
      if (auto const* draft = core.review_draft(id)) held.push_back({{"call", id}, {"draft", draft->body}});
    return held.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  [[nodiscard]] std::string set_lexicon(val const& bytes) {
    if (!state_->driver) return "the engine is closed";
    auto lexicon = phi::lexicon::parse(bytes_from(bytes));
    if (!lexicon) return "phi lexicon: " + lexicon.error_message();
    state_->driver->core().set_phi_lexicon(std::make_shared<phi::lexicon const>(std::move(*lexicon)));
    return "";
  }

  [[nodiscard]] std::string set_counter(std::string const& name, val const& bytes) {
    if (!state_->driver) return "the engine is closed";
    auto loaded = tokens::encoding::load(bytes_from(bytes));
    if (!loaded) return name + ": " + loaded.error_message();
    auto shared = std::make_shared<tokens::encoding const>(std::move(*loaded));
    state_->driver->core().set_counter(name, [shared](std::string_view text) { return shared->count(text); });
    return "";
  }

  /// Cancels what is in flight (each call ends with a `done` event, code `cancelled`) and stops for good.
  void close() {
    if (!state_->driver) return;
    state_->driver->close();
    state_->driver.reset();
  }

 private:
  /// What the callbacks share with the binding: the driver and the JavaScript listener. Held by pointer so
  /// embind may copy the binding object around.
  struct state {
    explicit state(val l) : listener{std::move(l)} {}
    val listener;
    std::unique_ptr<transport::fetch_driver> driver;
    struct sent {
      call_id call;
      std::string provider, model;
      instant at;
    };
    std::map<attempt_id, sent> attempts;

    void emit(json const& event) const { listener(event.dump(-1, ' ', false, json::error_handler_t::replace)); }

    void announce(effect const& e, instant now) {
      if (auto const* s = std::get_if<send>(&e)) attempts[s->attempt] = {s->call, s->provider, s->model, now};
      if (auto event = event_json(e, now); !event.is_null()) emit(event);
    }

    void arrived(attempt_id a, http_response const* response, transport_error const* failure, instant now) {
      auto const it = attempts.find(a);
      if (it == attempts.end()) return;
      emit(outcome_json(it->second.call, a, it->second.provider, it->second.model, it->second.at, response, failure,
                        now));
      attempts.erase(it);
    }
  };
  std::shared_ptr<state> state_;
};

void fetch_done(int driver, double id, int is_probe, int status, std::string const& headers, std::string const& body,
                std::string const& failure, std::string const& detail) {
  transport::fetch_driver::deliver(driver, id, is_probe != 0, status, headers, body, failure, detail);
}

void timer_fired(int driver) { transport::fetch_driver::wake(driver); }

bool fetch_chunk(int driver, double id, std::string const& text) {
  return transport::fetch_driver::chunk(driver, id, text);
}

}  // namespace

EMSCRIPTEN_BINDINGS(medgate_engine) {
  emscripten::class_<engine_binding>("Engine")
      .class_function("create", &engine_binding::create)
      .function("submit", &engine_binding::submit)
      .function("cancel", &engine_binding::cancel)
      .function("status", &engine_binding::status)
      .function("reconfigure", &engine_binding::reconfigure)
      .function("review", &engine_binding::review)
      .function("pendingReviews", &engine_binding::pending_reviews)
      .function("setLexicon", &engine_binding::set_lexicon)
      .function("setCounter", &engine_binding::set_counter)
      .function("close", &engine_binding::close);
  // Called by transport/fetch.hpp's JavaScript when a fetch ends or the timer fires.
  emscripten::function("medgateFetchDone", &fetch_done);
  emscripten::function("medgateTimerFired", &timer_fired);
  emscripten::function("medgateFetchChunk", &fetch_chunk);
}

}  // namespace medgate::wasm
