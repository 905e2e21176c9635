// httplib.hpp — the native driver: runs the engine on one thread and its HTTP attempts on a worker pool.
//
// The engine decides everything and performs nothing; this driver only
// carries out its effects and reports what happened, so no policy lives
// here. The engine is touched by one thread at a time, under `engine_mutex_`.
// An owner thread maps the steady clock onto `instant`, feeds asynchronous
// submissions and attempt outcomes from an inbox, drains effects, and sleeps
// until the inbox has work or the engine's next deadline arrives. Blocking
// cpp-httplib attempts run on a fixed pool of workers, each with its own
// keep-alive connection per origin. A blocking caller (`call`, behind
// `client::chat`) does its own call's work on its own thread instead: it
// submits, performs the call's attempts and feeds their outcomes in itself,
// so a call that goes well costs no thread switch beyond waiting for the
// network (each switch costs more CPU than the engine's whole decision); only
// what waits for a timer (a backoff, a hedge) or for another call goes through
// the owner and the workers.
// cpp-httplib 0.11 has no overall request timeout (its read timeout is idle
// time per recv()), and a blocked request can only be interrupted from
// another thread with `Client::stop()`; so a watchdog thread stops the
// connection of any attempt that is cancelled or past its deadline, and the
// content receiver aborts as soon as either is seen. The API key is read
// (through `key_lookup`) only on the worker, only into the Authorization
// header: it never enters an effect, an error or a log line.
#pragma once

#include <httplib.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "../engine.hpp"
#include "../field_error.hpp"
#include "../http.hpp"
#include "../openai/relay.hpp"
#include "../openai/sse.hpp"
#include "../openai/stream.hpp"
#include "../random.hpp"
#include "../result.hpp"
#include "../time.hpp"

namespace medgate::transport {

struct httplib_options {
  /// Attempts in flight at once; further sends wait in a queue (their
  /// attempt timeout keeps running while they wait).
  std::size_t workers = 16;
  /// Verify the server's certificate chain and host name (https only).
  bool verify_tls = true;
  /// A PEM file of trusted certificates; empty = the system's store.
  std::string ca_cert_path;
  /// A larger response body fails the attempt (`other`), so a broken or
  /// hostile endpoint cannot exhaust memory.
  std::size_t max_response_bytes = std::size_t{64} << 20;
  /// Reads the API key named by `send::api_key_env`; empty = the process
  /// environment. Called on worker threads, one call at a time. The key goes
  /// only into the Authorization header, never into effects, errors or logs.
  std::function<std::optional<std::string>(std::string const& env_name)> key_lookup;
  /// Sees every effect the engine emits (for --trace, the demo, metrics), on
  /// the thread holding the engine, one at a time, before the driver acts on
  /// it. Must not throw or block.
  std::function<void(effect const&)> observer;
  /// Continue an existing audit log: the engine's first record chains to
  /// this head hash with this sequence number (see native/audit_log.hpp).
  std::optional<std::pair<std::string, std::uint64_t>> resume_audit;
  /// Exact token counters by encoding name ("o200k_base", ...), handed to
  /// the engine (`engine::set_counter`); models whose encoding has none are
  /// counted with the bytes/4 estimate. Called while the engine is held.
  std::vector<std::pair<std::string, tokens::text_counter>> token_counters;
  /// The lexicon of the engine's protect step (`engine::set_phi_lexicon`); null: names and places by cues only.
  std::shared_ptr<phi::lexicon const> phi_lexicon;

  [[nodiscard]] validation validate() const {
    if (workers < 1 || workers > 4096) return invalid("workers", "must be between 1 and 4096, got {}", workers);
    if (max_response_bytes < 1) return invalid("max_response_bytes", "must be > 0, got 0");
    return std::nullopt;
  }
};

/// How a relayed stream (`call_request::relay_stream`) reaches its caller.
/// Both run on the worker thread of the attempt the engine committed to, in
/// order, and before the call's `on_done`; they must not block for long.
struct stream_relay {
  /// The engine committed to this attempt: its events follow, nothing else will.
  std::function<void(send const&)> on_commit;
  /// One complete event of the answer, serialized as it goes on the wire
  /// ("data: {...}\n\n"). Never "[DONE]": the stream is over when `on_done`
  /// says so (an answer, or a `stream_broken` error).
  std::function<void(std::string_view event)> on_event;
};

}  // namespace medgate::transport

