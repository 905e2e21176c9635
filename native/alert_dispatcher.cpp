#include "alert_dispatcher.hpp"

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "medgate/retry_after.hpp"
#include "medgate/transport/httplib.hpp"

namespace medgate::native {

namespace {

using steady = std::chrono::steady_clock;

wall_time wall_now() { return std::chrono::time_point_cast<duration>(std::chrono::system_clock::now()); }

/// Where one webhook's POSTs go, resolved at start.
struct endpoint {
  std::string name;
  detail::url_parts url;
  std::string token;  ///< empty: no Authorization header
  duration timeout{};
};

result<endpoint> resolve(alerts::webhook const& w) {
  std::string url = w.url;
  if (!w.url_env.empty()) {
    char const* value = std::getenv(w.url_env.c_str());  // NOLINT(concurrency-mt-unsafe): at start, one thread
    if (value == nullptr || *value == '\0')
      return error{
          fmt::format("alerts: webhook {}: the environment variable {} (url_env) is not set", w.name, w.url_env)};
    url = value;
  }
  auto parts = detail::split_url(url);
  if (!parts)  // the URL is not quoted: it may hold the webhook's secret
    return error{
        fmt::format("alerts: webhook {}: the URL must be http(s)://host[:port]/path, without credentials", w.name)};
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (parts->https) return error{fmt::format("alerts: webhook {}: https needs a build with TLS support", w.name)};
#endif
  endpoint e{w.name, std::move(*parts), {}, w.timeout};
  if (!w.token_env.empty()) {
    char const* value = std::getenv(w.token_env.c_str());  // NOLINT(concurrency-mt-unsafe): at start, one thread
    if (value == nullptr || *value == '\0')
      return error{
          fmt::format("alerts: webhook {}: the environment variable {} (token_env) is not set", w.name, w.token_env)};
    if (!detail::header_value_safe(value))
      return error{fmt::format("alerts: webhook {}: the token in {} holds characters a header cannot carry", w.name,
                               w.token_env)};
    e.token = value;
  }
  return e;
}

/// What one POST came to: 2xx, another status, or no answer (0).
struct post_result {
  int status = 0;
  std::optional<duration> retry_after;
  std::string problem;  ///< for the log: "HTTP 500", "connection refused" ...
};

post_result send(endpoint const& e, alerts::post const& p) {
  httplib::Client client{e.url.origin};
  auto const timeout = std::chrono::duration_cast<std::chrono::milliseconds>(e.timeout);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  httplib::Headers headers{{"Idempotency-Key", p.notification_id},
                           {"X-Medgate-Alert-Id", p.notification_id},
                           {"X-Medgate-Attempt", std::to_string(p.attempt)},
                           {"User-Agent", "medgate-alerts"}};
  if (!e.token.empty()) headers.emplace("Authorization", "Bearer " + e.token);
  auto res = client.Post(e.url.path, headers, p.body, "application/json");
  if (!res) return {0, std::nullopt, httplib::to_string(res.error())};
  post_result out{res->status, std::nullopt, fmt::format("HTTP {}", res->status)};
  if (res->status == 429 || res->status == 503) {
    header_list list;
    for (auto const& [name, value] : res->headers) list.add(name, value);
    out.retry_after = retry_after(list, wall_now());
  }
  return out;
}

}  // namespace

struct alert_dispatcher::impl {
  impl(alerts::options o, engine_options const& engine, std::string source, std::vector<endpoint> hooks, logger l)
      : monitor{o, engine}, outbox{std::move(o), std::move(source)}, endpoints{std::move(hooks)}, log{std::move(l)} {}

  instant now() const { return from_us(std::chrono::duration_cast<duration>(steady::now() - start).count()); }

