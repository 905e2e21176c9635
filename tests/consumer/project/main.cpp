// A consumer of medgate: builds an engine and a transport driver, and runs one call
// against a closed port to prove the headers and libraries link and work.
#include <cstdio>

#include <medgate/config.hpp>
#include <medgate/engine.hpp>

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
  std::printf("consumer: %d send effect(s)\n", sends);
  return sends == 1 ? 0 : 1;
}
