// phi_names_places_test.cpp — people's names (phi/names.hpp) and places (phi/places.hpp), through
// phi::find_phi with a small lexicon that says exactly which words are known.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "medgate/phi/detect.hpp"
#include "medgate/phi/redact.hpp"
#include "mglex_writer.hpp"
#include "phi_examples.hpp"

namespace {

namespace word = medgate::phi::word;
using medgate::phi::category;

medgate::phi::lexicon const& lex() {
  static auto const l = medgate::test::make_lexicon({
      // names: plain, and ones that are also words
      {"john", word::first | word::common},
      {"maria", word::first | word::common},
      {"sarah", word::first},
      {"linda", word::first},
      {"will", word::first | word::common | word::frequent_last},
      {"hope", word::first | word::common},
      {"rivera", word::last | word::frequent_last},
      {"garcia", word::last | word::frequent_last},
      {"kim", word::last | word::frequent_last},
      {"doe", word::last | word::common},
      {"brown", word::last | word::common | word::frequent_last},
      {"murphy", word::last | word::frequent_last},
      {"wilson", word::last | word::frequent_last},
      {"foley", word::last | word::clinical},
      {"lasix", word::clinical},
      {"jackson", word::last | word::frequent_last | word::city},
      // places
      {"worcester", word::city | word::last},
      {"springfield", word::city},
      {"mobile", word::city | word::common},
      {"new york", word::city | word::state},
      {"ma", word::state},
      {"il", word::state},
      {"massachusetts", word::state},
      {"street", word::street | word::common},
      {"st", word::street},
      {"ave", word::street},
      {"avenue", word::street | word::common},
      {"suffolk", word::county},
      // common words the examples use
      {"patient", word::common},
      {"new", word::common},
      {"for", word::common},
      {"recovery", word::common},
      {"seen", word::common},
      {"with", word::common},
      {"wife", word::common},
      {"is", word::common},
      {"the", word::common},
      {"started", word::common},
      {"sign", word::common},
      {"catheter", word::common},
      {"negative", word::common},
      {"lives", word::common},
      {"in", word::common},
      {"her", word::common},
      {"daughter", word::common},
      {"placed", word::common},
      {"disease", word::common},
      {"plan", word::common},
      {"follow", word::common},
      {"up", word::common},
      {"general", word::common},
      {"hospital", word::common},
      {"medical", word::common},
      {"center", word::common},
      {"county", word::common},
      {"and", word::common},
      {"moved", word::common},
      {"españa", word::country},
      {"paseo", word::common},
      {"servicio", word::clinical},
      {"to", word::common},
      {"from", word::common},
      {"transferred", word::common},
      {"called", word::common},
      {"a", word::common},
      {"was", word::common},
      {"there", word::common},
      {"of", word::common},
      {"dr", word::street},
      {"mrs", 0},
      {"hcp", word::clinical},
      {"units", word::common},
  });
  return l;
}

std::string redacted(std::string_view text) { return medgate::phi::redact(text, medgate::phi::find_phi(text, lex())); }

void check_all(std::vector<medgate::test::phi_example> const& examples) {
  medgate::test::check_redactions(examples, redacted);
}

TEST_CASE("a name from the lexicon that is not a word is a name on its own, in any case") {
  check_all({
      {"Seen: Rivera at bedside", "Seen: [NAME] at bedside"},
      {"PATIENT RIVERA SEEN", "PATIENT [NAME] SEEN"},
      {"Sarah Rivera was there", "[NAME] was there"},
      {"rivera", "rivera"},  // lower case in mixed text: not a proper noun
  });
}

TEST_CASE("a name that is also a word needs company or a cue") {
  check_all({
      {"Will follow up", "Will follow up"},
      {"Hope for recovery", "Hope for recovery"},
      {"There is Hope", "There is [NAME]"},  // a first name capitalised inside a lower-case sentence
      {"John Brown is the HCP", "[NAME] is the HCP"},
      {"PATIENT SEEN WITH JOHN BROWN", "PATIENT SEEN WITH [NAME]"},
      {"Brown and Garcia", "Brown and [NAME]"},
      {"the patient called Brown", "the patient called [NAME]"},  // a frequent name inside lower-case prose
  });
}

TEST_CASE("cues name the capitalised words after them, whatever the lexicon says") {
  check_all({
      {"Seen by Dr. Okafor today", "Seen by Dr. [NAME] today"},
      {"Mrs. Hope Doe", "Mrs. [NAME]"},
      {"Lives with her daughter Maria.", "Lives with her daughter [NAME]."},
      {"seen with wife Linda Garcia", "seen with wife [NAME]"},
      {"Patient: Doe, John A.", "Patient: [NAME]."},
      {"Patient: John Rivera, MRN 00123456", "Patient: [NAME], MRN [MRN]"},
      {"Attending: Xavier Okonkwo-Blake", "Attending: [NAME]"},
      // A sentence that starts with a name-like word and a verb that takes a person.
      {"Maria rested well.", "[NAME] rested well."},
      {"Alvir spent a year abroad. Timotea lives alone.", "[NAME] spent a year abroad. [NAME] lives alone."},
      {"Patient lives alone.", "Patient lives alone."},
      // A label written as a word is no part of the name after it.
      {"Patient Eleanor Vasquez-Holt, 67, seen today.", "Patient [NAME], 67, seen today."},
      {"Nurse Kowalczyk reported the change.", "Nurse [NAME] reported the change."},
  });
}

TEST_CASE("a credential after words makes them a name") {
  check_all({
      {"Electronically signed by: Sarah Kim, MD", "Electronically signed by: [NAME], MD"},
      {"Note by Priya Venkatesan RN", "Note by [NAME] RN"},
  });
}

TEST_CASE("clinical words that look like names survive") {
  check_all({
      {"Foley catheter placed", "Foley catheter placed"},
      {"Started Lasix", "Started Lasix"},
      {"Murphy's sign negative", "Murphy's sign negative"},
      {"Wilson disease", "Wilson disease"},
      {"Dr. Foley", "Dr. [NAME]"},  // a cue wins over the stop-list
  });
}

TEST_CASE("names next to each other are one span; separate sentences are separate names") {
  auto const spans = medgate::phi::find_phi("LINDA GARCIA. JOHN BROWN IS HCP", lex());
  REQUIRE(spans.size() == 2);
  CHECK(spans[0] == medgate::phi::span{0, 12, category::name});
  CHECK(spans[1] == medgate::phi::span{14, 24, category::name});
}

TEST_CASE("places: addresses, cities before a state, listed cities, counties and facilities") {
  check_all({
      {"1234 Elm Street, Apt 5B. Plan", "[LOCATION]. Plan"},
      {"lives at 77 N Main St # 4", "lives at [LOCATION]"},
      {"P.O. Box 1432", "[LOCATION]"},
      {"Worcester, MA 01605", "[LOCATION], MA [ZIP]"},
      {"Lives in Springfield", "Lives in [LOCATION]"},
      {"moved to Mobile", "moved to [LOCATION]"},
      {"Mobile unit", "Mobile unit"},
      {"Oakvale, Massachusetts", "[LOCATION], Massachusetts"},
      {"from New York", "from New York"},  // a state too: Safe Harbor keeps states
      {"Suffolk County", "[LOCATION]"},
      {"Transferred from Mercy General Hospital", "Transferred from [LOCATION]"},
      {"transferred from St. Mary's Medical Center", "transferred from [LOCATION]"},
      {"the General Hospital", "the General Hospital"},  // names no one place
  });
}

TEST_CASE("without a lexicon names and places are found by their cues alone") {
  medgate::phi::lexicon const none;
  auto const red = [&](std::string_view t) { return medgate::phi::redact(t, medgate::phi::find_phi(t, none)); };
  CHECK(red("Seen by Dr. Okafor on 3/4/21") == "Seen by Dr. [NAME] on [DATE]");
  CHECK(red("Signed: Sarah Kim, MD") == "Signed: [NAME], MD");
  CHECK(red("12 Elm Street") == "[LOCATION]");
}

TEST_CASE("a note without PHI comes out unchanged") {
  std::string_view const note =
      "HPI: 67 yo with CHF on Lasix presents with dyspnea x3 days. Foley catheter placed.\n"
      "Plan: Will follow up in clinic. Murphy's sign negative. BP 132/84, HR 88.\n";
  CHECK(redacted(note) == note);
}

}  // namespace

