// chaos_test.cpp — chaos over real sockets: the gateway in front of the simulator, whose providers reset
// connections before and in the middle of their bodies, drip answers a few bytes at a time (a slow loris),
// cut bodies and chunked streams short, go silent, send broken JSON, error statuses and 429s. Clients on
// several threads offer plain and streamed calls, each with its own Idempotency-Key, and every call is
// accounted for:
//
//   answered    a 200 with a whole completion, or a stream that ends with [DONE];
//   failed      an OpenAI-shaped error (status >= 400, or a stream's error event) with a type and a code;
//   lost        anything else: no response from the gateway, a 200 that is not a completion, a stream that
//               stops with neither [DONE] nor an error event, an error without a code, or an answer after the
//               call's deadline (plus slack);
//   duplicated  an answer given to two calls, or a provider that did the work of one key twice (the
//               simulator's books, GET /admin/providers/P/idempotency).
//
// lost and duplicated must be 0. Where the kernel has sch_netem, the same run is repeated inside a network
// namespace of the test's own (unshare -rn) with netem delay and loss on its loopback; elsewhere that case
// says why it did not run.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "fault_profile.hpp"
#include "gateway.hpp"
#include "medgate/config.hpp"
#include "medgate/openai/sse.hpp"
#include "simulator.hpp"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr char const* token = "chaos-gateway-token-0001";
constexpr char const* netns_variable = "MEDGATE_CHAOS_IN_NETNS";

/// Every socket-level fault at once, on both providers, with short latencies (so no attempt is still being
/// worked on upstream when its retry arrives). About 37% of attempts fail.
constexpr char const* chaos_profile = R"({
  "errors": {"500": 0.03, "503": 0.03},
  "rate_limit": {"probability": 0.03, "retry_after_ms": 100},
  "latency": {"kind": "lognormal", "median_ms": 20, "sigma": 0.5},
  "hang": {"probability": 0.04, "ms": 3000},
  "reset": 0.04,
  "reset_mid_body": 0.05,
  "drip": {"probability": 0.05, "bytes": 16, "interval_ms": 100},
  "malformed": 0.03,
  "truncate": 0.05
})";

struct chaos_settings {
  std::size_t clients = 8;
  std::size_t calls_per_client = 40;
  std::chrono::milliseconds deadline = 5s;
  std::chrono::milliseconds attempt_timeout = 800ms;
  std::chrono::milliseconds slack = 2s;  ///< scheduling slack on a loaded two-core machine, ASan included
};

/// What became of the calls offered.
struct tally {
  std::size_t offered = 0;
  std::size_t answered = 0;
  std::size_t failed = 0;
  std::size_t lost = 0;
  std::size_t duplicated = 0;
  std::map<std::string, std::size_t> failures;  ///< by error code
  std::vector<std::string> lost_examples;       ///< the first few, saying what was wrong
  std::set<std::string> answer_ids;

  void lose(std::string why) {
    ++lost;
    if (lost_examples.size() < 10) lost_examples.push_back(std::move(why));
  }
  void fail(json const& body) {
    ++failed;
    ++failures[body["error"]["code"].get<std::string>()];
  }
  void answer(std::string const& id) {
    ++answered;
    if (!answer_ids.insert(id).second) ++duplicated;
  }
};

/// True for an OpenAI-shaped error object whose type and code say what went wrong.
bool classified(json const& body) {
  if (!body.is_object() || !body.contains("error")) return false;
  auto const& e = body["error"];
  return e.is_object() && e.value("type", json{}).is_string() && !e["type"].get<std::string>().empty() &&
         e.value("code", json{}).is_string() && !e["code"].get<std::string>().empty() &&
         e.value("message", json{}).is_string();
}

/// One call's fate, added to `t` under its lock.
void settle_plain(httplib::Result const& r, tally& t) {
  if (!r) return t.lose(fmt::format("no response from the gateway: {}", httplib::to_string(r.error())));
  auto const body = json::parse(r->body, nullptr, false);
  if (r->status == 200) {
    auto const* content =
        body.is_object() && body.contains("choices") && body["choices"].is_array() && !body["choices"].empty()
            ? &body["choices"][0]["message"]["content"]
            : nullptr;
    if (content == nullptr || !content->is_string() || content->get<std::string>().empty() ||
        !body.value("id", json{}).is_string())
      return t.lose("a 200 that is not a completion: " + r->body.substr(0, 120));
    return t.answer(body["id"].get<std::string>());
  }
  if (r->status >= 400 && classified(body)) return t.fail(body);
  t.lose(fmt::format("status {} without a classified error: {}", r->status, r->body.substr(0, 120)));
}