  void run() {
    std::unique_lock lock{mutex};
    while (!stopping) {
      monitor.tick(now(), wall_now());
      for (auto const& n : monitor.take()) outbox.add(n, now());
      auto posts = outbox.due(now());
      if (!posts.empty()) {
        lock.unlock();
        std::vector<post_result> results;
        results.reserve(posts.size());
        for (auto const& p : posts) results.push_back(send(endpoints[p.webhook], p));
        lock.lock();
        for (std::size_t i = 0; i < posts.size(); ++i) report(posts[i], results[i]);
        changed.notify_all();
        continue;  // another look at once: more may have fired while sending
      }
      changed.notify_all();
      auto wake = steady::now() + std::chrono::seconds{1};
      if (auto due = outbox.next_due())
        wake = std::min(wake, start + std::chrono::duration_cast<steady::duration>(due->time_since_epoch()));
      wakeup.wait_until(lock, wake, [&] { return stopping || fired; });
      fired = false;
    }
  }

  void report(alerts::post const& p, post_result const& r) {
    auto const& hook = endpoints[p.webhook].name;
    if (r.status >= 200 && r.status < 300) {
      outbox.succeeded(p.delivery);
      log(fmt::format("alert {} delivered to {}", p.notification_id, hook));
    } else if (outbox.failed(p.delivery, r.status, now(), r.retry_after)) {
      log(fmt::format("alert {} to {}: {}, will retry (attempt {} of {})", p.notification_id, hook, r.problem,
                      p.attempt, outbox.settings().delivery.max_attempts));
    } else {
      log(fmt::format("alert {} to {}: {}, given up after attempt {}", p.notification_id, hook, r.problem, p.attempt));
    }
  }

  std::chrono::steady_clock::time_point const start = steady::now();
  alerts::monitor monitor;
  alerts::outbox outbox;
  std::vector<endpoint> endpoints;
  logger log;
  std::mutex mutex;
  std::condition_variable wakeup;   ///< the thread waits on it
  std::condition_variable changed;  ///< `flush` waits on it
  bool stopping = false;
  bool fired = false;
  std::thread thread;
};

result<std::unique_ptr<alert_dispatcher>> alert_dispatcher::create(engine_options const& engine, std::string source,
                                                                   logger log) {
  std::vector<endpoint> hooks;
  for (auto const& w : engine.alerts.webhooks) {
    auto e = resolve(w);
    if (!e) return error{e.error_message()};
    hooks.push_back(std::move(*e));
  }
  if (!log) log = [](std::string_view) {};
  auto i = std::make_unique<impl>(engine.alerts, engine, std::move(source), std::move(hooks), std::move(log));
  i->thread = std::thread{[p = i.get()] { p->run(); }};
  return std::unique_ptr<alert_dispatcher>{new alert_dispatcher{std::move(i)}};
}

alert_dispatcher::alert_dispatcher(std::unique_ptr<impl> i) : impl_{std::move(i)} {}

alert_dispatcher::~alert_dispatcher() {
  {
    std::lock_guard lock{impl_->mutex};
    impl_->stopping = true;
  }
  impl_->wakeup.notify_all();
  impl_->thread.join();
}

void alert_dispatcher::observe(effect const& e) {
  std::lock_guard lock{impl_->mutex};
  impl_->monitor.observe(e, impl_->now(), wall_now());
  if (impl_->monitor.pending()) {  // a breaker opened, a budget crossed: send now, not at the next tick
    impl_->fired = true;
    impl_->wakeup.notify_one();
  }
}

bool alert_dispatcher::flush(std::chrono::milliseconds max_wait) {
  std::unique_lock lock{impl_->mutex};
  impl_->fired = true;
  impl_->wakeup.notify_one();
  auto const until = steady::now() + max_wait;
  // `fired` is cleared by the thread under the lock it then ticks under, so false means it has queued all.
  return impl_->changed.wait_until(lock, until, [&] { return impl_->outbox.idle() && !impl_->fired; });
}

alerts::outbox::counters alert_dispatcher::totals() const {
  std::lock_guard lock{impl_->mutex};
  return impl_->outbox.totals();
}

}  // namespace medgate::native
