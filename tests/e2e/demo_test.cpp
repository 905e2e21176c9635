// `medgate demo`, the README's main command, run as a user runs it: the portal server, and the terminal
// scenario (--console).
#include <doctest/doctest.h>
#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "medgate/config.hpp"
#include "program.hpp"

using medgate::testing::run_medgate;
using medgate::testing::running_program;
using medgate::testing::scratch_dir;
using json = nlohmann::json;

namespace {

/// Small stand-ins for the portal, the WebAssembly package and the data the demo serves.
struct portal_files {
  scratch_dir root;
  portal_files() {
    root.write("web/index.html", "<!doctype html><title>medgate demo portal</title>");
    root.write("web/app.mjs", "export const app = 1;");
    root.write("wasm/x.wasm", std::string{"\0asm\1\0\0\0", 8});
    root.write("wasm/medgate.mjs", "export default function createMedgate() {}");
    root.write("wasm/cmake_install.cmake", "# CMake's file in the build folder");
    root.write("wasm/CMakeFiles/medgate_wasm.dir/link.txt", "em++ ...");
    root.write("web/.env", "SECRET=1");
    root.write("lexicons/phi.mglex", "lexicon");
    root.write("vocabularies/cl100k_base.mgtok", "vocabulary");
  }
  [[nodiscard]] std::vector<std::string> arguments() const {
    return {"demo",
            "--port",
            "0",
            "--web",
            root / "web",
            "--wasm",
            root / "wasm",
            "--lexicons",
            root / "lexicons",
            "--vocabularies",
            root / "vocabularies"};
  }
};

std::string chat_body(std::string_view model) {
  return json{{"model", model}, {"messages", {{{"role", "user"}, {"content", "Summarize the ward round."}}}}}.dump();
}

}  // namespace

