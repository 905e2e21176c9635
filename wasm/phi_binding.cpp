// wasm/phi_binding.cpp — PHI detection and protection (include/medgate/phi/) as the embind class `Phi`.
//
// Why in WebAssembly: a note can be cleaned in the clinician's browser, before
// it leaves the machine, by the same detectors as the gateway's protect step.
// Thin raw methods; wasm/phi.mjs wraps them (`loadPhi`, span objects, thrown
// `Error`s) and wasm/index.d.ts types it. Text crosses as UTF-8 through
// TextEncoder/TextDecoder (typed_arrays.hpp): a lone surrogate becomes U+FFFD
// (one UTF-16 unit either way, so offsets stay aligned with the string).
// Span offsets are JavaScript string indices (UTF-16 code units), converted
// here from the core's UTF-8 byte offsets. The module has no exceptions:
// failures are values (`{error}`).
//
//   const r = Module.Phi.load(uint8ArrayOfPhiMglex);   // {phi: Phi} | {error: string}
//   r.phi.find(text)         // Uint32Array: start, end, category index, per span (UTF-16 indices)
//   r.phi.redact(text)       // string: "[NAME] seen on [DATE]"
//   r.phi.protect(text, optionsJson, secret, patient, mapJson)   // {text, map, spans} | {error}
//   Module.phiRehydrate(answer, mapJson)                          // {text} | {error}
//   Module.phiCategories()   // ["NAME", "LOCATION", ...]: the names of the category indices
//   r.phi.provenance, r.phi.entries   // where the word lists came from (JSON), how many entries
//   r.phi.delete()
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <nlohmann/json.hpp>

#include "medgate/config.hpp"
#include "medgate/phi/detect.hpp"
#include "medgate/phi/protect.hpp"
#include "medgate/phi/redact.hpp"
#include "typed_arrays.hpp"

namespace medgate::wasm {

namespace {

using emscripten::val;

/// start, end (UTF-16 indices of `text`, valid UTF-8 as TextEncoder gives it) and category, per span.
val span_triples(std::string_view text, std::vector<phi::span> const& spans) {
  std::vector<std::uint32_t> out;
  out.reserve(spans.size() * 3);
  std::size_t byte = 0;
  std::uint32_t unit = 0;
  auto const advance_to = [&](std::size_t target) {
    for (; byte < target; ++byte) {
      auto const b = static_cast<unsigned char>(text[byte]);
      if ((b & 0xC0) != 0x80) unit += b >= 0xF0 ? 2 : 1;  // a 4-byte sequence is a surrogate pair
    }
    return unit;
  };
  for (auto const& s : spans) {  // ordered and disjoint
    out.push_back(advance_to(s.start));
    out.push_back(advance_to(s.end));
    out.push_back(static_cast<std::uint32_t>(s.category));
  }
  return u32_array(out);
}

val failure(std::string message) {
  val out = val::object();
  out.set("error", std::move(message));
  return out;
}

class phi_binding {
 public:
  explicit phi_binding(phi::lexicon lexicon) : lexicon_{std::move(lexicon)} {}

  /// `{phi}` on success, `{error}` with the lexicon parser's message otherwise.
  static val load(val const& bytes) {
    auto loaded = phi::lexicon::parse(bytes_from(bytes));
    if (!loaded) return failure(loaded.error_message());
    val out = val::object();
    out.set("phi", val{phi_binding{std::move(*loaded)}});
    return out;
  }

  [[nodiscard]] val find(val const& text) const {
    auto const utf8 = utf8_from(text);
    return span_triples(utf8, phi::find_phi(utf8, lexicon_));
  }

  [[nodiscard]] val redact(val const& text) const {
    auto const utf8 = utf8_from(text);
    return utf8_string(phi::redact(utf8, phi::find_phi(utf8, lexicon_)));
  }

  /// `options_json` is the config file's "phi" section ({"modes": {...}, "max_shift_days": N}; "enabled" is
  /// ignored); `map_json` a map from an earlier turn, or "" for a new conversation.
  [[nodiscard]] val protect(val const& text, std::string const& options_json, std::string const& secret,
                            std::string const& patient, std::string const& map_json) const {
    phi::phi_options options;
    auto const j = nlohmann::json::parse(options_json, nullptr, false);
    if (j.is_discarded()) return failure("protect: the options are not JSON");
    if (auto problem = detail::configuration::read_phi(j, "options", options)) return failure(std::move(*problem));
    phi::reid_map map;
    if (!map_json.empty()) {
      auto parsed = phi::reid_map::from_json(map_json);
      if (!parsed) return failure(parsed.error_message());
      map = std::move(*parsed);
    }
    auto const utf8 = utf8_from(text);
    auto const spans = phi::find_phi(utf8, lexicon_);
    val out = val::object();
    out.set("text", utf8_string(phi::protect(utf8, spans, options.protect, secret, patient, map)));
    out.set("map", map.to_json());
    out.set("spans", span_triples(utf8, spans));
    return out;
  }

  [[nodiscard]] std::string provenance() const { return std::string{lexicon_.provenance()}; }
  [[nodiscard]] double entries() const { return static_cast<double>(lexicon_.size()); }

 private:
  phi::lexicon lexicon_;
};

val rehydrate(val const& answer, std::string const& map_json) {
  auto map = phi::reid_map::from_json(map_json);
  if (!map) return failure(map.error_message());
  val out = val::object();
  out.set("text", utf8_string(phi::rehydrate(utf8_from(answer), *map)));
  return out;
}

val categories() {
  val out = val::array();
  for (auto const name : phi::category_names) out.call<void>("push", std::string{name});
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(medgate_phi) {
  emscripten::class_<phi_binding>("Phi")
      .class_function("load", &phi_binding::load)
      .function("find", &phi_binding::find)
      .function("redact", &phi_binding::redact)
      .function("protect", &phi_binding::protect)
      .property("provenance", &phi_binding::provenance)
      .property("entries", &phi_binding::entries);
  emscripten::function("phiRehydrate", &rehydrate);
  emscripten::function("phiCategories", &categories);
}

}  // namespace medgate::wasm
