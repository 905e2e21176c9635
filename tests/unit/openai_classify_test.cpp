#include "medgate/openai/classify.hpp"

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

using namespace medgate;
using namespace medgate::openai;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view canary = "PATIENT-CANARY-Jane-Doe";

std::string with_canary(std::string_view pattern) {
  std::string out{pattern};
  for (auto at = out.find("$C"); at != std::string::npos; at = out.find("$C")) out.replace(at, 2, canary);
  return out;
}

const std::string good_json = with_canary(
    R"({"id":"c1","object":"chat.completion","created":1,"model":"m",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"$C is stable"},"finish_reason":"stop"}]})");

std::string sse(std::vector<std::string> const& data) {
  std::string out;
  for (auto const& d : data) out += "data: " + d + "\n\n";
  return out;
}

const std::string role_chunk = R"({"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})";
const std::string content_chunk = with_canary(R"({"id":"c1","choices":[{"index":0,"delta":{"content":"$C"}}]})");
const std::string stop_chunk = R"({"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})";
const std::string good_sse = sse({role_chunk, content_chunk, stop_chunk, "[DONE]"});

struct row {
  std::string name;
  int status = 200;
  std::string body;
  bool stream = false;
  std::vector<std::pair<std::string, std::string>> headers;
  outcome kind = outcome::success;
  error_code code = error_code::none;
  std::string reason;
  std::optional<duration> wait;
};

