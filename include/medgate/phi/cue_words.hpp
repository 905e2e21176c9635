// phi/cue_words.hpp — the small closed word lists the name and place rules
// look for (titles, relations, labels, credentials, eponym nouns, facility
// words, place cues...), and one lookup that gives a word all of its roles.
//
//   std::uint32_t c = phi::cue_bits("Dr");   // cue::title
//   if (c & phi::cue::relation) ...
//
// These lists are medgate's own rules, not data from packages; they live
// here, in the code, so the detectors work without a lexicon file. Every
// word of a text is looked up once (split_words), case-insensitively for
// ASCII letters.
#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "lexicon.hpp"

namespace medgate::phi {

/// A word's roles for the rules: one bit each.
namespace cue {
inline constexpr std::uint32_t title = 1U << 0;
inline constexpr std::uint32_t relation = 1U << 1;
inline constexpr std::uint32_t name_verb = 1U << 2;
inline constexpr std::uint32_t label = 1U << 3;
inline constexpr std::uint32_t credential = 1U << 4;
inline constexpr std::uint32_t suffix = 1U << 5;
inline constexpr std::uint32_t never_name = 1U << 6;
inline constexpr std::uint32_t weekday = 1U << 7;
inline constexpr std::uint32_t month_abbreviation = 1U << 8;
inline constexpr std::uint32_t person_verb = 1U << 9;
inline constexpr std::uint32_t eponym_noun = 1U << 10;
inline constexpr std::uint32_t month = 1U << 11;
inline constexpr std::uint32_t facility_head = 1U << 12;
inline constexpr std::uint32_t facility_generic = 1U << 13;
inline constexpr std::uint32_t facility_joiner = 1U << 14;
inline constexpr std::uint32_t place_cue = 1U << 15;
inline constexpr std::uint32_t strong_place_cue = 1U << 16;
inline constexpr std::uint32_t place_prefix = 1U << 17;
inline constexpr std::uint32_t street_suffix = 1U << 18;
inline constexpr std::uint32_t unit = 1U << 19;
inline constexpr std::uint32_t direction = 1U << 20;
inline constexpr std::uint32_t address_word = 1U << 21;
inline constexpr std::uint32_t long_street = 1U << 22;  ///< "Calle", "Avenida", "C": a street over words to its number
inline constexpr std::uint32_t facility_first = 1U << 23;  ///< "Hospital", "Centro": a facility named kind first
/// The roles a word has for the rules even in lower case ("daughter", "by", "sign", "in", "of", "apt"); the
/// others (never_name, month, weekday...) only matter for a capitalised word.
inline constexpr std::uint32_t in_lower_case = title | relation | name_verb | label | eponym_noun | person_verb |
                                               facility_joiner | place_cue | strong_place_cue | unit | direction |
                                               address_word;
}  // namespace cue

namespace detail::lists {

inline constexpr std::array<std::string_view, 20> name_titles{
    "dr",  "mr",   "mrs", "ms",  "miss",   "mx",     "prof",    "professor", "sr",    "sra",
    "dra", "srta", "don", "rev", "pastor", "sister", "brother", "dña",       "señor", "señora"};

inline constexpr std::array<std::string_view, 36> name_relations{
    "wife",      "husband",  "son",           "daughter",    "mother",      "father",       "mom",      "dad",
    "sister",    "brother",  "spouse",        "partner",     "boyfriend",   "girlfriend",   "friend",   "niece",
    "nephew",    "grandson", "granddaughter", "grandmother", "grandfather", "aunt",         "uncle",    "cousin",
    "caregiver", "guardian", "fiance",        "fiancee",     "stepson",     "stepdaughter", "neighbor", "roommate",
    "hcp",       "proxy",    "sibling",       "companion"};

/// Words that, with "by" or "with" after them, introduce a person.
inline constexpr std::array<std::string_view, 31> name_verbs{
    "seen",     "signed",   "dictated",      "transcribed", "cosigned",    "reviewed", "examined",      "evaluated",
    "referred", "attested", "authenticated", "performed",   "interpreted", "verified", "approved",      "prepared",
    "entered",  "written",  "discussed",     "spoke",       "spoken",      "lives",    "living",        "resides",
    "staying",  "talked",   "met",           "consulted",   "accompanied", "called",   "electronically"};

/// Labels that put a name after them on their line ("Patient: ...", "cc: ...").
inline constexpr std::array<std::string_view, 42> name_labels{
    "name",        "patient",     "pt",        "attending",  "pcp",     "physician", "provider",
    "resident",    "fellow",      "intern",    "nurse",      "rn",      "surgeon",   "anesthesiologist",
    "radiologist", "pathologist", "referring", "contact",    "cc",      "to",        "from",
    "dear",        "author",      "signed",    "signature",  "by",      "witness",   "interpreter",
    "guarantor",   "subscriber",  "insured",   "consultant", "nombre",  "apellidos", "médico",
    "medico",      "paciente",    "remitido",  "enfermera",  "doctora", "re",        "caller"};

inline constexpr std::array<std::string_view, 31> name_credentials{
    "md",   "do",  "rn",  "np",  "pa",   "pa-c",   "phd",  "dds",   "dmd",  "lpn",  "cna",
    "aprn", "fnp", "dnp", "msw", "lcsw", "pharmd", "crna", "rd",    "facp", "facs", "mph",
    "bsn",  "msn", "jr",  "sr",  "ii",   "iii",    "iv",   "fnp-c", "np-c"};

inline constexpr std::array<std::string_view, 6> name_suffixes{"jr", "sr", "ii", "iii", "iv", "v"};

/// Words that are names too ("In", "Will", "Her") but that no cue or company makes one: pronouns, auxiliaries,
/// prepositions, conjunctions.
inline constexpr std::array<std::string_view, 57> never_names{
    "in",    "on",    "at",    "or",     "and",  "so",  "do",   "an",   "as",   "by",    "to",   "up",
    "the",   "of",    "her",   "his",    "him",  "she", "he",   "they", "them", "their", "my",   "our",
    "your",  "we",    "us",    "it",     "is",   "be",  "not",  "no",   "per",  "will",  "may",  "can",
    "shall", "would", "could", "should", "with", "for", "from", "but",  "if",   "who",   "that", "this",
    "all",   "any",   "some",  "was",    "were", "are", "has",  "had",  "have"};

/// Days of the week: names too ("Sun", "Wed"), but a title is needed to make them one.
inline constexpr std::array<std::string_view, 18> weekdays{
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue",
    "tues",   "wed",     "thu",       "thur",     "thurs",  "fri",      "sat",    "sun", "weds"};

inline constexpr std::array<std::string_view, 11> month_abbreviations{"jan", "feb", "mar",  "apr", "jun", "jul",
                                                                      "aug", "sep", "sept", "oct", "nov"};

/// Verbs that follow a person at the start of a sentence: "MARIA RESTED COMFORTABLY", "Kilback reports".
inline constexpr std::array<std::string_view, 36> person_verbs{
    "rested",    "reports",    "reported",  "states",     "stated",     "denies",  "denied",  "ate",      "slept",
    "tolerated", "tolerating", "ambulated", "verbalized", "verbalizes", "refused", "refuses", "voices",   "voiced",
    "complains", "complained", "remains",   "continues",  "feels",      "felt",    "appears", "endorses", "endorsed",
    "presents",  "presented",  "says",      "spent",      "shouted",    "lives",   "smiled",  "laughed",  "whispered"};

/// Nouns that make the name before them an eponym: "Murphy's sign", "Wilson disease", "Foley catheter".
inline constexpr std::array<std::string_view, 80> eponym_nouns{"sign",
                                                               "signs",
                                                               "test",
                                                               "disease",
                                                               "syndrome",
                                                               "catheter",
                                                               "score",
                                                               "scale",
                                                               "criteria",
                                                               "maneuver",
                                                               "manoeuvre",
                                                               "reflex",
                                                               "palsy",
                                                               "lymphoma",
                                                               "sarcoma",
                                                               "procedure",
                                                               "operation",
                                                               "fracture",
                                                               "classification",
                                                               "grade",
                                                               "stage",
                                                               "position",
                                                               "phenomenon",
                                                               "triad",
                                                               "law",
                                                               "repair",
                                                               "tube",
                                                               "line",
                                                               "drain",
                                                               "needle",
                                                               "blade",
                                                               "stain",
                                                               "node",
                                                               "nodes",
                                                               "murmur",
                                                               "ulcer",
                                                               "cyst",
                                                               "diverticulum",
                                                               "tumor",
                                                               "tumour",
                                                               "body",
                                                               "bodies",
                                                               "cell",
                                                               "cells",
                                                               "nerve",
                                                               "duct",
                                                               "gland",
                                                               "space",
                                                               "point",
                                                               "incision",
                                                               "approach",
                                                               "valve",
                                                               "shunt",
                                                               "bag",
                                                               "lamp",
                                                               "index",
                                                               "formula",
                                                               "method",
                                                               "technique",
                                                               "dressing",
                                                               "boot",
                                                               "splint",
                                                               "rule",
                                                               "rules",
                                                               "angle",
                                                               "view",
                                                               "ring",
                                                               "wave",
                                                               "waves",
                                                               "spots",
                                                               "sphincter",
                                                               "hernia",
                                                               "contracture",
                                                               "protocol",
                                                               "respiration",
                                                               "respirations",
                                                               "encephalopathy",
                                                               "fundoplication",
                                                               "resection",
                                                               "pouch"};

inline constexpr std::array<std::string_view, 12> month_words{"january",   "february", "march",    "april",
                                                              "may",       "june",     "july",     "august",
                                                              "september", "october",  "november", "december"};

/// Last words of a facility's name.
inline constexpr std::array<std::string_view, 29> facility_heads{
    "hospital",   "hospitals",  "clinic",     "clinics",   "center",     "centre",   "infirmary",      "hospice",
    "home",       "healthcare", "health",     "institute", "sanatorium", "rehab",    "rehabilitation", "pharmacy",
    "practice",   "associates", "facility",   "care",      "group",      "medicine", "partners",       "physicians",
    "pediatrics", "living",     "apothecary", "residence", "manor"};

/// Words of a facility's name that say what it is, not which one ("General Hospital" alone names none).
inline constexpr std::array<std::string_view, 62> facility_generic{
    "general",   "medical",      "regional",   "community",      "memorial",    "university", "health",     "center",
    "hospital",  "clinic",       "nursing",    "rehabilitation", "care",        "urgent",     "skilled",    "the",
    "of",        "and",          "children's", "childrens",      "county",      "city",       "state",      "veterans",
    "family",    "primary",      "internal",   "emergency",      "department",  "radiology",  "cardiology", "oncology",
    "surgery",   "pediatrics",   "psychiatry", "neurology",      "orthopedics", "women's",    "behavioral", "mental",
    "physical",  "occupational", "therapy",    "dialysis",       "cancer",      "heart",      "eye",        "kidney",
    "wound",     "pain",         "sleep",      "imaging",        "outpatient",  "inpatient",  "ambulatory", "surgical",
    "specialty", "senior",       "assisted",   "living",         "medicine",    "group"};

/// Words joining a facility's name: "St. Mary of the Lake", "Johns Hopkins & Partners".
inline constexpr std::array<std::string_view, 3> facility_joiners{"of", "the", "and"};

inline constexpr std::array<std::string_view, 15> place_cues{"in",        "from",     "to",     "near",    "at",
                                                             "of",        "visiting", "lives",  "resides", "moved",
                                                             "relocated", "born",     "native", "outside", "around"};

/// The cues strong enough to make an unknown word a place: "lives in Rippinside", "from Oakvale".
inline constexpr std::array<std::string_view, 4> strong_place_cues{"in", "from", "near", "outside"};

/// First words of place names: "North Coltencester", "Port Ellis", "Lake Ozella".
inline constexpr std::array<std::string_view, 14> place_prefixes{
    "north", "south", "east", "west", "new", "port", "fort", "saint", "st", "mount", "mt", "lake", "san", "los"};

/// The most used street suffixes, for when there is no lexicon (it has the whole USPS list).
inline constexpr std::array<std::string_view, 20> common_street_suffixes{
    "street", "st", "avenue", "ave", "road", "rd",    "boulevard", "blvd",    "lane",   "ln",
    "drive",  "dr", "court",  "ct",  "way",  "place", "pl",        "terrace", "circle", "highway"};

inline constexpr std::array<std::string_view, 9> unit_words{"apt", "apartment", "suite", "ste", "unit",
                                                            "fl",  "floor",     "bldg",  "room"};

inline constexpr std::array<std::string_view, 12> directions{"n",  "s",  "e",     "w",     "ne",   "nw",
                                                             "se", "sw", "north", "south", "east", "west"};

/// Words of addresses and facilities the place rules look at even in lower case: "po box", "rest home".
inline constexpr std::array<std::string_view, 8> address_words{"po",   "p",          "o",      "box",
                                                               "rest", "retirement", "foster", "nursing"};

/// Words that start a street in Spanish and Portuguese and run over several words to the number:
/// "C/ Eduardo Rivas, 3", "Avenida de Córdoba s/n", "Plaza de la Encarnación, 32", "Av. Gaspar Aguilar, 90".
inline constexpr std::array<std::string_view, 16> long_street_prefixes{
    "c",      "calle", "avenida",  "avda",     "av",     "plaza", "paseo",   "carretera",
    "camino", "ronda", "travesía", "glorieta", "rambla", "rua",   "alameda", "vía"};

/// Spanish facility names put the kind first: "Hospital Universitario 12 de octubre", "Centro de Salud ...".
inline constexpr std::array<std::string_view, 7> facility_first{"hospital",  "complejo",    "centro", "clínica",
                                                                "sanatorio", "policlínica", "clinica"};

}  // namespace detail::lists

namespace detail {

/// The cue words in an open-addressing table, built once.
class cue_table {
 public:
  cue_table() : slots_(1024) {
    add(lists::name_titles, cue::title);
    add(lists::name_relations, cue::relation);
    add(lists::name_verbs, cue::name_verb);
    add(lists::name_labels, cue::label);
    add(lists::name_credentials, cue::credential);
    add(lists::name_suffixes, cue::suffix);
    add(lists::never_names, cue::never_name);
    add(lists::weekdays, cue::weekday);
    add(lists::month_abbreviations, cue::month_abbreviation);
    add(lists::person_verbs, cue::person_verb);
    add(lists::eponym_nouns, cue::eponym_noun);
    add(lists::month_words, cue::month);
    add(lists::facility_heads, cue::facility_head);
    add(lists::facility_generic, cue::facility_generic);
    add(lists::facility_joiners, cue::facility_joiner);
    add(lists::place_cues, cue::place_cue);
    add(lists::strong_place_cues, cue::strong_place_cue);
    add(lists::place_prefixes, cue::place_prefix);
    add(lists::common_street_suffixes, cue::street_suffix);
    add(lists::unit_words, cue::unit);
    add(lists::directions, cue::direction);
    add(lists::address_words, cue::address_word);
    add(lists::long_street_prefixes, cue::long_street);
    add(lists::facility_first, cue::facility_first);
  }

