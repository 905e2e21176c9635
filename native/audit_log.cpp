// audit_log.cpp — the JSONL audit sink (see audit_log.hpp).
#include "audit_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace medgate::native {

namespace {

std::string system_error_text(int code) { return std::strerror(code); }

/// Writes all of `bytes` (retrying short writes and EINTR); errno on failure, 0 on success.
int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t const n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace

result<audit_verification> verify_audit_file(std::filesystem::path const& path, std::string previous_hash,
                                             std::uint64_t first_sequence) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return error{fmt::format("cannot read {}: {}", path.string(), system_error_text(errno))};
  audit_verifier verifier{std::move(previous_hash), first_sequence};
  std::string line;
  while (std::getline(in, line)) {
    bool const terminated = !in.eof();
    if (!verifier.feed(line, terminated)) break;
  }
  if (in.bad()) return error{fmt::format("cannot read {}: read error", path.string())};
  return verifier.result();
}

result<audit_log> audit_log::open(std::filesystem::path path, audit_log_options options) {
  int const fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return error{fmt::format("cannot open audit log {}: {}", path.string(), system_error_text(errno))};
  auto fail = [&](std::string message) -> result<audit_log> {
    ::close(fd);
    return error{std::move(message)};
  };
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0)
    return fail(
        errno == EWOULDBLOCK
            ? fmt::format("audit log {} is locked by another writer (is another gateway using it?)", path.string())
            : fmt::format("cannot lock audit log {}: {}", path.string(), system_error_text(errno)));
  auto verified = verify_audit_file(path);
  if (!verified) return fail(verified.error_message());
  if (!verified->ok)
    return fail(
        fmt::format("refusing to append to audit log {}: its chain is broken at line {}: {} "
                    "(inspect it with `medgate audit verify`, then move it aside to start a new log)",
                    path.string(), verified->first_bad_line.value_or(0), verified->problem));
  // A last record without its newline (accepted by the verifier) gets one, so the next line starts clean.
  struct stat info {};
  if (::fstat(fd, &info) != 0)
    return fail(fmt::format("cannot stat audit log {}: {}", path.string(), system_error_text(errno)));
  if (info.st_size > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, info.st_size - 1) != 1)
      return fail(fmt::format("cannot read audit log {}: {}", path.string(), system_error_text(errno)));
    if (last != '\n')
      if (int const e = write_all(fd, "\n"); e != 0)
        return fail(fmt::format("cannot write audit log {}: {}", path.string(), system_error_text(e)));
  }
  return audit_log{std::move(path), fd, audit_chain{verified->head, verified->next_sequence}, options};
}

audit_log::audit_log(audit_log&& other) noexcept
    : path_{std::move(other.path_)},
      fd_{std::exchange(other.fd_, -1)},
      chain_{std::move(other.chain_)},
      options_{other.options_},
      broken_{other.broken_} {}

audit_log& audit_log::operator=(audit_log&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    chain_ = std::move(other.chain_);
    options_ = other.options_;
    broken_ = other.broken_;
  }
  return *this;
}

audit_log::~audit_log() {
  if (fd_ >= 0) ::close(fd_);  // also releases the lock
}

result<audit_record> audit_log::write(audit_record r) {
  if (fd_ < 0) return error{"audit log is closed"};
  if (broken_)
    return error{
        fmt::format("audit log {} refuses writes after a failed write (its last line may be cut)", path_.string())};
  audit_chain next = chain_;
  audit_record sealed = next.append(std::move(r));
  std::string line = to_json_line(sealed);
  line.push_back('\n');
  if (int const e = write_all(fd_, line); e != 0) {
    broken_ = true;
    return error{fmt::format("cannot write audit log {}: {}", path_.string(), system_error_text(e))};
  }
  if (options_.fsync && ::fsync(fd_) != 0) {
    int const e = errno;
    broken_ = true;  // the line may or may not be durable: do not build on it
    return error{fmt::format("cannot fsync audit log {}: {}", path_.string(), system_error_text(e))};
  }
  chain_ = std::move(next);
  return sealed;
}

}  // namespace medgate::native
