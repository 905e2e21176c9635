// cors.hpp — Cross-Origin Resource Sharing for the simulator, so a page served from another origin (a portal
// on another port, a file:// page) can call the simulated providers and the admin endpoint with fetch().
//
// Every response carries `Access-Control-Allow-Origin: *` and exposes the headers a client reads
// (x-request-id, retry-after, retry-after-ms, date). A preflight (`OPTIONS` on any path) is answered 204 with
// the methods and headers a client may send. No credentials are involved (no cookies), so `*` is allowed.
#pragma once

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace medgate::cli {

/// Adds the CORS response headers to `res` (from a post-routing handler: every response, errors included).
void add_cors_headers(httplib::Response& res);

/// Answers a CORS preflight: status 204, allowed methods (GET, POST, PUT, OPTIONS), allowed request headers
/// (authorization, content-type, x-request-id, idempotency-key, and every `x-medgate-*` the browser asks
/// for in Access-Control-Request-Headers), and how long the browser may cache the answer.
void answer_preflight(httplib::Request const& req, httplib::Response& res);

}  // namespace medgate::cli