TEST_CASE("\"name is\" names the capitalised word after it") {
  check_all({
      {"My name is Rubija", "My name is [NAME]"},
      {"her name is Siiri Rivera.", "her name is [NAME]."},
      {"the name is unclear", "the name is unclear"},
      {"\xEF\xBB\xBFPatient: Iria Rivera", "\xEF\xBB\xBFPatient: [NAME]"},  // a byte order mark is no letter
  });
}

TEST_CASE("street addresses in other countries' forms, units, military mail and address blocks") {
  check_all({
      {"lives at Puruntie 82", "lives at [LOCATION]"},
      {"28245 Parijsstraat 8 Apt. 595", "[LOCATION] [LOCATION]"},
      {"send it to ul. Narewska 94", "send it to [LOCATION]"},
      {"at Rua do Arenque 1634, Goiania", "at [LOCATION], Goiania"},
      {"Address: 376 Rákóczi út 13. Suite 104", "Address: [LOCATION] [LOCATION]"},
      {"meet at Via Roma 131", "meet at [LOCATION]"},
      {"Suite 501", "[LOCATION]"},
      {"PSC 6477, Box 2981\nAPO AE 83700", "[LOCATION]\n[LOCATION]"},
      {"Unit 8524 Box 0979", "[LOCATION]"},
      {"PSC 2 years ago", "PSC 2 years ago"},
      {"Monitoring 2 hours, Weg 2 days",
       "Monitoring 2 hours, Weg 2 days"},  // primary sclerosing cholangitis: no box, no address
      {"it is USS Lorenzen", "it is [LOCATION]"},
      {"12 Elm Street\n Springfield\n Netherlands 02032\nPhone: none",
       "[LOCATION]\n [LOCATION]\n [LOCATION]\nPhone: none"},
      // Doses and scores after a name stay; a line after an address that reads as prose ends the block.
      {"Lasix 40 daily", "Lasix 40 daily"},
      {"GCS 15, Suite of tests", "GCS 15, Suite of tests"},
      {"12 Elm Street\nPatient tolerated the procedure well", "[LOCATION]\nPatient tolerated the procedure well"},
      // The line before a unit, when it has a number; over one blank line only to a line with a number.
      {"Sarah Rivera\n\n20789 Allika 46\n Suite 501\n Riisa\n\n Netherlands 62488",
       "[NAME]\n\n[LOCATION]\n [LOCATION]\n [LOCATION]\n\n [LOCATION]"},
      {"Sarah Rivera  20789 Allika 46  Suite 501  Riisa", "[NAME]  [LOCATION]  [LOCATION]  [LOCATION]"},
      {"Plan\nSuite 501\n\nASSESSMENT", "Plan\n[LOCATION]\n\nASSESSMENT"},
  });
}

