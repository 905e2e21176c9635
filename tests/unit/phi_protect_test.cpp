// phi_protect_test.cpp — dates read, shifted and written back (phi/dates.hpp); the protect modes and the
// re-identification map (phi/protect.hpp).
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "medgate/phi/dates.hpp"
#include "medgate/phi/detect.hpp"
#include "medgate/phi/protect.hpp"

namespace {

using medgate::phi::category;
using medgate::phi::mode;
using medgate::phi::protect_options;
using medgate::phi::reid_map;

std::string shifted(std::string_view date, std::int64_t days) {
  auto const d = medgate::phi::parse_date(date);
  REQUIRE_MESSAGE(d.has_value(), date);
  return medgate::phi::format_date(medgate::phi::shift(*d, days));
}

TEST_CASE("dates are read in the forms clinicians write and written back in the same form") {
  for (std::string_view d :
       {"3/4/21", "03/04/2021", "3-4-2021", "2021-04-03", "4/3", "10/2014", "03-Apr-2021", "3 April 2021", "April 3",
        "Apr. 3rd, 2021", "April 2021", "APR 3, 2021", "Sept 9", "03/14/2021 09:12", "3rd April"}) {
    CAPTURE(d);
    CHECK(shifted(d, 0) == d);
  }
}

TEST_CASE("a shift moves the day, the month and the year together, leap days included") {
  CHECK(shifted("3/4/21", 30) == "4/3/21");
  CHECK(shifted("03/04/2021", -4) == "02/28/2021");
  CHECK(shifted("2020-02-28", 1) == "2020-02-29");
  CHECK(shifted("2021-12-31", 1) == "2022-01-01");
  CHECK(shifted("03-Apr-2021", -30) == "04-Mar-2021");
  CHECK(shifted("April 3", 60) == "June 2");
  CHECK(shifted("Apr. 3rd, 2021", 19) == "Apr. 22nd, 2021");
  CHECK(shifted("12/31", 1) == "1/1");  // no year: within a common year
  CHECK(shifted("03/14/2021 09:12", 1) == "03/15/2021 09:12");
  CHECK(shifted("APR 3, 2021", 30) == "MAY 3, 2021");
}

TEST_CASE("what is not a date this module can read gives nothing") {
  for (std::string_view d : {"on the 3rd", "13/45/2021", "2/30/2021", "yesterday", "", "Apr", "2021"}) {
    CAPTURE(d);
    CHECK_FALSE(medgate::phi::parse_date(d).has_value());
  }
}

struct run {
  std::string text;
  reid_map map;
};

run protect(std::string_view text, protect_options const& o, std::string_view patient = "patient-1",
            reid_map map = {}) {
  medgate::phi::lexicon const none;
  auto out = medgate::phi::protect(text, medgate::phi::find_phi(text, none), o, "secret", patient, map);
  return {std::move(out), std::move(map)};
}

TEST_CASE("redact numbers each category's originals and keeps the number of one seen again") {
  auto const r = protect("Seen by Dr. Okafor on 3/4/21; Dr. Okafor again 3/5/21 and Dr. Ngata.", {});
  CHECK(r.text == "Seen by Dr. [NAME_1] on [DATE_1]; Dr. [NAME_1] again [DATE_2] and Dr. [NAME_2].");
  REQUIRE(r.map.entries().size() == 4);
  CHECK(medgate::phi::rehydrate("Ask Dr. [NAME_2] about [DATE_2].", r.map) == "Ask Dr. Ngata about 3/5/21.");
}

TEST_CASE("pseudonyms are consistent word by word, per patient, and never the original") {
  protect_options o;
  o.modes[medgate::phi::cat(category::name)] = mode::pseudonymize;
  auto const a = protect("Patient: John Okafor. Mr. Okafor reports pain. Wife: Mary Okafor.", o);
  CHECK(a.text.find("Okafor") == std::string::npos);
  CHECK(a.text.find("John") == std::string::npos);
  auto const surname = *a.map.replacement_of("Okafor", category::name);
  CHECK(a.text.find("Mr. " + surname + " reports") != std::string::npos);
  // Another conversation of the same patient gets the same surrogate; another patient (almost surely) not.
  auto const b = protect("Seen by Dr. Okafor", o);
  CHECK(*b.map.replacement_of("Okafor", category::name) == surname);
  std::vector<std::string> others;
  for (int p = 0; p < 5; ++p)
    others.push_back(*protect("Seen by Dr. Okafor", o, "patient-" + std::to_string(p + 2))
                          .map.replacement_of("Okafor", category::name));
  CHECK(std::any_of(others.begin(), others.end(), [&](auto const& s) { return s != surname; }));
  // The answer comes back with the originals.
  CHECK(medgate::phi::rehydrate("Mr. " + surname + " should rest.", a.map) == "Mr. Okafor should rest.");
}

TEST_CASE("two originals never share a surrogate, even when the HMAC picks the same one") {
  protect_options o;
  o.modes[medgate::phi::cat(category::name)] = mode::pseudonymize;
  std::string text = "Seen by";
  for (int i = 0; i < 80; ++i)
    text += " Dr. Zqx" + std::string(1, static_cast<char>('a' + i % 26)) + std::to_string(i) + ";";
  auto const r = protect(text, o);
  std::vector<std::string> seen;
  for (auto const& e : r.map.entries()) {
    CHECK(std::find(seen.begin(), seen.end(), e.replacement) == seen.end());
    seen.push_back(e.replacement);
  }
  CHECK(medgate::phi::rehydrate(r.text, r.map) == text);
}

TEST_CASE("identifiers keep their shape; e-mail, URLs and IPs go to documentation ranges") {
  protect_options o;
  for (auto& m : o.modes) m = mode::pseudonymize;
  auto const r = protect("MRN: E12345678, call (617) 555-0134, mail j.doe@mail.com, ip 10.1.2.3", o);
  auto const mrn = *r.map.replacement_of("E12345678", category::mrn);
  CHECK(mrn.size() == 9);
  CHECK(mrn != "E12345678");
  CHECK(mrn[0] >= 'A');
  CHECK(r.text.find("@example.org") != std::string::npos);
  CHECK(r.text.find("192.0.2.") != std::string::npos);
  CHECK(r.text.find("555-0134") == std::string::npos);
  CHECK(medgate::phi::rehydrate(r.text, r.map) ==
        "MRN: E12345678, call (617) 555-0134, mail j.doe@mail.com, ip 10.1.2.3");
}

TEST_CASE("date shifting keeps intervals, one offset per patient, and the answer's dates go back") {
  protect_options o;
  o.modes[medgate::phi::cat(category::date)] = mode::shift;
  auto const r = protect("Admitted 3/4/21, discharged 3/9/21. Follow up April 2.", o);
  auto const days = r.map.date_shift_days();
  CHECK(days != 0);
  CHECK(days >= -365);
  CHECK(days <= 365);
  CHECK(r.text == "Admitted " + shifted("3/4/21", days) + ", discharged " + shifted("3/9/21", days) + ". Follow up " +
                      shifted("April 2", days) + ".");
  // The same patient in another conversation: the same offset.
  CHECK(protect("on 5/5/22", o).map.date_shift_days() == days);
  // The model reasons in shifted time; its dates come back.
  auto const answer = "Recheck on " + shifted("3/16/21", days) + ", a week after discharge.";
  CHECK(medgate::phi::rehydrate(answer, r.map) == "Recheck on 3/16/21, a week after discharge.");
  // A date this module cannot read is redacted instead.
  auto const t = protect("seen on the 3rd", o);
  CHECK(t.text == "seen on the [DATE_1]");
}

TEST_CASE("generalize: ages 90+, ZIP3, dates to their year; keep leaves a category alone") {
  protect_options o;
  o.modes[medgate::phi::cat(category::age)] = mode::generalize;
  o.modes[medgate::phi::cat(category::zip)] = mode::generalize;
  o.modes[medgate::phi::cat(category::date)] = mode::generalize;
  o.modes[medgate::phi::cat(category::phone)] = mode::keep;
  auto const r = protect("A 94 yo, MA 02115, seen 3/4/2021 and 4/15; call 617-555-0134.", o);
  CHECK(r.text == "A 90+ yo, MA 021**, seen 2021 and [DATE_1]; call 617-555-0134.");
}

TEST_CASE("the map survives a round trip through JSON; a bad one is refused without quoting it") {
  protect_options o;
  o.modes[medgate::phi::cat(category::date)] = mode::shift;
  auto const r = protect("Dr. Okafor saw her 3/4/21", o);
  auto const back = reid_map::from_json(r.map.to_json());
  REQUIRE(back.ok());
  CHECK(back->entries().size() == r.map.entries().size());
  CHECK(back->date_shift_days() == r.map.date_shift_days());
  CHECK(medgate::phi::rehydrate(r.text, *back) == "Dr. Okafor saw her 3/4/21");
  // A later turn continues the numbering of the map it was given.
  auto const next = protect("Dr. Ngata and Dr. Okafor", o, "patient-1", *back);
  CHECK(next.text == "Dr. [NAME_2] and Dr. [NAME_1]");

  for (
      std::string_view bad :
      {"", "[]", R"({"version":2})", R"({"version":1,"date_shift_days":"x","entries":[]})",
       R"({"version":1,"date_shift_days":0,"entries":[{"replacement":"[NAME_1]","original":"Okafor","type":"NOPE"}]})"}) {
    auto const m = reid_map::from_json(bad);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error_message().find("Okafor") == std::string::npos);
  }
}

TEST_CASE("a replacement that is a word is only put back as a whole word") {
  reid_map m;
  m.add("Vance", "Okafor", category::name);
  CHECK(medgate::phi::rehydrate("Vance is advanced; VanceX", m) == "Okafor is advanced; VanceX");
}

}  // namespace