std::vector<row> table() {
  const auto error_body = [](std::string_view fields) {
    return with_canary(R"({"error":{)" + std::string{fields} + "}}");
  };
  const std::string quota = error_body(
      R"("message":"You exceeded your current quota, $C","type":"insufficient_quota","param":null,"code":"insufficient_quota")");
  const std::string rate = error_body(
      R"("message":"Rate limit reached for $C","type":"requests","param":null,"code":"rate_limit_exceeded")");
  const std::string context_message =
      "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens ($C).";
  const std::string bad_json = good_json.substr(0, good_json.size() - 1);
  const std::string cut_chunk = with_canary(R"({"choices":[{"delta":{"content":"$C"}})");
  return {
      // 2xx
      {"200 JSON", 200, good_json, false, {}, outcome::success, error_code::none, "HTTP 200", {}},
      {"201 JSON", 201, good_json, false, {}, outcome::success, error_code::none, "HTTP 201", {}},
      {"200 JSON cut off",
       200,
       bad_json,
       false,
       {},
       outcome::malformed,
       error_code::malformed_response,
       fmt::format("malformed response: response body is not valid JSON: unexpected end of input at byte {}",
                   bad_json.size()),
       {}},
      {"200 empty choices",
       200,
       R"({"id":"x","choices":[]})",
       false,
       {},
       outcome::malformed,
       error_code::malformed_response,
       "malformed response: choices must be a non-empty array",
       {}},
      {"200 content not a string",
       200,
       R"({"choices":[{"message":{"role":"assistant","content":7}}]})",
       false,
       {},
       outcome::malformed,
       error_code::malformed_response,
       "malformed response: choices[0].message.content must be a string or an array of content parts",
       {}},
      {"200 null content",
       200,
       R"({"choices":[{"message":{"role":"assistant","content":null}}]})",
       false,
       {},
       outcome::malformed,
       error_code::malformed_response,
       "malformed response: choices[0].message.content must be a string",
       {}},
      {"200 error object",
       200,
       error_body(R"("message":"$C","code":"server_error")"),
       false,
       {},
       outcome::malformed,
       error_code::malformed_response,
       "malformed response: response body is an error object, not a completion",
       {}},
      {"204 empty",
       204,
       "",
       false,
       {},
       outcome::malformed,
       error_code::malformed_response,
       "malformed response: response body is not valid JSON: unexpected end of input at byte 0",
       {}},
      {"200 stream",
       200,
       good_sse,
       true,
       {{"Content-Type", "text/event-stream; charset=utf-8"}},
       outcome::success,
       error_code::none,
       "HTTP 200",
       {}},
      {"200 stream without content type", 200, good_sse, true, {}, outcome::success, error_code::none, "HTTP 200", {}},
      {"200 SSE although not requested",
       200,
       good_sse,
       false,
       {{"content-type", "Text/Event-Stream"}},
       outcome::success,
       error_code::none,
       "HTTP 200",
       {}},
      {"200 JSON although streaming requested",
       200,
       good_json,
       true,
       {{"Content-Type", "application/json"}},
       outcome::success,
       error_code::none,
       "HTTP 200",
       {}},
      {"200 stream truncated",
       200,
       sse({role_chunk, content_chunk}),
       true,
       {},
       outcome::malformed,
       error_code::truncated_stream,
       "stream truncated after 2 chunks (no [DONE])",
       {}},
      {"200 stream cut mid-event",
       200,
       good_sse.substr(0, good_sse.find(canary)),
       true,
       {},
       outcome::malformed,
       error_code::truncated_stream,
       "stream truncated after 1 chunks (no [DONE])",
       {}},
      {"200 stream empty",
       200,
       "",
       true,
       {},
       outcome::malformed,
       error_code::truncated_stream,
       "stream truncated after 0 chunks (no [DONE])",
       {}},
      {"200 stream malformed chunk",
       200,
       sse({role_chunk, cut_chunk, "[DONE]"}),
       true,
       {},
       outcome::malformed,
       error_code::malformed_response,
       fmt::format("malformed response: stream chunk 2 is not valid JSON: unexpected end of input at byte {}",
                   cut_chunk.size()),
       {}},
      {"200 stream error object",
       200,
       sse({role_chunk, error_body(R"("message":"$C","code":"server_error")"), "[DONE]"}),
       true,
       {},
       outcome::malformed,
       error_code::malformed_response,
       "malformed response: stream chunk 2 is an error object (server_error)",
       {}},
      // 429
      {"429 Retry-After",
       429,
       rate,
       false,
       {{"Retry-After", "20"}},
       outcome::rate_limited,
       error_code::rate_limited,
       "HTTP 429",
       20s},
      {"429 retry-after-ms",
       429,
       rate,
       false,
       {{"retry-after-ms", "1500"}, {"Retry-After", "2"}},
       outcome::rate_limited,
       error_code::rate_limited,
       "HTTP 429",
       1500ms},
      {"429 no header", 429, "", false, {}, outcome::rate_limited, error_code::rate_limited, "HTTP 429", {}},
      {"429 insufficient_quota code",
       429,
       quota,
       false,
       {{"Retry-After", "20"}},
       outcome::final,
       error_code::insufficient_quota,
       "insufficient_quota",
       {}},
      {"429 insufficient_quota type",
       429,
       error_body(R"("message":"$C","type":"insufficient_quota")"),
       false,
       {},
       outcome::final,
       error_code::insufficient_quota,
       "insufficient_quota",
       {}},
      // 5xx
      {"500", 500, with_canary("$C"), false, {}, outcome::retryable, error_code::server_error, "HTTP 500", {}},
      {"502", 502, "", false, {}, outcome::retryable, error_code::server_error, "HTTP 502", {}},
      {"503 Retry-After",
       503,
       "",
       false,
       {{"Retry-After", "5"}},
       outcome::retryable,
       error_code::server_error,
       "HTTP 503",
       5s},
      {"503 HTTP-date",
       503,
       "",
       false,
       {{"Date", "Tue, 01 Oct 2024 10:00:00 GMT"}, {"Retry-After", "Tue, 01 Oct 2024 10:00:30 GMT"}},
       outcome::retryable,
       error_code::server_error,
       "HTTP 503",
       30s},
      {"504", 504, "", false, {}, outcome::retryable, error_code::server_error, "HTTP 504", {}},
      {"529",
       529,
       "",
       false,
       {{"retry-after-ms", "250"}},
       outcome::retryable,
       error_code::overloaded,
       "HTTP 529",
       250ms},
      {"501", 501, "", false, {}, outcome::retryable, error_code::server_error, "HTTP 501", {}},
      {"599", 599, "", false, {}, outcome::retryable, error_code::server_error, "HTTP 599", {}},
      // 4xx
      {"400 context code",
       400,
       error_body(
           R"("message":"$C","type":"invalid_request_error","param":"messages","code":"context_length_exceeded")"),
       false,
       {},
       outcome::final,
       error_code::context_length_exceeded,
       "context_length_exceeded",
       {}},
      {"400 context type",
       400,
       error_body(R"("message":"$C","type":"context_length_exceeded")"),
       false,
       {},
       outcome::final,
       error_code::context_length_exceeded,
       "context_length_exceeded",
       {}},
      {"400 context param",
       400,
       error_body(R"("message":"$C","param":"context_length_exceeded")"),
       false,
       {},
       outcome::final,
       error_code::context_length_exceeded,
       "context_length_exceeded",
       {}},
      {"400 context message only",
       400,
       error_body(R"("message":")" + context_message + R"(","type":"invalid_request_error","code":null)"),
       false,
       {},
       outcome::final,
       error_code::context_length_exceeded,
       "context_length_exceeded",
       {}},
      {"400 context message at top level (vLLM)",
       400,
       with_canary(R"({"object":"error","message":")" + context_message + R"(","type":"BadRequestError","code":400})"),
       false,
       {},
       outcome::final,
       error_code::context_length_exceeded,
       "context_length_exceeded",
       {}},
      {"400 error as a string",
       400,
       with_canary(R"({"error":"$C: Maximum Context Length exceeded"})"),
       false,
       {},
       outcome::final,
       error_code::context_length_exceeded,
       "context_length_exceeded",
       {}},
      {"400 other",
       400,
       error_body(R"("message":"$C","type":"invalid_request_error","code":"invalid_value")"),
       false,
       {},
       outcome::final,
       error_code::bad_request,
       "HTTP 400",
       {}},
      {"400 not JSON",
       400,
       with_canary("<html>$C</html>"),
       false,
       {},
       outcome::final,
       error_code::bad_request,
       "HTTP 400",
       {}},
      {"401",
       401,
       error_body(R"("code":"invalid_api_key")"),
       false,
       {{"Retry-After", "5"}},
       outcome::final,
       error_code::unauthorized,
       "HTTP 401",
       {}},
      {"403", 403, "", false, {}, outcome::final, error_code::forbidden, "HTTP 403", {}},
      {"404",
       404,
       error_body(R"("code":"model_not_found")"),
       false,
       {},
       outcome::final,
       error_code::not_found,
       "HTTP 404",
       {}},
      {"408", 408, "", false, {{"Retry-After", "1"}}, outcome::retryable, error_code::request_timeout, "HTTP 408", 1s},
      {"409", 409, "", false, {}, outcome::retryable, error_code::conflict, "HTTP 409", {}},
      {"422", 422, "", false, {}, outcome::final, error_code::unprocessable, "HTTP 422", {}},
      {"413",
       413,
       with_canary("maximum context length $C"),
       false,
       {},
       outcome::final,
       error_code::unexpected_status,
       "HTTP 413",
       {}},
      {"418", 418, "", false, {}, outcome::final, error_code::unexpected_status, "HTTP 418", {}},
      // neither 2xx, 4xx nor 5xx
      {"100", 100, "", false, {}, outcome::final, error_code::unexpected_status, "HTTP 100", {}},
      {"302",
       302,
       good_json,
       false,
       {{"Location", "/elsewhere"}},
       outcome::final,
       error_code::unexpected_status,
       "HTTP 302",
       {}},
      {"304", 304, "", false, {}, outcome::final, error_code::unexpected_status, "HTTP 304", {}},
      {"0", 0, "", false, {}, outcome::final, error_code::unexpected_status, "HTTP 0", {}},
      {"600", 600, "", false, {}, outcome::final, error_code::unexpected_status, "HTTP 600", {}},
  };
}

}  // namespace

