// phi_fields_test.cpp — PHI in structured fields (phi/fields.hpp): JSON-path rules, fields known by name,
// each value replaced once, and paths that are not paths refused with the place they go wrong.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medgate/phi/protect.hpp"  // phi::cat

using namespace medgate;
using nlohmann::json;

namespace {

phi::field_rule rule(std::string_view path, phi::category type) {
  auto r = phi::field_rule::parse(path, type);
  if (!r) FAIL(r.error_message());
  return *r;
}

/// Replaces every selected value by "[TYPE:value]", so a test sees what was selected and as what.
auto tag = [](std::string_view value, phi::category type) {
  return std::string{"["} + std::string{phi::to_string(type)} + ":" + std::string{value} + "]";
};

json body() {
  return json::parse(R"({
    "model": "m",
    "messages": [{"role": "user", "content": "Summarize", "name": "dr_house"}],
    "temperature": 0.2,
    "user": "clinician-778",
    "metadata": {
      "patient_name": "Jane Roe",
      "dateOfBirth": "1950-03-04",
      "MRN": 1234567,
      "Zip-Code": "02115",
      "address": {"street": "12 Elm St", "city": "Boston", "unit": 4},
      "note_kind": "discharge",
      "consented": true,
      "visits": [{"clinician": "Dr. Okafor", "ward": "4B", "visit_date": "2021-03-04"}],
      "insurance": {"member_id": "XJ-449201", "plan": "Gold"}
    }
  })");
}

}  // namespace

TEST_CASE("JSON paths: members, indices, wildcards, descent and quoted keys select what they say") {
  auto b = body();
  std::vector<std::string> seen;
  auto const collect = [&](std::string_view path) {
    seen.clear();
    rule(path, phi::category::id).for_each(b, [&](json& v) { seen.push_back(v.dump()); });
    return seen;
  };
  CHECK(collect("$.metadata.patient_name") == std::vector<std::string>{R"("Jane Roe")"});
  CHECK(collect("$['metadata']['Zip-Code']") == std::vector<std::string>{R"("02115")"});
  CHECK(collect("$.messages[0].name") == std::vector<std::string>{R"("dr_house")"});
  CHECK(collect("$.messages[1].name").empty());
  CHECK(collect("$.metadata.visits[*].clinician") == std::vector<std::string>{R"("Dr. Okafor")"});
  CHECK(collect("$.metadata.address.*").size() == 3);
  CHECK(collect("$..member_id") == std::vector<std::string>{R"("XJ-449201")"});
  CHECK(collect("$..visits[0].ward") == std::vector<std::string>{R"("4B")"});
  CHECK(collect("$.metadata.no_such_field").empty());
  CHECK(collect("$.temperature.x").empty());  // a step into a number selects nothing
}

TEST_CASE("a path that is not one is refused, naming where it goes wrong") {
  struct bad {
    std::string_view path;
    std::string_view says;
  };
  for (auto const& b : std::vector<bad>{
           {"metadata.mrn", "must start with $ at character 1"},
           {"$", "it selects the whole body"},
           {"$.", "a key must follow . at character 3"},
           {"$..", "a key must follow .. at character 4"},
           {"$.metadata[", "[ must hold a number, * or 'key' at character 11"},
           {"$.metadata[x]", "[ must hold a number, * or 'key' at character 11"},
           {"$['metadata", "['key' is not closed by ']"},
           {"$metadata", "expected . or [ at character 2"},
       }) {
    CAPTURE(b.path);
    auto const r = phi::field_rule::parse(b.path, phi::category::name);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find(b.says) != std::string::npos);
  }
}

TEST_CASE("fields known by name: case, _ and - ignored; generic keys are not identifiers") {
  CHECK(phi::field_by_name("patient_name") == phi::category::name);
  CHECK(phi::field_by_name("PatientName") == phi::category::name);
  CHECK(phi::field_by_name("Date-Of-Birth") == phi::category::date);
  CHECK(phi::field_by_name("DOB") == phi::category::date);
  CHECK(phi::field_by_name("zip_code") == phi::category::zip);
  CHECK(phi::field_by_name("MRN") == phi::category::mrn);
  CHECK(phi::field_by_name("member_id") == phi::category::account);
  for (std::string_view generic : {"name", "id", "type", "note_kind", "ward", "plan", "date", ""}) {
    CAPTURE(generic);
    CHECK_FALSE(phi::field_by_name(generic).has_value());
  }
}

TEST_CASE("protect_fields replaces the rules' values, then metadata's known fields and user, each once") {
  auto b = body();
  std::vector<phi::field_rule> const rules{rule("$.metadata.visits[*].clinician", phi::category::name),
                                           rule("$.metadata.insurance", phi::category::account),
                                           rule("$..member_id", phi::category::name)};  // already taken
  auto const found = phi::protect_fields(b, rules, true, tag);
  auto const& m = b["metadata"];
  CHECK(m["patient_name"] == "[NAME:Jane Roe]");
  CHECK(m["dateOfBirth"] == "[DATE:1950-03-04]");
  CHECK(m["MRN"] == "[MRN:1234567]");  // a number becomes the string that replaces its digits
  CHECK(m["Zip-Code"] == "[ZIP:02115]");
  CHECK(m["address"] == json::parse(R"({"street": "[LOCATION:12 Elm St]", "city": "[LOCATION:Boston]",
                                        "unit": "[LOCATION:4]"})"));
  CHECK(m["visits"][0]["clinician"] == "[NAME:Dr. Okafor]");
  CHECK(m["visits"][0]["visit_date"] == "[DATE:2021-03-04]");
  CHECK(m["insurance"]["member_id"] == "[ACCOUNT:XJ-449201]");  // the first rule wins, replaced once
  CHECK(m["insurance"]["plan"] == "[ACCOUNT:Gold]");
  CHECK(b["user"] == "[ID:clinician-778]");
  // What is not an identifier stays as it was.
  CHECK(m["note_kind"] == "discharge");
  CHECK(m["visits"][0]["ward"] == "4B");
  CHECK(m["consented"] == true);
  CHECK(b["temperature"] == 0.2);
  CHECK(b["messages"][0]["name"] == "dr_house");
  CHECK(found[phi::cat(phi::category::name)] == 2);
  CHECK(found[phi::cat(phi::category::location)] == 3);
  CHECK(found[phi::cat(phi::category::account)] == 2);
  CHECK(found[phi::cat(phi::category::date)] == 2);
  CHECK(found[phi::cat(phi::category::id)] == 1);
}

TEST_CASE("without by-name fields only the rules apply; a body without metadata is left alone") {
  auto b = body();
  std::vector<phi::field_rule> const rules{rule("$.metadata.patient_name", phi::category::name)};
  auto const found = phi::protect_fields(b, rules, false, tag);
  CHECK(b["metadata"]["patient_name"] == "[NAME:Jane Roe]");
  CHECK(b["metadata"]["dateOfBirth"] == "1950-03-04");
  CHECK(b["user"] == "clinician-778");
  CHECK(found[phi::cat(phi::category::name)] == 1);

  auto plain = json::parse(R"({"model": "m", "messages": []})");
  auto const copy = plain;
  auto const none = phi::protect_fields(plain, {}, true, tag);
  CHECK(plain == copy);
  for (auto const n : none) CHECK(n == 0);
}
