// wasm/typed_arrays.hpp — copies between JavaScript typed arrays and C++ buffers, for the bindings.
//
// Why: embind converts strings and Uint8Arrays to std::string one unit at a
// time in a JavaScript loop. A typed_memory_view over the C++ buffer and one
// native call (`TypedArray.prototype.set`, `TextEncoder.encodeInto`,
// `TextDecoder.decode`) copy at memcpy speed instead, which matters for
// multi-megabyte texts, vocabularies and id lists. Shared by every binding
// file of the module (tokens now, the engine later).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <emscripten/val.h>

namespace medgate::wasm {

/// The bytes of a Uint8Array (or any array-like of byte values).
inline std::string bytes_from(emscripten::val const& array) {
  auto const n = array["length"].as<std::size_t>();
  std::string out(n, '\0');
  if (n != 0)
    emscripten::val{emscripten::typed_memory_view(n, reinterpret_cast<unsigned char*>(out.data()))}.call<void>("set",
                                                                                                               array);
  return out;
}

/// The values of a Uint32Array (or any array-like of numbers, converted as Uint32Array.set does).
inline std::vector<std::uint32_t> u32_from(emscripten::val const& array) {
  auto const n = array["length"].as<std::size_t>();
  std::vector<std::uint32_t> out(n);
  if (n != 0) emscripten::val{emscripten::typed_memory_view(n, out.data())}.call<void>("set", array);
  return out;
}

/// A new Uint32Array holding a copy of `values` (a view into the heap would change when memory grows).
inline emscripten::val u32_array(std::span<std::uint32_t const> values) {
  return emscripten::val{emscripten::typed_memory_view(values.size(), values.data())}.call<emscripten::val>("slice");
}

/// A new Uint8Array holding a copy of `bytes`.
inline emscripten::val u8_array(std::string_view bytes) {
  return emscripten::val{
      emscripten::typed_memory_view(bytes.size(), reinterpret_cast<unsigned char const*>(bytes.data()))}
      .call<emscripten::val>("slice");
}

/// The UTF-8 bytes of a JavaScript string, by the platform's TextEncoder.encodeInto (native speed). embind's
/// own std::string conversion is a JavaScript loop, about 8x slower, and it pairs a lone surrogate with
/// whatever unit follows it (swallowing that character); TextEncoder writes U+FFFD for a lone surrogate, as
/// the reference tokenizers' JavaScript front ends do.
inline std::string utf8_from(emscripten::val const& text) {
  static emscripten::val const encoder = emscripten::val::global("TextEncoder").new_();
  auto const units = text["length"].as<std::size_t>();
  std::string out(units * 3, '\0');  // a UTF-16 code unit never needs more than 3 UTF-8 bytes
  if (units == 0) return out;
  auto const done = encoder.call<emscripten::val>(
      "encodeInto", text,
      emscripten::val{emscripten::typed_memory_view(out.size(), reinterpret_cast<unsigned char*>(out.data()))});
  out.resize(done["written"].as<std::size_t>());
  return out;
}

/// A JavaScript string decoded from UTF-8 `bytes`; invalid sequences become U+FFFD. Unlike embind's
/// std::string conversion this keeps a leading byte order mark (U+FEFF is text, and part of the count) and
/// decodes with one native TextDecoder call.
inline emscripten::val utf8_string(std::string_view bytes) {
  static emscripten::val const decoder = [] {
    emscripten::val options = emscripten::val::object();
    options.set("ignoreBOM", true);
    return emscripten::val::global("TextDecoder").new_(std::string{"utf-8"}, options);
  }();
  // The view is read at once, before anything could grow the heap.
  return decoder.call<emscripten::val>(
      "decode", emscripten::val{
                    emscripten::typed_memory_view(bytes.size(), reinterpret_cast<unsigned char const*>(bytes.data()))});
}

}  // namespace medgate::wasm