struct streamed {
  int status = 0;
  std::string raw;
  std::vector<std::string> data;
};

void settle_stream(httplib::Result const& r, streamed const& s, tally& t) {
  if (!r) return t.lose(fmt::format("stream: no response from the gateway: {}", httplib::to_string(r.error())));
  if (s.status != 200) {
    auto const body = json::parse(s.raw, nullptr, false);
    if (s.status >= 400 && classified(body)) return t.fail(body);
    return t.lose(fmt::format("stream: status {} without a classified error: {}", s.status, s.raw.substr(0, 120)));
  }
  if (s.data.empty()) return t.lose("stream: a 200 without events");
  if (s.data.back() == "[DONE]") {
    auto const first = json::parse(s.data.front(), nullptr, false);
    if (!first.is_object() || !first.value("id", json{}).is_string())
      return t.lose("stream: the first event is not a chunk: " + s.data.front().substr(0, 120));
    for (std::size_t i = 0; i + 1 < s.data.size(); ++i) {
      auto const chunk = json::parse(s.data[i], nullptr, false);
      if (!chunk.is_object() || chunk.contains("error"))
        return t.lose("stream: a broken event before [DONE]: " + s.data[i].substr(0, 120));
    }
    return t.answer(first["id"].get<std::string>());
  }
  auto const last = json::parse(s.data.back(), nullptr, false);
  if (classified(last)) return t.fail(last);
  t.lose("stream: ended with neither [DONE] nor an error event: " + s.data.back().substr(0, 120));
}

std::string body_of(std::size_t call, bool stream) {
  json body = {{"model", "clinical-summary"},
               {"messages", {{{"role", "user"}, {"content", fmt::format("Summarise chaos note {}.", call)}}}}};
  if (stream) body["stream"] = true;
  return body.dump();
}

/// The simulator with both providers under `chaos_profile`, the gateway in front, and the clients.
tally run_chaos(chaos_settings const& settings, std::uint64_t seed) {
  medgate::sim::simulator sim{{.host = "127.0.0.1",
                               .port = 0,
                               .providers = {{"primary", {"gpt-4o-mini"}, medgate::testing::profile(chaos_profile)},
                                             {"fallback", {"gpt-4o-mini"}, medgate::testing::profile(chaos_profile)}},
                               .seed = seed}};
  auto const sim_port = sim.start();
  REQUIRE_MESSAGE(sim_port.ok(), (sim_port.ok() ? "" : sim_port.error_message()));

  auto options = medgate::default_options();
  for (auto& p : options.routing.providers) {
    p.base_url = sim.base_url(p.name);
    p.attempt_timeout = settings.attempt_timeout;
    p.connect_timeout = 500ms;
    // Open only when a provider is mostly failing, and not for long: the run is about the sockets' faults,
    // and a breaker that stays open would turn every call into a fast refusal.
    p.breaker.consecutive_failures = 8;
    p.breaker.failure_rate_threshold = 80;
    p.breaker.open_duration = 500ms;
  }
  options.retry.max_attempts_per_target = 2;
  options.retry.backoff.base = 20ms;
  options.retry.backoff.cap = 200ms;
  options.deadlines.timeout = settings.deadline;
  auto gw = medgate::gateway::server::create(std::move(options), {.host = "127.0.0.1", .port = 0, .token = token}, {},
                                             medgate::seed{seed});
  REQUIRE_MESSAGE(gw.ok(), (gw.ok() ? "" : gw.error_message()));
  auto const gw_port = (*gw)->start();
  REQUIRE_MESSAGE(gw_port.ok(), (gw_port.ok() ? "" : gw_port.error_message()));

  tally t;
  std::mutex m;
  std::vector<std::thread> clients;
  for (std::size_t c = 0; c < settings.clients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client http{"127.0.0.1", *gw_port};
      http.set_keep_alive(true);
      http.set_read_timeout(settings.deadline + settings.slack + 5s);
      for (std::size_t k = 0; k < settings.calls_per_client; ++k) {
        const std::size_t call = c * settings.calls_per_client + k;
        const bool stream = call % 3 == 2;
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/chat/completions";
        req.set_header("Authorization", fmt::format("Bearer {}", token));
        req.set_header("Content-Type", "application/json");
        req.set_header("Idempotency-Key", fmt::format("chaos-{}-{}", seed, call));
        req.body = body_of(call, stream);
        streamed s;
        medgate::openai::sse_parser parser;
        if (stream) {
          req.response_handler = [&](httplib::Response const& r) {
            s.status = r.status;
            return true;
          };
          req.content_receiver = [&](char const* data, std::size_t length, std::uint64_t, std::uint64_t) {
            s.raw.append(data, length);
            std::vector<medgate::openai::sse_event> events;
            parser.feed({data, length}, events);
            for (auto& e : events) s.data.push_back(std::move(e.data));
            return true;
          };
        }
        const auto start = steady::now();
        auto const r = http.send(req);
        const auto took = steady::now() - start;
        std::lock_guard lock{m};
        ++t.offered;
        if (took > settings.deadline + settings.slack) {
          t.lose(fmt::format("call {} ended after {} ms, past its deadline", call,
                             std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
          continue;
        }
        if (stream)
          settle_stream(r, s, t);
        else
          settle_plain(r, t);
      }
    });
  }
  for (auto& c : clients) c.join();

  // The providers' books: no key worked on twice. And the faults did happen.
  httplib::Client admin{"127.0.0.1", *sim_port};
  medgate::sim::simulator::stats faults;
  for (auto const* provider : {"primary", "fallback"}) {
    auto const books = admin.Get(fmt::format("/admin/providers/{}/idempotency", provider));
    REQUIRE(books);
    auto const counts = json::parse(books->body);
    t.duplicated += counts["answered_twice"].get<std::size_t>();
    auto const s = sim.provider_stats(provider);
    faults.requests += s.requests;
    faults.resets += s.resets;
    faults.mid_body_resets += s.mid_body_resets;
    faults.dripped += s.dripped;
    faults.truncated += s.truncated;
    faults.hangs += s.hangs;
    faults.malformed += s.malformed;
  }
  MESSAGE(
      fmt::format("upstream attempts {}: resets {}, mid-body resets {}, drips {}, truncated {}, silent {}, "
                  "malformed {}",
                  faults.requests, faults.resets, faults.mid_body_resets, faults.dripped, faults.truncated,
                  faults.hangs, faults.malformed));
  // A run that met no fault proves nothing.
  CHECK(faults.resets > 0);
  CHECK(faults.mid_body_resets > 0);
  CHECK(faults.dripped > 0);
  CHECK(faults.truncated > 0);
  CHECK(faults.hangs > 0);
  (*gw)->stop();
  sim.stop();
  return t;
}

