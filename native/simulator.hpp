// simulator.hpp — a fault-injecting OpenAI-compatible provider simulator: a real HTTP server.
//
// Resilience policies can only be trusted once they have met the failures they
// exist for, and real providers fail when they choose to. The simulator serves
// several named providers from one port, each at its own OpenAI base URL
// (`http://HOST:PORT/<provider>/v1`), and each with a fault profile that decides,
// request by request, whether to answer, fail with a status, rate-limit, stall,
// hang, reset the connection before or in the middle of its body, drip the
// answer a few bytes at a time (a slow-loris upstream), or answer with a broken
// or cut-off body. Every
// decision is drawn from a generator seeded from `simulator_options::seed`, one
// draw per request in arrival order, so a sequential run repeats exactly; the
// answer's text is derived from the prompt, so the same prompt always gets the
// same answer. It is a native program component (threads, clocks and sockets
// are fine here), never part of the sans-I/O core.
//
// HTTP: `GET /<p>/v1/models`, `GET /<p>/v1/models/<m>`,
// `POST /<p>/v1/chat/completions` (plain or `"stream": true`); admin:
// `GET /admin/providers`, `GET|PUT /admin/providers/<p>/faults`,
// `GET /admin/providers/<p>/stats`, `GET /admin/providers/<p>/requests`,
// `GET /admin/providers/<p>/idempotency`, `POST /admin/reset-stats`; and `GET /healthz`.
//
// Idempotency-Key: a chat request carrying one that was answered before (200,
// not streamed) gets the stored answer again, with `Idempotent-Replayed: true`
// and no fault, as providers that honour the header do. The idempotency
// endpoint counts, over all keys, the answers generated and replayed, the keys
// answered more than once, and the chat requests that arrived in each second,
// so a test can prove a client never had an item done twice nor went over its
// rate limit.
//
// Browsers: every response allows any origin (CORS, native/cors.hpp) and an
// `OPTIONS` preflight on any path is answered, so a page from another origin
// can call the providers and the admin endpoint. Folders can be served next to
// the routes (`simulator_options::mounts`, native/static_files.hpp), and small
// generated documents published at run time (`serve_document`); neither ever
// takes the place of a provider or admin route.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "medgate/field_error.hpp"
#include "medgate/result.hpp"
#include "medgate/time.hpp"
#include "static_files.hpp"