namespace medgate::detail {

/// An http(s) URL cut into what a connection is kept for and what a request asks for.
struct url_parts {
  std::string origin;  ///< "scheme://host:port" (port as written; absent = the scheme's default)
  std::string path;    ///< from the first '/' after the host, query included; "/" when empty
  bool https = false;
};

inline std::optional<url_parts> split_url(std::string_view url) {
  url_parts parts;
  std::size_t scheme_length = 0;
  if (url.starts_with("http://")) {
    scheme_length = 7;
  } else if (url.starts_with("https://")) {
    scheme_length = 8;
    parts.https = true;
  } else {
    return std::nullopt;
  }
  auto const path_start = url.find('/', scheme_length);
  auto const authority =
      url.substr(scheme_length, path_start == std::string_view::npos ? url.npos : path_start - scheme_length);
  if (authority.empty() || authority.find_first_of("?#@ ") != std::string_view::npos) return std::nullopt;
  parts.origin = std::string{url.substr(0, scheme_length + authority.size())};
  parts.path = path_start == std::string_view::npos ? std::string{"/"} : std::string{url.substr(path_start)};
  return parts;
}

/// A key fit for an HTTP header value: visible ASCII only, so a stray
/// newline in an environment variable can never inject a header.
inline bool header_value_safe(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

inline std::optional<std::string> environment_key(std::string const& name) {
  char const* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): calls are serialized by the driver
  if (value == nullptr) return std::nullopt;
  return std::string{value};
}

/// What the worker knew when cpp-httplib gave up, for classifying the failure.
struct attempt_circumstances {
  bool cancelled = false;      ///< a `cancel` effect or the driver's shutdown asked it to stop
  bool past_deadline = false;  ///< the attempt's timeout had run out
  bool too_large = false;      ///< the body went over `max_response_bytes`
  std::size_t max_response_bytes = 0;
  long tls_verify_result = 0;  ///< OpenSSL's X509 verification result, when known
};

/// The commonest certificate verification failures in words (OpenSSL's own
/// table lives in libcrypto, which cpp-httplib's pkg-config does not link).
inline std::string certificate_problem(long verify_result) {
  switch (verify_result) {
    case 0:
      return "";
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return ": self-signed certificate";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return ": self-signed certificate in the chain";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      return ": issuer not among the trusted certificates";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return ": certificate expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return ": certificate not yet valid";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return ": certificate issued for another host";
#endif
    default:
      return fmt::format(": X509 error {}", verify_result);
  }
}

/// Maps a cpp-httplib error onto the engine's vocabulary. `origin` is the
/// only thing named: never a path, a body or a key.
inline transport_error classify_httplib_error(httplib::Error error, attempt_circumstances const& seen,
                                              std::string_view origin, duration timeout) {
  using httplib::Error;
  auto const what = httplib::to_string(error);
  auto fail = [&](transport_failure kind, std::string detail) { return transport_error{kind, std::move(detail)}; };
  // Our own interruptions first: whatever cpp-httplib reports after a stop()
  // or an aborted receiver (Read, Write, Canceled) is a consequence of them.
  if (seen.cancelled) return fail(transport_failure::cancelled, fmt::format("attempt to {} cancelled", origin));
  if (seen.too_large)
    return fail(transport_failure::other,
                fmt::format("response from {} larger than {} bytes", origin, seen.max_response_bytes));
  switch (error) {
    case Error::ConnectionTimeout:
      return fail(transport_failure::timeout, fmt::format("connecting to {} timed out ({})", origin, what));
    case Error::Connection:
      if (seen.past_deadline)
        return fail(transport_failure::timeout,
                    fmt::format("no connection to {} within {}", origin, to_string(timeout)));
      return fail(transport_failure::connection_refused, fmt::format("could not connect to {} ({})", origin, what));
    case Error::Read:
    case Error::Write:
    case Error::Canceled:
      if (seen.past_deadline)
        return fail(transport_failure::timeout,
                    fmt::format("no complete response from {} within {}", origin, to_string(timeout)));
      if (error == Error::Canceled)
        return fail(transport_failure::other, fmt::format("attempt to {} aborted ({})", origin, what));
      return fail(transport_failure::connection_reset,
                  fmt::format("connection to {} closed mid-exchange ({})", origin, what));
    case Error::SSLConnection:
    case Error::SSLLoadingCerts:
      return fail(transport_failure::tls, fmt::format("TLS with {} failed ({})", origin, what));
    case Error::SSLServerVerification:
      return fail(transport_failure::tls, fmt::format("certificate of {} not trusted ({}{})", origin, what,
                                                      certificate_problem(seen.tls_verify_result)));
    default:
      return fail(transport_failure::other, fmt::format("attempt to {} failed ({})", origin, what));
  }
}

}  // namespace medgate::detail

namespace medgate::transport {

class httplib_driver {
 public:
  /// `options` and `transport` must be valid; `create` checks them.
  httplib_driver(engine_options options, seed s, httplib_options transport = {})
      : engine_{with_patient_secret(std::move(options), transport), s},
        options_{std::move(transport)},
        start_{steady::now()} {
    if (!options_.key_lookup) options_.key_lookup = detail::environment_key;
    engine_.set_wall_clock(std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()));
    if (options_.resume_audit) engine_.resume_audit(options_.resume_audit->first, options_.resume_audit->second);
    for (auto const& [name, count] : options_.token_counters) engine_.set_counter(name, count);
    engine_.set_phi_lexicon(options_.phi_lexicon);
    workers_.reserve(options_.workers);
    for (std::size_t i = 0; i < options_.workers; ++i) workers_.push_back(std::make_unique<worker>());
    for (auto& slot : workers_)
      slot->thread = std::thread{[this, w = slot.get()] {
        name_thread("mg-attempt");
        run_worker(*w);
      }};
    watchdog_ = std::thread{[this] {
      name_thread("mg-watchdog");
      run_watchdog();
    }};
    owner_ = std::thread{[this] {
      name_thread("mg-engine");
      run_owner();
    }};
  }