void report_and_check(tally const& t, chaos_settings const& settings) {
  std::string failures;
  for (auto const& [code, n] : t.failures) failures += fmt::format(" {}={}", code, n);
  MESSAGE(fmt::format("offered {}, answered {}, failed {} (classified:{}), lost {}, duplicated {}", t.offered,
                      t.answered, t.failed, failures, t.lost, t.duplicated));
  for (auto const& why : t.lost_examples) MESSAGE("lost: " << why);
  CHECK(t.offered == settings.clients * settings.calls_per_client);
  CHECK(t.answered + t.failed + t.lost == t.offered);
  CHECK(t.lost == 0);
  CHECK(t.duplicated == 0);
  // Two providers, two attempts each: most calls get through whatever the sockets do.
  CHECK(t.answered * 10 >= t.offered * 8);
}

struct shell_result {
  int status = -1;
  std::string output;
};

shell_result shell(std::string const& command) {
  shell_result r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Inside a new user and network namespace: loopback up, and netem on it.
constexpr char const* netem_setup = "ip link set lo up && tc qdisc add dev lo root netem delay 5ms 2ms loss 1%";

}  // namespace

TEST_CASE("chaos over real sockets: every call is answered or fails with a classified error; none lost or doubled") {
  const chaos_settings settings;
  report_and_check(run_chaos(settings, 20261124), settings);
}

TEST_CASE("chaos under netem delay and loss in a network namespace of the test's own") {
  const chaos_settings settings{.clients = 4, .calls_per_client = 30};
  if (std::getenv(netns_variable) != nullptr) {
    report_and_check(run_chaos(settings, 7), settings);
    return;
  }
  const auto probe = shell(fmt::format("unshare -rn sh -c '{}'", netem_setup));
  if (probe.status != 0) {
    MESSAGE("netem run skipped: this machine cannot put netem on a namespace's loopback: " << probe.output.substr(
                0, probe.output.find('\n')));
    return;
  }
  char self[4096] = {};
  const auto length = readlink("/proc/self/exe", self, sizeof self - 1);
  REQUIRE(length > 0);
  const auto run =
      shell(fmt::format("unshare -rn sh -c '{} && {}=1 exec \"{}\" --no-intro=true "
                        "--test-case=\"chaos under netem*\" --success=false'",
                        netem_setup, netns_variable, std::string(self, static_cast<std::size_t>(length))));
  MESSAGE(run.output);
  CHECK(run.status == 0);
}
