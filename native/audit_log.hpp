// audit_log.hpp — the JSONL audit sink for native hosts: one sealed, hash-chained record per line, appended and
// flushed.
//
// The core seals records (`audit_chain`, audit.hpp); this file owns the I/O:
// opening a log resumes its chain from the last line, after verifying the
// whole file, and refuses to append to a broken chain — appending after a
// tampered or truncated record would bury the damage under valid-looking
// records. The operator inspects the file (`medgate audit verify FILE`) and
// moves it aside; the new log then starts a new chain.
//
// One writer per file: `open` takes an exclusive advisory lock (flock), so a
// second gateway pointed at the same file fails to start instead of forking
// the chain. `write` appends one line with a single write(2) and flushes it to
// the kernel; with `fsync` it also waits for the disk. A write that fails
// part-way leaves the log refusing further writes (its last line may be cut).
// Not thread-safe: one thread owns an `audit_log`, as one owns the engine.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "medgate/audit.hpp"
#include "medgate/result.hpp"

namespace medgate::native {

struct audit_log_options {
  bool fsync = false;  ///< fsync(2) after every record (durable across power loss; slower)
};

/// Verifies a log file line by line (it is never read whole into memory).
/// An error only when the file cannot be read; a broken chain is a verification that is not ok.
result<audit_verification> verify_audit_file(std::filesystem::path const& path,
                                             std::string previous_hash = std::string{audit_zero_hash},
                                             std::uint64_t first_sequence = 1);

class audit_log {
 public:
  /// Opens (creating it if absent) a log for appending, resuming its chain
  /// from the last line. Errors: the file cannot be opened or read, is locked
  /// by another writer, or its chain is broken (naming the line and problem).
  static result<audit_log> open(std::filesystem::path path, audit_log_options options = {});

  audit_log(audit_log&& other) noexcept;
  audit_log& operator=(audit_log&& other) noexcept;
  audit_log(audit_log const&) = delete;
  audit_log& operator=(audit_log const&) = delete;
  ~audit_log();

  /// Seals `r` into the chain and appends it as one line. Returns the sealed
  /// record, or an error (nothing is added to the chain when the write fails).
  result<audit_record> write(audit_record r);

  [[nodiscard]] std::string const& head() const noexcept { return chain_.head(); }
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return chain_.next_sequence(); }
  [[nodiscard]] std::filesystem::path const& path() const noexcept { return path_; }

 private:
  audit_log(std::filesystem::path path, int fd, audit_chain chain, audit_log_options options)
      : path_{std::move(path)}, fd_{fd}, chain_{std::move(chain)}, options_{options} {}

  std::filesystem::path path_;
  int fd_ = -1;
  audit_chain chain_;
  audit_log_options options_;
  bool broken_ = false;  // a write failed part-way
};

}  // namespace medgate::native