  static result<std::unique_ptr<httplib_driver>> create(engine_options options, seed s,
                                                        httplib_options transport = {}) {
    if (auto e = options.validate()) return error{"engine options: " + e->to_string()};
    if (auto e = transport.validate()) return error{"transport options: " + e->to_string()};
    return std::make_unique<httplib_driver>(std::move(options), s, std::move(transport));
  }

  httplib_driver(httplib_driver const&) = delete;
  httplib_driver& operator=(httplib_driver const&) = delete;

  /// Stops: calls still in progress end as `cancelled` (their callbacks run),
  /// attempts in flight are interrupted, and every thread is joined.
  ~httplib_driver() {
    {
      std::lock_guard lock{inbox_mutex_};
      stopping_ = true;
    }
    inbox_ready_.notify_all();
    owner_.join();  // every call has ended (the callers have heard), and no new one starts
    {
      std::lock_guard lock{jobs_mutex_};
      jobs_stopping_ = true;
    }
    jobs_ready_.notify_all();
    wake_watchdog();  // stops the attempts still on the wire, the blocking callers' included
    {
      std::unique_lock lock{slots_mutex_};
      callers_gone_.wait(lock, [&] { return callers_ == 0; });
    }
    for (auto& w : workers_) w->thread.join();
    {
      std::lock_guard lock{watchdog_mutex_};
      watchdog_stopping_ = true;
    }
    watchdog_ready_.notify_all();
    watchdog_.join();
  }

  /// Thread-safe. `on_done` runs when the call is over, on the thread holding
  /// the engine then (the owner's or a blocking caller's); it must not block
  /// (it may submit further calls or `inspect`). Returns a handle for
  /// `cancel`. After the driver began stopping, `on_done` runs at once, on
  /// this thread, with a `cancelled` error. With `request.relay_stream`,
  /// `relay` receives the stream while it arrives (see `stream_relay`).
  call_id submit(call_request request, std::function<void(done const&)> on_done,
                 std::shared_ptr<stream_relay> relay = nullptr) {
    call_id ticket = 0;
    {
      std::lock_guard lock{inbox_mutex_};
      if (!stopping_) {
        ticket = next_ticket_++;
        inbox_.emplace_back(submission{ticket, std::move(request), std::move(on_done), std::move(relay)});
      }
    }
    if (ticket == 0) {
      if (on_done) on_done(shutting_down());
      return 0;
    }
    inbox_ready_.notify_one();
    return ticket;
  }

  /// Thread-safe. Ends a call early (its callback gets a `cancelled` error);
  /// nothing happens if it is already over.
  void cancel(call_id ticket) { post(cancellation{ticket}); }

  /// Thread-safe: new engine options (a config reload, see
  /// `engine::reconfigure`); calls in flight go on. The patient-key secret is
  /// read again from its environment variable, and every API key file again
  /// at its next use. The error names the field; nothing changes then.
  std::optional<std::string> reconfigure(engine_options next) {
    next = with_patient_secret(std::move(next), options_);
    auto failed = inspect([&next](engine& e, instant now) -> std::optional<std::string> {
      if (auto bad = e.reconfigure(std::move(next), now)) return "engine options: " + bad->to_string();
      return std::nullopt;
    });
    if (!failed) return "the transport is shutting down";
    if (*failed) return *failed;
    std::lock_guard lock{key_mutex_};
    key_files_.clear();
    return std::nullopt;
  }

  /// Thread-safe snapshot of the providers' health.
  std::vector<provider_status> providers() {
    return inspect([](engine& e, instant now) { return e.providers(now); }).value_or(std::vector<provider_status>{});
  }

  /// Thread-safe: runs `f(engine, now)` while holding the engine (from a
  /// callback or observer, which already holds it, at once) and returns what
  /// it returns; effects it makes the engine emit are carried out as usual
  /// (e.g. `engine::review`). Nothing once the driver began stopping.
  template <class F>
  auto inspect(F f) -> std::optional<std::invoke_result_t<F&, engine&, instant>> {
    if (engine_holder_.load() == std::this_thread::get_id()) return f(engine_, clock());
    engine_hold hold{*this};
    if (engine_closed_) return std::nullopt;
    instant const now = clock();
    auto answer = f(engine_, now);
    drain(now);
    wake_owner_for_timers();
    return answer;
  }

