// serve.cpp — `medgate serve`: the OpenAI-compatible sidecar (native/gateway.hpp) as a program.
//
// SIGINT or SIGTERM (stop_signals.hpp) stops it: the gateway stops accepting
// and lets the calls in flight finish. SIGHUP reloads the config file: the
// engine's sections take effect at once, with no call dropped (see
// gateway::server::reload); a changed gateway section is reported, as it takes
// a restart (the listener, its workers and the audit file are already open).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "arguments.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "gateway.hpp"
#include "medgate/config.hpp"
#include "phi_data.hpp"
#include "stop_signals.hpp"
#include "token_data.hpp"

namespace medgate::cli {

namespace {

constexpr std::string_view serve_usage =
    "usage: medgate serve [options]\n"
    "\n"
    "An OpenAI-compatible gateway: point a client's base URL at http://HOST:PORT/v1 and every\n"
    "call goes through the engine's policies. Clients authenticate with the gateway token,\n"
    "read from the environment variable named by --token-env, as `Authorization: Bearer TOKEN`.\n"
    "\n"
    "options:\n"
    "  --config FILE          engine configuration (JSON); default: the built-in demo\n"
    "                         (providers primary and fallback on the simulator at 127.0.0.1:8900)\n"
    "  --listen HOST:PORT     where to listen (default 127.0.0.1:8080; port 0 picks a free one)\n"
    "  --token-env NAME       environment variable holding the gateway token, at least 16\n"
    "                         characters (default MEDGATE_GATEWAY_TOKEN)\n"
    "  --admin-token-env NAME environment variable holding the admin token for /admin (status,\n"
    "                         reviews), at least 16 characters and not the gateway token\n"
    "                         (default MEDGATE_ADMIN_TOKEN; unset: /admin answers 403)\n"
    "  --max-body-bytes N     largest request body accepted (default 4194304)\n"
    "  --threads N            calls in progress at once, each on its own worker (default 256)\n"
    "  --audit FILE           append each call's hash-chained audit record to FILE (JSONL;\n"
    "                         `medgate audit verify FILE` checks it)\n"
    "\n"
    "signals: SIGINT or SIGTERM finish the calls in flight and stop; SIGHUP reloads the config file\n"
    "  (providers, routes, policies, budgets; calls in flight go on; a bad file is refused and the\n"
    "  running configuration kept) and reads API key files again\n"
    "\n"
    "endpoints: POST /v1/chat/completions, GET /v1/models, GET /v1/medgate/reviews/CALL,\n"
    "  GET /livez, GET /readyz, GET /metrics, GET /admin/status, GET /admin/reviews,\n"
    "  POST /admin/reviews/CALL\n"
    "request headers: X-Medgate-Patient, X-Medgate-Priority (urgent|normal|batch), X-Medgate-Tenant,\n"
    "  Idempotency-Key, X-Medgate-Deadline-Ms, X-Request-Id (or the body's metadata: patient,\n"
    "  priority, tenant, idempotency_key, deadline_ms, request_id)\n"
    "response headers: X-Medgate-Target (provider/model), X-Medgate-Attempts, X-Medgate-Review\n";

struct serve_arguments {
  std::optional<std::string> config_path;
  gateway::gateway_options gateway;
  std::string token_env = "MEDGATE_GATEWAY_TOKEN";
  std::string admin_token_env = "MEDGATE_ADMIN_TOKEN";
  bool help = false;
};

/// "HOST:PORT" (an IPv6 host in brackets) into the options; an error says what is wrong with `what`.
std::optional<std::string> set_listen(std::string const& v, std::string_view what, gateway::gateway_options& out) {
  auto const colon = v.rfind(':');
  auto const port = colon == std::string::npos ? std::nullopt : parse_integer<int>(v.substr(colon + 1));
  if (!port || colon == 0 || *port < 0 || *port > 65535)
    return fmt::format("{} must be HOST:PORT with a port from 0 to 65535, got \"{}\"", what, v);
  std::string host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  out.host = std::move(host);
  out.port = *port;
  return std::nullopt;
}

/// The config file's "gateway" section (its other sections are the engine's) over `out`; errors name the field.
std::optional<std::string> read_gateway_section(std::string const& path, serve_arguments& out) {
  auto text = read_file(path);
  if (!text) return text.error_message();
  auto const document = nlohmann::json::parse(*text, nullptr, false);  // parse_config has checked it already
  auto const section = document.is_object() ? document.find("gateway") : document.end();
  if (!document.is_object() || section == document.end()) return std::nullopt;
  auto const whole_number = [](nlohmann::json const& v) -> std::optional<std::int64_t> {
    if (v.is_number_integer()) return v.get<std::int64_t>();
    return std::nullopt;
  };
  for (auto const& [key, value] : section->items()) {
    if (key.starts_with("//")) continue;
    auto const at = fmt::format("{}: config: gateway.{}", path, key);
    if (key == "listen" || key == "token_env" || key == "admin_token_env" || key == "audit") {
      if (!value.is_string() || value.get_ref<std::string const&>().empty())
        return fmt::format("{} must be a non-empty string", at);
      auto const& v = value.get_ref<std::string const&>();
      if (key == "listen") {
        if (auto bad = set_listen(v, at, out.gateway)) return bad;
      } else if (key == "audit") {
        out.gateway.audit_path = v;
      } else {
        (key == "token_env" ? out.token_env : out.admin_token_env) = v;
      }
    } else if (key == "max_body_bytes") {
      auto const n = whole_number(value);
      if (!n || *n < 1024) return fmt::format("{} must be a whole number of bytes, at least 1024", at);
      out.gateway.max_body_bytes = static_cast<std::size_t>(*n);
    } else if (key == "threads") {
      auto const n = whole_number(value);
      if (!n || *n < 1 || *n > 1024) return fmt::format("{} must be a whole number from 1 to 1024", at);
      out.gateway.threads = static_cast<int>(*n);
    } else {
      return fmt::format(
          "{}: config: unknown field gateway.{} (known: listen, token_env, admin_token_env, "
          "max_body_bytes, threads, audit)",
          path, key);
    }
  }
  return std::nullopt;
}

/// The options given on the command line, over `out` (the defaults, or the config file's).
result<serve_arguments> parse_arguments(args a, serve_arguments out = {});

/// The config file's gateway section (if any) under the command line, the way `medgate serve` starts.
result<serve_arguments> with_gateway_section(args a, serve_arguments const& from_command_line) {
  if (!from_command_line.config_path) return from_command_line;
  serve_arguments from_file;
  if (auto bad = read_gateway_section(*from_command_line.config_path, from_file)) return error{*bad};
  return parse_arguments(a, std::move(from_file));
}

/// Settings of the gateway section that differ between `running` and `reread`: they take a restart.
std::vector<std::string_view> needing_restart(serve_arguments const& running, serve_arguments const& reread) {
  auto const& [a, b] = std::tie(running.gateway, reread.gateway);
  std::vector<std::string_view> changed;
  if (a.host != b.host || a.port != b.port) changed.push_back("listen");
  if (running.token_env != reread.token_env) changed.push_back("token_env");
  if (running.admin_token_env != reread.admin_token_env) changed.push_back("admin_token_env");
  if (a.max_body_bytes != b.max_body_bytes) changed.push_back("max_body_bytes");
  if (a.threads != b.threads) changed.push_back("threads");
  if (a.audit_path != b.audit_path) changed.push_back("audit");
  return changed;
}

/// SIGHUP: the config file read again and given to the gateway; what happened goes to stderr.
void reload(args a, serve_arguments const& running, gateway::server& gw) {
  std::string const source = running.config_path.value_or("the built-in demo configuration");
  if (auto failed = gw.reload(load_engine_options(running.config_path))) {
    fmt::print(stderr, "medgate serve: reload refused, still serving the previous configuration: {}\n", *failed);
    return;
  }
  fmt::print(stderr, "medgate serve: reloaded {}; calls in flight go on\n", source);
  auto reread = with_gateway_section(a, running);
  if (!reread) {
    fmt::print(stderr, "medgate serve: {} (the gateway section takes a restart anyway)\n", reread.error_message());
    return;
  }
  for (auto const field : needing_restart(running, *reread))
    fmt::print(stderr, "medgate serve: gateway.{} changed in {}: restart medgate serve to apply it\n", field, source);
}

result<serve_arguments> parse_arguments(args a, serve_arguments out) {
  option_cursor in{a};
  if (auto e = in.each_valued(out.help, [&](std::string_view name, std::string* v) -> std::optional<error> {
        if (name == "--config") {
          out.config_path = std::move(*v);
        } else if (name == "--listen") {
          if (auto bad = set_listen(*v, "--listen", out.gateway)) return error{*bad};
        } else if (name == "--audit") {
          if (v->empty()) return error{"--audit must name a file"};
          out.gateway.audit_path = std::move(*v);
        } else if (name == "--token-env") {
          if (v->empty()) return error{"--token-env must name an environment variable"};
          out.token_env = std::move(*v);
        } else if (name == "--admin-token-env") {
          if (v->empty()) return error{"--admin-token-env must name an environment variable"};
          out.admin_token_env = std::move(*v);
        } else if (name == "--max-body-bytes") {
          auto const n = parse_integer<std::size_t>(*v);
          if (!n) return error{fmt::format("--max-body-bytes must be a whole number, got \"{}\"", *v)};
          out.gateway.max_body_bytes = *n;
        } else if (name == "--threads") {
          auto const n = parse_integer<int>(*v);
          if (!n) return error{fmt::format("--threads must be a whole number, got \"{}\"", *v)};
          out.gateway.threads = *n;
        } else {
          return error{fmt::format("unknown option {}", name)};
        }
        return std::nullopt;
      }))
    return *e;
  return out;
}

}  // namespace

int run_serve(args a) {
  auto parsed = parse_arguments(a);
  if (!parsed) {
    fmt::print(stderr, "medgate serve: {}\n(`medgate serve --help` lists the options)\n", parsed.error_message());
    return 2;
  }
  auto& arguments = *parsed;
  if (arguments.help) {
    std::fwrite(serve_usage.data(), 1, serve_usage.size(), stdout);
    return 0;
  }
  auto options = load_engine_options(arguments.config_path);
  if (!options) {
    fmt::print(stderr, "medgate serve: {}\n", options.error_message());
    return 2;
  }
  if (auto settled = with_gateway_section(a, arguments); settled) {
    arguments = std::move(*settled);
  } else {
    fmt::print(stderr, "medgate serve: {}\n", settled.error_message());
    return 2;
  }

  char const* token = std::getenv(arguments.token_env.c_str());
  if (token == nullptr || *token == '\0') {
    fmt::print(stderr, "medgate serve: set the gateway token in {} (clients send it as Authorization: Bearer)\n",
               arguments.token_env);
    return 2;
  }
  arguments.gateway.token = token;
  if (char const* admin = std::getenv(arguments.admin_token_env.c_str()); admin != nullptr && *admin != '\0')
    arguments.gateway.admin_token = admin;
  else
    fmt::print(stderr, "medgate serve: no admin token in {}: /admin is off\n", arguments.admin_token_env);

  stop_signals signals{true};
  transport::httplib_options transport;
  transport.token_counters = token_counters("medgate serve");
  if (options->phi.enabled) {
    auto lexicon = load_lexicon();
    if (lexicon)
      transport.phi_lexicon = std::make_shared<phi::lexicon const>(std::move(*lexicon));
    else
      fmt::print(stderr, "medgate serve: the protect step finds names and places by their cues only: {}\n",
                 lexicon.error_message());
  }
  auto gw = gateway::server::create(std::move(*options), arguments.gateway, std::move(transport));
  if (!gw) {
    fmt::print(stderr, "medgate serve: {}\n", gw.error_message());
    return 2;
  }
  auto const port = (*gw)->start();
  if (!port) {
    fmt::print(stderr, "medgate serve: {}\n", port.error_message());
    return 1;
  }
  fmt::print("medgate serve: OpenAI-compatible gateway at {} (token from {}); Ctrl-C stops.\n", (*gw)->base_url(),
             arguments.token_env);
  std::fflush(stdout);

  int received = signals.wait();
  for (; received == SIGHUP; received = signals.wait()) reload(a, arguments, **gw);
  fmt::print(stderr, "medgate serve: {}, finishing the calls in flight\n",
             received == SIGINT ? "interrupted" : "terminated");
  (*gw)->stop();
  return 0;
}

}  // namespace medgate::cli
