// alerts_test.cpp — alert webhooks end to end: the gateway and `medgate batch` raise incidents from real traffic
// to the simulator, and POST them to a real HTTP receiver on loopback that sometimes fails.
//
// The claims under test: each incident arrives once (a receiver's 500 is
// retried with the same Idempotency-Key, and only one POST per incident and
// state is ever accepted); a breaker that opens and then closes gives one
// firing and one resolved notification; budget thresholds crossed by a batch
// run arrive once each in Slack's shape; the webhook URL (which holds a
// secret), its token and the canary values in the prompts never appear in a
// body or a log line.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "gateway.hpp"
#include "medgate/config.hpp"
#include "program.hpp"
#include "simulator.hpp"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using medgate::testing::scratch_dir;

constexpr std::string_view canary = "CANARY-Ximena-Quetzalcoatl";
constexpr std::string_view url_secret = "zzHOOKSECRETzz";
constexpr char const* hook_token = "hook-token-0123456789-abcdef";
constexpr char const* gateway_token = "gateway-token-for-tests-0001";

/// A webhook receiver: answers 500 to the first `fail_first` POSTs, then 200; keeps every POST.
class receiver {
 public:
  struct post {
    std::string id, attempt, authorization, body;
    int answered = 0;
  };

  explicit receiver(int fail_first) : fail_first_{fail_first} {
    server_.Post(fmt::format("/hooks/{}", url_secret), [this](httplib::Request const& req, httplib::Response& res) {
      std::lock_guard lock{mutex_};
      int const status = static_cast<int>(posts_.size()) < fail_first_ ? 500 : 200;
      posts_.push_back({req.get_header_value("Idempotency-Key"), req.get_header_value("X-Medgate-Attempt"),
                        req.get_header_value("Authorization"), req.body, status});
      res.status = status;
      res.set_content(status == 200 ? "ok" : "try again", "text/plain");
      arrived_.notify_all();
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread{[this] { server_.listen_after_bind(); }};
  }
  ~receiver() {
    server_.stop();
    thread_.join();
  }
  receiver(receiver const&) = delete;
  receiver& operator=(receiver const&) = delete;

  [[nodiscard]] std::string url() const { return fmt::format("http://127.0.0.1:{}/hooks/{}", port_, url_secret); }

  /// Waits until some accepted POST has id `id`; false after `patience`.
  bool wait_accepted(std::string const& id, std::chrono::milliseconds patience) {
    std::unique_lock lock{mutex_};
    return arrived_.wait_for(lock, patience, [&] {
      for (auto const& p : posts_)
        if (p.id == id && p.answered == 200) return true;
      return false;
    });
  }

  [[nodiscard]] std::vector<post> posts() const {
    std::lock_guard lock{mutex_};
    return posts_;
  }

  /// Accepted POSTs per notification id.
  [[nodiscard]] std::map<std::string, int> accepted() const {
    std::map<std::string, int> out;
    for (auto const& p : posts())
      if (p.answered == 200) ++out[p.id];
    return out;
  }

 private:
  int fail_first_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<post> posts_;
};

/// Sends this process's stderr to a file while alive; `text()` reads what was written.
class stderr_capture {
 public:
  explicit stderr_capture(std::string path) : path_{std::move(path)} {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    int const fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~stderr_capture() { restore(); }
  stderr_capture(stderr_capture const&) = delete;
  stderr_capture& operator=(stderr_capture const&) = delete;

  std::string text() {
    restore();
    std::ifstream in{path_};
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

std::string ask(std::size_t i) {
  return json{{"model", "clinical-summary"},
              {"messages",
               {{{"role", "user"}, {"content", fmt::format("Summarize visit {} of {}, MRN {}", i, canary, canary)}}}}}
      .dump();
}

void check_clean(std::string const& text) {
  CHECK(text.find(canary) == std::string::npos);
  CHECK(text.find(url_secret) == std::string::npos);
  CHECK(text.find(hook_token) == std::string::npos);
}

}  // namespace

TEST_CASE("alerts: a breaker that opens and closes gives one firing and one resolved webhook, retried through 500s") {
  ::setenv("MEDGATE_TEST_HOOK_TOKEN", hook_token, 1);
  scratch_dir dir;
  receiver hook{2};  // the first two POSTs fail
  medgate::sim::simulator sim{{.host = "127.0.0.1", .port = 0, .providers = {{"primary"}, {"fallback"}}, .seed = 5}};
  REQUIRE(sim.start().ok());

  auto options = medgate::default_options();
  for (auto& p : options.routing.providers) {
    p.base_url = sim.base_url(p.name);
    p.breaker.consecutive_failures = 3;
    p.breaker.open_duration = 300ms;
    p.breaker.half_open_probes = 1;
    p.breaker.half_open_successes = 1;
  }
  options.retry.max_attempts_per_target = 1;
  options.alerts.webhooks = {
      {"oncall", hook.url(), "", medgate::alerts::payload_format::json, "MEDGATE_TEST_HOOK_TOKEN", 5s}};
  options.alerts.delivery.base = 50ms;
  options.alerts.resolve_after = 300ms;
  options.alerts.burn_rate.enabled = false;

  stderr_capture log{(dir / "gateway.stderr")};
  {
    auto gw = medgate::gateway::server::create(
        std::move(options), {.host = "127.0.0.1", .port = 0, .token = gateway_token}, {}, medgate::seed{9});
    REQUIRE_MESSAGE(gw.ok(), (gw.ok() ? "" : gw.error_message()));
    auto const port = (*gw)->start();
    REQUIRE(port.ok());
    httplib::Client client{"127.0.0.1", *port};
    client.set_read_timeout(20, 0);
    auto const chat = [&](std::size_t i) {
      auto r = client.Post("/v1/chat/completions", {{"Authorization", fmt::format("Bearer {}", gateway_token)}}, ask(i),
                           "application/json");
      REQUIRE(r);
      CHECK(r->status == 200);  // the fallback answers while primary is down
    };

    REQUIRE(sim.set_faults("primary", *medgate::sim::parse_fault_profile(R"({"errors": {"500": 1.0}})")));
    for (std::size_t i = 0; i < 6; ++i) chat(i);
    REQUIRE(hook.wait_accepted("breaker_open/primary#1/firing", 10s));

    REQUIRE(sim.set_faults("primary", medgate::sim::fault_profile{}));
    std::this_thread::sleep_for(400ms);  // past open_duration: the next call is the half-open trial
    for (std::size_t i = 6; i < 12; ++i) chat(i);
    REQUIRE(hook.wait_accepted("breaker_open/primary#1/resolved", 10s));
    std::this_thread::sleep_for(300ms);  // time for a duplicate, if one were coming
  }
  auto const stderr_text = log.text();

  auto const accepted = hook.accepted();
  CHECK(accepted ==
        std::map<std::string, int>{{"breaker_open/primary#1/firing", 1}, {"breaker_open/primary#1/resolved", 1}});
  auto const posts = hook.posts();
  REQUIRE(posts.size() == 4);  // 500, 500, 200 for the firing; 200 for the resolved
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(posts[i].id == "breaker_open/primary#1/firing");
    CHECK(posts[i].attempt == std::to_string(i + 1));
  }
  for (auto const& p : posts) {
    CHECK(p.authorization == fmt::format("Bearer {}", hook_token));
    check_clean(p.body);
    auto const body = json::parse(p.body);
    CHECK(body["id"] == p.id);
    CHECK(body["rule"] == "breaker_open");
    CHECK(body["labels"]["provider"] == "primary");
    CHECK(body["source"] == "medgate serve");
  }
  CHECK(json::parse(posts[3].body)["status"] == "resolved");

  INFO(stderr_text);
  CHECK(stderr_text.find("alert breaker_open/primary#1/firing to oncall: HTTP 500, will retry (attempt 1 of 8)") !=
        std::string::npos);
  CHECK(stderr_text.find("alert breaker_open/primary#1/firing delivered to oncall") != std::string::npos);
  check_clean(stderr_text);
}

TEST_CASE("alerts: a batch run's budget thresholds arrive once each, in Slack's shape, and bad webhooks stop it") {
  scratch_dir dir;
  receiver hook{1};
  medgate::sim::simulator sim{{.host = "127.0.0.1", .port = 0, .providers = {{"primary"}}, .seed = 3}};
  REQUIRE(sim.start().ok());

  auto config = [&](json hook_fields) {
    return json{
        {"providers", {{{"name", "primary"}, {"base_url", sim.base_url("primary")}, {"models", {"gpt-4o-mini"}}}}},
        {"routes", {{"clinical-summary", {"primary/gpt-4o-mini"}}}},
        {"budgets", {{"tenants", {{"oncology", {{"daily_tokens", 100000}}}}}}},
        {"alerts",
         {{"webhooks", {std::move(hook_fields)}},
          {"delivery", {{"base_ms", 50}}},
          // Only the budget rule: one slow attempt on a loaded machine must not add a burn-rate page.
          {"burn_rate", {{"enabled", false}}},
          {"breaker_open", false},
          {"budget", {{"thresholds", {0.001, 0.002}}}}}}}
        .dump(2);
  };
  std::string input;
  for (std::size_t i = 0; i < 40; ++i)
    input +=
        json{{"id", fmt::format("item-{}", i)},
             {"tenant", "oncology"},
             {"request",
              {{"model", "clinical-summary"},
               {"max_tokens", 50},
               {"messages", {{{"role", "user"}, {"content", fmt::format("Summarize visit {} of {}", i, canary)}}}}}}}
            .dump() +
        "\n";
  dir.write("in.jsonl", input);
  ::setenv("MEDGATE_TEST_HOOK_URL", hook.url().c_str(), 1);
  dir.write("medgate.json", config({{"name", "team"}, {"url_env", "MEDGATE_TEST_HOOK_URL"}, {"format", "slack"}}));

  auto const run = medgate::testing::run_medgate(fmt::format(
      "batch --config {} --in {} --out {}", (dir / "medgate.json"), (dir / "in.jsonl"), (dir / "out.jsonl")));
  INFO(run.out);
  INFO(run.err);
  CHECK(run.exit_code == 0);
  auto const day = std::chrono::duration_cast<std::chrono::days>(std::chrono::system_clock::now().time_since_epoch())
                       .count();  // a run across midnight UTC would name the next day: not in CI's minutes
  CHECK(hook.accepted() ==
        std::map<std::string, int>{{fmt::format("budget/oncology/tokens/0.1%/{}#1/firing", day), 1},
                                   {fmt::format("budget/oncology/tokens/0.2%/{}#1/firing", day), 1}});
  for (auto const& p : hook.posts()) {
    check_clean(p.body);
    auto const body = json::parse(p.body);
    CHECK(body["text"].get<std::string>().starts_with(":rotating_light: [FIRING] tenant oncology has used "));
    CHECK(body["blocks"].size() == 2);
    CHECK(p.authorization.empty());
  }
  CHECK(run.out.find("alerts:    2 delivered, 1 retried, 0 given up, 0 refused by the receiver") != std::string::npos);
  check_clean(run.out);
  check_clean(run.err);

  // A webhook whose URL variable is unset: the run does not start, and says which webhook and variable.
  dir.write("unset.json", config({{"name", "team"}, {"url_env", "MEDGATE_TEST_HOOK_URL_UNSET"}}));
  auto const refused = medgate::testing::run_medgate(fmt::format(
      "batch --config {} --in {} --out {}", (dir / "unset.json"), (dir / "in.jsonl"), (dir / "out2.jsonl")));
  CHECK(refused.exit_code == 2);
  CHECK(refused.err ==
        "medgate batch: alerts: webhook team: the environment variable MEDGATE_TEST_HOOK_URL_UNSET (url_env) is not "
        "set\n");
}
