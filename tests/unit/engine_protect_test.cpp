// engine_protect_test.cpp — the engine's protect step (phi.enabled): what providers receive carries no PHI,
// the caller's answer is rehydrated, a stream with PHI in it is not relayed raw, and the audit and decisions
// count what was found without quoting it.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "medgate/config.hpp"
#include "medgate/engine.hpp"

using namespace medgate;

namespace {

engine_options opts(std::string_view phi) {
  auto o = parse_config(fmt::format(R"({{
    "providers": [{{"name": "primary", "base_url": "http://127.0.0.1:1/primary/v1", "models": ["m"]}}],
    "routes": {{"r": ["primary/m"]}},
    "phi": {}
  }})",
                                    phi));
  if (!o.ok()) FAIL(o.error_message());
  REQUIRE(o.ok());
  o->patient_key_secret = "secret";
  return *o;
}

struct run {
  engine eng;
  instant now{};
  std::vector<audit> audits;
  std::vector<std::string> decisions;
  std::optional<send> last;
  std::optional<done> finished;

  explicit run(std::string_view phi) : eng{opts(phi), seed{1}} {}
  void drain() {
    while (auto e = eng.poll(now)) {
      if (auto* a = std::get_if<audit>(&*e)) audits.push_back(*a);
      if (auto* s = std::get_if<send>(&*e)) last = *s;
      if (auto* d = std::get_if<decision>(&*e)) decisions.push_back(d->text);
      if (auto* d = std::get_if<done>(&*e)) finished = *d;
    }
  }
  /// What the provider was sent as the user's message.
  std::string sent_user_text() const {
    auto const body = nlohmann::json::parse(last->body);
    return body["messages"][0]["content"].get<std::string>();
  }
  /// Answers the last attempt with `text` as the assistant's message.
  void answer(std::string const& text) {
    http_response resp;
    resp.status = 200;
    resp.body =
        nlohmann::json{
            {"id", "x"},
            {"object", "chat.completion"},
            {"created", 1},
            {"model", "m"},
            {"choices",
             {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"finish_reason", "stop"}}}}}
            .dump();
    eng.on_response(last->attempt, resp, now);
    drain();
  }
};

constexpr std::string_view note =
    "Pt seen by Dr. Okafor on 3/4/21, MRN 00123456, call (617) 555-0134. Lives with her daughter Maria.";

call_request request(std::string_view text, bool stream = false) {
  call_request r;
  r.chat = openai::make_chat_request("r", {{"user", std::string{text}}});
  r.chat.stream = stream;
  r.relay_stream = stream;
  r.patient_key = "MRN-00123456";
  return r;
}

}  // namespace

TEST_CASE("with the protect step on, no PHI of the prompt reaches the provider, and the answer comes back whole") {
  run r{R"({"enabled": true, "modes": {"NAME": "pseudonymize", "DATE": "shift"}})"};
  r.eng.submit(request(note), r.now);
  r.drain();
  REQUIRE(r.last.has_value());
  auto const sent = r.sent_user_text();
  for (std::string_view phi : {"Okafor", "Maria", "3/4/21", "00123456", "555-0134", "MRN-00123456"}) {
    CAPTURE(phi);
    CHECK(r.last->body.find(phi) == std::string::npos);
  }
  CHECK(sent.find("[MRN_1]") != std::string::npos);
  CHECK(sent.find("[PHONE_1]") != std::string::npos);
  // The model repeats what it was given; the caller reads the originals.
  r.answer("Summary: " + sent);
  REQUIRE(r.finished.has_value());
  REQUIRE(r.finished->response.has_value());
  CHECK(r.finished->response->choices[0].message.content == "Summary: " + std::string{note});
  // The call says what it found, by category, and hands back its map for the next turn.
  CHECK(r.finished->phi_found[phi::cat(phi::category::name)] == 2);
  CHECK(r.finished->phi_found[phi::cat(phi::category::date)] == 1);
  auto const map = phi::reid_map::from_json(r.finished->phi_map);
  REQUIRE(map.ok());
  CHECK(map->date_shift_days() != 0);
  // Neither the decisions nor the audit record quote any of it.
  REQUIRE(r.audits.size() == 1);
  auto const record = to_json_line(r.audits[0].record);
  for (std::string_view phi : {"Okafor", "Maria", "3/4/21", "00123456", "555-0134"}) {
    CAPTURE(phi);
    CHECK(record.find(phi) == std::string::npos);
    for (auto const& d : r.decisions) CHECK(d.find(phi) == std::string::npos);
  }
  CHECK(std::any_of(r.decisions.begin(), r.decisions.end(),
                    [](auto const& d) { return d.find("protect: 2 NAME, 1 DATE, 1 PHONE, 1 MRN") == 0; }));
}

