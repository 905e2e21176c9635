// static_files.hpp — folders served over HTTP next to the simulator's routes (the demo portal, the WebAssembly
// package, the lexicon and vocabularies), with the content types a browser insists on.
//
// cpp-httplib's mount points do the serving (`set_mount_point`): a GET under the URL prefix answers the file
// at the same relative path in the folder (index.html for a path ending in '/'), and a path with a ".."
// segment is never served. In httplib 0.11 mounted files are looked up *before* the routes, so a file could
// shadow a route; `shadowed_by_mount` lets the server refuse that (a route's path names a file that exists).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "medgate/result.hpp"

namespace httplib {
class Server;
}

namespace medgate::cli {

/// A folder served under a URL prefix.
struct static_mount {
  std::string prefix{};     ///< URL path, starting and ending with '/': "/", "/medgate/"
  std::string directory{};  ///< an existing folder
  bool operator==(static_mount const&) const = default;
};

/// Checks a mount's prefix and that its folder exists; the error says which and why.
result<static_mount> check_mount(static_mount mount);

/// Mounts each folder on `server`, with the content types of the demo's files (.wasm application/wasm,
/// .mjs/.js text/javascript, .json, .mgtok/.mglex application/octet-stream, .css, .html, .svg, .png) and
/// `Cache-Control: no-cache`, so an edited file is seen on reload. nullopt when every folder is mounted.
std::optional<error> mount_static(httplib::Server& server, std::vector<static_mount> const& mounts);

/// Whether a GET of `path` under a mount may be answered with a file: only the types a browser needs (those
/// above), no hidden file and no "..". A build folder also holds CMake's files, which are nobody's business.
bool servable(std::string_view path);

/// The file a GET of `path` would be answered with by one of `mounts`, if any: the check httplib makes.
std::optional<std::string> mounted_file(std::vector<static_mount> const& mounts, std::string_view path);

}  // namespace medgate::cli
