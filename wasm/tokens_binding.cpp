// wasm/tokens_binding.cpp — the exact tokenizer (tokens::encoding) as the embind class `Encoding`.
//
// Thin raw methods; strings cross as UTF-8 through TextEncoder/TextDecoder
// (typed_arrays.hpp: a lone surrogate counts as U+FFFD, a leading BOM is
// kept). wasm/tokens.mjs wraps them into the idiomatic API
// (`loadEncoding`, thrown `Error`s, `free()`), and wasm/index.d.ts types it.
// The core never throws and this module is built without exceptions, so a
// vocabulary that does not load is reported as a value: `Encoding.load`
// returns `{encoding}` or `{error}` and the wrapper throws the `Error`.
//
//   const r = Module.Encoding.load(uint8ArrayOfMgtok);   // {encoding: Encoding} | {error: string}
//   r.encoding.encode("Pt c/o chest pain")               // Uint32Array (a copy)
//   r.encoding.count(text)                               // number
//   r.encoding.decode(ids)                               // string, or null for an unknown id
//   r.encoding.decodeBytes(ids)                          // Uint8Array (exact bytes), or null
//   r.encoding.specialToken("<|endoftext|>")             // number, or null
//   r.encoding.name, r.encoding.provenance               // strings (provenance is JSON)
//   r.encoding.delete()                                  // embind objects are freed by hand
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include "medgate/tokens/encoding.hpp"
#include "typed_arrays.hpp"

namespace medgate::wasm {

namespace {

using emscripten::val;

class encoding_binding {
 public:
  explicit encoding_binding(tokens::encoding e) : encoding_{std::move(e)} {}

  /// `{encoding}` on success, `{error}` with the loader's message otherwise.
  static val load(val const& bytes) {
    auto loaded = tokens::encoding::load(bytes_from(bytes));
    val out = val::object();
    if (!loaded) {
      out.set("error", loaded.error_message());
      return out;
    }
    out.set("encoding", val{encoding_binding{std::move(*loaded)}});
    return out;
  }

  [[nodiscard]] val encode(val const& text) const { return u32_array(encoding_.encode(utf8_from(text))); }
  [[nodiscard]] double count(val const& text) const { return static_cast<double>(encoding_.count(utf8_from(text))); }

  [[nodiscard]] val decode(val const& ids) const {
    auto const values = u32_from(ids);
    auto const bytes = encoding_.decode(values);
    return bytes ? utf8_string(*bytes) : val::null();
  }

  [[nodiscard]] val decode_bytes(val const& ids) const {
    auto const values = u32_from(ids);
    auto const bytes = encoding_.decode(values);
    return bytes ? u8_array(*bytes) : val::null();
  }

  [[nodiscard]] val special_token(val const& text) const {
    auto const id = encoding_.special_token(utf8_from(text));
    return id ? val{*id} : val::null();
  }

  [[nodiscard]] std::string name() const { return encoding_.name(); }
  [[nodiscard]] std::string provenance() const { return encoding_.provenance(); }
  [[nodiscard]] double vocabulary_size() const { return static_cast<double>(encoding_.token_count()); }

 private:
  tokens::encoding encoding_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(medgate_tokens) {
  emscripten::class_<encoding_binding>("Encoding")
      .class_function("load", &encoding_binding::load)
      .function("encode", &encoding_binding::encode)
      .function("count", &encoding_binding::count)
      .function("decode", &encoding_binding::decode)
      .function("decodeBytes", &encoding_binding::decode_bytes)
      .function("specialToken", &encoding_binding::special_token)
      .property("name", &encoding_binding::name)
      .property("provenance", &encoding_binding::provenance)
      .property("vocabularySize", &encoding_binding::vocabulary_size);
}

}  // namespace medgate::wasm
