// phi_lexicon_test.cpp — the lexicon file (phi/lexicon.hpp): lookups fold ASCII case, phrases, and every
// malformed file is refused with the byte where it went wrong.
#include <doctest/doctest.h>

#include <string>

#include "medgate/phi/lexicon.hpp"
#include "mglex_writer.hpp"

namespace {

namespace word = medgate::phi::word;
using medgate::phi::lexicon;
using medgate::test::make_lexicon;
using medgate::test::mglex_bytes;

TEST_CASE("lookups ignore ASCII case and find phrases; absent words have no flags") {
  auto const lex = make_lexicon({{"rivera", word::last},
                                 {"brown", word::last | word::common | word::frequent_last},
                                 {"new york", word::city | word::state},
                                 {"peña", word::last}});
  CHECK(lex.size() == 5);  // with "new" as a phrase head
  CHECK(lex.lookup("Rivera") == word::last);
  CHECK(lex.lookup("RIVERA") == word::last);
  CHECK(lex.lookup("rivera") == word::last);
  CHECK(lex.lookup("BROWN") == (word::last | word::common | word::frequent_last));
  CHECK(lex.lookup("New York") == (word::city | word::state));
  CHECK(lex.lookup("New") == word::head);
  CHECK(lex.lookup("Peña") == word::last);
  CHECK(lex.lookup("PEÑA") == 0);  // only ASCII letters are folded
  CHECK(lex.lookup("Rivers") == 0);
  CHECK(lex.lookup("") == 0);
  CHECK(lexicon{}.lookup("rivera") == 0);
  CHECK(lexicon{}.size() == 0);
}

TEST_CASE("the provenance travels with the lexicon") {
  auto const lex = lexicon::parse(mglex_bytes({{"a", word::common}}, R"({"sources":[]})"));
  REQUIRE(lex.ok());
  CHECK(lex->provenance() == R"({"sources":[]})");
}

TEST_CASE("a malformed lexicon file is refused with what is wrong and where") {
  auto const good = mglex_bytes({{"alpha", word::common}, {"beta", word::last}});
  REQUIRE(lexicon::parse(good).ok());
  auto const refused = [](std::string bytes, std::string const& says) {
    auto const r = lexicon::parse(std::move(bytes));
    REQUIRE_FALSE(r.ok());
    CAPTURE(r.error_message());
    CHECK(r.error_message().find(says) != std::string::npos);
  };
  refused("", "bad magic");
  refused("MGTOK\0\0\1" + good.substr(8), "bad magic");
  refused(good.substr(0, 10), "truncated provenance");
  refused(good.substr(0, good.size() - 2), "truncated");
  refused(good + "x", "bytes after the last entry");
  // Out of order: swap the two entries' keys.
  auto swapped = mglex_bytes({{"alpha", word::common}, {"beta", word::last}});
  auto const a = swapped.find("alpha");
  auto const b = swapped.find("beta");
  swapped.replace(b, 4, "aaaa");
  CHECK(a < b);
  refused(swapped, "out of order");
  auto upper = good;
  upper.replace(upper.find("beta"), 4, "BETA");
  refused(upper, "out of order");  // 'B' sorts before "alpha"
  auto upper_last = good;
  upper_last.replace(upper_last.find("beta"), 4, "beTA");
  refused(upper_last, "not folded");
  auto impossible = good;
  impossible[8 + 4 + 2] = '\xFF';  // the count's low byte, provenance "{}"
  refused(impossible, "count");
}

}  // namespace
