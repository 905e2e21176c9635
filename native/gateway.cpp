// gateway.cpp — HTTP in, `call_request` to the engine, `done` back out as HTTP (see gateway.hpp).
#include "gateway.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "alert_dispatcher.hpp"
#include "arguments.hpp"
#include "audit_log.hpp"
#include "gateway_admin.hpp"
#include "gateway_metrics.hpp"
#include "http_server.hpp"
#include "medgate/client.hpp"
#include "medgate/hash.hpp"
#include "medgate/openai/chat.hpp"
#include "medgate/rate_limit.hpp"

namespace medgate::gateway {

using native::http_request;
using native::http_response;

namespace {

using json = nlohmann::json;

/// An OpenAI-shaped error body. `message` must never carry request content.
std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
  return json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}}.dump();
}

void send_error(http_response& res, int status, std::string_view message, std::string_view type,
                std::string_view code) {
  res.status = status;
  res.set_content(error_body(message, type, code), "application/json");
}

/// Compares without an early exit, so response timing does not reveal how much of a token matched.
bool same_secret(std::string_view presented, std::string_view expected) {
  std::size_t diff = presented.size() ^ expected.size();
  for (std::size_t i = 0; i < presented.size(); ++i)
    diff |=
        static_cast<unsigned char>(presented[i]) ^ static_cast<unsigned char>(i < expected.size() ? expected[i] : '\0');
  return diff == 0 && !expected.empty();
}

/// Whether the request carries `Authorization: Bearer <secret>`.
bool presents(http_request const& req, std::string_view secret) {
  auto const header = req.header("Authorization").value_or("");
  constexpr std::string_view scheme = "Bearer ";
  if (header.size() <= scheme.size() || header.substr(0, scheme.size()) != scheme) return false;
  return same_secret(header.substr(scheme.size()), secret);
}

/// 32 bytes from the operating system's random source.
std::string random_key() {
  std::random_device source;
  std::string key(32, '\0');
  for (auto& c : key) c = static_cast<char>(source() & 0xff);
  return key;
}

/// The model aliases clients may ask for: the routes' names.
std::vector<std::string> route_names(engine_options const& o) {
  std::vector<std::string> names;
  for (auto const& r : o.routing.routes) names.push_back(r.name);
  return names;
}

struct http_error {
  int status;
  std::string_view type;
  std::string_view code;
};

/// How a failed call is told to an OpenAI client: the status its SDK expects for that kind of failure.
http_error status_of(call_error_code code) {
  switch (code) {
    case call_error_code::no_route:
      return {404, "invalid_request_error", "model_not_found"};
    case call_error_code::invalid_request:
      return {400, "invalid_request_error", "invalid_request"};
    case call_error_code::rejected:
      return {400, "invalid_request_error", "rejected_by_provider"};
    case call_error_code::context_too_long:
      return {400, "invalid_request_error", "context_length_exceeded"};
    case call_error_code::budget_exceeded:
      return {429, "insufficient_quota", "budget_exceeded"};
    case call_error_code::throttled:
      return {429, "rate_limit_error", "rate_limit_exceeded"};
    case call_error_code::deadline_exceeded:
      return {504, "timeout_error", "deadline_exceeded"};
    case call_error_code::all_targets_failed:
      return {502, "upstream_error", "all_targets_failed"};
    case call_error_code::stream_broken:
      return {502, "upstream_error", "stream_broken"};
    case call_error_code::review_queue_full:
      return {503, "server_error", "review_queue_full"};
    case call_error_code::cancelled:
      return {503, "server_error", "cancelled"};
  }
  return {500, "server_error", "internal"};
}

/// A whole answer as the one chunk of an event stream, for a client that asked
/// to stream an answer the engine had to hold back (review) or that arrived whole.
std::string event_stream_of(openai::chat_response const& r) {
  json chunk{{"id", r.id}, {"object", "chat.completion.chunk"}, {"created", r.created}, {"model", r.model}};
  auto& choices = chunk["choices"] = json::array();
  if (auto const it = r.body.find("choices"); it != r.body.end() && it->is_array())
    for (auto const& c : *it) {
      if (!c.is_object()) continue;
      json delta = c.value("message", json::object());
      if (auto calls = delta.find("tool_calls"); calls != delta.end() && calls->is_array())
        for (std::size_t k = 0; k < calls->size(); ++k) (*calls)[k]["index"] = k;
      choices.push_back({{"index", c.value("index", choices.size())},
                         {"delta", std::move(delta)},
                         {"finish_reason", c.value("finish_reason", json{})}});
    }
  if (auto const usage = r.body.find("usage"); usage != r.body.end()) chunk["usage"] = *usage;
  return "data: " + chunk.dump() + "\n\ndata: [DONE]\n\n";
}