  /// Thread-safe, blocking: one call through the engine, done on this thread
  /// (see the header comment); its outcome, as `submit`'s `on_done` would
  /// get it. Must not be called from a callback or observer.
  done call(call_request request) {
    struct outcome {
      std::mutex mutex;
      std::condition_variable ready;
      std::optional<done> value;
    };
    auto const result = std::make_shared<outcome>();
    auto const take = [&result]() -> std::optional<done> {
      std::lock_guard lock{result->mutex};
      return std::move(result->value);
    };
    caller_slot slot{*this};
    std::deque<std::shared_ptr<flight>> mine;  // attempts of this call for this thread to perform
    call_id id = 0;
    {
      engine_hold hold{*this};
      if (engine_closed_) return shutting_down();
      instant const now = clock();
      id = engine_.submit(std::move(request), now);
      waiting_[id] = waiting_call{0,
                                  [result](done const& d) {
                                    {
                                      std::lock_guard lock{result->mutex};
                                      result->value = d;
                                    }
                                    result->ready.notify_one();
                                  },
                                  nullptr};
      drain(now, id, &mine);
      wake_owner_for_timers();
    }
    for (;;) {
      if (auto d = take()) return std::move(*d);
      if (mine.empty()) {
        std::unique_lock lock{result->mutex};
        result->ready.wait(lock, [&] { return result->value.has_value(); });
        continue;
      }
      auto const job = std::move(mine.front());
      mine.pop_front();
      auto outcome = perform(slot.get(), job);
      engine_hold hold{*this};
      instant const now = clock();
      flights_.erase(job->request.attempt);
      if (auto* response = std::get_if<http_response>(&outcome))
        engine_.on_response(job->request.attempt, *response, now);
      else
        engine_.on_failure(job->request.attempt, std::get<transport_error>(outcome), now);
      drain(now, id, &mine);
      wake_owner_for_timers();
    }
  }

  /// The driver's clock: microseconds since it started.
  [[nodiscard]] instant clock() const {
    return from_us(std::chrono::duration_cast<duration>(steady::now() - start_).count());
  }

 private:
  using steady = std::chrono::steady_clock;

  /// The patient-key secret comes from the environment variable the config
  /// names (read like an API key), unless the host set it already.
  static engine_options with_patient_secret(engine_options o, httplib_options const& t) {
    if (!o.patient_key_secret.empty() || o.patient_key_secret_env.empty()) return o;
    auto secret =
        t.key_lookup ? t.key_lookup(o.patient_key_secret_env) : detail::environment_key(o.patient_key_secret_env);
    if (secret) o.patient_key_secret = std::move(*secret);
    return o;
  }

  /// What `top -H`, perf and gdb call this thread (at most 15 characters).
  static void name_thread(char const* name) { pthread_setname_np(pthread_self(), name); }

  /// One HTTP attempt, shared by the owner (which may cancel it), the worker
  /// performing it and the watchdog.
  struct flight {
    medgate::send request;
    std::optional<probe_id> probe;  ///< a health probe (GET, no body) rather than a chat attempt
    steady::time_point deadline;
    std::atomic<bool> cancelled{false};
    std::shared_ptr<stream_relay> relay;  ///< set when the engine asked for this attempt's stream to be relayed
  };

  /// What performs attempts: a pool worker, or a blocking caller's slot.
  struct worker {
    std::thread thread;
    std::mutex mutex;                       ///< guards `current` and `connection`
    std::shared_ptr<flight> current;        ///< the attempt in progress, if any
    httplib::Client* connection = nullptr;  ///< the client `current` uses; only stopped under `mutex`
    std::map<std::string, std::unique_ptr<httplib::Client>> connections;  ///< keep-alive, one per origin
  };

  /// Holds the engine for this thread (the one place `engine_mutex_` is taken).
  class engine_hold {
   public:
    explicit engine_hold(httplib_driver& d) : d_{d}, lock_{d.engine_mutex_} {
      d_.engine_holder_.store(std::this_thread::get_id());
    }
    ~engine_hold() { d_.engine_holder_.store(std::thread::id{}); }
    engine_hold(engine_hold const&) = delete;
    engine_hold& operator=(engine_hold const&) = delete;

   private:
    httplib_driver& d_;
    std::lock_guard<std::mutex> lock_;
  };

  struct submission {
    call_id ticket = 0;
    call_request request;
    std::function<void(done const&)> on_done;
    std::shared_ptr<stream_relay> relay;
  };
  struct completion {
    attempt_id attempt = 0;
    std::optional<probe_id> probe;
    std::variant<http_response, transport_error> outcome;
  };
  struct cancellation {
    call_id ticket = 0;
  };
  /// A worker asks whether the stream it has begun may reach the caller.
  struct stream_start {
    attempt_id attempt = 0;
    std::promise<bool> reply;
  };
  using message = std::variant<submission, completion, cancellation, stream_start>;