TEST_CASE("the map of an earlier turn keeps the placeholders' numbers; a bad map is refused without quoting it") {
  run first{R"({"enabled": true})"};
  first.eng.submit(request("Dr. Okafor saw her."), first.now);
  first.drain();
  first.answer("ok");
  REQUIRE(first.finished.has_value());

  run second{R"({"enabled": true})"};
  auto next = request("Dr. Ngata and Dr. Okafor");
  next.phi_map = first.finished->phi_map;
  second.eng.submit(next, second.now);
  second.drain();
  CHECK(second.sent_user_text() == "Dr. [NAME_2] and Dr. [NAME_1]");

  run bad{R"({"enabled": true})"};
  auto broken = request("Dr. Okafor");
  broken.phi_map = R"({"version": 1, "entries": "Okafor"})";
  bad.eng.submit(broken, bad.now);
  bad.drain();
  REQUIRE(bad.finished.has_value());
  REQUIRE(bad.finished->error.has_value());
  CHECK(bad.finished->error->code == call_error_code::invalid_request);
  CHECK(bad.finished->error->message.find("Okafor") == std::string::npos);
  CHECK_FALSE(bad.last.has_value());
}

TEST_CASE("a streamed call whose prompt had PHI is not relayed raw; one without PHI still is") {
  run with{R"({"enabled": true})"};
  with.eng.submit(request(note, true), with.now);
  with.drain();
  REQUIRE(with.last.has_value());
  CHECK_FALSE(with.last->relay);

  run without{R"({"enabled": true})"};
  without.eng.submit(request("Summarize the plan for CHF.", true), without.now);
  without.drain();
  REQUIRE(without.last.has_value());
  CHECK(without.last->relay);
}

TEST_CASE("with the protect step off (the default), prompts go as they are") {
  run r{R"({"enabled": false})"};
  r.eng.submit(request(note), r.now);
  r.drain();
  CHECK(r.sent_user_text() == note);
}

TEST_CASE("the phi section names what is wrong with it") {
  auto const refused = [](std::string_view phi, std::string_view says) {
    auto const o = parse_config(
        fmt::format(R"({{"providers": [{{"name": "p", "base_url": "http://127.0.0.1/v1"}}], "phi": {}}})", phi));
    REQUIRE_FALSE(o.ok());
    CAPTURE(o.error_message());
    CHECK(o.error_message().find(says) != std::string::npos);
  };
  refused(R"({"modes": {"NAME": "blur"}})", "phi.modes.NAME must be one of redact, pseudonymize, shift");
  refused(R"({"modes": {"name": "redact"}})", "phi.modes has no category \"name\"");
  refused(R"({"max_shift_days": 0})", "phi.max_shift_days must be 1..3650");
  refused(R"({"enable": true})", "phi");
}

TEST_CASE("the request's structured fields are protected too, and the answer gets their originals back") {
  run r{R"({"enabled": true, "modes": {"NAME": "pseudonymize", "DATE": "shift"},
            "fields": {"$.metadata.bed": "ID"}})"};
  auto req = request("Summarize the stay.");
  req.chat.body["metadata"] = {{"patient_name", "Jane Roe"}, {"dob", "03/04/1950"}, {"bed", "4B-12"}, {"kind", "icu"}};
  req.chat.body["user"] = "clinician-778";
  r.eng.submit(req, r.now);
  r.drain();
  REQUIRE(r.last.has_value());
  for (std::string_view phi : {"Jane", "Roe", "03/04/1950", "4B-12", "clinician-778"}) {
    CAPTURE(phi);
    CHECK(r.last->body.find(phi) == std::string::npos);
  }
  auto const sent = nlohmann::json::parse(r.last->body);
  CHECK(sent["metadata"]["kind"] == "icu");
  CHECK(sent["metadata"]["bed"] == "[ID_1]");
  auto const surrogate = sent["metadata"]["patient_name"].get<std::string>();
  r.answer("Patient " + surrogate + ", born " + sent["metadata"]["dob"].get<std::string>() + ".");
  REQUIRE(r.finished.has_value());
  REQUIRE(r.finished->response.has_value());
  CHECK(r.finished->response->choices[0].message.content == "Patient Jane Roe, born 03/04/1950.");
  CHECK(r.finished->phi_found[phi::cat(phi::category::name)] == 1);
  CHECK(r.finished->phi_found[phi::cat(phi::category::id)] == 2);
}
