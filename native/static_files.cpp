// static_files.cpp — see static_files.hpp.
#include "static_files.hpp"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <httplib.h>

namespace medgate::cli {

namespace {

struct content_type {
  char const* extension;
  char const* type;
};

constexpr content_type content_types[] = {
    {"wasm", "application/wasm"},
    {"mjs", "text/javascript"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"mgtok", "application/octet-stream"},
    {"mglex", "application/octet-stream"},
    {"css", "text/css"},
    {"html", "text/html; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"ts", "text/plain; charset=utf-8"},  // index.d.ts, read as text
    {"map", "application/json"},
};

/// True when a path segment is "..": such a path is never served.
bool climbs(std::string_view path) {
  while (!path.empty()) {
    auto const slash = path.find('/');
    if (path.substr(0, slash) == "..") return true;
    if (slash == std::string_view::npos) return false;
    path.remove_prefix(slash + 1);
  }
  return false;
}

}  // namespace

bool servable(std::string_view path) {
  if (climbs(path)) return false;
  for (std::string_view rest = path; !rest.empty();) {
    auto const slash = rest.find('/');
    if (rest.front() == '.') return false;  // .git, .env: hidden files are never served
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  if (path.empty() || path.back() == '/') return true;  // index.html
  auto const name = path.substr(path.rfind('/') + 1);
  auto const dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  auto const extension = name.substr(dot + 1);
  return std::any_of(std::begin(content_types), std::end(content_types),
                     [&](content_type const& t) { return extension == t.extension; });
}

result<static_mount> check_mount(static_mount mount) {
  if (mount.prefix.empty() || mount.prefix.front() != '/' || mount.prefix.back() != '/')
    return error{fmt::format("mount prefix must start and end with '/', got \"{}\"", mount.prefix)};
  if (climbs(mount.prefix)) return error{fmt::format("mount prefix must not contain \"..\", got \"{}\"", mount.prefix)};
  std::error_code ec;
  if (!std::filesystem::is_directory(mount.directory, ec))
    return error{fmt::format("{} (served at {}) is not a folder", mount.directory, mount.prefix)};
  return mount;
}

std::optional<error> mount_static(httplib::Server& server, std::vector<static_mount> const& mounts) {
  for (auto const& [extension, type] : content_types) server.set_file_extension_and_mimetype_mapping(extension, type);
  for (auto const& m : mounts) {
    auto checked = check_mount(m);
    if (!checked) return error{checked.error_message()};
    if (!server.set_mount_point(m.prefix, m.directory, {{"Cache-Control", "no-cache"}}))
      return error{fmt::format("cannot serve {} at {}", m.directory, m.prefix)};
  }
  return std::nullopt;
}

std::optional<std::string> mounted_file(std::vector<static_mount> const& mounts, std::string_view path) {
  for (auto const& m : mounts) {
    if (!path.starts_with(m.prefix)) continue;
    auto const rest = path.substr(m.prefix.size());
    if (climbs(rest)) continue;
    std::string file = fmt::format("{}/{}", m.directory, rest);
    if (file.back() == '/') file += "index.html";
    std::error_code ec;
    if (std::filesystem::is_regular_file(file, ec)) return file;
  }
  return std::nullopt;
}

}  // namespace medgate::cli