  struct waiting_call {
    call_id ticket = 0;
    std::function<void(done const&)> on_done;
    std::shared_ptr<stream_relay> relay;
  };

  // ---- owner thread --------------------------------------------------------

  void post(message m) {
    {
      std::lock_guard lock{inbox_mutex_};
      inbox_.push_back(std::move(m));
    }
    inbox_ready_.notify_one();
  }

  void run_owner() {
    for (;;) {
      instant next = never;
      {
        engine_hold hold{*this};
        next = engine_.next_deadline();
        owner_wakes_at_ = next;
      }
      std::deque<message> batch;
      bool stop = false;
      {
        std::unique_lock lock{inbox_mutex_};
        auto const ready = [&] { return stopping_ || !inbox_.empty() || owner_kicked_; };
        if (next == never)
          inbox_ready_.wait(lock, ready);
        else  // capped, so a far-off instant cannot overflow the steady clock's arithmetic
          inbox_ready_.wait_for(lock, std::min<duration>(elapsed(clock(), next), std::chrono::hours{1}), ready);
        batch.swap(inbox_);
        owner_kicked_ = false;
        stop = stopping_;  // submit() refuses work once this is set, so this batch is the last
      }
      engine_hold hold{*this};
      instant const now = clock();
      for (auto& m : batch) handle(m, now);
      drain(now);
      if (stop) break;
    }
    // Every call still in progress ends now, and its caller hears so; no call starts after this.
    engine_hold hold{*this};
    engine_closed_ = true;
    instant const now = clock();
    std::vector<call_id> in_progress;
    for (auto const& [id, w] : waiting_) in_progress.push_back(id);
    for (auto id : in_progress) engine_.cancel_call(id, now);
    drain(now);
  }

  /// After another thread fed the engine: the owner is woken if the engine now
  /// needs it sooner than it planned to wake up (a backoff, a hedge).
  void wake_owner_for_timers() {
    instant const next = engine_.next_deadline();
    if (next >= owner_wakes_at_) return;
    owner_wakes_at_ = next;
    {
      std::lock_guard lock{inbox_mutex_};
      owner_kicked_ = true;
    }
    inbox_ready_.notify_one();
  }

  static done shutting_down() {
    done refused;
    refused.error = call_error{call_error_code::cancelled, "the transport is shutting down", std::nullopt};
    return refused;
  }

  void handle(message& m, instant now) {
    if (auto* s = std::get_if<submission>(&m)) {
      call_id const id = engine_.submit(std::move(s->request), now);
      tickets_[s->ticket] = id;
      waiting_[id] = waiting_call{s->ticket, std::move(s->on_done), std::move(s->relay)};
    } else if (auto* c = std::get_if<completion>(&m)) {
      if (c->probe) {
        auto const* response = std::get_if<http_response>(&c->outcome);
        engine_.on_probe_result(*c->probe, response != nullptr && response->status >= 200 && response->status < 300,
                                now);
        return;
      }
      flights_.erase(c->attempt);
      if (auto* response = std::get_if<http_response>(&c->outcome))
        engine_.on_response(c->attempt, *response, now);
      else
        engine_.on_failure(c->attempt, std::get<transport_error>(c->outcome), now);
    } else if (auto* x = std::get_if<cancellation>(&m)) {
      if (auto it = tickets_.find(x->ticket); it != tickets_.end()) engine_.cancel_call(it->second, now);
    } else if (auto* r = std::get_if<stream_start>(&m)) {
      r->reply.set_value(engine_.on_stream_start(r->attempt, now));
    }
  }

  /// Carries out the engine's effects (holding the engine). With `mine`, the
  /// attempts of call `caller` go there, for its blocking caller to perform.
  void drain(instant now, call_id caller = 0, std::deque<std::shared_ptr<flight>>* mine = nullptr) {
    while (auto e = engine_.poll(now)) {
      if (options_.observer) options_.observer(*e);
      if (auto* s = std::get_if<medgate::send>(&*e)) {
        if (mine != nullptr && s->call == caller && !s->relay && mine->empty()) {
          mine->push_back(make_flight(std::move(*s), std::nullopt));
          continue;
        }
        dispatch(std::move(*s));
      } else if (auto const* p = std::get_if<medgate::probe>(&*e)) {
        medgate::send get;
        get.url = p->url;
        get.api_key_env = p->api_key_env;
        get.api_key_file = p->api_key_file;
        get.timeout = p->timeout;
        get.connect_timeout = p->timeout;
        dispatch(std::move(get), p->id);
      } else if (auto const* c = std::get_if<medgate::cancel>(&*e)) {
        if (auto it = flights_.find(c->attempt); it != flights_.end()) {
          it->second->cancelled = true;
          wake_watchdog();
        }
      } else if (auto const* d = std::get_if<done>(&*e)) {
        auto it = waiting_.find(d->call);
        if (it == waiting_.end()) continue;
        auto finished = std::move(it->second);
        waiting_.erase(it);
        tickets_.erase(finished.ticket);
        if (finished.on_done) finished.on_done(*d);
      }
      // wake_at needs nothing: the loop sleeps until engine_.next_deadline().
    }
  }

