#include "medgate/route.hpp"

#include <doctest/doctest.h>

using namespace medgate;

namespace {

route_options two() {
  route_options r;
  r.providers = {{"primary", "https://api.example.test/v1/", "KEY_ONE", {"gpt-4o-mini", "gpt-4o"}},
                 {"fallback", "http://127.0.0.1:8900/fallback/v1", "", {"gpt-4o-mini"}},
                 {"anything", "http://127.0.0.1:8900/any/v1", "", {}}};
  r.routes = {{"clinical-summary", {{"primary", "gpt-4o"}, {"fallback", "gpt-4o-mini"}}}};
  return r;
}

}  // namespace

TEST_CASE("a route alias resolves to its chain in order") {
  auto chain = two().resolve("clinical-summary");
  REQUIRE(chain.size() == 2);
  CHECK(chain[0].provider == "primary");
  CHECK(chain[0].model == "gpt-4o");
  CHECK(chain[1].provider == "fallback");
}

TEST_CASE("a plain model name resolves to every provider serving it, in configuration order") {
  auto chain = two().resolve("gpt-4o-mini");
  REQUIRE(chain.size() == 3);  // primary and fallback list it; "anything" serves every model
  CHECK(chain[0].provider == "primary");
  CHECK(chain[1].provider == "fallback");
  CHECK(chain[2].provider == "anything");
  auto only_any = two().resolve("llama-3");
  REQUIRE(only_any.size() == 1);
  CHECK(only_any[0].provider == "anything");
}

TEST_CASE("the chat URL joins the base URL without doubling slashes") {
  auto r = two();
  CHECK(r.providers[0].chat_url() == "https://api.example.test/v1/chat/completions");
  CHECK(r.providers[1].chat_url() == "http://127.0.0.1:8900/fallback/v1/chat/completions");
}

TEST_CASE("validation names the bad field") {
  CHECK_FALSE(two().validate());
  auto r = two();
  r.providers[1].name = "primary";
  CHECK(r.validate()->to_string() == "providers[1].name duplicates providers[0].name \"primary\"");
  r = two();
  r.providers[0].base_url = "ftp://x";
  CHECK(r.validate()->to_string() == "providers[0].base_url must start with http:// or https://");
  r = two();
  r.routes[0].chain[1].provider = "fallbak";
  CHECK(r.validate()->to_string() == "routes[0].chain[1] names unknown provider \"fallbak\"");
  r = two();
  r.routes[0].chain[1].model = "gpt-4o";
  CHECK(r.validate()->to_string() == "routes[0].chain[1] model \"gpt-4o\" is not among provider \"fallback\"'s models");
  r = two();
  r.routes[0].chain.clear();
  CHECK(r.validate()->to_string() == "routes[0].chain must list at least one provider/model target");
  r = two();
  r.providers[0].connect_timeout = duration{0};
  CHECK(r.validate()->to_string() == "providers[0].connect_timeout_ms must be > 0, got 0ms");
  r = two();
  r.providers[0].breaker.window_size = 0;
  CHECK(r.validate()->field.starts_with("providers[0].breaker."));
  CHECK(route_options{}.validate()->to_string() == "providers must name at least one provider");
}