  [[nodiscard]] std::uint32_t find(std::string_view word, std::size_t hash) const noexcept {
    if (word.empty() || word.size() > 24 || !maybe_[filter_bit(hash) / 64].test(filter_bit(hash) % 64)) return 0;
    std::size_t const mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      auto const& s = slots_[i];
      if (s.bits == 0) return 0;
      if (s.word.size() == word.size() && same(s.word, word)) return s.bits;
    }
  }

 private:
  struct slot {
    std::string_view word;
    std::uint32_t bits = 0;
  };

  static bool same(std::string_view lower, std::string_view text) noexcept {
    for (std::size_t i = 0; i < lower.size(); ++i)
      if (lower[i] != fold_ascii(text[i])) return false;
    return true;
  }

  template <std::size_t N>
  void add(std::array<std::string_view, N> const& words, std::uint32_t bit) {
    std::size_t const mask = slots_.size() - 1;
    for (auto const w : words) {
      std::size_t i = folded_hash(w) & mask;
      while (slots_[i].bits != 0 && slots_[i].word != w) i = (i + 1) & mask;
      slots_[i].word = w;
      slots_[i].bits |= bit;
      maybe_[filter_bit(folded_hash(w)) / 64].set(filter_bit(folded_hash(w)) % 64);
    }
  }

