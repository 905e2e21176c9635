// phi_patterns_test.cpp — the shaped identifiers (phi/patterns.hpp): what each matcher takes, what it must leave.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "medgate/phi/patterns.hpp"
#include "medgate/phi/redact.hpp"
#include "phi_examples.hpp"

namespace {

using medgate::phi::category;
using medgate::phi::find_patterns;

/// The text with what was found replaced by [CATEGORY].
std::string redacted(std::string_view text) { return medgate::phi::redact(text, find_patterns(text)); }

void check_all(std::vector<medgate::test::phi_example> const& examples) {
  medgate::test::check_redactions(examples, redacted);
}

}  // namespace

TEST_CASE("phi patterns: dates in the forms clinicians write, with their times, but never a year alone") {
  check_all({
      {"Admitted 3/4/21.", "Admitted [DATE]."},
      {"DOB: 03/04/1951", "DOB: [DATE]"},
      {"seen 3-4-2021 and 2021-04-03", "seen [DATE] and [DATE]"},
      {"on 12.25.2020", "on [DATE]"},
      {"f/u 4/3", "f/u [DATE]"},
      {"03-Apr-2021", "[DATE]"},
      {"3 April 2021", "[DATE]"},
      {"the 3rd of April", "the [DATE]"},
      {"April 3rd", "[DATE]"},
      {"Apr. 3, 2021", "[DATE]"},
      {"Sept 14", "[DATE]"},
      {"JANUARY 2019", "[DATE]"},
      {"since August", "since [DATE]"},
      {"returns on the 3rd", "returns on the [DATE]"},
      {"3/4/21 14:30 pt arrived", "[DATE] pt arrived"},
      {"on 3/4/21 at 2:15 pm", "on [DATE]"},
      {"2021-04-03 0830", "[DATE]"},
      {"In 2019 she had a stroke", "In 2019 she had a stroke"},
  });
}

TEST_CASE("phi patterns: scores, fractions, ranges, doses and words that look like dates stay") {
  check_all({
      {"pain 7/10", "pain 7/10"},
      {"strength 5/5 bilaterally", "strength 5/5 bilaterally"},
      {"reflexes 2/4", "reflexes 2/4"},
      {"take 1/2 tab daily", "take 1/2 tab daily"},
      {"3/4 cup of water", "3/4 cup of water"},
      {"BP 120/80", "BP 120/80"},
      {"3-4 times a day", "3-4 times a day"},
      {"She may go home", "She may go home"},
      {"March toward recovery", "March toward recovery"},
      {"Jan said hello", "Jan said hello"},
      {"Mar 0/3 lymph nodes", "Mar 0/3 lymph nodes"},
      {"Tylenol 500 mg q6h", "Tylenol 500 mg q6h"},
      {"HbA1c 7.2, B12 low, COVID-19 negative", "HbA1c 7.2, B12 low, COVID-19 negative"},
      {"Na 138, K 4.1, WBC 11.2", "Na 138, K 4.1, WBC 11.2"},
  });
}

TEST_CASE("phi patterns: phone and fax numbers in US forms, with extensions") {
  check_all({
      {"call (617) 555-0134", "call [PHONE]"},
      {"tel 617-555-0134.", "tel [PHONE]."},
      {"617.555.0134", "[PHONE]"},
      {"cell 617 555 0134", "cell [PHONE]"},
      {"+1 617 555 0134", "[PHONE]"},
      {"1-800-555-0199", "[PHONE]"},
      {"(617)555-0134 x204", "[PHONE]"},
      {"617-555-0134 ext. 12 today", "[PHONE] today"},
      {"Fax: (617) 555-0199", "Fax: [FAX]"},
      {"pager 555-0134", "pager [PHONE]"},
      {"count 55-34", "count 55-34"},
      {"ratio 555-0134", "ratio [ID]"},  // seven digits are an id even without a phone word
  });
}

TEST_CASE("phi patterns: Spanish dates with a month's name; a year alone stays") {
  check_all({
      {"en noviembre de 2014 acudió", "en [DATE] acudió"},
      {"intervenido en marzo del 2001.", "intervenido en [DATE]."},
      {"el plazo de 4 meses (Junio 04).", "el plazo de 4 meses ([DATE])."},
      {"En abril 2006, y", "En [DATE], y"},
      {"el 12 de marzo de 2015 ingresa", "el [DATE] ingresa"},
      {"desde el 3 de abril", "desde el [DATE]"},
      {"en el año 2004", "en el año 2004"},
      {"mayo de peso", "mayo de peso"},  // no year, no date
  });
}

