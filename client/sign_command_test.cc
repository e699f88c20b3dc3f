#include "client/sign_command.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"

namespace codearts::client {
namespace {

// Produced by the official Huawei Cloud Python SDK signer.
constexpr char kStopUrl[] =
    "https://cloudpipeline-ext.cn-north-4.myhuaweicloud.com/v3/pipelines/"
    "0f1e2d3c4b5a69788796a5b4c3d2e1f0/stop?build_id=3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b";
constexpr char kStopHost[] = "cloudpipeline-ext.cn-north-4.myhuaweicloud.com";
constexpr char kStopSignature[] =
    "3bc01edf7bd91efeaaa839575d432359fca83e6530bf1bc82a8ed6867eb6a15f";
constexpr char kAccessKey[] = "HPUAEXAMPLEAKID12345";
constexpr char kSecretKey[] = "ExampleSecretKey/+=0123456789abcdefghijkl";
constexpr char kSdkDate[] = "20240115T083000Z";

boost::json::object StopInput(bool with_host) {
  boost::json::object headers;
  headers["X-Sdk-Date"] = kSdkDate;
  if (with_host) headers["Host"] = kStopHost;
  boost::json::object input;
  input["method"] = "POST";
  input["url"] = kStopUrl;
  input["headers"] = std::move(headers);
  input["body"] = "";
  input["ak"] = kAccessKey;
  input["sk"] = kSecretKey;
  return input;
}

// Runs SignCommand and parses its output; fails the test on error.
boost::json::object Sign(const boost::json::object& input) {
  absl::StatusOr<std::string> output = SignCommand(boost::json::serialize(input));
  EXPECT_TRUE(output.ok()) << output.status();
  if (!output.ok()) return {};
  return boost::json::parse(*output).as_object();
}

std::string Field(const boost::json::object& object, std::string_view name) {
  const boost::json::value* value = object.if_contains(name);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

// The third line of the canonical request.
std::string CanonicalQuery(const boost::json::object& output) {
  const std::string canonical = Field(output, "canonical_request");
  const std::size_t first = canonical.find('\n');
  const std::size_t second = canonical.find('\n', first + 1);
  const std::size_t third = canonical.find('\n', second + 1);
  return canonical.substr(second + 1, third - second - 1);
}

TEST(SignCommandTest, MatchesOfficialSdkSignature) {
  const boost::json::object output = Sign(StopInput(/*with_host=*/true));

  EXPECT_EQ(Field(output, "signature"), kStopSignature);
  EXPECT_EQ(Field(output, "signed_headers"), "host;x-sdk-date");
  EXPECT_EQ(Field(output, "canonical_request"),
            "POST\n/v3/pipelines/0f1e2d3c4b5a69788796a5b4c3d2e1f0/stop/\n"
            "build_id=3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b\n"
            "host:cloudpipeline-ext.cn-north-4.myhuaweicloud.com\n"
            "x-sdk-date:20240115T083000Z\n\nhost;x-sdk-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Field(output, "authorization"),
            std::string("SDK-HMAC-SHA256 Access=HPUAEXAMPLEAKID12345, "
                        "SignedHeaders=host;x-sdk-date, Signature=") +
                kStopSignature);
  EXPECT_EQ(Field(output, "string_to_sign").rfind("SDK-HMAC-SHA256\n20240115T083000Z\n", 0), 0U);
}

TEST(SignCommandTest, AddsHostFromUrlWhenAbsent) {
  EXPECT_EQ(Field(Sign(StopInput(/*with_host=*/false)), "signature"), kStopSignature);
}

TEST(SignCommandTest, AddsHostWithPortFromUrl) {
  boost::json::object input = StopInput(/*with_host=*/false);
  input["url"] = "https://127.0.0.1:8443/v3/pipelines/0f1e2d3c4b5a69788796a5b4c3d2e1f0/stop";
  EXPECT_NE(Field(Sign(input), "canonical_request").find("\nhost:127.0.0.1:8443\n"),
            std::string::npos);
}

TEST(SignCommandTest, BodyIsOptional) {
  boost::json::object input = StopInput(/*with_host=*/true);
  input.erase("body");
  EXPECT_EQ(Field(Sign(input), "signature"), kStopSignature);
}

TEST(SignCommandTest, DecodesQueryAndKeepsPlusLiteral) {
  boost::json::object input = StopInput(/*with_host=*/true);
  input["url"] = "https://cloudpipeline-ext.cn-north-4.myhuaweicloud.com/v3/x?b=c+d&a=x%2By%20z&e";
  // Decoded "c+d", "x+y z" and "" (no value), then re-encoded and sorted by the signer.
  EXPECT_EQ(CanonicalQuery(Sign(input)), "a=x%2By%20z&b=c%2Bd&e=");
}

TEST(SignCommandTest, RejectsBadInput) {
  const auto expect_invalid = [](std::string_view input) {
    absl::StatusOr<std::string> output = SignCommand(input);
    EXPECT_EQ(output.status().code(), absl::StatusCode::kInvalidArgument) << input;
  };
  expect_invalid("");
  expect_invalid("not json");
  expect_invalid("[]");
  expect_invalid(R"({"url":"https://h/p","headers":{"X-Sdk-Date":"20240115T083000Z"},"ak":"a",)"
                 R"("sk":"s"})");  // No method.
  expect_invalid(R"({"method":"GET","headers":{"X-Sdk-Date":"20240115T083000Z"},"ak":"a",)"
                 R"("sk":"s"})");  // No url.
  expect_invalid(R"({"method":"GET","url":"/relative","headers":{"X-Sdk-Date":"20240115T083000Z"},)"
                 R"("ak":"a","sk":"s"})");
  expect_invalid(
      R"({"method":"GET","url":"https://h/p","header":{"X-Sdk-Date":"20240115T083000Z"},)"
      R"("ak":"a","sk":"s"})");  // Misspelt field.
  expect_invalid(R"({"method":"GET","url":"https://h/p","headers":{"X-Sdk-Date":1},)"
                 R"("ak":"a","sk":"s"})");
  expect_invalid(R"({"method":"GET","url":"https://h/p","headers":{},"ak":"a","sk":"s"})");
  expect_invalid(
      R"({"method":"GET","url":"https://u:p@h/p","headers":{"X-Sdk-Date":"20240115T083000Z"},)"
      R"("ak":"a","sk":"s"})");
}

// Every vector of the corpus the gateway's signer is tested with, as `sign` input; with its Host
// header removed, too, when the URL's authority would give the same one.
TEST(SignCommandTest, MatchesSdkCorpus) {
  std::ifstream file(SIGNING_VECTORS_FILE);
  ASSERT_TRUE(file) << "cannot open " << SIGNING_VECTORS_FILE;
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  const boost::json::value corpus = boost::json::parse(text);
  const boost::json::array& vectors = corpus.at("vectors").as_array();
  ASSERT_FALSE(vectors.empty());

  for (const boost::json::value& vector : vectors) {
    SCOPED_TRACE(vector.at("id").as_string().c_str());
    const boost::json::object& request = vector.at("request").as_object();
    boost::json::object input = request;
    input["ak"] = vector.at("credentials").at("ak");
    input["sk"] = vector.at("credentials").at("sk");
    const boost::json::object& expected = vector.at("expected").as_object();

    const boost::json::object output = Sign(input);
    for (const char* field :
         {"canonical_request", "string_to_sign", "signed_headers", "signature", "authorization"}) {
      EXPECT_EQ(Field(output, field), Field(expected, field)) << field;
    }

    boost::json::object& headers = input["headers"].as_object();
    const std::string host = Field(headers, "Host");
    const std::string url = Field(request, "url");
    if (!host.empty() && url.find("://" + host + "/") != std::string::npos) {
      headers.erase("Host");
      EXPECT_EQ(Field(Sign(input), "signature"), Field(expected, "signature")) << "without Host";
    }
  }
}

}  // namespace
}  // namespace codearts::client