/// Where one piece of clinical context may come from: a header, or a key of the body's `metadata`.
struct context_field {
  std::string_view header;
  std::string_view key;
};
constexpr std::array<context_field, 6> context_fields{{{"X-Medgate-Patient", "patient"},
                                                       {"X-Medgate-Priority", "priority"},
                                                       {"X-Medgate-Tenant", "tenant"},
                                                       {"Idempotency-Key", "idempotency_key"},
                                                       {"X-Medgate-Deadline-Ms", "deadline_ms"},
                                                       {"X-Request-Id", "request_id"}}};

/// The clinical context of a request, from its headers or from the same keys in the body's `metadata` object
/// (`{"metadata": {"patient": "...", "priority": "urgent", ...}}`). Those keys are taken out of the body before
/// it goes anywhere: a provider never sees the patient. Errors name the header or key, never its value.
result<call_request> context_of(http_request const& req, openai::chat_request chat) {
  std::array<std::optional<std::string>, context_fields.size()> given;
  auto metadata = chat.body.find("metadata");
  bool const has_metadata = metadata != chat.body.end() && !metadata->is_null();
  if (has_metadata && !metadata->is_object()) return error{"metadata must be an object"};
  for (std::size_t i = 0; i < context_fields.size(); ++i) {
    auto const [header, key] = context_fields[i];
    if (auto const value = req.header(header)) given[i] = std::string{*value};
    if (!has_metadata) continue;
    auto const it = metadata->find(key);
    if (it == metadata->end()) continue;
    std::string value;
    if (it->is_string())
      value = it->get<std::string>();
    else if (key == "deadline_ms" && it->is_number_integer())
      value = std::to_string(it->get<std::int64_t>());
    else
      return error{fmt::format("metadata.{} must be a string", key)};
    if (given[i] && *given[i] != value) return error{fmt::format("{} and metadata.{} disagree", header, key)};
    given[i] = std::move(value);
    metadata->erase(it);
  }
  if (has_metadata && metadata->empty()) chat.body.erase("metadata");

  call_request call;
  call.chat = std::move(chat);
  call.patient_key = given[0].value_or("");
  call.tenant = given[2].value_or("");
  call.idempotency_key = given[3].value_or("");
  call.request_id = given[5].value_or("");
  if (given[1]) {
    auto const p = parse_priority(*given[1]);
    if (!p) return error{"X-Medgate-Priority (metadata.priority) must be urgent, normal or batch"};
    call.priority_class = *p;
  }
  if (given[4]) {
    auto const ms = cli::parse_integer<std::int64_t>(*given[4]);
    if (!ms || *ms <= 0 || *ms > 86'400'000)
      return error{
          "X-Medgate-Deadline-Ms (metadata.deadline_ms) must be a whole number of milliseconds from 1 to 86400000"};
    call.timeout = std::chrono::milliseconds{*ms};
  }
  return call;
}

}  // namespace

std::optional<std::string> gateway_options::validate() const {
  if (host.empty()) return std::string{"listen: the host must not be empty"};
  if (port < 0 || port > 65535) return fmt::format("listen: the port must be from 0 to 65535, got {}", port);
  if (token.size() < 16)
    return std::string{"the gateway token must be at least 16 characters (clients send it as Authorization: Bearer)"};
  if (max_body_bytes < 1024) return std::string{"max_body_bytes must be at least 1024"};
  if (threads < 1 || threads > 1024) return fmt::format("threads must be from 1 to 1024, got {}", threads);
  if (!admin_token.empty() && admin_token.size() < 16)
    return std::string{"the admin token must be at least 16 characters (operators send it as Authorization: Bearer)"};
  if (!admin_token.empty() && admin_token == token)
    return std::string{"the admin token must differ from the gateway token (applications must not reach /admin)"};
  return std::nullopt;
}

/// The number in a path like /admin/reviews/17.
std::optional<call_id> call_of(http_request const& req) { return cli::parse_integer<call_id>(req.path_id); }

struct server::impl {
  impl(std::unique_ptr<native::audit_log> log, std::unique_ptr<native::alert_dispatcher> alerter,
       std::shared_ptr<review_desk> desk, client c, gateway_options o, std::vector<std::string> aliases)
      : audit{std::move(log)},
        alerts{std::move(alerter)},
        reviews{std::move(desk)},
        engine{std::move(c)},
        options{std::move(o)},
        metrics{std::move(aliases)} {}