  /// An attempt (or probe) about to be performed, known to `flights_` so it can be cancelled.
  std::shared_ptr<flight> make_flight(medgate::send s, std::optional<probe_id> probe) {
    // A year stands for "no limit" and keeps the steady-clock arithmetic far from overflow.
    auto const limit = std::min<duration>(s.timeout, std::chrono::hours{24 * 365});
    auto f = std::make_shared<flight>();
    f->deadline = steady::now() + limit;
    f->request = std::move(s);
    f->probe = probe;
    if (f->request.relay)
      if (auto it = waiting_.find(f->request.call); it != waiting_.end()) f->relay = it->second.relay;
    if (!probe) flights_[f->request.attempt] = f;
    return f;
  }

  void dispatch(medgate::send s, std::optional<probe_id> probe = std::nullopt) {
    auto f = make_flight(std::move(s), probe);
    {
      std::lock_guard lock{jobs_mutex_};
      jobs_.push_back(std::move(f));
    }
    jobs_ready_.notify_one();
  }

  /// A blocking caller's worker slot for the length of its call: taken from
  /// the free ones (keeping their keep-alive connections) or added, and
  /// watched by the watchdog like the pool's.
  class caller_slot {
   public:
    explicit caller_slot(httplib_driver& d) : d_{d} {
      std::lock_guard lock{d_.slots_mutex_};
      if (d_.free_slots_.empty()) {
        d_.slots_.push_back(std::make_unique<worker>());
        slot_ = d_.slots_.back().get();
      } else {
        slot_ = d_.free_slots_.back();
        d_.free_slots_.pop_back();
      }
      ++d_.callers_;
    }
    ~caller_slot() {
      std::lock_guard lock{d_.slots_mutex_};
      d_.free_slots_.push_back(slot_);
      --d_.callers_;
      d_.callers_gone_.notify_all();  // under the lock: the destructor may be waiting to free the driver
    }
    caller_slot(caller_slot const&) = delete;
    caller_slot& operator=(caller_slot const&) = delete;
    [[nodiscard]] worker& get() const { return *slot_; }

   private:
    httplib_driver& d_;
    worker* slot_ = nullptr;
  };

  // ---- workers -------------------------------------------------------------

