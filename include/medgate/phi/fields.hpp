// phi/fields.hpp — PHI in a request's structured fields: values that are identifiers because of where they
// sit ("metadata": {"patient_name": ..., "dob": ..., "mrn": ...}), not because of how they read.
//
//   auto rule = phi::field_rule::parse("$.metadata.insurance.member_id", phi::category::account);
//   phi::protect_fields(body, rules, /*by_name=*/true, [&](std::string_view value, phi::category type) {
//     return replacement;   // e.g. phi::protect(value, {{0, size, type}}, ...)
//   });
//
// Two ways to name a field:
// - rules, JSON paths (a subset of JSONPath): `$` the body; `.key` or `['key']` a member; `[N]` an element;
//   `[*]` or `.*` every element or member; `..key` the member `key` at any depth below. Keys are exact.
// - by name (on unless turned off): any member of the body's `metadata` object, at any depth, whose key is
//   a known identifier field once case, `_` and `-` are ignored ("patient_name", "dateOfBirth", "DOB",
//   "zip-code"); see `field_names`. And the body's `user` (OpenAI's end-user id) is an ID.
// A selected string or number is replaced whole (a number by the string that replaces its digits); an
// object or array is replaced leaf by leaf, every string and number under it with the rule's category.
// The first rule to select a value gives its category; by-name fields come after the rules.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../result.hpp"
#include "category.hpp"

namespace medgate::phi {

/// A JSON path (see the header) and the category of what it selects.
class field_rule {
 public:
  struct step {
    enum class kind : std::uint8_t { member, index, any, descend };
    kind what = kind::member;
    std::string key;        ///< member, descend
    std::size_t index = 0;  ///< index
  };

  /// The rule, or an error naming the character where `path` stops being a path (the path is config, not PHI).
  static result<field_rule> parse(std::string_view path, category type) {
    field_rule r;
    r.text_ = std::string{path};
    r.type_ = type;
    auto const fail = [&](std::size_t at, std::string_view why) -> result<field_rule> {
      return error{fmt::format("\"{}\" is not a JSON path: {} at character {}", path, why, at + 1)};
    };
    if (path.empty() || path[0] != '$') return fail(0, "it must start with $");
    auto const key_end = [&](std::size_t from) {
      std::size_t k = from;
      while (k < path.size() && path[k] != '.' && path[k] != '[') ++k;
      return k;
    };
    for (std::size_t i = 1; i < path.size();) {
      if (path.compare(i, 2, "..") == 0) {
        std::size_t const e = key_end(i + 2);
        if (e == i + 2) return fail(i + 2, "a key must follow ..");
        r.steps_.push_back({step::kind::descend, std::string{path.substr(i + 2, e - i - 2)}, 0});
        i = e;
      } else if (path[i] == '.') {
        std::size_t const e = key_end(i + 1);
        if (e == i + 1) return fail(i + 1, "a key must follow .");
        auto const key = path.substr(i + 1, e - i - 1);
        r.steps_.push_back(key == "*" ? step{step::kind::any, {}, 0} : step{step::kind::member, std::string{key}, 0});
        i = e;
      } else if (path.compare(i, 3, "[*]") == 0) {
        r.steps_.push_back({step::kind::any, {}, 0});
        i += 3;
      } else if (path.compare(i, 2, "['") == 0) {
        auto const close = path.find("']", i + 2);
        if (close == std::string_view::npos) return fail(i, "['key' is not closed by ']");
        r.steps_.push_back({step::kind::member, std::string{path.substr(i + 2, close - i - 2)}, 0});
        i = close + 2;
      } else if (path[i] == '[') {
        std::size_t k = i + 1;
        std::size_t n = 0;
        while (k < path.size() && path[k] >= '0' && path[k] <= '9' && k - i < 10)
          n = n * 10 + static_cast<std::size_t>(path[k++] - '0');
        if (k == i + 1 || k >= path.size() || path[k] != ']') return fail(i, "[ must hold a number, * or 'key'");
        r.steps_.push_back({step::kind::index, {}, n});
        i = k + 1;
      } else {
        return fail(i, "expected . or [");
      }
    }
    if (r.steps_.empty()) return fail(0, "it selects the whole body");
    return r;
  }

  [[nodiscard]] std::string const& path() const noexcept { return text_; }
  [[nodiscard]] category type() const noexcept { return type_; }
  [[nodiscard]] std::vector<step> const& steps() const noexcept { return steps_; }

  /// Calls `f(value)` for every value of `root` the path selects.
  template <class F>
  void for_each(nlohmann::json& root, F&& f) const {
    visit(root, 0, f);
  }

 private:
  template <class F>
  void visit(nlohmann::json& at, std::size_t next, F& f) const {
    if (next == steps_.size()) {
      f(at);
      return;
    }
    auto const& s = steps_[next];
    switch (s.what) {
      case step::kind::member:
        if (auto it = at.is_object() ? at.find(s.key) : at.end(); at.is_object() && it != at.end())
          visit(*it, next + 1, f);
        break;
      case step::kind::index:
        if (at.is_array() && s.index < at.size()) visit(at[s.index], next + 1, f);
        break;
      case step::kind::any:
        if (at.is_object() || at.is_array())
          for (auto& child : at) visit(child, next + 1, f);
        break;
      case step::kind::descend:
        if (at.is_object()) {
          if (auto it = at.find(s.key); it != at.end()) visit(*it, next + 1, f);
          for (auto& [key, child] : at.items())
            if (key != s.key) visit(child, next, f);
        } else if (at.is_array()) {
          for (auto& child : at) visit(child, next, f);
        }
        break;
    }
  }

