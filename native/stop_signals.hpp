// stop_signals.hpp — SIGINT and SIGTERM (and SIGHUP, to reload) for the long-running commands (simulate, serve, batch).
//
// Constructed before any server thread starts, it blocks the signals, so the
// threads started afterwards inherit the mask and none of them is interrupted;
// `wait()` then receives the signal on this thread with sigwait(), as an
// ordinary return value. SIGPIPE is ignored: a client that vanished must not end
// the process. The destructor restores the previous mask.
#pragma once

#include <pthread.h>

#include <csignal>

namespace medgate::cli {

class stop_signals {
 public:
  /// `reload`: SIGHUP is received by `wait` too (otherwise it keeps its default action, ending the process).
  explicit stop_signals(bool reload = false) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    if (reload) sigaddset(&signals_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    std::signal(SIGPIPE, SIG_IGN);
  }
  ~stop_signals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  stop_signals(stop_signals const&) = delete;
  stop_signals& operator=(stop_signals const&) = delete;

  /// Blocks until SIGINT, SIGTERM or (with `reload`) SIGHUP arrives; returns which.
  int wait() {
    int received = 0;
    sigwait(&signals_, &received);
    return received;
  }

  /// The signal that arrived since the last look, or 0: for a loop that has other work (`medgate batch`).
  int poll() {
    timespec const now{0, 0};
    int const received = sigtimedwait(&signals_, nullptr, &now);
    return received > 0 ? received : 0;
  }

 private:
  sigset_t signals_{};
  sigset_t previous_{};
};

}  // namespace medgate::cli
