// bench/process.hpp — what the benchmarks that run real processes share: starting and stopping children, their
// CPU time and memory from /proc, temporary folders, free ports, and `medgate serve` itself.
#pragma once

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arguments.hpp"
#include "medgate/result.hpp"

extern char** environ;

namespace medgate::bench {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;

inline std::string read_text(fs::path const& p) {
  std::ifstream in{p, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The last `n` characters of a log, on one line, for an error message.
inline std::string tail(fs::path const& p, std::size_t n = 400) {
  auto text = read_text(p);
  if (text.size() > n) text = "..." + text.substr(text.size() - n);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// ---- child processes --------------------------------------------------------------------------------------------

/// A program this bench started; stopped (SIGTERM, then SIGKILL after 5 s) when it goes.
class child_process {
 public:
  static medgate::result<std::unique_ptr<child_process>> spawn(
      std::vector<std::string> const& argv, std::vector<std::pair<std::string, std::string>> const& env,
      fs::path const& out_log, fs::path const& err_log) {
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view const entry = *e;
      bool const replaced = std::any_of(env.begin(), env.end(), [&](auto const& kv) {
        return entry.size() > kv.first.size() && entry.starts_with(kv.first) && entry[kv.first.size()] == '=';
      });
      if (!replaced) environment.emplace_back(entry);
    }
    for (auto const& [k, v] : env) environment.push_back(k + "=" + v);
    std::vector<char*> args, envp;
    for (auto const& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto const& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    int const failed = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (failed != 0) return medgate::error{fmt::format("cannot start {}: {}", argv[0], std::strerror(failed))};
    return std::unique_ptr<child_process>{new child_process{pid}};
  }

  child_process(child_process const&) = delete;
  child_process& operator=(child_process const&) = delete;
  ~child_process() { stop(); }

  [[nodiscard]] pid_t pid() const { return pid_; }

  /// False once it has exited (it is then reaped).
  bool running() {
    if (pid_ < 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  void stop() {
    if (!running()) return;
    ::kill(pid_, SIGTERM);
    for (auto const until = steady::now() + std::chrono::seconds{5}; steady::now() < until;) {
      if (!running()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  explicit child_process(pid_t pid) : pid_{pid} {}
  pid_t pid_ = -1;
};

/// A temporary folder, removed when it goes.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string name = (fs::temp_directory_path() / "medgate-bench-XXXXXX").string();
    if (::mkdtemp(name.data()) != nullptr) {
      path = name;
      fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
    }
  }
  temp_dir(temp_dir const&) = delete;
  temp_dir& operator=(temp_dir const&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

/// A loopback port that was free a moment ago.
inline std::optional<int> free_port() {
  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  std::optional<int> port;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

/// utime+stime, in seconds, of `root` and all its descendants (from /proc; threads are in their process's).
inline std::optional<double> cpu_seconds_of_tree(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  std::map<pid_t, double> cpu;
  static double const ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::error_code ec;
  for (auto const& entry : fs::directory_iterator{"/proc", ec}) {
    auto const name = entry.path().filename().string();
    auto const pid = medgate::cli::parse_integer<pid_t>(name);
    if (!pid) continue;
    auto const stat = read_text(entry.path() / "stat");
    auto const close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields{stat.substr(close + 2)};
    std::vector<std::string> f;
    for (std::string word; fields >> word && f.size() < 13;) f.push_back(word);
    if (f.size() < 13) continue;
    // After the name: state(3) ppid(4) ... utime(14) stime(15), counted from 3.
    auto const ppid = medgate::cli::parse_integer<pid_t>(f[1]);
    auto const utime = medgate::cli::parse_integer<std::uint64_t>(f[11]);
    auto const stime = medgate::cli::parse_integer<std::uint64_t>(f[12]);
    if (!ppid || !utime || !stime) continue;
    children[*ppid].push_back(*pid);
    cpu[*pid] = static_cast<double>(*utime + *stime) / ticks;
  }
  if (!cpu.contains(root)) return std::nullopt;
  double total = 0;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    pid_t const p = todo.back();
    todo.pop_back();
    total += cpu[p];
    for (pid_t c : children[p]) todo.push_back(c);
  }
  return total;
}

/// The `medgate` program next to this benchmark: ../native/medgate from its own folder.
inline fs::path default_medgate_path() {
  std::error_code ec;
  auto const self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "medgate";
  return (self.parent_path().parent_path() / "native" / "medgate").lexically_normal();
}

/// A `medgate serve` this benchmark started, and the port it listens on.
struct served {
  std::unique_ptr<child_process> process;
  int port = 0;
};

/// Starts `program serve --config <dir>/medgate.json` (written from `config`) with `env`, its output in
/// <dir>/medgate.out and .err, and waits up to 20 s for its first line, which names its address.
inline medgate::result<served> start_medgate_serve(fs::path const& program, std::string const& config,
                                                   fs::path const& dir,
                                                   std::vector<std::pair<std::string, std::string>> const& env) {
  if (!fs::exists(program))
    return medgate::error{
        fmt::format("no medgate program at {} (build target medgate, or pass --medgate PATH)", program.string())};
  auto const config_path = dir / "medgate.json";
  std::ofstream{config_path} << config;
  auto const out_log = dir / "medgate.out";
  auto const err_log = dir / "medgate.err";
  auto started =
      child_process::spawn({program.string(), "serve", "--config", config_path.string()}, env, out_log, err_log);
  if (!started) return medgate::error{started.error_message()};
  served s{std::move(*started), 0};
  // Its first line: "medgate serve: OpenAI-compatible gateway at http://127.0.0.1:PORT/v1 (...)".
  constexpr std::string_view marker = "gateway at http://";
  for (auto const until = steady::now() + std::chrono::seconds{20}; steady::now() < until;) {
    auto const text = read_text(out_log);
    if (auto const at = text.find(marker); at != std::string::npos && text.find('\n', at) != std::string::npos) {
      auto const colon = text.find(':', at + marker.size());
      auto const slash = text.find('/', colon);
      auto const port = colon == std::string::npos || slash == std::string::npos
                            ? std::nullopt
                            : medgate::cli::parse_integer<int>(text.substr(colon + 1, slash - colon - 1));
      if (!port)
        return medgate::error{
            fmt::format("cannot read the port from its first line: {}", text.substr(0, text.find('\n')))};
      s.port = *port;
      return s;
    }
    if (!s.process->running()) return medgate::error{fmt::format("medgate serve exited: {}", tail(err_log))};
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return medgate::error{fmt::format("medgate serve printed no address in 20 s: {}", tail(err_log))};
}

/// What /proc says of a process now: resident memory, open descriptors, threads.
struct process_sample {
  std::uint64_t rss_kib = 0;
  std::size_t open_fds = 0;
  std::size_t threads = 0;
};

inline std::optional<process_sample> sample_process(pid_t pid) {
  auto const dir = fs::path{"/proc"} / std::to_string(pid);
  std::istringstream status{read_text(dir / "status")};
  process_sample s;
  bool seen = false;
  for (std::string line; std::getline(status, line);) {
    auto const number = [&](std::string_view field) -> std::optional<std::uint64_t> {
      if (!line.starts_with(field)) return std::nullopt;
      auto const digits = line.find_first_of("0123456789");
      auto const end = line.find_first_not_of("0123456789", digits);
      if (digits == std::string::npos) return std::nullopt;
      return medgate::cli::parse_integer<std::uint64_t>(line.substr(digits, end - digits));
    };
    if (auto v = number("VmRSS:")) {
      s.rss_kib = *v;
      seen = true;
    }
    if (auto v = number("Threads:")) s.threads = static_cast<std::size_t>(*v);
  }
  if (!seen) return std::nullopt;
  std::error_code ec;
  for (auto it = fs::directory_iterator{dir / "fd", ec}; !ec && it != fs::directory_iterator{}; it.increment(ec))
    ++s.open_fds;
  return s;
}

}  // namespace medgate::bench
