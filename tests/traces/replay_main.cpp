// replay_main.cpp — replays golden trace files and compares the effect log.
//
// Built natively and with Emscripten (run by node with NODERAWFS), so the
// same files prove that both builds produce the same log. `--update`
// rewrites a file's "## expect" block with the log it produced (for
// authoring a new trace; review the diff before committing it).
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "medgate/trace.hpp"

namespace {

bool read_file(std::string const& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

std::string with_expect(std::string const& text, std::vector<std::string> const& log) {
  std::string block = "## expect\n```\n";
  for (auto const& l : log) block += l + "\n";
  block += "```\n";
  auto at = text.find("\n## expect");
  std::string head = at == std::string::npos ? text : text.substr(0, at + 1);
  if (!head.empty() && head.back() != '\n') head += '\n';
  if (at == std::string::npos) head += '\n';
  return head + block;
}

int replay_one(std::string const& path, bool update) {
  std::string text;
  if (!read_file(path, text)) {
    std::fprintf(stderr, "%s: cannot read the file\n", path.c_str());
    return 1;
  }
  auto trace = medgate::parse_trace(text);
  if (!trace) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), trace.error_message().c_str());
    return 1;
  }
  auto log = medgate::replay(*trace);
  if (!log) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), log.error_message().c_str());
    return 1;
  }
  if (update) {
    std::ofstream(path, std::ios::binary) << with_expect(text, *log);
    std::printf("%s: wrote %zu effect lines\n", path.c_str(), log->size());
    return 0;
  }
  auto const& want = trace->expected;
  auto const& got = *log;
  for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    std::string_view w = i < want.size() ? std::string_view{want[i]} : "<end of log>";
    std::string_view g = i < got.size() ? std::string_view{got[i]} : "<end of log>";
    if (w != g) {
      std::fprintf(stderr, "%s: effect %zu differs\n  expected: %.*s\n  actual:   %.*s\n", path.c_str(), i + 1,
                   static_cast<int>(w.size()), w.data(), static_cast<int>(g.size()), g.data());
      std::fprintf(stderr, "full actual log:\n");
      for (auto const& l : got) std::fprintf(stderr, "  %s\n", l.c_str());
      return 1;
    }
  }
  std::printf("%s: %zu effects match\n", path.c_str(), got.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool update = false;
  int failures = 0;
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--update") {
      update = true;
      continue;
    }
    ++files;
    failures += replay_one(argv[i], update);
  }
  if (files == 0) {
    std::fprintf(stderr, "usage: medgate_trace_replay [--update] FILE.trace...\n");
    return 2;
  }
  return failures == 0 ? 0 : 1;
}