  std::unique_ptr<native::audit_log> audit;  ///< written only by the observer, one effect at a time
  /// Told every effect by the observer; outlives the engine's driver, which calls it. Null: no webhooks.
  std::unique_ptr<native::alert_dispatcher> alerts;
  std::shared_ptr<review_desk> reviews;  ///< told of decisions by the observer
  client engine;
  gateway_options options;
  gateway_metrics metrics;
  std::string const review_key = random_key();  ///< this process's key for review ids (review_ticket)
  native::http_server http{
      native::http_server_options{options.host, options.port, options.threads, options.max_body_bytes}};
  std::mutex lifecycle;
  bool started = false;
  std::atomic<int> bound_port{0};

  /// Answers 403 (admin API off) or 401 and returns false unless the request carries the admin token.
  bool check_admin(http_request const& req, http_response& res) const {
    if (options.admin_token.empty()) {
      send_error(res, 403, "the admin API is off: start medgate serve with an admin token (--admin-token-env)",
                 "invalid_request_error", "admin_disabled");
      return false;
    }
    if (presents(req, options.admin_token)) return true;
    send_error(res, 401, "missing or wrong admin token: send Authorization: Bearer <admin token>",
               "invalid_request_error", "invalid_api_key");
    return false;
  }

  /// Answers 401 and returns false unless the request carries the gateway token.
  bool check_token(http_request const& req, http_response& res) const {
    if (presents(req, options.token)) return true;
    send_error(res, 401, "missing or wrong gateway token: send Authorization: Bearer <token>", "invalid_request_error",
               "invalid_api_key");
    return false;
  }

  void chat_completions(http_request const& req, http_response& res) {
    if (!check_token(req, res)) return;
    auto chat = openai::parse_chat_request(req.body);
    if (!chat) return send_error(res, 400, chat.error_message(), "invalid_request_error", "invalid_request");
    auto call = context_of(req, std::move(*chat));
    if (!call) return send_error(res, 400, call.error_message(), "invalid_request_error", "invalid_header");

    std::string const route = call->chat.model;
    if (call->chat.stream) return stream_chat(route, std::move(*call), res);
    done const d = engine.chat(std::move(*call));
    finished(route, d);
    respond(d, false, res);
  }

  /// Every call's end, once: counted, and a held answer put on the review desk.
  void finished(std::string const& route, done const& d) {
    metrics.record_call(route, d);
    if (d.review && d.review->state == review_state::pending_review) reviews->held(d, route);
  }

  /// A call that ended before any of its answer was relayed: the whole answer
  /// (as one chunk of an event stream when the client asked for a stream), a
  /// held answer, or an error with its status.
  void respond(done const& d, bool stream, http_response& res) const {
    res.set_header("X-Medgate-Attempts", std::to_string(d.attempts.size()));
    if (!d.provider.empty()) res.set_header("X-Medgate-Target", d.provider + "/" + d.model);
    if (d.review && d.review->state == review_state::pending_review) {
      res.status = 202;
      res.set_header("X-Medgate-Review", "pending_review");
      auto ticket = review_ticket(d.call);
      res.set_header("X-Medgate-Review-Id", ticket);
      json held{
          {"object", "medgate.review"}, {"status", "pending_review"}, {"call", d.call}, {"id", std::move(ticket)}};
      if (d.review->confidence) held["confidence"] = *d.review->confidence;
      res.set_content(held.dump(), "application/json");
      return;
    }
    if (d.response) {
      res.status = 200;
      if (stream)
        res.set_content(event_stream_of(*d.response), "text/event-stream");
      else
        res.set_content(d.response->body.dump(), "application/json");
      return;
    }
    auto const e = d.error ? status_of(d.error->code) : http_error{500, "server_error", "internal"};
    send_error(res, e.status, d.error ? d.error->message : "the call ended without an answer", e.type, e.code);
  }

  /// A relayed call, shared by the driver's callbacks and the HTTP worker writing the stream.
  struct relayed_call {
    std::mutex mutex;
    std::condition_variable changed;
    std::optional<send> committed;   ///< the attempt being relayed
    std::deque<std::string> events;  ///< serialized, not yet written
    std::optional<done> finished;
  };

