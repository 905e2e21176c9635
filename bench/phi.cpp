// bench/phi.cpp — how much PHI medgate's detectors find, how much else they
// hide, and how fast, on annotated corpora.
//
// The targets (issue 5): token-level recall ≥ 0.99 with precision
// ≥ 0.85 on English clinical notes (the seeded generator, tests/phi/notes.mjs);
// recall ≥ 0.95 on both shared sets (../shared/corpora: presidio-synth and
// meddocan); ≥ 100 MB/s native on one core. For each corpus (gold JSONL:
// {"text", "spans": [{"start", "end", "type"}]} with code-point offsets) it
// prints recall and precision at token and span level, overall and per
// category, as tests/phi/score.hpp counts them (gold categories mapped to
// medgate's; non-Safe-Harbor kinds neutral), and the speed: MB/s (10^6 bytes)
// of phi::find_phi over the corpus texts joined and repeated to ≥ 8 MB, best
// of --runs, by the process's CPU time (one thread). `--json` prints one JSON
// object per corpus and system.
// Other systems' spans (`--predictions`, e.g. the npm redact-pii that
// bench/phi.mjs runs, or medgate's WASM build) go through the very same scorer
// and are printed the same way, each after medgate's for its corpus; their
// speed is measured by whoever produced them.
// A benchmark, not a test: built with MEDGATE_BUILD_BENCH, never run by ctest.
//
//   bench_phi --lexicon BUILD/lexicons/phi.mglex [--corpus NAME=FILE]... [--predictions NAME[:SYSTEM]=FILE]...
//             [--runs N] [--json] [--examples N]
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "medgate/phi/detect.hpp"
#include "score.hpp"  // tests/phi/score.hpp

namespace {

using nlohmann::json;

constexpr std::size_t min_speed_bytes = 8'000'000;

using found_spans = std::vector<std::vector<medgate::phi::span>>;  ///< per document, byte offsets

struct report {
  std::string corpus;
  std::string system;  ///< empty: medgate native
  medgate::phi_score::scores s;
  std::optional<double> mb_per_s;  ///< measured for medgate native only
};

/// The one scoring path, for medgate's spans and everybody else's.
medgate::phi_score::scores score(std::vector<medgate::phi_score::document> const& docs, found_spans const& found,
                                 std::size_t keep_examples) {
  medgate::phi_score::scores s;
  for (std::size_t k = 0; k < docs.size(); ++k) medgate::phi_score::add(s, docs[k], found[k], keep_examples);
  return s;
}

found_spans find_all(std::vector<medgate::phi_score::document> const& docs, medgate::phi::lexicon const& lex) {
  found_spans out;
  out.reserve(docs.size());
  for (auto const& d : docs) out.push_back(medgate::phi::find_phi(d.text, lex));
  return out;
}

/// MB/s of find_phi over the texts joined (one newline apart) and repeated to at least min_speed_bytes.
double speed(std::vector<medgate::phi_score::document> const& docs, medgate::phi::lexicon const& lex, int runs) {
  std::string all;
  for (auto const& d : docs) {
    all += d.text;
    all += '\n';
  }
  if (all.empty()) return 0;
  std::string big;
  while (big.size() < min_speed_bytes) big += all;
  double best = 0;
  for (int k = 0; k < runs; ++k) {
    std::clock_t const t0 = std::clock();
    auto const spans = medgate::phi::find_phi(big, lex);
    double const seconds = static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
    if (spans.size() > big.size()) std::abort();  // uses the result
    best = std::max(best, static_cast<double>(big.size()) / 1e6 / seconds);
  }
  return best;
}

/// Another system's spans for `docs`: JSONL, one {"spans": [{"start", "end", "type"}]} per gold document in
/// the same order, code-point offsets like the gold files, types medgate's category names. Throws
/// std::runtime_error naming the file and line of anything that does not fit.
found_spans read_predictions(std::string const& path, std::vector<medgate::phi_score::document> const& docs) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}", path));
  found_spans out;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto const where = [&] { return fmt::format("{}:{}", path, n); };
    if (out.size() == docs.size())
      throw std::runtime_error(fmt::format("{}: more lines than the corpus's {} documents", where(), docs.size()));
    auto const j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("spans") || !j["spans"].is_array())
      throw std::runtime_error(fmt::format("{}: not a {{\"spans\": [...]}} line", where()));
    auto const cp = medgate::phi_score::code_point_offsets(docs[out.size()].text);
    auto& spans = out.emplace_back();
    for (auto const& s : j["spans"]) {
      if (!s.is_object() || !s.contains("start") || !s["start"].is_number_unsigned() || !s.contains("end") ||
          !s["end"].is_number_unsigned() || !s.contains("type") || !s["type"].is_string())
        throw std::runtime_error(fmt::format("{}: a span wants unsigned start and end and a type", where()));
      auto const a = s["start"].get<std::size_t>();
      auto const b = s["end"].get<std::size_t>();
      if (a >= b || b >= cp.size())
        throw std::runtime_error(
            fmt::format("{}: span [{}, {}) out of range (the text has {} code points)", where(), a, b, cp.size() - 1));
      auto const type = s["type"].get<std::string>();
      auto const cat = medgate::phi::parse_category(type);
      if (!cat)
        throw std::runtime_error(fmt::format("{}: type \"{}\" is not a medgate category ({})", where(), type,
                                             fmt::join(medgate::phi::category_names, ", ")));
      spans.push_back({cp[a], cp[b], *cat});
    }
  }
  if (out.size() != docs.size())
    throw std::runtime_error(fmt::format("{}: {} lines for the corpus's {} documents", path, out.size(), docs.size()));
  return out;
}

