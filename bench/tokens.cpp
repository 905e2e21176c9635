// bench/tokens.cpp — how fast the native tokenizer loads and counts, per encoding.
//
// The targets (issue 6, "Speed"): native ≥ 60 MB/s on one core; a
// vocabulary loads in ≤ 50 ms; a 100 KB single word takes ≤ 5 ms (several
// npm peers go quadratic there and take seconds). This measures, for every
// `.mgtok` in --data, on one thread:
//   load         tokens::encoding::load on the file's bytes already in memory, median of 5 (ms; the
//                file's read time is reported apart);
//   corpus       the parity corpus (tests/tokens/corpus) concatenated and repeated to ≥ 8 MB;
//   clinical     a generated clinical text (≥ 8 MB): notes with vitals, doses, units, abbreviations;
//   word         a 100 KB single word (pseudo-random lowercase letters, no spaces);
//   base64       a 100 KB base64 blob (pseudo-random bytes, one line).
// For corpus and clinical it reports MB/s (MB = 10^6 bytes) of `count` and of
// `encode`, the best of 3 runs, by wall clock and by CPU time (the process's
// CPU time, which leaves out time the OS gave other processes on a shared
// machine); for word and base64 the median time of 5
// `encode` calls (ms). It checks that count == encode().size() and that the
// ids decode back to the text, so a fast wrong answer cannot pass.
//
// The texts are generated deterministically; `--write-texts DIR` writes them
// (corpus.txt, clinical.txt, word.txt, base64.txt) so bench/tokens.mjs runs
// the WASM module and the npm peers on exactly the same bytes. `--json`
// prints one JSON object per encoding (one line each) for that driver;
// without it, a table. A benchmark, not a test: built with
// MEDGATE_BUILD_BENCH, never run by ctest.
//
//   bench_tokens --data BUILD/tokens --corpus tests/tokens/corpus [--encoding NAME]... [--json]
//                [--write-texts DIR] [--runs N]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "medgate/tokens/encoding.hpp"

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t min_text_bytes = 8'000'000;
constexpr std::size_t long_piece_bytes = 100'000;
constexpr char const* default_encodings[] = {"cl100k_base", "o200k_base", "deepseek_v3", "llama3"};

constexpr char const* usage_text =
    "usage: bench_tokens --data DIR --corpus DIR [--encoding NAME]... [--json] [--write-texts DIR] [--runs N]\n"
    "  --data DIR         folder of the <encoding>.mgtok files (the build's tokens/)\n"
    "  --corpus DIR       folder of the parity corpus (*.txt; tests/tokens/corpus)\n"
    "  --encoding NAME    measure only NAME (repeatable; default: all four)\n"
    "  --json             one JSON object per encoding and line, for bench/tokens.mjs\n"
    "  --write-texts DIR  also write the benchmark texts to DIR (corpus.txt, clinical.txt, word.txt, base64.txt)\n"
    "  --runs N           runs per throughput measurement, best taken (default 3)\n";

struct settings {
  std::string data_dir;
  std::string corpus_dir;
  std::vector<std::string> encodings;
  std::string write_texts_dir;
  bool json = false;
  int runs = 3;
};

std::optional<settings> parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    std::string_view const a = argv[i];
    auto value = [&]() -> char const* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--json") {
      s.json = true;
    } else if (a == "--data" || a == "--corpus" || a == "--encoding" || a == "--write-texts" || a == "--runs") {
      char const* v = value();
      if (v == nullptr) {
        std::fprintf(stderr, "bench_tokens: %s needs a value\n%s", argv[i], usage_text);
        return std::nullopt;
      }
      if (a == "--data") s.data_dir = v;
      if (a == "--corpus") s.corpus_dir = v;
      if (a == "--encoding") s.encodings.emplace_back(v);
      if (a == "--write-texts") s.write_texts_dir = v;
      if (a == "--runs") s.runs = std::max(1, std::atoi(v));
    } else {
      std::fprintf(stderr, "bench_tokens: unknown argument %s\n%s", argv[i], usage_text);
      return std::nullopt;
    }
  }
  if (s.data_dir.empty() || s.corpus_dir.empty()) {
    std::fprintf(stderr, "bench_tokens: --data and --corpus are required\n%s", usage_text);
    return std::nullopt;
  }
  if (s.encodings.empty()) s.encodings.assign(std::begin(default_encodings), std::end(default_encodings));
  return s;
}