  /// `stream: true`: the answer's events go to the client as they arrive.
  /// Until the engine commits to an attempt (its first event with some of the
  /// answer) nothing is written, so retries and fallbacks stay possible; after
  /// it, a failure ends the stream with an error event, never a silent cut.
  void stream_chat(std::string const& route, call_request call, http_response& res) {
    auto state = std::make_shared<relayed_call>();
    auto relay = std::make_shared<transport::stream_relay>();
    relay->on_commit = [state](send const& s) {
      std::lock_guard lock{state->mutex};
      state->committed = s;
      state->changed.notify_all();
    };
    relay->on_event = [state](std::string_view event) {
      std::lock_guard lock{state->mutex};
      state->events.emplace_back(event);
      state->changed.notify_all();
    };
    call.relay_stream = true;
    auto const ticket = engine.driver().submit(
        std::move(call),
        [state](done const& d) {
          std::lock_guard lock{state->mutex};
          state->finished = d;
          state->changed.notify_all();
        },
        relay);
    {
      std::unique_lock lock{state->mutex};
      state->changed.wait(lock, [&] { return state->committed || state->finished; });
      if (!state->committed) {
        done const d = std::move(*state->finished);
        lock.unlock();
        finished(route, d);
        return respond(d, true, res);
      }
      res.set_header("X-Medgate-Target", state->committed->provider + "/" + state->committed->model);
      res.set_header("X-Medgate-Attempts", std::to_string(state->committed->number));
    }
    res.set_header("Cache-Control", "no-cache");
    res.content_type = "text/event-stream";
    res.stream = [this, state, route, ticket](native::http_stream& out) {
      std::unique_lock lock{state->mutex};
      // Woken by every event; the timeout notices a client that went away while the provider is quiet.
      if (!state->changed.wait_for(lock, std::chrono::seconds{1},
                                   [&] { return !state->events.empty() || state->finished; })) {
        if (out.client_connected()) return true;
        engine.driver().cancel(ticket);
        return false;
      }
      auto events = std::exchange(state->events, {});
      bool const over = state->finished.has_value();
      lock.unlock();
      for (auto const& e : events)
        if (!out.write(e)) {
          engine.driver().cancel(ticket);
          return false;
        }
      if (!over) return true;
      done const& d = *state->finished;  // set once, never changed after
      finished(route, d);
      std::string tail = "data: [DONE]\n\n";
      if (!d.response) {
        auto const e = d.error ? status_of(d.error->code) : http_error{500, "server_error", "internal"};
        tail = "data: " + error_body(d.error ? d.error->message : "the call ended without an answer", e.type, e.code) +
               "\n\n";
      }
      out.write(tail);
      out.end();
      return true;
    };
  }

  void models(http_request const& req, http_response& res) {
    if (!check_token(req, res)) return;
    auto const routes = engine.driver().inspect([](medgate::engine& e, instant) { return route_names(e.options()); });
    if (!routes) return send_error(res, 503, "the gateway is shutting down", "server_error", "shutting_down");
    json data = json::array();
    for (auto const& name : *routes)
      data.push_back({{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "medgate"}});
    res.set_content(json{{"object", "list"}, {"data", std::move(data)}}.dump(), "application/json");
  }

  void admin_status(http_request const& req, http_response& res) {
    if (!check_admin(req, res)) return;
    auto view = engine.driver().inspect([](medgate::engine& e, instant now) { return take_view(e, now, false); });
    if (!view) return send_error(res, 503, "the gateway is shutting down", "server_error", "shutting_down");
    res.set_content(status_json(*view).dump(), "application/json");
  }

  /// GET /admin/reviews: the answers waiting for a reviewer, oldest first, with their drafts.
  void pending_reviews(http_request const& req, http_response& res) {
    if (!check_admin(req, res)) return;
    auto view = engine.driver().inspect([](medgate::engine& e, instant now) { return take_view(e, now, true); });
    if (!view) return send_error(res, 503, "the gateway is shutting down", "server_error", "shutting_down");
    json data = json::array();
    for (auto const& [id, draft] : view->held) {
      json item{{"call", id}, {"status", "pending_review"}, {"draft", draft.body}};
      if (auto const o = reviews->find(id)) {
        item["route"] = o->route;
        item["confidence"] = o->confidence ? json(*o->confidence) : json(nullptr);
        item["held_unix_ms"] = o->held_unix_ms;
      }
      data.push_back(std::move(item));
    }
    res.set_content(json{{"object", "list"}, {"data", std::move(data)}}.dump(), "application/json");
  }