TEST_CASE("classify_response: every status and body combination") {
  for (auto const& r : table()) {
    CAPTURE(r.name);
    http_response response;
    response.status = r.status;
    response.body = r.body;
    response.headers = header_list{r.headers};
    const auto c = classify_response(response, r.stream, std::nullopt);
    CHECK(to_string(c.verdict.kind) == to_string(r.kind));
    CHECK(to_string(c.verdict.code) == to_string(r.code));
    CHECK(c.verdict.status == r.status);
    CHECK(c.verdict.reason == r.reason);
    CHECK(c.verdict.retry_after == r.wait);
    CHECK(c.verdict.reason.find("Jane") == std::string::npos);
    CHECK(c.response.has_value() == (r.kind == outcome::success));
    if (c.response) CHECK(c.response->choices.at(0).message.content.find(canary) != std::string::npos);
  }
}

TEST_CASE("classify_response: the table covers every 1xx-5xx class it claims to") {
  std::set<std::string> codes;
  for (auto const& r : table()) codes.insert(std::string{to_string(r.code)});
  for (const auto c : {"none", "bad_request", "unauthorized", "forbidden", "not_found", "conflict", "unprocessable",
                       "context_length_exceeded", "insufficient_quota", "rate_limited", "request_timeout",
                       "server_error", "overloaded", "malformed_response", "truncated_stream", "unexpected_status"}) {
    CAPTURE(c);
    CHECK(codes.count(c) == 1);
  }
}

