// A consumer of medgate: builds an engine and a transport driver, to prove the
// installed (or add_subdirectory) headers and libraries compile, link and work.
#include <cstdio>

#include <medgate/config.hpp>
#include <medgate/engine.hpp>
#include <medgate/transport/httplib.hpp>

int main() {
  auto options = medgate::parse_config(R"({"providers": [{"name": "p", "base_url": "http://127.0.0.1:9/v1"}]})");
  if (!options) {
    std::fprintf(stderr, "%s\n", options.error_message().c_str());
    return 1;
  }
  medgate::engine eng{*options, medgate::seed{7}};
  eng.submit({medgate::openai::make_chat_request("gpt-4o-mini", {{"user", "hi"}}), std::nullopt}, medgate::instant{});
  int sends = 0;
  while (auto e = eng.poll(medgate::instant{}))
    if (std::holds_alternative<medgate::send>(*e)) ++sends;
  // The native transport links too: a driver starts and stops its threads.
  auto driver = medgate::transport::httplib_driver::create(*options, medgate::seed{7});
  if (!driver) {
    std::fprintf(stderr, "%s\n", driver.error_message().c_str());
    return 1;
  }
  std::printf("consumer: %d send effect(s)\n", sends);
  return sends == 1 ? 0 : 1;
}