TEST_CASE("phi patterns: phone numbers in other countries' groupings, by their +code or a phone word") {
  check_all({
      {"office +46 (0)8 928 571 38 fax", "office [PHONE] fax"},
      {"Desk: +447700 921 916", "Desk: [PHONE]"},
      {"Phone: 0490 75 40 81", "Phone: [PHONE]"},
      {"Mobile: 03.93.92.16.85", "Mobile: [PHONE]"},
      {"Phone: (99) 645-791", "Phone: [PHONE]"},
      {"please call me at 0494 92 82 32 today", "please call me at [PHONE] today"},
      {"They're not answering at 78 651 450", "They're not answering at [PHONE]"},
      {"Tel.: 928 45 00 00. Email", "Tel.: [PHONE]. Email"},
      {"Teléfono: 963 862 600", "Teléfono: [PHONE]"},
      {"Fax: +41 (0)96 471 07 95", "Fax: [FAX]"},
      {"+2 pitting edema", "+2 pitting edema"},                        // too few digits for a number
      {"Phone: 2 3 4", "Phone: 2 3 4"},                                // six digits at least after a phone word
      {"seen at 0800 12 04 and 1600", "seen at 0800 12 04 and 1600"},  // "at" alone is no phone word
  });
}

TEST_CASE("phi patterns: email, URLs and IP addresses") {
  check_all({
      {"mail j.smith+mg@bwh.harvard.edu now", "mail [EMAIL] now"},
      {"see https://portal.example.org/pt?id=7.", "see [URL]."},
      {"(www.mychart.org)", "([URL])"},
      {"from 10.0.12.255 at", "from [IP] at"},
      {"host fe80::1ff:fe23:4567:890a", "host [IP]"},
      {"2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[IP]"},
      {"version 1.2.3 and 10:30:15", "version 1.2.3 and 10:30:15"},
      {"999.1.1.1 is no address", "999.1.1.1 is no address"},
      {"ratio 3:1", "ratio 3:1"},
      {"a@b is not an email", "a@b is not an email"},
  });
}

TEST_CASE("phi patterns: SSNs, ZIP codes after a state, ages over 89") {
  check_all({
      {"SSN 123-45-6789", "SSN [SSN]"},
      {"ss# 123 45 6789", "ss# [SSN]"},
      {"social security 123456789", "social security [SSN]"},
      {"123-45-6789", "[SSN]"},
      {"Boston, MA 02115", "Boston, MA [ZIP]"},
      {"Houston TX 77030-1234", "Houston TX [ZIP]"},
      {"zip code: 02115", "zip code: [ZIP]"},
      {"ZIP: 3520", "ZIP: [ZIP]"},  // any country's postal code after a zip word
      {"my zip code is 394 13", "my zip code is [ZIP]"},
      {"Postal code 3610-114.", "Postal code [ZIP]."},
      {"zip 7412 SL", "zip [ZIP]"},
      {"platelets 25000", "platelets 25000"},
      {"92 y/o woman", "[AGE] y/o woman"},
      {"a 95-year-old man", "a [AGE]-year-old man"},
      {"age 91", "age [AGE]"},
      {"101yo M", "[AGE]yo M"},
      {"89 y/o woman", "89 y/o woman"},
      {"90 mg daily", "90 mg daily"},
  });
}

TEST_CASE("phi patterns: record, account, licence, vehicle and device numbers by their cue, and long numbers") {
  check_all({
      {"MRN: 0012345", "MRN: [MRN]"},
      {"MR# 55-22-11", "MR# [MRN]"},
      {"medical record number 8812-33", "medical record number [MRN]"},
      {"Acct 123456", "Acct [ACCOUNT]"},
      {"Medicaid ID AB12345", "Medicaid ID [ACCOUNT]"},
      {"member id XJ-22319", "member id [ACCOUNT]"},
      {"DEA AB1234563", "DEA [LICENSE]"},
      {"license number D1234567", "license number [LICENSE]"},
      {"VIN 1HGCM82633A004352", "VIN [VEHICLE]"},
      {"1HGCM82633A004352", "[VEHICLE]"},
      {"license plate 7ABC123", "license plate [VEHICLE]"},
      {"pacemaker serial PJN123456", "pacemaker serial [DEVICE]"},
      {"accession 2021-0045567", "accession [ID]"},
      {"ref 88213", "ref [ID]"},
      {"Medicare number 1EG4TE5MK73", "Medicare number [ACCOUNT]"},
      {"record no. 4471-22", "record no. [MRN]"},
      {"number 5000 steps", "number 5000 steps"},
      {"called 6175550134567 twice", "called [ID] twice"},
      {"token ZX99812Q", "token [ID]"},
      {"heparin 100000 units", "heparin 100000 units"},
      {"chart 2021", "chart 2021"},
  });
}