  /// Most words of a text are no cue; one bit per 32,768 hash values, set for the cue words' (a 4 KB table that
  /// stays in the cache), turns most of them away before the slots are read.
  static constexpr std::size_t filter_bit(std::size_t hash) noexcept { return (hash >> 12) & 0x7FFF; }

  std::vector<slot> slots_;
  std::array<std::bitset<64>, 512> maybe_{};
};

}  // namespace detail

namespace detail {

/// Endings of medical words (diseases, procedures, drug classes) that no name has: "cellulitis", "stenosis",
/// "hyperlipidemia", "cholecystectomy", "carvedilol", "apixaban", "ondansetron". The word list (wamerican) holds
/// few of them, and a capitalised word it does not know is otherwise a name's company.
inline constexpr std::array<std::string_view, 53> medical_endings{
    "itis",    "osis",   "emia",   "ectomy", "otomy",     "ostomy",  "plasty",   "scopy",   "graphy",
    "pathy",   "algia",  "megaly", "ology",  "ologist",   "uria",    "penia",    "cytosis", "azole",
    "olol",    "opril",  "sartan", "statin", "mycin",     "cillin",  "floxacin", "cycline", "prazole",
    "tidine",  "dipine", "parin",  "xaban",  "gliflozin", "gliptin", "glutide",  "zepam",   "zolam",
    "triptan", "setron", "lukast", "terol",  "tropium",   "semide",  "thiazide", "asone",   "isone",
    "amine",   "ase",    "emic",   "otic",   "ectasis",   "trophy",  "plegia",   "thema"};

}  // namespace detail

/// Whether `word` ends like a medical term (detail::medical_endings), with at least four letters before the ending.
inline bool medical_word(std::string_view word) noexcept {
  for (auto const e : detail::medical_endings) {
    if (word.size() < e.size() + 4) continue;
    bool same = true;  // from the last letter back: most endings differ there
    for (std::size_t i = e.size(); i-- > 0 && same;)
      same = detail::fold_ascii(word[word.size() - e.size() + i]) == e[i];
    if (same) return true;
  }
  return false;
}

/// The roles of `word` (ASCII case ignored); 0 for a word in no list. `hash` is detail::folded_hash(word).
inline std::uint32_t cue_bits(std::string_view word, std::size_t hash) noexcept {
  static detail::cue_table const table;
  return table.find(word, hash);
}
inline std::uint32_t cue_bits(std::string_view word) noexcept { return cue_bits(word, detail::folded_hash(word)); }

}  // namespace medgate::phi