TEST_CASE("medgate demo serves the portal, its package, its engine configuration and the providers") {
  portal_files files;
  running_program demo{files.arguments()};
  std::string const banner = demo.read_until("(Ctrl-C stops)");
  INFO(banner);
  REQUIRE(banner.find("(Ctrl-C stops)") != std::string::npos);
  auto const url_at = banner.find("open http://127.0.0.1:");
  REQUIRE(url_at != std::string::npos);
  int const port = std::stoi(banner.substr(url_at + 22));
  CHECK(banner.find(fmt::format("medgate demo: open http://127.0.0.1:{}/ in a browser (Ctrl-C stops)", port)) !=
        std::string::npos);

  httplib::Client c{"127.0.0.1", port};
  c.set_read_timeout(std::chrono::seconds{10});
  auto r = c.Get("/");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.find("medgate demo portal") != std::string::npos);
  CHECK(r->get_header_value("Content-Type").starts_with("text/html"));
  r = c.Get("/app.mjs");
  REQUIRE(r);
  CHECK(r->get_header_value("Content-Type") == "text/javascript");
  r = c.Get("/medgate/x.wasm");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/wasm");
  CHECK(r->body == std::string{"\0asm\1\0\0\0", 8});
  for (auto const* hidden :
       {"/medgate/cmake_install.cmake", "/medgate/CMakeFiles/medgate_wasm.dir/link.txt", "/.env"}) {
    CAPTURE(hidden);
    r = c.Get(hidden);
    REQUIRE(r);
    CHECK(r->status == 404);  // only what a browser needs is served from the folders
  }
  r = c.Get("/lexicons/phi.mglex");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/octet-stream");
  r = c.Get("/vocabularies/cl100k_base.mgtok");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "vocabulary");

  // The engine configuration: what `medgate serve` reads, pointing at this very port.
  r = c.Get("/demo/config.json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  CHECK(r->get_header_value("Access-Control-Allow-Origin") == "*");
  auto const options = medgate::parse_config(r->body);
  REQUIRE_MESSAGE(options.ok(), (options.ok() ? std::string{} : options.error_message()));
  REQUIRE(options->routing.providers.size() == 3);
  for (auto const& p : options->routing.providers)
    CHECK(p.base_url == fmt::format("http://127.0.0.1:{}/{}/v1", port, p.name));
  REQUIRE(options->routing.routes.size() == 1);
  auto const& route = options->routing.routes[0];
  CHECK(route.name == "clinical-summary");
  REQUIRE(route.chain.size() == 2);
  CHECK(route.chain[0].provider == "primary");
  CHECK(route.chain[1].provider == "fallback");
  REQUIRE(route.canary.has_value());
  CHECK(route.canary->chain[0].provider == "canary");
  CHECK(route.canary->options.basis_points == 2000);
  CHECK(options->routing.providers[0].breaker.consecutive_failures == 3);
  CHECK(options->record_decisions);

  r = c.Get("/demo/info.json");
  REQUIRE(r);
  json const info = json::parse(r->body);
  CHECK(info["providers"] == json::array({"primary", "fallback", "canary"}));
  CHECK(info["presets"].size() >= 2);
  CHECK(info["version"].is_string());

  // Each provider answers a chat completion at the base URL the configuration names.
  for (auto const& p : options->routing.providers) {
    CAPTURE(p.name);
    r = c.Post(fmt::format("/{}/v1/chat/completions", p.name), chat_body("gpt-4o-mini"), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["choices"][0]["message"]["content"].is_string());
  }
  // The page breaks and heals providers through the admin endpoint.
  r = c.Put("/admin/providers/primary/faults", R"({"preset": "down"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(c.Post("/primary/v1/chat/completions", chat_body("gpt-4o-mini"), "application/json")->status == 503);

  c.stop();
  REQUIRE(demo.signal(SIGTERM));
  CHECK(demo.wait_exit() == 0);
}

TEST_CASE("medgate demo names a missing folder and how to make it") {
  portal_files files;
  auto arguments = files.arguments();
  std::string command;
  for (auto& a : arguments) {
    if (a == files.root / "wasm") a = files.root / "no-wasm-here";
    command += " '" + a + "'";
  }
  auto run = run_medgate(command);
  CHECK(run.exit_code == 2);
  CHECK(run.err.find(files.root / "no-wasm-here") != std::string::npos);
  CHECK(run.err.find("cmake --preset wasm && cmake --build --preset wasm --target medgate_wasm") != std::string::npos);

  run = run_medgate(fmt::format("demo --port 0 --web '{}'", files.root / "no-web-here"));
  CHECK(run.exit_code == 2);
  CHECK(run.err.find(files.root / "no-web-here") != std::string::npos);
  CHECK(run.err.find("--web DIR") != std::string::npos);

  run = run_medgate(fmt::format("demo --port 0 --web '{}' --wasm '{}' --lexicons '{}'", files.root / "web",
                                files.root / "wasm", files.root / "web"));
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("phi.mglex") != std::string::npos);
  CHECK(run.err.find("medgate_lexicon_data") != std::string::npos);
}

TEST_CASE("medgate demo refuses bad options with a message") {
  auto run = run_medgate("demo --port lots");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("--port must be a number from 0 to 65535, got 'lots'") != std::string::npos);
  run = run_medgate("demo --rate 5");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("--rate is an option of the terminal scenario: medgate demo --console --rate") !=
        std::string::npos);
  run = run_medgate("demo --console --rate lots");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("--rate needs a whole number from 1 to 500") != std::string::npos);
  run = run_medgate("demo --help");
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("--wasm DIR") != std::string::npos);
}

TEST_CASE("medgate demo --console plays the scenario and every call ends by its deadline") {
  auto const run = run_medgate("demo --console --seconds 8 --rate 10 --no-color");
  INFO(run.out);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  for (auto phase : {"healthy", "slow", "failing", "recovered"}) CHECK(run.out.find(phase) != std::string::npos);
  // The slow primary trips its breaker; the fallback answers meanwhile.
  CHECK(run.out.find("primary breaker closed -> open") != std::string::npos);
  // With a healthy fallback every call is answered: "N calls: N answered".
  auto const summary = run.out.find(" calls: ");
  REQUIRE(summary != std::string::npos);
  auto const line_start = run.out.rfind('\n', summary) + 1;
  int calls = 0;
  int answered = 0;
  REQUIRE(std::sscanf(run.out.c_str() + line_start, "%d calls: %d answered", &calls, &answered) == 2);
  CHECK(calls >= 70);  // 10 calls/s for 8 s, less any a loaded machine started late
  CHECK(answered == calls);
  CHECK(run.out.find("Every call ended by its deadline: yes") != std::string::npos);
}
