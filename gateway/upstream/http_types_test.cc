#include "upstream/http_types.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace codearts::upstream {
namespace {

HttpRequest StopRequest() {
  HttpRequest request;
  request.method = "POST";
  request.target = "/v3/pipelines/p1/stop?build_id=b1";
  request.headers = {{"Content-Type", "application/json"}, {"X-Sdk-Date", "20261207T000000Z"}};
  return request;
}

TEST(SerializeRequestTest, PostWithoutBodySaysContentLengthZero) {
  std::string wire = "left over from the last request";
  ASSERT_TRUE(SerializeRequest(StopRequest(), "example.com:443", &wire).ok());
  EXPECT_EQ(wire,
            "POST /v3/pipelines/p1/stop?build_id=b1 HTTP/1.1\r\n"
            "Host: example.com:443\r\n"
            "Content-Type: application/json\r\n"
            "X-Sdk-Date: 20261207T000000Z\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SerializeRequestTest, GetWithoutBodyHasNoContentLength) {
  HttpRequest request;
  request.method = "GET";
  request.target = "/v3/projects?name=cn-north-4";
  std::string wire;
  ASSERT_TRUE(SerializeRequest(request, "iam.example.com", &wire).ok());
  EXPECT_EQ(wire, "GET /v3/projects?name=cn-north-4 HTTP/1.1\r\nHost: iam.example.com\r\n\r\n");
}

TEST(SerializeRequestTest, BodyFollowsItsLength) {
  HttpRequest request = StopRequest();
  request.body = R"({"sources":[]})";
  std::string wire;
  ASSERT_TRUE(SerializeRequest(request, "h", &wire).ok());
  EXPECT_NE(wire.find("Content-Length: 14\r\n\r\n{\"sources\":[]}"), std::string::npos) << wire;
  EXPECT_EQ(wire.substr(wire.size() - 14), request.body);
}

TEST(SerializeRequestTest, ControlCharacterInAHeaderIsRefused) {
  for (const std::string& bad :
       {std::string("a\r\nX-Injected: 1"), std::string("a\nb"), std::string("a\0b", 3)}) {
    HttpRequest request = StopRequest();
    request.headers.emplace_back("X-Request-Id", bad);
    std::string wire;
    const absl::Status status = SerializeRequest(request, "h", &wire);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
    EXPECT_NE(status.message().find("X-Request-Id"), std::string::npos) << status.message();
  }
  HttpRequest request = StopRequest();
  request.target += "\r\nX-Injected: 1";
  std::string wire;
  EXPECT_EQ(SerializeRequest(request, "h", &wire).code(), absl::StatusCode::kInternal);
}

// Serializes the Stop request with one more header, `value` with `byte` at `at`.
absl::Status SerializeWithHeaderValue(std::string value, std::size_t at, char byte) {
  HttpRequest request = StopRequest();
  value[at] = byte;
  request.headers.emplace_back("X-Value", std::move(value));
  std::string wire;
  return SerializeRequest(request, "h", &wire);
}

// The check reads eight bytes at a time: every forbidden byte is found at every offset of a
// long value, and what is allowed (HTAB, printable ASCII, bytes above 0x7f) passes wherever it is.
TEST(SerializeRequestTest, EveryForbiddenByteIsFoundAtEveryOffset) {
  std::string forbidden;
  for (int c = 0; c < 0x20; ++c) {
    if (c != '\t') forbidden.push_back(static_cast<char>(c));
  }
  forbidden.push_back('\x7f');
  const std::string clean = "0123456789abcdefghijklmnopqrstu";  // 31 bytes
  for (const char bad : forbidden) {
    for (std::size_t at = 0; at < clean.size(); ++at) {
      EXPECT_EQ(SerializeWithHeaderValue(clean, at, bad).code(), absl::StatusCode::kInternal)
          << "byte " << static_cast<int>(static_cast<unsigned char>(bad)) << " at " << at;
    }
  }
  for (const char good : {'\t', ' ', '~', '\x80', '\xa0', '\xff'}) {
    for (std::size_t at = 0; at < clean.size(); ++at) {
      EXPECT_TRUE(SerializeWithHeaderValue(clean, at, good).ok())
          << "byte " << static_cast<int>(static_cast<unsigned char>(good)) << " at " << at;
    }
  }
}

}  // namespace
}  // namespace codearts::upstream