std::optional<std::string> read_file(fs::path const& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return std::nullopt;
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

bool write_file(fs::path const& path, std::string_view bytes) {
  std::ofstream out{path, std::ios::binary};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

/// A small deterministic generator (SplitMix64), so every run measures the same bytes.
class generator {
 public:
  explicit generator(std::uint64_t seed) : state_{seed} {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// A number in [low, high].
  int between(int low, int high) { return low + static_cast<int>(next() % static_cast<std::uint64_t>(high - low + 1)); }
  template <std::size_t N>
  char const* pick(char const* const (&items)[N]) {
    return items[next() % N];
  }

 private:
  std::uint64_t state_;
};

/// The corpus files (sorted by name) concatenated, repeated until the text is at least min_text_bytes long.
std::optional<std::string> corpus_text(fs::path const& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto const& entry : fs::directory_iterator{dir, ec})
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  if (ec || files.empty()) return std::nullopt;
  std::sort(files.begin(), files.end());
  std::string once;
  for (auto const& f : files) {
    auto bytes = read_file(f);
    if (!bytes) return std::nullopt;
    once += *bytes;
  }
  std::string out;
  out.reserve(min_text_bytes + once.size());
  while (out.size() < min_text_bytes) out += once;
  return out;
}

/// Synthetic clinical notes: the numbers, units, doses and abbreviations that make clinical text token-dense.
/// No real patient: names are not generated at all.
std::string clinical_text() {
  static constexpr char const* complaints[] = {
      "chest pain", "shortness of breath", "abdominal pain", "fever",           "headache", "dizziness", "palpitations",
      "cough",      "nausea/vomiting",     "syncope",        "lower back pain", "dysuria"};
  static constexpr char const* drugs[] = {"metoprolol",  "lisinopril",  "atorvastatin",     "metformin",
                                          "amoxicillin", "furosemide",  "pantoprazole",     "apixaban",
                                          "salbutamol",  "paracetamol", "insulin glargine", "ceftriaxone"};
  static constexpr char const* routes[] = {"PO", "IV", "SC", "IM", "INH"};
  static constexpr char const* frequencies[] = {"OD", "BID", "TDS", "QID", "PRN", "q6h", "q8h", "nocte"};
  static constexpr char const* findings[] = {"Chest clear, no wheeze.",
                                             "HS I+II+0.",
                                             "Abdomen soft, non-tender, BS present.",
                                             "No pedal oedema.",
                                             "GCS 15/15.",
                                             "CRT < 2 s.",
                                             "Mild bibasal crepitations.",
                                             "JVP not raised.",
                                             "Pupils equal and reactive to light.",
                                             "Tenderness in the RIF, no guarding.",
                                             "No focal neurological deficit."};
  static constexpr char const* plans[] = {
      "Repeat troponin in 3 h.",    "CXR and ECG ordered.",      "Start IV fluids: NaCl 0.9% 1 L over 8 h.",
      "Refer to cardiology.",       "Review in clinic in 2/52.", "Continue current medications.",
      "Check U&E, FBC, CRP, LFTs.", "Admit for observation."};
  generator g{20251122};
  std::string out;
  out.reserve(min_text_bytes + 4096);
  for (int note = 1; out.size() < min_text_bytes; ++note) {
    auto const sex = g.next() % 2 == 0 ? 'M' : 'F';
    out += fmt::format("Note #{:06d} — {}yo {} presents with {} x{}d, worse on exertion; {}.\n", note,
                       g.between(18, 95), sex, g.pick(complaints), g.between(1, 14), g.pick(complaints));
    out += fmt::format("Vitals: BP {}/{} mmHg, HR {} bpm, RR {}/min, SpO2 {}% on RA, T {}.{}°C, BMI {}.{} kg/m².\n",
                       g.between(90, 190), g.between(50, 110), g.between(45, 140), g.between(10, 30),
                       g.between(85, 100), g.between(35, 40), g.between(0, 9), g.between(16, 45), g.between(0, 9));
    out += fmt::format(
        "Labs: Hb {}.{} g/dL, WBC {}.{} ×10⁹/L, Na⁺ {} mmol/L, K⁺ {}.{} mmol/L, Cr {} µmol/L, "
        "eGFR {} mL/min/1.73m², HbA1c {}.{}%, troponin I {} ng/L.\n",
        g.between(7, 17), g.between(0, 9), g.between(2, 25), g.between(0, 9), g.between(125, 150), g.between(2, 6),
        g.between(0, 9), g.between(45, 450), g.between(8, 120), g.between(4, 12), g.between(0, 9), g.between(1, 2000));
    out += "Meds:";
    for (int m = g.between(1, 4); m > 0; --m)
      out += fmt::format(" {} {} mg {} {};", g.pick(drugs), g.between(1, 100) * 5, g.pick(routes), g.pick(frequencies));
    out +=
        fmt::format("\nO/E: {} {}\nPlan: {} {}\n\n", g.pick(findings), g.pick(findings), g.pick(plans), g.pick(plans));
  }
  return out;
}

std::string long_word() {
  generator g{7};
  std::string out(long_piece_bytes, 'a');
  for (auto& c : out) c = static_cast<char>('a' + g.next() % 26);
  return out;
}

std::string base64_blob() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  generator g{64};
  std::string out;
  out.reserve(long_piece_bytes);
  while (out.size() < long_piece_bytes) {
    auto const v = g.next();
    for (int k = 0; k < 4; ++k) out += alphabet[(v >> (6 * k)) & 63];
  }
  out.resize(long_piece_bytes - 2);
  out += "==";
  return out;
}

double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct text_result {
  std::string name;
  std::size_t bytes = 0;
  std::size_t tokens = 0;
  double count_mb_s = 0;  ///< best of the runs, wall clock
  double encode_mb_s = 0;
  double count_cpu_mb_s = 0;  ///< best of the runs, CPU time
  double encode_cpu_mb_s = 0;
  bool round_trip = false;
};

struct piece_result {
  std::string name;
  std::size_t bytes = 0;
  std::size_t tokens = 0;
  double ms = 0;  ///< median of 5 encode calls
  bool round_trip = false;
};

struct encoding_result {
  std::string name;
  std::size_t file_bytes = 0;
  double read_ms = 0;  ///< reading the .mgtok file (once, cold or warm page cache)
  double load_ms = 0;
  std::vector<double> load_runs;
  std::vector<text_result> texts;
  std::vector<piece_result> pieces;
  std::string error;
};

bool decodes_to(medgate::tokens::encoding const& enc, std::vector<std::uint32_t> const& ids, std::string_view text) {
  auto const back = enc.decode(ids);
  return back && *back == text;
}

/// Wall-clock and CPU time of one call: on a shared machine the CPU time leaves out the time the OS gave
/// other processes (the process is single-threaded, so its CPU time is this thread's).
template <class F>
std::pair<double, double> timed_ms(F&& f) {
  auto const cpu_start = std::clock();
  auto const start = clock_type::now();
  f();
  double const wall = ms_since(start);
  double const cpu = 1000.0 * static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  return {wall, cpu};
}

text_result measure_text(medgate::tokens::encoding const& enc, std::string name, std::string const& text, int runs) {
  text_result r;
  r.name = std::move(name);
  r.bytes = text.size();
  double const megabytes = static_cast<double>(text.size()) / 1e6;
  auto const rate = [&](double ms) { return ms > 0 ? megabytes / (ms / 1000) : 0.0; };
  std::size_t counted = 0;
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < runs; ++i) {
    auto const [count_wall, count_cpu] = timed_ms([&] { counted = enc.count(text); });
    auto const [encode_wall, encode_cpu] = timed_ms([&] { ids = enc.encode(text); });
    r.count_mb_s = std::max(r.count_mb_s, rate(count_wall));
    r.count_cpu_mb_s = std::max(r.count_cpu_mb_s, rate(count_cpu));
    r.encode_mb_s = std::max(r.encode_mb_s, rate(encode_wall));
    r.encode_cpu_mb_s = std::max(r.encode_cpu_mb_s, rate(encode_cpu));
  }
  r.tokens = ids.size();
  r.round_trip = counted == ids.size() && decodes_to(enc, ids, text);
  return r;
}