TEST_CASE("a place after a verb of living or going, in mixed case or in capitals") {
  check_all({
      {"Mr. Kim flew to Loeches on Tuesday.", "Mr. [NAME] flew to [LOCATION] on Tuesday."},
      {"He grew up in LEPPEN.", "He grew up in [LOCATION]."},
      {"I am in TROMSØ for a trip", "I am in [LOCATION] for a trip"},
      // Not an abbreviation after a weaker verb, nor a unit after "to".
      {"Transferred from LTACH today.", "Transferred from LTACH today."},
      {"Admitted from NSTEMI pathway.", "Admitted from NSTEMI pathway."},
      {"He moved to ICU.", "He moved to ICU."},
      {"She went to Recovery.", "She went to Recovery."},
  });
}

TEST_CASE("labelled header fields: the label says what the value is") {
  check_all({
      {"NHC: 368503. NASS: 26 63514095. Domicilio: calle monforte de lemos 129, 8C. Localidad/ Provincia: Madrid. "
       "CP: 28016.",
       "NHC: [MRN]. NASS: [ACCOUNT]. Domicilio: [LOCATION]. Localidad/ Provincia: [LOCATION]. CP: [ZIP]."},
      {"NºCol: 28 28 70973.", "NºCol: [LICENSE]."},
      {"Home address: 12 Orchard Lane, Rivertown\nNext line", "Home address: [LOCATION]\nNext line"},
      {"NHC: none", "NHC: none"},  // a number field without a digit is not one
      {"CP: 7/10 at rest. CP: resolved after 2 doses", "CP: 7/10 at rest. CP: resolved after 2 doses"},
      {"Unaddressed: yes", "Unaddressed: yes"},
  });
}