  std::string text_;
  category type_ = category::id;
  std::vector<step> steps_;
};

/// The identifier fields known by name: keys folded (lower case, no '_' or '-'), and their category.
inline constexpr std::array<std::pair<std::string_view, category>, 58> field_names{{
    {"patientname", category::name},
    {"fullname", category::name},
    {"firstname", category::name},
    {"lastname", category::name},
    {"middlename", category::name},
    {"givenname", category::name},
    {"familyname", category::name},
    {"surname", category::name},
    {"maidenname", category::name},
    {"guardian", category::name},
    {"guardianname", category::name},
    {"nextofkin", category::name},
    {"emergencycontact", category::name},
    {"dob", category::date},
    {"dateofbirth", category::date},
    {"birthdate", category::date},
    {"birthday", category::date},
    {"admissiondate", category::date},
    {"dischargedate", category::date},
    {"dateofdeath", category::date},
    {"deathdate", category::date},
    {"visitdate", category::date},
    {"encounterdate", category::date},
    {"servicedate", category::date},
    {"mrn", category::mrn},
    {"medicalrecordnumber", category::mrn},
    {"patientid", category::mrn},
    {"ssn", category::ssn},
    {"socialsecuritynumber", category::ssn},
    {"phone", category::phone},
    {"phonenumber", category::phone},
    {"telephone", category::phone},
    {"mobile", category::phone},
    {"cellphone", category::phone},
    {"homephone", category::phone},
    {"workphone", category::phone},
    {"fax", category::fax},
    {"faxnumber", category::fax},
    {"email", category::email},
    {"emailaddress", category::email},
    {"address", category::location},
    {"streetaddress", category::location},
    {"street", category::location},
    {"addressline1", category::location},
    {"addressline2", category::location},
    {"city", category::location},
    {"zip", category::zip},
    {"zipcode", category::zip},
    {"postalcode", category::zip},
    {"accountnumber", category::account},
    {"insuranceid", category::account},
    {"memberid", category::account},
    {"policynumber", category::account},
    {"healthplanid", category::account},
    {"licensenumber", category::license},
    {"deviceid", category::device},
    {"serialnumber", category::device},
    {"ipaddress", category::ip},
}};

/// The category of a field named `key` (see field_names), if it is one.
inline std::optional<category> field_by_name(std::string_view key) {
  std::string folded;
  for (char const c : key) {
    if (c == '_' || c == '-') continue;
    folded += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  for (auto const& [name, type] : field_names)
    if (name == folded) return type;
  return std::nullopt;
}

namespace detail::fields {

/// Replaces the string and number leaves of `value` by `replace(their text, type)`, each leaf once: the
/// leaves already replaced are in `done` (nodes keep their address; only leaves are assigned).
template <class Replace>
void replace_leaves(nlohmann::json& value, category type, Replace& replace, std::vector<nlohmann::json const*>& done,
                    std::array<std::size_t, category_count>& found) {
  if (value.is_object() || value.is_array()) {
    for (auto& child : value) replace_leaves(child, type, replace, done, found);
    return;
  }
  bool const text = value.is_string() && !value.get_ref<std::string const&>().empty();
  if (!text && !value.is_number()) return;  // null, true, false, "": nothing to hide
  if (std::find(done.begin(), done.end(), &value) != done.end()) return;
  std::string replacement = text ? replace(std::string_view{value.get_ref<std::string const&>()}, type)
                                 : replace(std::string_view{value.dump()}, type);
  value = std::move(replacement);
  done.push_back(&value);
  ++found[static_cast<std::size_t>(type)];
}

template <class Replace>
void replace_by_name(nlohmann::json& at, Replace& replace, std::vector<nlohmann::json const*>& done,
                     std::array<std::size_t, category_count>& found) {
  if (at.is_object()) {
    for (auto& [key, child] : at.items()) {
      if (auto const type = field_by_name(key)) {
        replace_leaves(child, *type, replace, done, found);
      } else {
        replace_by_name(child, replace, done, found);
      }
    }
  } else if (at.is_array()) {
    for (auto& child : at) replace_by_name(child, replace, done, found);
  }
}

}  // namespace detail::fields

/// Replaces, in `body`, every value the rules select and, when `by_name`, the known identifier fields of its
/// `metadata` and its `user`, by `replace(value's text, category)` (a std::string). Returns the values
/// replaced per category. Each value is replaced once: the first rule to select it gives the category.
template <class Replace>
std::array<std::size_t, category_count> protect_fields(nlohmann::json& body, std::span<field_rule const> rules,
                                                       bool by_name, Replace&& replace) {
  std::array<std::size_t, category_count> found{};
  std::vector<nlohmann::json const*> done;
  for (auto const& rule : rules)
    rule.for_each(body,
                  [&](nlohmann::json& v) { detail::fields::replace_leaves(v, rule.type(), replace, done, found); });
  if (!by_name || !body.is_object()) return found;
  if (auto it = body.find("user"); it != body.end() && it->is_string())
    detail::fields::replace_leaves(*it, category::id, replace, done, found);
  if (auto it = body.find("metadata"); it != body.end()) detail::fields::replace_by_name(*it, replace, done, found);
  return found;
}

}  // namespace medgate::phi
