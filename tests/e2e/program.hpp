// program.hpp — runs the built `medgate` program as a user would, for end-to-end tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

extern char** environ;

namespace medgate::testing {

struct program_run {
  int exit_code = -1;
  std::string out;  ///< what it wrote to stdout
  std::string err;  ///< what it wrote to stderr
};

/// Runs `medgate` with `arguments` (already shell-quoted) to completion.
inline program_run run_medgate(std::string const& arguments) {
  auto const err_path = std::filesystem::temp_directory_path() / fmt::format("medgate-program-{}.err", ::getpid());
  auto const command = fmt::format("{} {} 2>{}", MEDGATE_PROGRAM_PATH, arguments, err_path.string());
  program_run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
  int const status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err{err_path};
  run.err.assign(std::istreambuf_iterator<char>{err}, std::istreambuf_iterator<char>{});
  std::filesystem::remove(err_path);
  return run;
}

/// `medgate` running in the background (a server), until it exits or the test ends (then it is killed).
class running_program {
 public:
  /// Starts `medgate arguments...`; stdout comes back through `read_until`, stderr is discarded.
  explicit running_program(std::vector<std::string> arguments) {
    int pipe_ends[2];
    REQUIRE(::pipe(pipe_ends) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_ends[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    arguments.insert(arguments.begin(), MEDGATE_PROGRAM_PATH);
    std::vector<char*> argv;
    for (auto& a : arguments) argv.push_back(a.data());
    argv.push_back(nullptr);
    int const failed = ::posix_spawn(&pid_, MEDGATE_PROGRAM_PATH, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_ends[1]);
    output_ = pipe_ends[0];
    REQUIRE(failed == 0);
  }
  ~running_program() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (output_ >= 0) ::close(output_);
  }
  running_program(running_program const&) = delete;
  running_program& operator=(running_program const&) = delete;

  /// Its stdout until `marker` appears or the program closes it.
  std::string read_until(std::string_view marker) {
    char buffer[512];
    while (out_.find(marker) == std::string::npos) {
      ssize_t const n = ::read(output_, buffer, sizeof buffer);
      if (n <= 0) break;
      out_.append(buffer, static_cast<std::size_t>(n));
    }
    return out_;
  }

  bool signal(int number) const { return pid_ > 0 && ::kill(pid_, number) == 0; }

  /// Its exit code (128 + signal when killed), or -1 if it is still running after `patience`.
  int wait_exit(std::chrono::seconds patience = std::chrono::seconds{10}) {
    int status = 0;
    auto const until = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < until) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int output_ = -1;
  std::string out_;
};

/// A fresh folder under the system's temporary folder, removed with everything in it at the end.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "medgate-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  scratch_dir(scratch_dir const&) = delete;
  scratch_dir& operator=(scratch_dir const&) = delete;
  /// Writes `text` to `relative` (folders made as needed).
  void write(std::string const& relative, std::string_view text) const {
    std::filesystem::create_directories((path / relative).parent_path());
    std::ofstream{path / relative, std::ios::binary} << text;
  }
  [[nodiscard]] std::string operator/(std::string const& relative) const { return (path / relative).string(); }
};

}  // namespace medgate::testing
