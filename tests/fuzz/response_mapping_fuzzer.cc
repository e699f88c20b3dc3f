// libFuzzer target: what comes back from upstream. Raw bytes go through the HTTP/1.1 response
// parser with the client's limits, and whatever parses goes through the Stop response mapping
// and the Retry-After reader. None of it may crash, and a 2xx is OK only with the documented body.
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "codearts/pipeline/v1/pipeline.pb.h"
#include "routes/route_table.h"
#include "routes/status_mapping.h"
#include "upstream/retry_policy.h"

namespace {

namespace http = boost::beast::http;

void CheckMapping(const codearts::upstream::HttpResponse& response) {
  static const codearts::routes::RouteTable* table =
      new codearts::routes::RouteTable(*codearts::routes::BuildRouteTable(
          *codearts::pipeline::v1::StopRequest::descriptor()->file()->FindServiceByName(
              "PipelineService")));
  codearts::pipeline::v1::StopResponse stop;
  const grpc::Status status =
      codearts::routes::MapHttpResponse(*table->Find("Stop"), response, "fuzz.example", &stop);
  if (status.ok()) {
    // OK only when CodeArts said so: a 2xx whose body is an object with a string pipeline_id.
    if (response.status < 200 || response.status >= 300) std::abort();
    boost::system::error_code ec;
    const boost::json::value body = boost::json::parse(response.body, ec);
    const boost::json::value* id =
        !ec && body.is_object() ? body.get_object().if_contains("pipeline_id") : nullptr;
    if (id == nullptr || !id->is_string() || id->get_string() != stop.pipeline_id()) std::abort();
  }
  if (!status.ok() && status.error_details().empty()) std::abort();  // details always attached
  codearts::routes::ParseErrorBody(response.body);
  if (auto retry_after = response.FindHeader("Retry-After")) {
    codearts::upstream::ParseRetryAfter(*retry_after, std::chrono::system_clock::now());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // As a raw HTTP response, fed in pieces as a socket would deliver it.
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::size_t{1024} * 1024);
  parser.header_limit(64 * 1024);
  parser.eager(true);
  // As http::async_read does: unconsumed bytes stay at the front of the window, which grows
  // by a varying step until the parser can use them.
  boost::system::error_code ec;
  std::size_t offset = 0;
  std::size_t window = 1 + size % 97;
  while (offset < input.size() && !parser.is_done()) {
    const std::size_t available = std::min(window, input.size() - offset);
    const std::size_t used = parser.put(boost::asio::buffer(input.data() + offset, available), ec);
    offset += used;
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) {
        if (available == input.size() - offset) break;  // all of it, and still not enough
        window += 1 + window % 13;
      }
      continue;
    }
    if (ec) break;
  }
  if (!ec && !parser.is_done() && parser.got_some()) parser.put_eof(ec);  // body ended by close
  if (!ec && parser.is_done()) {
    codearts::upstream::HttpResponse response;
    response.status = parser.get().result_int();
    for (const auto& field : parser.get()) {
      response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = parser.get().body();
    CheckMapping(response);
  }

  // As a status code and a body, to reach the mapping with any body at all.
  if (size >= 2) {
    codearts::upstream::HttpResponse response;
    response.status = 100 + (data[0] | (data[1] << 8)) % 500;
    response.body = std::string(input.substr(2));
    CheckMapping(response);
  }
  return 0;
}