TEST_CASE("phi patterns: spans are byte offsets, in order; a note without PHI comes back unchanged") {
  std::string_view const note = "Pt seen 3/4/21, call (617) 555-0134.";
  auto const spans = find_patterns(note);
  REQUIRE(spans.size() == 2);
  CHECK(spans[0] == medgate::phi::span{8, 14, category::date});
  CHECK(note.substr(spans[1].start, spans[1].end - spans[1].start) == "(617) 555-0134");
  CHECK(spans[1].category == category::phone);

  std::string_view const clean =
      "Chest pain radiating to the left arm, troponin 0.02, EKG with ST depression in V4-V6. Started heparin drip, "
      "aspirin 325 mg, metoprolol 25 mg PO BID. Echo: EF 55%. Plan: cath in AM, NPO after midnight.";
  CHECK(find_patterns(clean).empty());
  CHECK(redacted(clean) == clean);

  // Non-ASCII and invalid UTF-8 around PHI: offsets stay byte offsets, the other bytes pass through untouched.
  std::string const mixed = "Café \xff\xfe 3/4/21 \xe2\x80\x94 ok";
  auto const found = find_patterns(mixed);
  REQUIRE(found.size() == 1);
  CHECK(mixed.substr(found[0].start, found[0].end - found[0].start) == "3/4/21");
  CHECK(redacted(mixed) == "Café \xff\xfe [DATE] \xe2\x80\x94 ok");
}

TEST_CASE("phi patterns: long and pathological inputs take linear time and find every identifier") {
  std::string many;
  for (int i = 0; i < 20'000; ++i) many += "pt 617-555-0134 on 3/4/21; ";
  auto const spans = find_patterns(many);
  CHECK(spans.size() == 40'000);
  // One word of 1 MB, a long run of digits, of separators and of '@': no quadratic rescans.
  CHECK(find_patterns(std::string(1 << 20, 'a')).empty());
  CHECK(find_patterns(std::string(1 << 20, '1')).size() == 1);
  CHECK(find_patterns(std::string(1 << 20, '/')).empty());
  CHECK(find_patterns(std::string(1 << 20, '@')).empty());
  for (std::string_view unit : {"1.", "a.", "1:", "a-", "1/", "1-"}) {
    std::string repeated;
    for (int i = 0; i < 200'000; ++i) repeated += unit;
    CAPTURE(unit);
    auto const found = find_patterns(repeated);
    for (std::size_t k = 1; k < found.size(); ++k) CHECK(found[k - 1].end <= found[k].start);
  }
}

TEST_CASE("phi categories have names, parsed back case-insensitively") {
  for (std::size_t i = 0; i < medgate::phi::category_count; ++i) {
    auto const c = static_cast<category>(i);
    CHECK(medgate::phi::parse_category(medgate::phi::to_string(c)) == c);
  }
  CHECK(medgate::phi::parse_category("date") == category::date);
  CHECK_FALSE(medgate::phi::parse_category("birthday").has_value());
}

TEST_CASE("phi patterns: payment card numbers written in groups, when their Luhn check digit is right") {
  check_all({
      {"card on file 4111 1111 1111 1111; ok", "card on file [ACCOUNT]; ok"},
      {"account 4111 1111 1111 1111.", "account [ACCOUNT]."},
      {"paid with 4111-1111-1111-1111", "paid with [ACCOUNT]"},
      {"Amex 3782 822463 10005 on file", "Amex [ACCOUNT] on file"},
      {"visa 4012 8888 8888 1881", "visa [ACCOUNT]"},
      {"old card 4222 2222 2222 2", "old card [ACCOUNT]"},
      // the check digit wrong, too many groups, or the groups of something else: not a card
      {"it read 4111 1111 1111 1112 x", "it read 4111 1111 1111 1112 x"},
      {"seen 2021-03-04", "seen [DATE]"},
      {"counts 1234 5678 ok", "counts 1234 5678 ok"},
  });
}