  /// POST /admin/reviews/{call}: a reviewer's decision.
  void decide_review(http_request const& req, http_response& res) {
    if (!check_admin(req, res)) return;
    auto const id = call_of(req);
    if (!id) return send_error(res, 404, "no such call", "invalid_request_error", "not_found");
    auto action = parse_review_action(req.body);
    if (!action) return send_error(res, 400, action.error_message(), "invalid_request_error", "invalid_request");
    struct verdict {
      int status = 200;
      result<review_state> state;
    };
    auto const outcome = engine.driver().inspect([&](medgate::engine& e, instant now) {
      if (e.review_draft(*id) == nullptr)
        return verdict{reviews->find(*id) ? 409 : 404,
                       error{fmt::format("no answer of call {} is waiting for review", *id)}};
      auto state = e.review(*id, *action, now);
      return verdict{state ? 200 : 400, std::move(state)};
    });
    if (!outcome) return send_error(res, 503, "the gateway is shutting down", "server_error", "shutting_down");
    if (!outcome->state)
      return send_error(res, outcome->status, outcome->state.error_message(), "invalid_request_error",
                        outcome->status == 409 ? "already_decided" : "invalid_request");
    res.set_content(json{{"object", "medgate.review"}, {"call", *id}, {"status", to_string(*outcome->state)}}.dump(),
                    "application/json");
  }

  /// The id a client fetches a held answer by: the call's number and a MAC of it under this process's key, so
  /// one application cannot read another's held answers by counting call numbers.
  [[nodiscard]] std::string review_ticket(call_id id) const {
    auto const mac = hmac_sha256(review_key, std::to_string(id));
    return fmt::format("{}-{}", id, to_hex(std::span{mac.data(), 16}));
  }
  [[nodiscard]] std::optional<call_id> call_of_ticket(std::string_view ticket) const {
    auto const dash = ticket.find('-');
    auto const id = cli::parse_integer<call_id>(ticket.substr(0, dash));
    if (dash == std::string_view::npos || !id || !same_secret(ticket, review_ticket(*id))) return std::nullopt;
    return id;
  }

  /// GET /v1/medgate/reviews/{id}: what became of an answer the client was told is pending review.
  void review_outcome(http_request const& req, http_response& res) const {
    if (!check_token(req, res)) return;
    auto const id = call_of_ticket(req.path_id);
    auto const o = id ? reviews->find(*id) : std::nullopt;
    if (!o)
      return send_error(res, 404, "no answer held for review has that id (the id of its 202 answer)",
                        "invalid_request_error", "not_found");
    res.set_header("X-Medgate-Review", std::string{to_string(o->state)});
    json const state{{"object", "medgate.review"}, {"call", *id}, {"id", req.path_id}, {"status", to_string(o->state)}};
    if (o->state == review_state::pending_review) {
      res.status = 202;
      res.set_content(state.dump(), "application/json");
    } else if (o->answer) {
      res.set_content(o->answer->body.dump(), "application/json");
    } else {
      res.set_content(state.dump(), "application/json");
    }
  }

  void readiness(http_response& res) {
    std::string open;
    bool any_ready = false;
    for (auto const& p : engine.providers()) {
      auto const s = p.breaker_metrics.state;
      if (s == breaker_state::open || s == breaker_state::forced_open)
        open += (open.empty() ? "" : ", ") + p.name;
      else
        any_ready = true;
    }
    if (any_ready) {
      res.set_content("ready\n", "text/plain");
      return;
    }
    res.status = 503;
    res.set_content(fmt::format("not ready: every provider's breaker is open ({})\n", open), "text/plain");
  }

  void install_routes() {
    http.route("POST", "/v1/chat/completions", [this](http_request const& req, http_response& res) {
      chat_completions(req, res);
      metrics.record_response(res.status);
    });
    http.route("GET", "/metrics", [this](http_request const&, http_response& res) {
      auto view = engine.driver().inspect([](medgate::engine& e, instant now) { return take_view(e, now, false); });
      res.set_content(metrics.exposition(view.value_or(engine_view{})), "text/plain; version=0.0.4");
    });
    http.route("GET", "/v1/models", [this](http_request const& req, http_response& res) { models(req, res); });
    http.route("GET", "/livez", [](http_request const&, http_response& res) { res.set_content("ok\n", "text/plain"); });
    http.route("GET", "/readyz", [this](http_request const&, http_response& res) { readiness(res); });
    http.route("GET", "/admin/status", [this](http_request const& req, http_response& res) { admin_status(req, res); });
    http.route("GET", "/admin/reviews",
               [this](http_request const& req, http_response& res) { pending_reviews(req, res); });
    http.route("POST", "/admin/reviews/{id}",
               [this](http_request const& req, http_response& res) { decide_review(req, res); });
    http.route("GET", "/v1/medgate/reviews/{id}",
               [this](http_request const& req, http_response& res) { review_outcome(req, res); });
    // The server's own refusals (413 over the size limit, 404, 405, malformed HTTP) get an OpenAI-shaped body too;
    // their messages say what was wrong with the request's form, never what it held.
    http.on_refusal([this](http_request const& req, http_response& res) {
      if (req.path == "/v1/chat/completions" && res.status == 413) metrics.record_response(413);
      auto const code = res.status == 413   ? "request_too_large"
                        : res.status == 404 ? "not_found"
                        : res.status == 500 ? "internal"
                                            : "http_error";
      send_error(res, res.status, std::string{res.body}, res.status >= 500 ? "server_error" : "invalid_request_error",
                 code);
    });
  }
};

