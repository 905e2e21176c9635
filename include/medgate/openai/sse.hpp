// sse.hpp — incremental Server-Sent Events parser (WHATWG HTML "event stream interpretation").
//
// Streamed chat completions arrive as an event stream cut into chunks wherever
// the network pleases: inside a line, between the CR and LF of a line break,
// inside a UTF-8 sequence. The parser therefore keeps bytes, not characters:
// a partial line waits in a buffer until its line break arrives, so a split
// anywhere yields the same events as the whole stream. It does no I/O and
// allocates no more than `max_event_bytes` for one event, because the stream
// comes from outside and may be hostile. Bytes are passed through undecoded;
// whoever reads `data` (a JSON parser) rejects invalid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "../field_error.hpp"

namespace medgate::openai {

/// `s` without leading and trailing spaces, tabs, CRs and LFs.
inline std::string_view trim_space(std::string_view s) noexcept {
  constexpr std::string_view space = " \t\r\n";
  auto const first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

struct sse_event {
  std::string event = "message";         ///< the "event" field, "message" when absent
  std::string data;                      ///< the "data" lines joined with "\n"
  std::string id;                        ///< the last event ID at dispatch (it persists across events)
  std::optional<std::int64_t> retry_ms;  ///< a "retry" field sent within this event's lines
};

struct sse_options {
  /// Most bytes one event may hold while it is being assembled (its data, its
  /// event type and the line being read). Guards memory against a hostile or
  /// broken stream; 1 MiB is far above any chat completion chunk.
  std::size_t max_event_bytes = 1 << 20;

  [[nodiscard]] validation validate() const {
    if (max_event_bytes == 0) return invalid("max_event_bytes", "must be > 0, got 0");
    return std::nullopt;
  }
};

class sse_parser {
 public:
  explicit sse_parser(sse_options o = {}) : options_{o} {
    if (const auto problem = options_.validate()) fail(fmt::format("sse_options: {}", problem->to_string()));
  }

  /// Parses `chunk` and appends every event it completes to `out`. Returns
  /// false (and stays failed) if an event exceeds `max_event_bytes`; `error()`
  /// says why.
  bool feed(std::string_view chunk, std::vector<sse_event>& out) {
    if (failed_) return false;
    if (!skip_byte_order_mark(chunk, out)) return false;
    while (!chunk.empty()) {
      if (after_cr_ && chunk.front() == '\n') chunk.remove_prefix(1);  // the LF of a CRLF split across chunks
      after_cr_ = false;
      const auto end = chunk.find_first_of("\r\n");
      const auto piece = chunk.substr(0, end);
      if (!append_to_line(piece)) return false;
      if (end == std::string_view::npos) break;
      after_cr_ = chunk[end] == '\r';
      chunk.remove_prefix(end + 1);
      if (!end_line(out)) return false;
    }
    return true;
  }

  /// True when nothing is pending: no partial line and no field lines waiting
  /// for the blank line that dispatches them. At the end of a stream, false
  /// means it was cut off mid-event (the spec discards that partial event;
  /// callers use this to notice the truncation).
  [[nodiscard]] bool at_event_boundary() const noexcept {
    return !failed_ && line_.empty() && !fields_pending_ && (bom_matched_ == 0 || bom_matched_ == bom.size());
  }

  [[nodiscard]] std::string const& error() const noexcept { return error_; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }

  /// The latest "retry" value seen anywhere in the stream (the reconnection time).
  [[nodiscard]] std::optional<std::int64_t> reconnection_time_ms() const noexcept { return reconnection_time_ms_; }
  [[nodiscard]] std::string const& last_event_id() const noexcept { return last_event_id_; }

 private:
  static constexpr std::string_view bom = "\xEF\xBB\xBF";

  bool fail(std::string message) {
    failed_ = true;
    error_ = std::move(message);
    return false;
  }

  // A U+FEFF at the very start of the stream is skipped; its three bytes may
  // arrive in separate chunks, so matching resumes where it left off. If the
  // stream starts with only part of it, those bytes are ordinary content.
  bool skip_byte_order_mark(std::string_view& chunk, std::vector<sse_event>& out) {
    if (bom_decided_) return true;
    while (!chunk.empty() && bom_matched_ < bom.size()) {
      if (chunk.front() != bom[bom_matched_]) {
        bom_decided_ = true;
        const auto matched = bom.substr(0, bom_matched_);
        bom_matched_ = 0;
        return feed_decided(matched, out);
      }
      ++bom_matched_;
      chunk.remove_prefix(1);
    }
    if (bom_matched_ == bom.size()) bom_decided_ = true;
    return true;
  }

  bool feed_decided(std::string_view bytes, std::vector<sse_event>& out) {
    return bytes.empty() || feed(bytes, out);  // bom_decided_ is set, so this cannot recurse again
  }

  [[nodiscard]] std::size_t held_bytes() const noexcept { return line_.size() + data_.size() + event_type_.size(); }

  bool too_big() { return fail(fmt::format("SSE event exceeds max_event_bytes ({} bytes)", options_.max_event_bytes)); }

  bool append_to_line(std::string_view piece) {
    if (held_bytes() + piece.size() > options_.max_event_bytes) return too_big();
    line_.append(piece);
    return true;
  }

  bool end_line(std::vector<sse_event>& out) {
    const std::string_view line = line_;
    if (line.empty()) {
      dispatch(out);
    } else if (line.front() != ':') {  // a leading colon marks a comment
      const auto colon = line.find(':');
      const auto name = line.substr(0, colon);
      auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      process_field(name, value);
    }
    line_.clear();
    return held_bytes() <= options_.max_event_bytes || too_big();
  }

  void process_field(std::string_view name, std::string_view value) {
    fields_pending_ = true;
    if (name == "event") {
      event_type_.assign(value);
    } else if (name == "data") {
      data_.append(value);
      data_.push_back('\n');
    } else if (name == "id") {
      if (value.find('\0') == std::string_view::npos) last_event_id_.assign(value);
    } else if (name == "retry") {
      if (const auto ms = parse_digits(value)) retry_ms_ = reconnection_time_ms_ = ms;
    }  // any other field name is ignored, as the spec says
  }

  static std::optional<std::int64_t> parse_digits(std::string_view text) noexcept {
    if (text.empty()) return std::nullopt;
    std::int64_t value = 0;
    for (const char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      if (value > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10) return std::nullopt;
      value = value * 10 + (c - '0');
    }
    return value;
  }

  void dispatch(std::vector<sse_event>& out) {
    fields_pending_ = false;
    // An empty data buffer dispatches nothing; "data" with an empty value does
    // (the buffer then holds a lone "\n").
    if (!data_.empty()) {
      data_.pop_back();  // the "\n" appended after the last data line
      sse_event e;
      if (!event_type_.empty()) e.event = std::move(event_type_);
      e.data = std::move(data_);
      e.id = last_event_id_;
      e.retry_ms = retry_ms_;
      out.push_back(std::move(e));
    }
    data_.clear();
    event_type_.clear();
    retry_ms_.reset();
  }

  sse_options options_;
  std::string error_;
  bool failed_ = false;
  bool bom_decided_ = false;
  std::size_t bom_matched_ = 0;
  bool after_cr_ = false;        ///< the last line ended with CR: a leading LF belongs to it
  bool fields_pending_ = false;  ///< field lines seen since the last blank line
  std::string line_;
  std::string data_;
  std::string event_type_;
  std::string last_event_id_;
  std::optional<std::int64_t> retry_ms_;
  std::optional<std::int64_t> reconnection_time_ms_;
};

}  // namespace medgate::openai
