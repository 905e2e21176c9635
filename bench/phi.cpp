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
// object per corpus.
// A benchmark, not a test: built with MEDGATE_BUILD_BENCH, never run by ctest.
//
//   bench_phi --lexicon BUILD/lexicons/phi.mglex [--corpus NAME=FILE]... [--runs N] [--json] [--examples N]
#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "medgate/phi/detect.hpp"
#include "score.hpp"  // tests/phi/score.hpp

namespace {

using nlohmann::json;

constexpr std::size_t min_speed_bytes = 8'000'000;

struct report {
  std::string name;
  medgate::phi_score::scores s;
  double mb_per_s = 0;
};

report measure(std::string name, std::vector<medgate::phi_score::document> const& docs,
               medgate::phi::lexicon const& lex, int runs, std::size_t keep_examples) {
  report r;
  r.name = std::move(name);
  for (auto const& d : docs) medgate::phi_score::add(r.s, d, medgate::phi::find_phi(d.text, lex), keep_examples);
  // Speed: the texts joined (one newline apart) and repeated to at least min_speed_bytes.
  std::string all;
  for (auto const& d : docs) {
    all += d.text;
    all += '\n';
  }
  if (all.empty()) return r;
  std::string big;
  while (big.size() < min_speed_bytes) big += all;
  for (int k = 0; k < runs; ++k) {
    std::clock_t const t0 = std::clock();
    auto const spans = medgate::phi::find_phi(big, lex);
    double const seconds = static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
    if (spans.size() > big.size()) std::abort();  // uses the result
    r.mb_per_s = std::max(r.mb_per_s, static_cast<double>(big.size()) / 1e6 / seconds);
  }
  return r;
}

void print(report const& r, bool as_json) {
  using medgate::phi_score::ratio;
  auto const& s = r.s;
  auto const f1 = [](double p, double rc) { return p + rc == 0 ? 0.0 : 2 * p * rc / (p + rc); };
  double const tr = s.token_recall();
  double const tp = s.token_precision();
  if (as_json) {
    json j{{"corpus", r.name},
           {"documents", s.documents},
           {"bytes", s.bytes},
           {"token_recall", tr},
           {"token_precision", tp},
           {"token_f1", f1(tp, tr)},
           {"span_recall", s.span_recall()},
           {"span_precision", s.span_precision()},
           {"mb_per_s", r.mb_per_s},
           {"clean_documents", s.clean},
           {"clean_unchanged", s.clean_unchanged}};
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
  fmt::print("== {}: {} documents, {:.2f} MB\n", r.name, s.documents, static_cast<double>(s.bytes) / 1e6);
  fmt::print("token level  recall {:.4f}  precision {:.4f}  F1 {:.4f}   ({} PHI tokens, {} missed, {} false)\n", tr, tp,
             f1(tp, tr), s.token.tp + s.token.fn, s.token.fn, s.token.fp);
  fmt::print("span level   recall {:.4f}  precision {:.4f}   ({} gold spans, {} missed, {} false)\n", s.span_recall(),
             s.span_precision(), s.span_level.tp + s.span_level.fn, s.span_level.fn, s.span_level.fp);
  fmt::print("speed        {:.1f} MB/s (one core, CPU time)\n", r.mb_per_s);
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
    "usage: bench_phi --lexicon FILE [--corpus NAME=FILE]... [--runs N] [--json] [--examples N]\n"
    "  --lexicon FILE      the build's lexicons/phi.mglex\n"
    "  --corpus NAME=FILE  a gold JSONL file (code-point offsets); repeatable\n"
    "  --runs N            speed runs, the best counts (default 3)\n"
    "  --examples N        print up to N missed and N false spans per corpus (default 0)\n";

}  // namespace

int main(int argc, char** argv) {
  std::string lexicon_path;
  std::vector<std::pair<std::string, std::string>> corpora;
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
    } else if (a == "--corpus") {
      auto const v = next();
      auto const eq = v.find('=');
      if (eq == std::string::npos) {
        fmt::print(stderr, "bench_phi: --corpus wants NAME=FILE, got {}\n", v);
        return 2;
      }
      corpora.emplace_back(v.substr(0, eq), v.substr(eq + 1));
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
  try {
    for (auto const& [name, path] : corpora)
      print(measure(name, medgate::phi_score::read_corpus(path), lex, runs, examples), as_json);
  } catch (std::exception const& e) {
    fmt::print(stderr, "bench_phi: {}\n", e.what());
    return 1;
  }
  return 0;
}