piece_result measure_piece(medgate::tokens::encoding const& enc, std::string name, std::string const& text) {
  piece_result r;
  r.name = std::move(name);
  r.bytes = text.size();
  std::vector<double> times;
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto const start = clock_type::now();
    ids = enc.encode(text);
    times.push_back(ms_since(start));
  }
  r.tokens = ids.size();
  r.ms = median(times);
  r.round_trip = enc.count(text) == ids.size() && decodes_to(enc, ids, text);
  return r;
}

struct texts {
  std::string corpus;
  std::string clinical;
  std::string word;
  std::string base64;
};

encoding_result measure(std::string const& name, settings const& s, texts const& t) {
  encoding_result r;
  r.name = name;
  auto const read_start = clock_type::now();
  auto const file = read_file(fs::path{s.data_dir} / (name + ".mgtok"));
  r.read_ms = ms_since(read_start);
  if (!file) {
    r.error = fmt::format("cannot read {}.mgtok in {} (build the target medgate_token_data)", name, s.data_dir);
    return r;
  }
  r.file_bytes = file->size();
  std::optional<medgate::tokens::encoding> enc;
  for (int i = 0; i < 5; ++i) {
    auto const start = clock_type::now();
    auto loaded = medgate::tokens::encoding::load(*file);
    r.load_runs.push_back(ms_since(start));
    if (!loaded) {
      r.error = loaded.error_message();
      return r;
    }
    enc.emplace(std::move(*loaded));
  }
  r.load_ms = median(r.load_runs);
  r.texts.push_back(measure_text(*enc, "corpus", t.corpus, s.runs));
  r.texts.push_back(measure_text(*enc, "clinical", t.clinical, s.runs));
  r.pieces.push_back(measure_piece(*enc, "word", t.word));
  r.pieces.push_back(measure_piece(*enc, "base64", t.base64));
  return r;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char const c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void print_json(encoding_result const& r) {
  std::string out = fmt::format("{{\"encoding\":{}", json_string(r.name));
  if (!r.error.empty()) {
    fmt::print("{},\"error\":{}}}\n", out, json_string(r.error));
    return;
  }
  out += fmt::format(",\"file_bytes\":{},\"read_ms\":{:.3f},\"load_ms\":{:.3f},\"load_runs_ms\":[{:.3f}]", r.file_bytes,
                     r.read_ms, r.load_ms, fmt::join(r.load_runs, ","));
  out += ",\"texts\":{";
  for (std::size_t i = 0; i < r.texts.size(); ++i) {
    auto const& t = r.texts[i];
    out += fmt::format(
        "{}{}:{{\"bytes\":{},\"tokens\":{},\"count_mb_s\":{:.2f},\"encode_mb_s\":{:.2f},\"count_cpu_mb_s\":{:.2f},"
        "\"encode_cpu_mb_s\":{:.2f},\"round_trip\":{}}}",
        i ? "," : "", json_string(t.name), t.bytes, t.tokens, t.count_mb_s, t.encode_mb_s, t.count_cpu_mb_s,
        t.encode_cpu_mb_s, t.round_trip);
  }
  out += "},\"pieces\":{";
  for (std::size_t i = 0; i < r.pieces.size(); ++i) {
    auto const& p = r.pieces[i];
    out += fmt::format("{}{}:{{\"bytes\":{},\"tokens\":{},\"encode_ms\":{:.3f},\"round_trip\":{}}}", i ? "," : "",
                       json_string(p.name), p.bytes, p.tokens, p.ms, p.round_trip);
  }
  fmt::print("{}}}}}\n", out);
}

void print_table(std::vector<encoding_result> const& results) {
  fmt::print("{:<12} {:>8} {:>11} {:>11} {:>11} {:>11} {:>9} {:>9}  {}\n", "encoding", "load ms", "corpus cnt",
             "corpus enc", "clin cnt", "clin enc", "word ms", "b64 ms", "checks");
  fmt::print("{:<12} {:>8} {:>11} {:>11} {:>11} {:>11} {:>9} {:>9}\n", "", "(med 5)", "MB/s", "MB/s", "MB/s", "MB/s",
             "100 KB", "100 KB");
  for (auto const& r : results) {
    if (!r.error.empty()) {
      fmt::print("{:<12} error: {}\n", r.name, r.error);
      continue;
    }
    bool ok = true;
    for (auto const& t : r.texts) ok = ok && t.round_trip;
    for (auto const& p : r.pieces) ok = ok && p.round_trip;
    fmt::print("{:<12} {:>8.2f} {:>11.1f} {:>11.1f} {:>11.1f} {:>11.1f} {:>9.2f} {:>9.2f}  {}\n", r.name, r.load_ms,
               r.texts[0].count_mb_s, r.texts[0].encode_mb_s, r.texts[1].count_mb_s, r.texts[1].encode_mb_s,
               r.pieces[0].ms, r.pieces[1].ms, ok ? "count = ids, decode round trip" : "MISMATCH");
    fmt::print("{:<12} {:>8} {:>11.1f} {:>11.1f} {:>11.1f} {:>11.1f}  (by CPU time)\n", "", "",
               r.texts[0].count_cpu_mb_s, r.texts[0].encode_cpu_mb_s, r.texts[1].count_cpu_mb_s,
               r.texts[1].encode_cpu_mb_s);
  }
  fmt::print("\nTexts: corpus {} bytes, clinical {} bytes, word and base64 {} bytes; MB = 10^6 bytes, best of runs.\n",
             results.empty() || results[0].texts.empty() ? 0 : results[0].texts[0].bytes,
             results.empty() || results[0].texts.size() < 2 ? 0 : results[0].texts[1].bytes, long_piece_bytes);
  fmt::print("Targets: count ≥ 60 MB/s, load ≤ 50 ms, 100 KB word ≤ 5 ms.\n");
}

}  // namespace