void print(report const& r, bool as_json) {
  using medgate::phi_score::ratio;
  auto const& s = r.s;
  auto const f1 = [](double p, double rc) { return p + rc == 0 ? 0.0 : 2 * p * rc / (p + rc); };
  double const tr = s.token_recall();
  double const tp = s.token_precision();
  if (as_json) {
    json j{{"corpus", r.corpus},
           {"system", r.system.empty() ? "medgate native" : r.system},
           {"documents", s.documents},
           {"bytes", s.bytes},
           {"token_recall", tr},
           {"token_precision", tp},
           {"token_f1", f1(tp, tr)},
           {"span_recall", s.span_recall()},
           {"span_precision", s.span_precision()},
           {"clean_documents", s.clean},
           {"clean_unchanged", s.clean_unchanged}};
    if (r.mb_per_s) j["mb_per_s"] = *r.mb_per_s;
    json per = json::object();
    for (std::size_t c = 0; c < medgate::phi::category_count; ++c) {
      auto const& g = s.token_by_gold[c];
      auto const& p = s.token_by_found[c];
      auto const& sp = s.span_by_gold[c];
      if (g.tp + g.fn + p.tp + p.fp == 0) continue;
      per[std::string{medgate::phi::category_names[c]}] = {{"gold_tokens", g.tp + g.fn},
                                                           {"recall", ratio(g.tp, g.tp + g.fn)},
                                                           {"found_tokens", p.tp + p.fp},
                                                           {"precision", ratio(p.tp, p.tp + p.fp)},
                                                           {"span_recall", ratio(sp.tp, sp.tp + sp.fn)}};
    }
    j["categories"] = per;
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("== {}{}: {} documents, {:.2f} MB\n", r.corpus, r.system.empty() ? "" : fmt::format(" ({})", r.system),
             s.documents, static_cast<double>(s.bytes) / 1e6);
  fmt::print("token level  recall {:.4f}  precision {:.4f}  F1 {:.4f}   ({} PHI tokens, {} missed, {} false)\n", tr, tp,
             f1(tp, tr), s.token.tp + s.token.fn, s.token.fn, s.token.fp);
  fmt::print("span level   recall {:.4f}  precision {:.4f}   ({} gold spans, {} missed, {} false)\n", s.span_recall(),
             s.span_precision(), s.span_level.tp + s.span_level.fn, s.span_level.fn, s.span_level.fp);
  if (r.mb_per_s) fmt::print("speed        {:.1f} MB/s (one core, CPU time)\n", *r.mb_per_s);
  if (s.clean > 0) fmt::print("clean notes  {} of {} without PHI came out unchanged\n", s.clean_unchanged, s.clean);
  fmt::print("  {:<9} {:>8} {:>8} {:>8} {:>9} {:>8}\n", "category", "tokens", "recall", "span rec", "found",
             "precision");
  for (std::size_t c = 0; c < medgate::phi::category_count; ++c) {
    auto const& g = s.token_by_gold[c];
    auto const& p = s.token_by_found[c];
    auto const& sp = s.span_by_gold[c];
    if (g.tp + g.fn + p.tp + p.fp == 0) continue;
    fmt::print("  {:<9} {:>8} {:>8.4f} {:>8.4f} {:>9} {:>8.4f}\n", medgate::phi::category_names[c], g.tp + g.fn,
               ratio(g.tp, g.tp + g.fn), ratio(sp.tp, sp.tp + sp.fn), p.tp + p.fp, ratio(p.tp, p.tp + p.fp));
  }
  for (auto const& m : s.misses) fmt::print("  missed  {}\n", m);
  for (auto const& m : s.false_alarms) fmt::print("  false   {}\n", m);
}

constexpr char const* usage_text =
    "usage: bench_phi --lexicon FILE [--corpus NAME=FILE]... [--predictions NAME[:SYSTEM]=FILE]... [--runs N]\n"
    "                 [--json] [--examples N]\n"
    "  --lexicon FILE      the build's lexicons/phi.mglex\n"
    "  --corpus NAME=FILE  a gold JSONL file (code-point offsets); repeatable\n"
    "  --predictions NAME[:SYSTEM]=FILE\n"
    "                      another system's spans for corpus NAME, scored like medgate's: JSONL, one\n"
    "                      {\"spans\": [{\"start\", \"end\", \"type\"}]} per gold line, code-point offsets, medgate's\n"
    "                      category names; SYSTEM labels it (default: FILE); repeatable\n"
    "  --runs N            speed runs, the best counts (default 3)\n"
    "  --json              one JSON object per corpus and system instead of the tables\n"
    "  --examples N        print up to N missed and N false spans per corpus and system (default 0)\n";

/// A file given as "NAME=FILE" (--corpus) or "NAME[:SYSTEM]=FILE" (--predictions).
struct named_file {
  std::string corpus;
  std::string system;  ///< --predictions only
  std::string path;
};

/// Its parts; nothing when there is no '='. With `labelled`, SYSTEM defaults to FILE.
std::optional<named_file> parse_named_file(std::string const& v, bool labelled) {
  auto const eq = v.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == v.size()) return std::nullopt;
  named_file p{v.substr(0, eq), "", v.substr(eq + 1)};
  if (auto const colon = p.corpus.find(':'); labelled && colon != std::string::npos) {
    p.system = p.corpus.substr(colon + 1);
    p.corpus.resize(colon);
  }
  if (labelled && p.system.empty()) p.system = p.path;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  std::string lexicon_path;
  std::vector<named_file> corpora;
  std::vector<named_file> others;  // --predictions
  int runs = 3;
  bool as_json = false;
  std::size_t examples = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view const a = argv[i];
    auto const next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "bench_phi: {} needs a value\n{}", a, usage_text);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--lexicon") {
      lexicon_path = next();
    } else if (a == "--corpus" || a == "--predictions") {
      auto const v = next();
      auto const p = parse_named_file(v, a == "--predictions");
      if (!p) {
        fmt::print(stderr, "bench_phi: {} wants {}=FILE, got {}\n", a, a == "--corpus" ? "NAME" : "NAME[:SYSTEM]", v);
        return 2;
      }
      (a == "--corpus" ? corpora : others).push_back(*p);
    } else if (a == "--runs") {
      runs = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--examples") {
      examples = static_cast<std::size_t>(std::max(0, std::atoi(next().c_str())));
    } else if (a == "--json") {
      as_json = true;
    } else {
      fmt::print(stderr, "bench_phi: unknown argument {}\n{}", a, usage_text);
      return 2;
    }
  }
  medgate::phi::lexicon lex;
  if (!lexicon_path.empty()) {
    std::ifstream in(lexicon_path, std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto parsed = medgate::phi::lexicon::parse(std::move(bytes));
    if (!parsed) {
      fmt::print(stderr, "bench_phi: {}: {}\n", lexicon_path, parsed.error_message());
      return 1;
    }
    lex = std::move(parsed).value();
  }
  if (corpora.empty()) {
    fmt::print(stderr, "bench_phi: no --corpus given\n{}", usage_text);
    return 2;
  }
  for (auto const& o : others) {
    if (std::none_of(corpora.begin(), corpora.end(), [&](auto const& c) { return c.corpus == o.corpus; })) {
      fmt::print(stderr, "bench_phi: --predictions for {}, but no --corpus {}=FILE\n", o.corpus, o.corpus);
      return 2;
    }
  }
  try {
    for (auto const& c : corpora) {
      // Countries and states a general place label covers are no PHI (Safe Harbor); the lexicon knows them.
      auto const docs = medgate::phi_score::read_corpus(c.path, [&](std::string_view place) {
        return (lex.lookup(place) & (medgate::phi::word::country | medgate::phi::word::state)) != 0;
      });
      print({c.corpus, "", score(docs, find_all(docs, lex), examples), speed(docs, lex, runs)}, as_json);
      for (auto const& o : others)
        if (o.corpus == c.corpus)
          print({c.corpus, o.system, score(docs, read_predictions(o.path, docs), examples), std::nullopt}, as_json);
    }
  } catch (std::exception const& e) {
    fmt::print(stderr, "bench_phi: {}\n", e.what());
    return 1;
  }
  return 0;
}
