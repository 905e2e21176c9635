// relay.hpp — a streamed answer passed on to its caller as it arrives, once the engine commits to it.
//
// The bytes of one attempt's stream go in; complete SSE events come out, but only after the stream has shown
// an answer and the engine agreed to commit to this attempt (`engine::on_stream_start`). Until then events are
// held, so a stream that fails early can still be retried or fall back with nothing having reached the caller.
// After a malformed chunk or an error event nothing more is passed on: the engine reads the whole body again
// and ends the call `stream_broken`. Both transports use it (httplib's workers, fetch's body reader); how they
// ask the engine to commit is theirs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sse.hpp"
#include "stream.hpp"

namespace medgate::openai {

/// An SSE event as it goes on the wire (each data line prefixed, a blank line after).
inline std::string serialize_event(sse_event const& e) {
  std::string out;
  if (e.event != "message") out += "event: " + e.event + "\n";
  std::string_view data = e.data;
  for (;;) {
    auto const end = data.find('\n');
    out += "data: ";
    out += data.substr(0, end);
    out += '\n';
    if (end == std::string_view::npos) break;
    data.remove_prefix(end + 1);
  }
  out += '\n';
  return out;
}

class stream_relay_reader {
 public:
  /// Takes the next bytes of the stream. `commit()` asks whether the stream may reach the caller (false: the
  /// engine no longer wants this attempt); `pass(event)` receives each event of the answer, "[DONE]" excluded.
  /// Returns false when the attempt is to be dropped.
  template <class Commit, class Pass>
  bool feed(std::string_view bytes, Commit&& commit, Pass&& pass) {
    if (stopped_) return true;
    std::vector<sse_event> events;
    if (!parser_.feed(bytes, events)) stopped_ = true;
    for (auto& e : events) {
      assembler_.feed(e);
      if (assembler_.failed()) stopped_ = true;
      if (stopped_) return true;
      auto const data = trim_space(e.data);
      if (e.event == "message" && !data.empty() && data != "[DONE]") held_.push_back(std::move(e));
      if (!committed_) {
        if (!assembler_.has_answer()) continue;
        if (!commit()) return false;
        committed_ = true;
      }
      for (auto const& h : held_) pass(h);
      held_.clear();
    }
    return true;
  }

  [[nodiscard]] bool committed() const noexcept { return committed_; }

 private:
  sse_parser parser_;
  stream_assembler assembler_;   ///< judges the stream's shape; the engine reads the whole body again
  std::vector<sse_event> held_;  ///< events not yet passed on
  bool committed_ = false;
  bool stopped_ = false;  ///< the stream went bad: nothing more is passed on
};

}  // namespace medgate::openai
