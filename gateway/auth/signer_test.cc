#include "auth/signer.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <fstream>
#include <sstream>

#include "auth/clock.h"

namespace codearts::auth {
namespace {

struct Vector {
  std::string id;
  SigningRequest request;
  std::string ak;
  std::string sk;
  boost::json::object expected;
};

// Turns a vector's URL into the signer's inputs the way the official SDKs split a request.
SigningRequest FromUrl(std::string_view method, std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  EXPECT_TRUE(parsed.has_value()) << url;
  SigningRequest request;
  request.method = std::string(method);
  request.path = std::string(parsed->encoded_path());
  for (const auto& param : parsed->params()) {
    request.query.emplace_back(param.key, param.value);
  }
  return request;
}

std::vector<Vector> LoadVectors() {
  std::ifstream file(SIGNING_VECTORS_FILE);
  std::stringstream contents;
  contents << file.rdbuf();
  const boost::json::value root = boost::json::parse(contents.str());
  std::vector<Vector> vectors;
  for (const auto& item : root.at("vectors").as_array()) {
    const auto& object = item.as_object();
    const auto& request = object.at("request").as_object();
    Vector v;
    v.id = std::string(object.at("id").as_string());
    v.request = FromUrl(request.at("method").as_string(), request.at("url").as_string());
    for (const auto& [name, value] : request.at("headers").as_object()) {
      v.request.headers.emplace_back(std::string(name), std::string(value.as_string()));
    }
    v.request.body = std::string(request.at("body").as_string());
    v.ak = std::string(object.at("credentials").at("ak").as_string());
    v.sk = std::string(object.at("credentials").at("sk").as_string());
    v.expected = object.at("expected").as_object();
    vectors.push_back(std::move(v));
  }
  return vectors;
}

TEST(SignerVectorsTest, EveryOfficialSdkVectorMatches) {
  const std::vector<Vector> vectors = LoadVectors();
  ASSERT_GE(vectors.size(), 10u);
  for (const Vector& v : vectors) {
    SCOPED_TRACE(v.id);
    absl::StatusOr<SignatureParts> parts = SignSdkHmacSha256(v.request, v.ak, v.sk);
    ASSERT_TRUE(parts.ok()) << parts.status();
    EXPECT_EQ(parts->canonical_request, v.expected.at("canonical_request").as_string());
    EXPECT_EQ(parts->string_to_sign, v.expected.at("string_to_sign").as_string());
    EXPECT_EQ(parts->signed_headers, v.expected.at("signed_headers").as_string());
    EXPECT_EQ(parts->signature, v.expected.at("signature").as_string());
    EXPECT_EQ(parts->authorization, v.expected.at("authorization").as_string());
  }
}

TEST(SignerTest, MissingDateIsAnError) {
  SigningRequest request{"POST", "/v3/x/stop", {}, {{"Host", "example.com"}}, ""};
  absl::StatusOr<SignatureParts> parts = SignSdkHmacSha256(request, "ak", "sk");
  EXPECT_EQ(parts.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SignerTest, BadPercentEscapeInPathIsAnError) {
  SigningRequest request{"GET", "/a%zz", {}, {{"X-Sdk-Date", "20240115T083000Z"}}, ""};
  EXPECT_EQ(SignSdkHmacSha256(request, "ak", "sk").status().code(),
            absl::StatusCode::kInvalidArgument);
  request.path = "/a%4";
  EXPECT_EQ(SignSdkHmacSha256(request, "ak", "sk").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SignerTest, PathSegmentsAreDecodedThenReencoded) {
  SigningRequest request{"GET", "/a%20b/c d/~x", {}, {{"X-Sdk-Date", "20240115T083000Z"}}, ""};
  absl::StatusOr<SignatureParts> parts = SignSdkHmacSha256(request, "ak", "sk");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->canonical_request.substr(0, parts->canonical_request.find('\n', 4)),
            "GET\n/a%20b/c%20d/~x/");
}

TEST(SignerTest, HeaderValuesAreTrimmed) {
  SigningRequest request{"GET", "/", {}, {{"X-Sdk-Date", " 20240115T083000Z "}, {"A", "\tv "}}, ""};
  absl::StatusOr<SignatureParts> parts = SignSdkHmacSha256(request, "ak", "sk");
  ASSERT_TRUE(parts.ok());
  EXPECT_NE(parts->canonical_request.find("\na:v\nx-sdk-date:20240115T083000Z\n"),
            std::string::npos);
  EXPECT_NE(parts->string_to_sign.find("\n20240115T083000Z\n"), std::string::npos);
}

TEST(CanonicalQueryTest, SortsByKeyThenValueAndEscapes) {
  EXPECT_EQ(CanonicalQueryString({{"b", "2"}, {"a", "z"}, {"a", "y"}, {"c", ""}, {"d e", "f/g"}}),
            "a=y&a=z&b=2&c=&d%20e=f%2Fg");
  EXPECT_EQ(CanonicalQueryString({}), "");
}

TEST(PercentEncodeTest, OnlyUnreservedBytesStayLiteral) {
  EXPECT_EQ(PercentEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(PercentEncode("a+b=c/\xff"), "a%2Bb%3Dc%2F%FF");
}

TEST(ClockTest, FormatsSdkDateInUtc) {
  // 2024-01-15T08:30:00Z
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1705307400));
  EXPECT_EQ(FormatSdkDate(t), "20240115T083000Z");
}

}  // namespace
}  // namespace codearts::auth