int main(int argc, char** argv) {
  auto const s = parse(argc, argv);
  if (!s) return 2;
  auto corpus = corpus_text(s->corpus_dir);
  if (!corpus) {
    std::fprintf(stderr, "bench_tokens: no readable *.txt in %s\n", s->corpus_dir.c_str());
    return 2;
  }
  texts const t{std::move(*corpus), clinical_text(), long_word(), base64_blob()};
  if (!s->write_texts_dir.empty()) {
    fs::path const dir{s->write_texts_dir};
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!write_file(dir / "corpus.txt", t.corpus) || !write_file(dir / "clinical.txt", t.clinical) ||
        !write_file(dir / "word.txt", t.word) || !write_file(dir / "base64.txt", t.base64)) {
      std::fprintf(stderr, "bench_tokens: cannot write the texts to %s\n", s->write_texts_dir.c_str());
      return 2;
    }
  }
  std::vector<encoding_result> results;
  bool failed = false;
  for (auto const& name : s->encodings) {
    results.push_back(measure(name, *s, t));
    auto const& r = results.back();
    failed = failed || !r.error.empty();
    for (auto const& x : r.texts) failed = failed || !x.round_trip;
    for (auto const& p : r.pieces) failed = failed || !p.round_trip;
    if (s->json) {
      print_json(r);
      std::fflush(stdout);
    }
  }
  if (!s->json) print_table(results);
  return failed ? 1 : 0;
}