namespace medgate::sim {

/// How a 429 or 503 says when to come back.
enum class retry_after_form : std::uint8_t {
  seconds,       ///< `Retry-After: 2` (delta-seconds, rounded up)
  http_date,     ///< `Retry-After: Tue, 04 Jun 2024 10:00:02 GMT` (measured against the `Date` header)
  milliseconds,  ///< `retry-after-ms: 1500` only, as OpenAI and Azure send it
};

enum class latency_kind : std::uint8_t {
  fixed,      ///< every answer waits `fixed`
  lognormal,  ///< `median * exp(sigma * z)`, z standard normal: the long right tail real APIs show
};

/// How long the simulator waits before it answers (or fails).
struct latency_profile {
  latency_kind kind = latency_kind::fixed;
  duration fixed{0};                                 ///< JSON `ms`; used when kind is fixed
  duration median = std::chrono::milliseconds{200};  ///< JSON `median_ms`; used when kind is lognormal
  double sigma = 0.5;                                ///< spread of log(latency) when kind is lognormal; >= 0
  double spike_probability = 0;                      ///< chance that a request waits `spike` instead
  duration spike = std::chrono::seconds{8};          ///< JSON `spike_ms`
  bool operator==(latency_profile const&) const = default;
};

struct rate_limit_profile {
  double probability = 0;                             ///< chance of a 429
  duration retry_after = std::chrono::seconds{1};     ///< JSON `retry_after_ms`; also sent on injected 503s
  retry_after_form form = retry_after_form::seconds;  ///< JSON `form`: "seconds", "http_date" or "ms"
  bool operator==(rate_limit_profile const&) const = default;
};

struct hang_profile {
  double probability = 0;  ///< chance that the request is accepted and never answered
  duration hold =
      std::chrono::seconds{30};  ///< JSON `ms`: how long a hung request is held before the connection is reset
  bool operator==(hang_profile const&) const = default;
};

/// A slow-loris upstream: the whole answer arrives, `bytes` at a time, `interval` apart, so an answer of a few
/// hundred bytes takes seconds however short its latency. Only a client that bounds an attempt's total time,
/// not just the wait for each byte, escapes it.
struct drip_profile {
  double probability = 0;                              ///< chance that the answer (or stream) drips
  std::size_t bytes = 16;                              ///< bytes per write (1 to 65536)
  duration interval = std::chrono::milliseconds{200};  ///< JSON `interval_ms`: the pause between writes
  bool operator==(drip_profile const&) const = default;
};

/// What can go wrong with one provider. The default is healthy: no faults and
/// no added latency. Fault probabilities (every `errors` entry, `rate_limit`,
/// `hang`, `reset`, `reset_mid_body`, `drip`, `malformed`, `truncate`) are
/// mutually exclusive outcomes of one draw, so together they must add up to at
/// most 1; the latency applies on top to every outcome except a hang.
struct fault_profile {
  std::map<int, double> errors{};  ///< HTTP status (400–599) → probability of answering with it
  rate_limit_profile rate_limit{};
  latency_profile latency{};
  hang_profile hang{};
  double reset = 0;  ///< chance that the connection is reset (TCP RST) before any response byte
  /// Chance that the status line, the headers and part of the body (or the first events of a stream) are sent
  /// and the connection is then reset (TCP RST). The provider did the work: under an Idempotency-Key the answer
  /// is kept, and a retry with the key gets it replayed.
  double reset_mid_body = 0;
  drip_profile drip{};
  double malformed = 0;  ///< chance of a 200 whose body is not JSON, or JSON of the wrong shape (alternating)
  double truncate = 0;   ///< chance of a body (or stream) that stops partway and the connection closes