TEST_CASE("classify_response: an HTTP-date Retry-After without Date uses now, else the arrival time") {
  http_response r;
  r.status = 503;
  r.headers.add("Retry-After", "Tue, 01 Oct 2024 10:00:30 GMT");
  const wall_time ten_o_clock{std::chrono::seconds{1727776800}};  // Tue, 01 Oct 2024 10:00:00 GMT
  CHECK(classify_response(r, false, ten_o_clock).verdict.retry_after == 30s);
  CHECK_FALSE(classify_response(r, false, std::nullopt).verdict.retry_after);
  r.received_at = ten_o_clock + 10s;
  CHECK(classify_response(r, false, std::nullopt).verdict.retry_after == 20s);
  CHECK(classify_response(r, false, ten_o_clock).verdict.retry_after == 30s);  // an explicit now wins
}

TEST_CASE("classify_response: a successful stream hands back the assembled response") {
  http_response r;
  r.status = 200;
  r.body = good_sse;
  const auto c = classify_response(r, true, std::nullopt);
  REQUIRE(c.response);
  CHECK(c.response->id == "c1");
  CHECK(c.response->choices[0].message.content == canary);
  CHECK(c.response->choices[0].finish_reason == "stop");
}

TEST_CASE("classify_failure: transport errors") {
  struct expectation {
    transport_failure failure;
    outcome kind;
    error_code code;
  };
  for (auto const& [failure, kind, code] : std::vector<expectation>{
           {transport_failure::timeout, outcome::retryable, error_code::timeout},
           {transport_failure::connection_refused, outcome::retryable, error_code::connection_refused},
           {transport_failure::connection_reset, outcome::retryable, error_code::connection_reset},
           {transport_failure::tls, outcome::final, error_code::tls},
           {transport_failure::cancelled, outcome::final, error_code::cancelled},
           {transport_failure::other, outcome::retryable, error_code::transport_other},
       }) {
    const auto name = to_string(failure);
    CAPTURE(name);
    const auto c = classify_failure({failure, with_canary("POST body was $C")});
    CHECK(c.kind == kind);
    CHECK(c.code == code);
    CHECK(c.status == 0);
    CHECK_FALSE(c.retry_after);
    CHECK(c.reason == to_string(code));  // the transport's detail is never copied
  }
}

TEST_CASE("classification: provider_fault and try_next_target") {
  const auto make = [](outcome kind, error_code code) { return classification{kind, code, 0, std::nullopt, ""}; };
  CHECK_FALSE(make(outcome::success, error_code::none).provider_fault());
  CHECK(make(outcome::retryable, error_code::server_error).provider_fault());
  CHECK(make(outcome::retryable, error_code::timeout).provider_fault());
  CHECK(make(outcome::malformed, error_code::truncated_stream).provider_fault());
  CHECK_FALSE(make(outcome::rate_limited, error_code::rate_limited).provider_fault());
  CHECK_FALSE(make(outcome::final, error_code::bad_request).provider_fault());
  CHECK_FALSE(make(outcome::final, error_code::insufficient_quota).provider_fault());

  for (const auto code : {error_code::unauthorized, error_code::forbidden, error_code::not_found,
                          error_code::insufficient_quota, error_code::tls})
    CHECK(make(outcome::final, code).try_next_target());
  for (const auto code : {error_code::none, error_code::bad_request, error_code::context_length_exceeded,
                          error_code::unprocessable, error_code::rate_limited, error_code::server_error,
                          error_code::cancelled, error_code::unexpected_status, error_code::malformed_response})
    CHECK_FALSE(make(outcome::final, code).try_next_target());
}

TEST_CASE("to_string names every outcome and error code distinctly") {
  std::set<std::string_view> outcomes;
  for (int i = 0; i <= static_cast<int>(outcome::malformed); ++i) outcomes.insert(to_string(static_cast<outcome>(i)));
  CHECK(outcomes.size() == 5);
  CHECK(outcomes.count("unknown") == 0);
  std::set<std::string_view> codes;
  for (int i = 0; i <= static_cast<int>(error_code::unexpected_status); ++i)
    codes.insert(to_string(static_cast<error_code>(i)));
  CHECK(codes.size() == 22);
  CHECK(codes.count("unknown") == 0);
  CHECK(to_string(outcome::rate_limited) == "rate_limited");
  CHECK(to_string(error_code::context_length_exceeded) == "context_length_exceeded");
  CHECK(to_string(static_cast<error_code>(200)) == "unknown");
}
