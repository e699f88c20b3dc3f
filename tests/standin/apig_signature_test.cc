// The stand-in's own verifier against the known answers produced by the official Huawei Cloud
// SDKs, so that it can be trusted to judge the gateway's signatures.
#include "standin/apig_signature.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fstream>
#include <sstream>

namespace codearts::testing {
namespace {

namespace json = boost::json;

std::string Text(const json::value& value) { return std::string(value.as_string()); }

TEST(ApigSignatureTest, ReproducesEveryOfficialVector) {
  std::ifstream file(SIGNING_VECTORS_FILE);
  ASSERT_TRUE(file) << SIGNING_VECTORS_FILE;
  std::stringstream text;
  text << file.rdbuf();
  const json::value corpus = json::parse(text.str());
  const json::array& vectors = corpus.at("vectors").as_array();
  ASSERT_GE(vectors.size(), 10u);
  for (const json::value& vector : vectors) {
    SCOPED_TRACE(Text(vector.at("id")));
    const json::object& request = vector.at("request").as_object();
    // The request target: the URL without its scheme and authority.
    std::string url = Text(request.at("url"));
    const std::size_t authority = url.find("://") + 3;
    const std::size_t path = url.find('/', authority);
    const std::string target = path == std::string::npos ? "/" : url.substr(path);
    std::vector<std::pair<std::string, std::string>> headers;
    std::string date;
    for (const auto& [name, value] : request.at("headers").as_object()) {
      headers.emplace_back(std::string(name), Text(value));
      if (name == "X-Sdk-Date") date = Text(value);
    }
    const std::optional<std::string> canonical =
        ApigCanonicalRequest(Text(request.at("method")), target, headers, Text(request.at("body")));
    ASSERT_TRUE(canonical.has_value());
    const json::object& expected = vector.at("expected").as_object();
    EXPECT_EQ(*canonical, Text(expected.at("canonical_request")));
    EXPECT_EQ(ApigSignature(Text(vector.at("credentials").at("sk")), date, *canonical),
              Text(expected.at("signature")));
  }
}

TEST(ApigSignatureTest, ReEncodesPathAndQueryAsTheSdksDo) {
  const std::optional<std::string> canonical =
      ApigCanonicalRequest("get", "/a%20b/c+d?z=1&a=x%2Fy&a=%41&e", {{"Host", " h "}}, "");
  ASSERT_TRUE(canonical.has_value());
  EXPECT_EQ(*canonical,
            "GET\n/a%20b/c%2Bd/\na=A&a=x%2Fy&e=&z=1\nhost:h\n\nhost\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_FALSE(ApigCanonicalRequest("GET", "/bad%2", {}, "").has_value());
  EXPECT_FALSE(ApigCanonicalRequest("GET", "/ok?k=%zz", {}, "").has_value());
}

}  // namespace
}  // namespace codearts::testing