  bool operator==(fault_profile const&) const = default;
  /// Names the bad field relative to the profile, e.g. `latency.sigma must be >= 0, got -1`.
  [[nodiscard]] validation validate() const;
};

// ---- one request's fate (the fault model, usable without the server) --------

/// What the simulator does with one request.
enum class outcome : std::uint8_t {
  answer,
  error_status,
  rate_limited,
  hang,
  reset,
  malformed,
  truncate,
  reset_mid_body,
  drip
};

/// One request's fate, drawn by `plan_request`.
struct request_plan {
  outcome kind = outcome::answer;
  int status = 200;           ///< for error_status
  std::uint64_t variant = 0;  ///< malformed: even → not JSON, odd → JSON of the wrong shape (the server alternates)
  duration latency{0};        ///< wait before answering or failing; not used by a hang
  std::string completion_id;  ///< "chatcmpl-..."
  std::string request_id;     ///< x-request-id
  fault_profile faults;       ///< the profile it was drawn from
};

/// Draws everything about one request from its own generator, seeded by one
/// draw of the provider's generator (`request_seed`), so the provider's
/// sequence advances by exactly one per request whatever the profile is. Pure:
/// the same seed and profile always give the same plan. The server draws its
/// requests' fates with it; a virtual-time test can draw the same fates
/// without sockets.
request_plan plan_request(std::uint64_t request_seed, fault_profile const& faults);

/// Parses a profile: a JSON object with the fields above (all optional, each
/// defaulting to healthy), a JSON string naming a preset, `{"preset": "down"}`
/// (other fields then override the preset's), or a bare preset name such as
/// `flaky` (convenient on a command line). Errors read
/// `fault profile: latency.sigma must be >= 0, got -1`,
/// `fault profile: unknown field "latncy"`,
/// `fault profile: unknown preset "dwon" (known: healthy, flaky, ...)`.
result<fault_profile> parse_fault_profile(std::string_view json);

/// The profile as a complete JSON object (every field); parsing it gives the profile back.
nlohmann::json to_json(fault_profile const& profile);

/// The named presets: healthy, flaky (10% 503), rate_limited (30% 429),
/// slow (lognormal, median 2 s), spiky (median 100 ms with 10% 8 s spikes),
/// hanging (20% hang), resetting (20% reset), malformed (20%),
/// truncating (20%), down (100% 503), dripping (20% drip: 16 bytes every 200 ms),
/// breaking (20% reset_mid_body).
std::optional<fault_profile> preset(std::string_view name);
std::vector<std::string_view> preset_names();

struct provider_spec {
  std::string name{};  ///< path segment of its base URL: letters, digits, '-', '_' and '.'; not "admin"
  std::vector<std::string> models = {"gpt-4o-mini"};
  fault_profile faults{};
};

struct simulator_options {
  std::string host = "127.0.0.1";
  int port = 0;  ///< 0 = an ephemeral port chosen by the system
  std::vector<provider_spec> providers{};
  std::uint64_t seed = 1;    ///< every fault decision of every provider derives from it
  std::size_t threads = 64;  ///< server threads; each open connection (keep-alive, stream, hang) holds one
  /// Folders served for GET under a URL prefix ("/" included). A path below `/admin/`, `/healthz` or
  /// `/<provider>/` is never answered from a folder; a file there is refused, not served.
  std::vector<cli::static_mount> mounts{};
  [[nodiscard]] validation validate() const;
};

class simulator {
 public:
  /// Counts per provider since start or the last reset of the statistics.
  struct stats {
    std::uint64_t requests = 0;      ///< chat completion requests received
    std::uint64_t ok = 0;            ///< chosen to be answered normally (200)
    std::uint64_t errors = 0;        ///< injected error statuses (the `errors` map)
    std::uint64_t rate_limited = 0;  ///< injected 429s
    std::uint64_t hangs = 0;
    std::uint64_t resets = 0;
    std::uint64_t malformed = 0;
    std::uint64_t truncated = 0;
    std::uint64_t mid_body_resets = 0;
    std::uint64_t dripped = 0;
    std::uint64_t rejected = 0;  ///< invalid requests answered 400 or 404 (no fault is injected into those)
    bool operator==(stats const&) const = default;
  };

  explicit simulator(simulator_options options);
  ~simulator();  ///< stops
  simulator(simulator const&) = delete;
  simulator& operator=(simulator const&) = delete;

  /// Binds and serves on a background thread; returns the port. Fails on
  /// invalid options, a port that cannot be bound, or a second start.
  result<int> start();
  /// Stops promptly, even with hung or streaming requests and idle keep-alive
  /// connections open: those are woken and their connections closed. Idempotent.
  void stop();

  [[nodiscard]] int port() const;
  /// `http://HOST:PORT/<provider>/v1`, the base URL an OpenAI client takes.
  [[nodiscard]] std::string base_url(std::string_view provider) const;
  /// `http://HOST:PORT` (admin endpoints live under `/admin`).
  [[nodiscard]] std::string root_url() const;

  /// Serves `body` for GET `path` (e.g. "/demo/config.json"), replacing what was published there before;
  /// safe while serving. Documents are found before mounted files; a path must start with '/' and not
  /// collide with the provider or admin routes, else false.
  bool serve_document(std::string path, std::string content_type, std::string body);

  /// Replaces a provider's fault profile at run time; false (and no change) if
  /// there is no such provider or the profile does not validate.
  bool set_faults(std::string_view provider, fault_profile faults);
  [[nodiscard]] std::optional<fault_profile> faults(std::string_view provider) const;
  /// All zero for an unknown provider.
  [[nodiscard]] stats provider_stats(std::string_view provider) const;
  void reset_stats();
  /// The bodies of the most recent chat requests the provider received (up to
  /// 64, oldest first), so a test can check what actually left the gateway.
  [[nodiscard]] std::vector<nlohmann::json> received(std::string_view provider) const;

 private:
  struct impl;  // the server and the providers' state (simulator.cpp)
  std::unique_ptr<impl> impl_;
};

nlohmann::json to_json(simulator::stats const& counts);

}  // namespace medgate::sim