server::server(std::unique_ptr<impl> i) : impl_{std::move(i)} {}

server::~server() { stop(); }

result<std::unique_ptr<server>> server::create(engine_options engine, gateway_options options,
                                               transport::httplib_options transport, std::optional<seed> jitter_seed) {
  if (auto bad = options.validate()) return error{"gateway: " + *bad};
  auto aliases = route_names(engine);
  auto desk = std::make_shared<review_desk>();
  transport.observer = [desk, next = std::move(transport.observer)](effect const& e) {
    if (next) next(e);
    if (auto const* r = std::get_if<reviewed>(&e); r != nullptr) desk->decided(*r);
  };
  std::unique_ptr<native::audit_log> audit;
  if (!options.audit_path.empty()) {
    auto log = native::audit_log::open(options.audit_path);
    if (!log) return error{"gateway: " + log.error_message()};
    audit = std::make_unique<native::audit_log>(std::move(*log));
    transport.resume_audit = std::pair{audit->head(), audit->next_sequence()};
    transport.observer = [log = audit.get(), next = std::move(transport.observer)](effect const& e) {
      if (next) next(e);
      if (auto const* record = std::get_if<medgate::audit>(&e); record != nullptr)
        if (auto written = log->write(record->record); !written)
          std::fprintf(stderr, "medgate serve: audit: %s\n", written.error_message().c_str());
    };
  }
  std::unique_ptr<native::alert_dispatcher> alerts;
  if (engine.alerts.enabled()) {
    auto made = native::alert_dispatcher::create(engine, "medgate serve", [](std::string_view line) {
      std::fprintf(stderr, "medgate serve: %.*s\n", static_cast<int>(line.size()), line.data());
    });
    if (!made) return error{"gateway: " + made.error_message()};
    alerts = std::move(*made);
    transport.observer = [a = alerts.get(), next = std::move(transport.observer)](effect const& e) {
      if (next) next(e);
      a->observe(e);
    };
  }
  auto c = client::create(std::move(engine), std::move(transport), jitter_seed);
  if (!c) return error{c.error_message()};
  return std::unique_ptr<server>{new server{std::make_unique<impl>(std::move(audit), std::move(alerts), std::move(desk),
                                                                   std::move(*c), std::move(options), aliases)}};
}

result<int> server::start() {
  impl& s = *impl_;
  std::lock_guard lock{s.lifecycle};
  if (s.started) return error{"gateway: already started (a gateway starts once)"};
  s.install_routes();
  auto const port = s.http.start();
  if (!port) return error{"gateway: " + port.error_message()};
  s.bound_port = *port;
  s.started = true;
  return *port;
}

std::optional<std::string> server::reload(result<engine_options> loaded) {
  if (!loaded) {
    impl_->metrics.record_reload(false, {});
    return loaded.error_message();
  }
  auto routes = route_names(*loaded);
  auto failed = impl_->engine.driver().reconfigure(std::move(*loaded));
  impl_->metrics.record_reload(!failed, std::move(routes));
  return failed;
}

void server::stop() {
  if (!impl_) return;
  impl& s = *impl_;
  std::lock_guard lock{s.lifecycle};
  s.http.stop();  // answers the requests in flight first
}

int server::port() const { return impl_->bound_port.load(); }

std::string server::base_url() const {
  auto const& host = impl_->options.host;
  bool const v6 = host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}/v1", v6 ? "[" : "", host == "0.0.0.0" ? "127.0.0.1" : host, v6 ? "]" : "",
                     impl_->bound_port.load());
}

}  // namespace medgate::gateway