TEST_CASE("Spanish streets, postal codes before the city, and facilities named kind first") {
  check_all({
      {"C/ Eduardo Rivas, 3 28018 Madrid. España.", "[LOCATION] [LOCATION]. España."},
      {"Avenida de Córdoba s/n, 28041 Madrid", "[LOCATION], [LOCATION]"},
      {"c/ del Abedul 5-7, 2º dcha", "[LOCATION]"},
      {"Hospital Universitario 12 de octubre. Servicio", "[LOCATION]. Servicio"},
      {"ingresa en el Hospital de León", "ingresa en el [LOCATION]"},
      {"E-28935 Móstoles", "[LOCATION]"},
      {"C/o neck pain 6/10", "C/o neck pain 6/10"},
      {"AV fistula 3 cm, AV block 2, Plaza de la Encarnación, 32", "AV fistula 3 cm, AV block 2, [LOCATION]"},
      {"Av. Gaspar Aguilar, 90", "[LOCATION]"},
      {"Heparin 25000 Units", "Heparin 25000 Units"},
      {"Hospital Day 3", "Hospital Day 3"},
      {"Hospital general ward", "Hospital general ward"},
  });
}

TEST_CASE("Spanish addresses: floor and door, streets known by their postal code or s/n, the province") {
  check_all({
      // The floor and door after the number, in their many spellings.
      {"Calle Francisco del Pino, 6 2ºA", "[LOCATION]"},
      {"C/ Manuel Caballero Venzala, 12, 2.º A.", "[LOCATION]."},
      {"Av. del Rio, 34, 3, A.", "[LOCATION]."},
      {"Av. Parriño, 13, 2 A.", "[LOCATION]."},
      {"C/ Colón, 28-1º. 36201 Vigo", "[LOCATION]. [LOCATION]"},
      {"Plaza de la Encarnación, 32 - P1- 2B 41003 Sevilla", "[LOCATION] [LOCATION]"},
      {"c/ del Abedul 5-7, bajo A", "[LOCATION]"},
      // A street without its kind: the postal code and city after its number say it, or "s/n" does.
      {"Urología. Xubias de Arriba, 84 15006 Coruña", "Urología. [LOCATION] [LOCATION]"},
      {"Dr. Barbón. Acacias, 30. 33423 Soto", "Dr. [NAME]. [LOCATION]. [LOCATION]"},
      {"Hermanos Falcó, s/n - 02006 Albacete", "[LOCATION] - [LOCATION]"},
      {"Hospital POVISA Salamanca, 5 - 36211 Vigo", "[LOCATION] - [LOCATION]"},
      // Not without them: a list, a score, a dose.
      {"Glasgow 15, 14000 leucocitos", "Glasgow 15, 14000 leucocitos"},
      {"Hemoglobina 12, 13500 plaquetas", "Hemoglobina 12, 13500 plaquetas"},
      // The province after the city; a country is not PHI.
      {"03570 Villajoyosa. Alicante. España.", "[LOCATION]. España."},
      {"36211 Vigo (Pontevedra) E-mail", "[LOCATION]) E-mail"},
      // An address's label keeps its value over ". " before a floor, and after an initial.
      {"Domicilio: Paseo de la castellana 87. 9F.\nLocalidad: Madrid", "Domicilio: [LOCATION].\nLocalidad: [LOCATION]"},
      {"Domicilio: M. Gonzalez 264 .", "Domicilio: [LOCATION] ."},
      // A US address's state stays (Safe Harbor keeps states); its ZIP code goes.
      {"Address: 7725 Vine Street, Apt. 324, Gibsonfurt, TN 37398", "Address: [LOCATION], TN [ZIP]"},
  });
}

TEST_CASE("Spanish surnames with their particles") {
  check_all({
      {"Médico: Victoria Fuentelsaz del Barrio  NºCol: 08 08 57483", "Médico: [NAME]  NºCol: [LICENSE]"},
      {"Remitido por: Dr. Jose Hugo de Gea-García josehdegea", "Remitido por: Dr. [NAME] josehdegea"},
      {"Dra. Noemí Ruiz del Río. Servicio", "Dra. [NAME]. Servicio"},
      // A department after a name is not a surname.
      {"Dr. Ignacio Rubio Tortosa Servicio de Urología", "Dr. [NAME] Servicio de Urología"},
  });
}