  void run_worker(worker& w) {
    for (;;) {
      std::shared_ptr<flight> job;
      {
        std::unique_lock lock{jobs_mutex_};
        jobs_ready_.wait(lock, [&] { return jobs_stopping_ || !jobs_.empty(); });
        if (jobs_stopping_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      auto outcome = perform(w, job);
      post(completion{job->request.attempt, job->probe, std::move(outcome)});
    }
  }

  httplib::Client* connection_for(detail::url_parts const& url,
                                  std::map<std::string, std::unique_ptr<httplib::Client>>& connections) {
    auto& slot = connections[url.origin];
    if (!slot) {
      slot = std::make_unique<httplib::Client>(url.origin);
      slot->set_keep_alive(true);
      // Headers and body leave in separate writes; without TCP_NODELAY, Nagle's
      // algorithm holds the body back for the server's delayed ACK (~40 ms a call).
      slot->set_tcp_nodelay(true);
      slot->set_follow_location(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
      slot->enable_server_certificate_verification(options_.verify_tls);
      if (!options_.ca_cert_path.empty()) slot->set_ca_cert_path(options_.ca_cert_path);
#endif
    }
    if (!slot->is_valid()) {
      connections.erase(url.origin);
      return nullptr;
    }
    return slot.get();
  }

  std::optional<std::string> lookup_key(std::string const& env_name) {
    std::lock_guard lock{key_mutex_};
    return options_.key_lookup(env_name);
  }

  /// The key in `path` (surrounding white space trimmed), read again whenever
  /// the file's modification time or size changes: a rotated secret is used
  /// from the next attempt on, with no restart. Errors name the file only.
  result<std::string> key_file(std::string const& path) {
    std::error_code failed;
    auto const changed = std::filesystem::last_write_time(path, failed);
    auto const size = failed ? 0 : std::filesystem::file_size(path, failed);
    if (failed) return error{fmt::format("cannot read the API key file {}: {}", path, failed.message())};
    std::lock_guard lock{key_mutex_};
    auto& cached = key_files_[path];
    if (cached.read && cached.changed == changed && cached.size == size) return cached.key;
    std::ifstream in{path, std::ios::binary};
    std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    if (!in && !in.eof()) return error{fmt::format("cannot read the API key file {}", path)};
    cached = {true, changed, size, std::string{openai::trim_space(text)}};
    return cached.key;
  }

  std::variant<http_response, transport_error> perform(worker& w, std::shared_ptr<flight> const& job) {
    auto const& s = job->request;
    if (job->cancelled) return transport_error{transport_failure::cancelled, "attempt cancelled before it started"};
    auto const url = detail::split_url(s.url);
    if (!url)
      return transport_error{transport_failure::other,
                             "provider URL must be http(s)://host[:port]/path, without credentials"};
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
    if (url->https)
      return transport_error{transport_failure::tls, fmt::format("{}: built without TLS support", url->origin)};
#endif
    auto const remaining = std::chrono::duration_cast<duration>(job->deadline - steady::now());
    if (remaining <= duration::zero())
      return transport_error{transport_failure::timeout,
                             fmt::format("attempt to {} timed out waiting for a free worker", url->origin)};
    httplib::Client* connection = connection_for(*url, w.connections);
    if (connection == nullptr)
      return transport_error{transport_failure::tls, fmt::format("could not set up a client for {}", url->origin)};

    // Per-request limits: connect within its own limit, and never wait for a
    // byte longer than the attempt has left. The watchdog enforces the total.
    auto const at_least_1ms = [](duration d) { return std::max<duration>(d, std::chrono::milliseconds{1}); };
    connection->set_connection_timeout(at_least_1ms(std::min(s.connect_timeout, remaining)));
    connection->set_read_timeout(at_least_1ms(remaining));
    connection->set_write_timeout(at_least_1ms(remaining));

    httplib::Request request;
    request.method = job->probe ? "GET" : "POST";
    request.path = url->path;
    request.body = s.body;
    request.set_header("Content-Type", "application/json");
    request.set_header("Accept", s.stream ? "text/event-stream" : "application/json");
    if (!s.idempotency_key.empty()) request.set_header("Idempotency-Key", s.idempotency_key);
    if (!s.api_key_file.empty()) {
      auto key = key_file(s.api_key_file);
      if (!key) return transport_error{transport_failure::other, key.error_message()};
      if (!detail::header_value_safe(*key))
        return transport_error{transport_failure::other,
                               fmt::format("the API key file {} holds characters not allowed in a header "
                                           "(or is empty)",
                                           s.api_key_file)};
      request.set_header("Authorization", "Bearer " + *key);
    } else if (!s.api_key_env.empty()) {
      // A missing key is not our failure to report: the provider answers 401,
      // which the engine classifies like any other refusal.
      if (auto key = lookup_key(s.api_key_env); key && !key->empty()) {
        if (!detail::header_value_safe(*key))
          return transport_error{
              transport_failure::other,
              fmt::format("the API key in ${} holds characters not allowed in a header", s.api_key_env)};
        request.set_header("Authorization", "Bearer " + *key);
      }
    }

    std::string body;
    detail::attempt_circumstances seen;
    seen.max_response_bytes = options_.max_response_bytes;
    std::optional<openai::stream_relay_reader> relaying;
    if (job->relay)
      request.response_handler = [&](httplib::Response const& r) {
        if (r.status >= 200 && r.status <= 299) relaying.emplace();
        return true;
      };
    request.content_receiver = [&](char const* data, std::size_t length, std::uint64_t, std::uint64_t) {
      if (job->cancelled || steady::now() >= job->deadline) return false;
      if (length > options_.max_response_bytes - body.size()) {
        seen.too_large = true;
        return false;
      }
      body.append(data, length);
      return !relaying || relay(*job, *relaying, std::string_view{data, length});
    };

    {
      std::lock_guard lock{w.mutex};
      w.current = job;
      w.connection = connection;
    }
    // The watchdog sees this attempt when it next looks; it is woken only if that would be too late.
    if (job->deadline.time_since_epoch().count() < watchdog_wakes_at_.load()) wake_watchdog();
    httplib::Response response;
    auto failure = httplib::Error::Success;
    bool const ok = connection->send(request, response, failure);
    {
      std::lock_guard lock{w.mutex};
      w.current.reset();
      w.connection = nullptr;
    }

    if (ok && !job->cancelled) {
      http_response out;
      out.status = response.status;
      for (auto const& [name, value] : response.headers) out.headers.add(name, value);
      out.body = std::move(body);
      out.received_at = std::chrono::time_point_cast<duration>(std::chrono::system_clock::now());
      return out;
    }
    seen.cancelled = job->cancelled || jobs_stopping_;
    // cpp-httplib's read timeout fires after `remaining` of silence, which
    // can only end at or after the deadline; allow for timer rounding.
    seen.past_deadline = steady::now() + std::chrono::milliseconds{1} >= job->deadline;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (failure == httplib::Error::SSLServerVerification)
      seen.tls_verify_result = connection->get_openssl_verify_result();
#endif
    if (ok) failure = httplib::Error::Canceled;  // answered after a cancel: reported as cancelled, then dropped
    return detail::classify_httplib_error(failure, seen, url->origin, s.timeout);
  }

  /// Passes a relayed attempt's stream on as it arrives (openai/relay.hpp). False: drop the attempt.
  bool relay(flight& job, openai::stream_relay_reader& r, std::string_view bytes) {
    return r.feed(
        bytes,
        [&] {
          if (!ask_stream_start(job.request.attempt)) return false;
          if (job.relay->on_commit) job.relay->on_commit(job.request);
          return true;
        },
        [&](openai::sse_event const& e) {
          if (job.relay->on_event) job.relay->on_event(openai::serialize_event(e));
        });
  }

  bool ask_stream_start(attempt_id attempt) {
    std::promise<bool> reply;
    auto answer = reply.get_future();
    {
      std::lock_guard lock{inbox_mutex_};
      if (stopping_) return false;  // the owner answers only what came before it began stopping
      inbox_.emplace_back(stream_start{attempt, std::move(reply)});
    }
    inbox_ready_.notify_one();
    return answer.get();
  }

  // ---- watchdog ------------------------------------------------------------

  void wake_watchdog() {
    {
      std::lock_guard lock{watchdog_mutex_};
      ++watchdog_changes_;
    }
    watchdog_ready_.notify_one();
  }

  /// Interrupts attempts that are cancelled or past their deadline. A stop()
  /// that lands just before cpp-httplib marks the connection busy only closes
  /// the idle socket (the request then reconnects), so a doomed attempt is
  /// stopped again every few milliseconds until its worker lets go of it.
  void run_watchdog() {
    for (;;) {
      std::uint64_t seen_changes = 0;
      {
        std::lock_guard lock{watchdog_mutex_};
        if (watchdog_stopping_) return;
        seen_changes = watchdog_changes_;
        watchdog_wakes_at_ = steady::time_point::min().time_since_epoch().count();  // looking: wake me for anything
      }
      auto next = steady::time_point::max();
      auto const now = steady::now();
      auto const watch = [&](worker& w) {
        std::lock_guard lock{w.mutex};
        if (!w.current || w.connection == nullptr) return;
        if (jobs_stopping_ || w.current->cancelled || now >= w.current->deadline) {
          w.connection->stop();
          next = std::min(next, now + std::chrono::milliseconds{5});
        } else {
          next = std::min(next, w.current->deadline);
        }
      };
      for (auto& w : workers_) watch(*w);
      {
        std::lock_guard lock{slots_mutex_};
        for (auto& w : slots_) watch(*w);
      }
      std::unique_lock lock{watchdog_mutex_};
      auto const ready = [&] { return watchdog_stopping_ || watchdog_changes_ != seen_changes; };
      if (ready()) continue;
      watchdog_wakes_at_ = next.time_since_epoch().count();
      if (next == steady::time_point::max())
        watchdog_ready_.wait(lock, ready);
      else
        watchdog_ready_.wait_until(lock, next, ready);
    }
  }

  // Under engine_mutex_ (engine_hold).
  std::mutex engine_mutex_;
  std::atomic<std::thread::id> engine_holder_{};  ///< the thread holding the engine, if any
  engine engine_;
  std::unordered_map<call_id, waiting_call> waiting_;  ///< by the engine's call id
  std::unordered_map<call_id, call_id> tickets_;       ///< submit()'s handle → the engine's call id
  std::unordered_map<attempt_id, std::shared_ptr<flight>> flights_;
  instant owner_wakes_at_ = never;  ///< when the owner thread plans to look at the engine's timers next
  bool engine_closed_ = false;      ///< the owner has ended every call: no new call may start

  httplib_options options_;
  steady::time_point const start_;

  std::mutex inbox_mutex_;
  std::condition_variable inbox_ready_;
  std::deque<message> inbox_;
  bool stopping_ = false;
  bool owner_kicked_ = false;  ///< the owner must look at the engine's timers again (wake_owner_for_timers)
  call_id next_ticket_ = 1;

  std::mutex jobs_mutex_;
  std::condition_variable jobs_ready_;
  std::deque<std::shared_ptr<flight>> jobs_;
  std::atomic<bool> jobs_stopping_{false};

  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_ready_;
  std::uint64_t watchdog_changes_ = 0;
  bool watchdog_stopping_ = false;
  /// When the watchdog next looks at the attempts by itself (steady ticks; the minimum while it is looking).
  std::atomic<steady::rep> watchdog_wakes_at_{steady::time_point::min().time_since_epoch().count()};

  std::mutex key_mutex_;  ///< guards key_lookup calls and key_files_
  struct cached_key {
    bool read = false;
    std::filesystem::file_time_type changed{};
    std::uintmax_t size = 0;
    std::string key;
  };
  std::unordered_map<std::string, cached_key> key_files_;
  std::vector<std::unique_ptr<worker>> workers_;

  std::mutex slots_mutex_;  ///< guards the blocking callers' slots
  std::vector<std::unique_ptr<worker>> slots_;
  std::vector<worker*> free_slots_;
  std::size_t callers_ = 0;  ///< blocking calls in progress
  std::condition_variable callers_gone_;

  std::thread watchdog_;
  std::thread owner_;
};

}  // namespace medgate::transport
