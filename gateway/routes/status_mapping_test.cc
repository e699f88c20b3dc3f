#include "routes/status_mapping.h"

#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "route_test_helpers.h"

namespace codearts::routes {
namespace {

using grpc::StatusCode;

grpc::Status MapStopResponse(const upstream::HttpResponse& http, std::string_view host,
                             pipeline::v1::StopResponse* response) {
  return MapHttpResponse(StopRoute(), http, host, response);
}

upstream::HttpResponse Response(unsigned status, std::string body,
                                const std::string& request_id = "req-1") {
  upstream::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  if (!request_id.empty()) response.headers.emplace_back("X-Request-Id", request_id);
  return response;
}

google::rpc::ErrorInfo ErrorInfoOf(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(status.error_code()));
  google::rpc::ErrorInfo info;
  EXPECT_EQ(details.details_size(), 1);
  if (details.details_size() == 1) {
    EXPECT_TRUE(details.details(0).UnpackTo(&info));
  }
  return info;
}

// One row of the application table per test case.
struct Row {
  unsigned http_status;
  StatusCode expected;
};

class StatusTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(StatusTableTest, MapsHttpStatusToGrpcCode) {
  const Row row = GetParam();
  EXPECT_EQ(HttpStatusToGrpcCode(row.http_status), row.expected);
  pipeline::v1::StopResponse response;
  const grpc::Status status = MapStopResponse(
      Response(row.http_status, R"({"error_code":"DEVPIPE.1","error_msg":"m"})"), "h", &response);
  EXPECT_EQ(status.error_code(), row.expected);
  EXPECT_EQ(ErrorInfoOf(status).metadata().at("http_status"), std::to_string(row.http_status));
}

INSTANTIATE_TEST_SUITE_P(
    ApplicationTable, StatusTableTest,
    ::testing::Values(Row{400, StatusCode::INVALID_ARGUMENT}, Row{401, StatusCode::UNAUTHENTICATED},
                      Row{403, StatusCode::PERMISSION_DENIED}, Row{404, StatusCode::NOT_FOUND},
                      Row{409, StatusCode::ABORTED}, Row{429, StatusCode::RESOURCE_EXHAUSTED},
                      Row{499, StatusCode::CANCELLED}, Row{500, StatusCode::INTERNAL},
                      Row{501, StatusCode::UNIMPLEMENTED}, Row{502, StatusCode::UNAVAILABLE},
                      Row{503, StatusCode::UNAVAILABLE}, Row{504, StatusCode::DEADLINE_EXCEEDED},
                      Row{405, StatusCode::FAILED_PRECONDITION},
                      Row{418, StatusCode::FAILED_PRECONDITION}, Row{505, StatusCode::INTERNAL},
                      Row{599, StatusCode::INTERNAL}, Row{302, StatusCode::INTERNAL}),
    [](const ::testing::TestParamInfo<Row>& param_info) {
      return "Http" + std::to_string(param_info.param.http_status);
    });

TEST(MapStopResponseTest, SuccessFillsTheResponse) {
  pipeline::v1::StopResponse response;
  const grpc::Status status = MapStopResponse(
      Response(200, R"({"pipeline_id":"abc","pipeline_name":"pipeline-23"})"), "h", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.pipeline_id(), "abc");
  EXPECT_EQ(response.pipeline_name(), "pipeline-23");
}

TEST(MapStopResponseTest, MalformedSuccessBodyIsInternalNeverOk) {
  for (const char* body :
       {"", "not json", "[]", R"({"pipeline_name":"x"})", R"({"pipeline_id":42})",
        R"({"pipeline_id":"a","pipeline_name":7})", R"({"pipeline_id":"a")"}) {
    SCOPED_TRACE(body);
    pipeline::v1::StopResponse response;
    const grpc::Status status = MapStopResponse(Response(200, body), "h", &response);
    EXPECT_EQ(status.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(ErrorInfoOf(status).reason(), "MALFORMED_UPSTREAM_RESPONSE");
  }
}

TEST(MapStopResponseTest, MessageLeadsWithCodeArtsCodeAndMessage) {
  pipeline::v1::StopResponse response;
  const grpc::Status status = MapStopResponse(
      Response(404, R"({"error_code":"DEVPIPE.00011401","error_msg":"pipeline not found"})",
               "rid-42"),
      "cloudpipeline-ext.cn-north-4.myhuaweicloud.com", &response);
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message().rfind("DEVPIPE.00011401: pipeline not found", 0), 0u)
      << status.error_message();
  EXPECT_NE(status.error_message().find("rid-42"), std::string::npos);
  const google::rpc::ErrorInfo info = ErrorInfoOf(status);
  EXPECT_EQ(info.reason(), "DEVPIPE.00011401");
  EXPECT_EQ(info.domain(), "cloudpipeline-ext.cn-north-4.myhuaweicloud.com");
  EXPECT_EQ(info.metadata().at("http_status"), "404");
  EXPECT_EQ(info.metadata().at("request_id"), "rid-42");
}

TEST(ParseErrorBodyTest, ReadsEveryKnownShape) {
  UpstreamError error = ParseErrorBody(R"({"error_code":"A.1","error_msg":"one"})");
  EXPECT_EQ(error.code, "A.1");
  EXPECT_EQ(error.message, "one");
  error = ParseErrorBody(R"({"code":"B.2","message":"two"})");
  EXPECT_EQ(error.code, "B.2");
  EXPECT_EQ(error.message, "two");
  error = ParseErrorBody(R"({"error":{"code":"C.3","message":"three"}})");
  EXPECT_EQ(error.code, "C.3");
  EXPECT_EQ(error.message, "three");
  error = ParseErrorBody(R"({"code":401,"message":"numeric"})");
  EXPECT_EQ(error.code, "401");
  error = ParseErrorBody("<html>bad gateway</html>");
  EXPECT_TRUE(error.code.empty());
  EXPECT_TRUE(error.message.empty());
}

TEST(MapStopResponseTest, NonJsonErrorBodyMapsByStatusWithAnExcerpt) {
  pipeline::v1::StopResponse response;
  const grpc::Status status = MapStopResponse(
      Response(502, "<html><body>Bad Gateway</body></html>\r\n" + std::string(500, 'x'), ""), "h",
      &response);
  EXPECT_EQ(status.error_code(), StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("HTTP 502"), std::string::npos);
  EXPECT_NE(status.error_message().find("Bad Gateway"), std::string::npos);
  EXPECT_LT(status.error_message().size(), 300u);
  EXPECT_EQ(ErrorInfoOf(status).reason(), "HTTP_502");
  EXPECT_EQ(ErrorInfoOf(status).metadata().count("request_id"), 0u);
}

TEST(FromAbslStatusTest, KeepsCodeAndMessage) {
  const grpc::Status status = FromAbslStatus(absl::UnavailableError("upstream h: connect failed"));
  EXPECT_EQ(status.error_code(), StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "upstream h: connect failed");
  EXPECT_EQ(FromAbslStatus(absl::DeadlineExceededError("x")).error_code(),
            StatusCode::DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace codearts::routes
