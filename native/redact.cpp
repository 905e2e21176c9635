// redact.cpp — `medgate redact`: text in, the same text with its PHI replaced by placeholders out.
//
//   medgate redact < note.txt > note.redacted.txt
//   medgate redact --jsonl notes.jsonl      # {"id", "text"} per line -> {"id", "text", "spans"} per line
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "arguments.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "medgate/phi/detect.hpp"
#include "medgate/phi/redact.hpp"
#include "phi_data.hpp"

namespace medgate::cli {

namespace {

constexpr char const* usage_text =
    "usage: medgate redact [--jsonl] [--lexicon FILE] [FILE | -]\n"
    "Writes FILE (or standard input) with its protected health information replaced by placeholders:\n"
    "[NAME], [LOCATION], [DATE], [PHONE], [FAX], [EMAIL], [URL], [IP], [SSN], [ZIP], [AGE], [MRN], [ACCOUNT],\n"
    "[LICENSE], [VEHICLE], [DEVICE], [ID]. Bytes that are not PHI, invalid UTF-8 included, come out as they went in.\n"
    "  --jsonl   each line is {\"id\": ..., \"text\": \"...\"}; each output line is {\"id\": ..., \"text\": "
    "<redacted>,\n"
    "            \"spans\": [{\"start\": s, \"end\": e, \"type\": \"DATE\"}, ...]} with UTF-8 byte offsets into the\n"
    "            input text. A line that is not such an object gives {\"line\": N, \"error\": \"...\"} (never its\n"
    "            content) and the exit status 1; the other lines are still redacted.\n"
    "  --lexicon FILE  the PHI lexicon (default: the one the build made, or $MEDGATE_LEXICONS_DIR/phi.mglex);\n"
    "                  without one, names and places are found by their cues only (\"Dr. ...\", \"..., MD\").\n";

struct options {
  std::string input = "-";
  std::string lexicon;
  bool jsonl = false;
  bool help = false;
};

result<options> parse(args a) {
  options out;
  option_cursor in{a};
  while (auto item = in.next()) {
    if (item->positional) {
      out.input = std::string{item->text};
      continue;
    }
    std::string_view const name = item->text;
    if (name == "--jsonl" || name == "--help") {
      if (auto e = in.no_value()) return *e;
      (name == "--jsonl" ? out.jsonl : out.help) = true;
    } else if (name == "--lexicon") {
      auto v = in.value();
      if (!v) return error{v.error_message()};
      out.lexicon = std::move(*v);
    } else {
      return error{fmt::format("unknown option {}\n{}", name, usage_text)};
    }
  }
  return out;
}

/// One line of --jsonl input, redacted; or the reason it could not be (naming what was wrong, not the content).
result<nlohmann::json> redact_record(std::string_view line, phi::lexicon const& lex) {
  auto record = nlohmann::json::parse(line, nullptr, false);
  if (record.is_discarded()) return error{"not valid JSON (or not valid UTF-8)"};
  if (!record.is_object()) return error{"not a JSON object"};
  auto const text = record.find("text");
  if (text == record.end() || !text->is_string()) return error{"no string \"text\""};
  auto const& original = text->get_ref<std::string const&>();
  auto const spans = phi::find_phi(original, lex);
  nlohmann::json out{{"id", record.value("id", nlohmann::json{})}, {"text", phi::redact(original, spans)}};
  auto& listed = out["spans"] = nlohmann::json::array();
  for (auto const& s : spans)
    listed.push_back({{"start", s.start}, {"end", s.end}, {"type", phi::to_string(s.category)}});
  return out;
}

}  // namespace

int run_redact(args a) {
  auto parsed = parse(a);
  if (!parsed) {
    std::fprintf(stderr, "medgate redact: %s\n", parsed.error_message().c_str());
    return 2;
  }
  if (parsed->help) {
    std::fputs(usage_text, stdout);
    return 0;
  }
  auto read = read_input(parsed->input);
  if (!read) {
    std::fprintf(stderr, "medgate redact: %s\n", read.error_message().c_str());
    return 2;
  }
  phi::lexicon lexicon;  // empty: names and places by their cues only
  if (auto loaded = load_lexicon(parsed->lexicon)) {
    lexicon = std::move(*loaded);
  } else if (!parsed->lexicon.empty()) {
    std::fprintf(stderr, "medgate redact: %s\n", loaded.error_message().c_str());
    return 2;
  } else {
    std::fprintf(stderr, "medgate redact: names and places are found by their cues only: %s\n",
                 loaded.error_message().c_str());
  }
  std::string const& text = *read;
  if (!parsed->jsonl) {
    auto const out = phi::redact(text, phi::find_phi(text, lexicon));
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  int status = 0;
  std::size_t number = 0;
  std::string out;
  for (std::size_t at = 0; at < text.size();) {
    auto const end = std::min(text.find('\n', at), text.size());
    std::string_view line{text.data() + at, end - at};
    at = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines are not records
    auto redacted = redact_record(line, lexicon);
    if (redacted) {
      out += redacted->dump();
    } else {
      out += nlohmann::json{{"line", number}, {"error", redacted.error_message()}}.dump();
      std::fprintf(stderr, "medgate redact: line %zu: %s\n", number, redacted.error_message().c_str());
      status = 1;
    }
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return status;
}

}  // namespace medgate::cli
