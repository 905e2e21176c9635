// result.hpp — a value or an error message, for parsers and loaders.
//
// The core never throws (the WebAssembly build may run without exceptions),
// so anything that can fail on bad input returns `result<T>`: either the
// value, or an `error` that says what was wrong and where.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace medgate {

struct error {
  std::string message;
};

template <class T>
class result {
 public:
  result(T value) : v_{std::in_place_index<0>, std::move(value)} {}  // NOLINT: implicit by design
  result(error e) : v_{std::in_place_index<1>, std::move(e)} {}      // NOLINT: implicit by design

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  T const& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  T const* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  T const& operator*() const& { return value(); }

  [[nodiscard]] std::string const& error_message() const { return std::get<1>(v_).message; }

 private:
  std::variant<T, error> v_;
};

}  // namespace medgate
