// End-to-end through routes the gateway has never seen: tests/proto's ThingService, served by the
// same engine as PipelineService with no C++ of its own, over a real gRPC channel and real TLS to
// the stand-in, which checks every signature.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>

#include "codearts/testing/v1/route_test.grpc.pb.h"
#include "e2e/gateway_fixture.h"

namespace codearts::e2e {
namespace {

using std::chrono::seconds;
using testing::CodeArtsStandin;
using testing::RecordedRequest;
using testing::StandinReply;
using namespace codearts::testing::v1;  // NOLINT(google-build-using-namespace): test messages

const google::protobuf::ServiceDescriptor* ThingServiceDescriptor() {
  return GetThingRequest::descriptor()->file()->FindServiceByName("ThingService");
}

// One call of ThingService through the gateway, with a deadline like every call here.
template <typename Request>
grpc::Status Call(grpc::Status (ThingService::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                          Thing*),
                  GatewayUnderTest& gateway, const Request& request, Thing* thing,
                  grpc::ClientContext* context = nullptr) {
  grpc::ClientContext local;
  if (context == nullptr) context = &local;
  context->set_deadline(std::chrono::system_clock::now() + seconds(10));
  return (*ThingService::NewStub(gateway.channel()).*rpc)(context, request, thing);
}

class GenericRouteE2eTest : public ::testing::Test {
 protected:
  GenericRouteE2eTest() {
    standin_.SetHandler([this](const RecordedRequest& request) {
      if (!request.auth_ok) return standin_.DefaultReply(request);
      std::lock_guard lock(mutex_);
      if (!scripted_.empty()) {
        StandinReply reply = scripted_.front();
        scripted_.erase(scripted_.begin());
        return reply;
      }
      if (request.method == "GET") {
        return Reply(200, R"({"id":"thing-7","name":"Seven","created_at":1732000000123,)"
                          R"("color":"GREEN","stages":[{"name":"build","status":"COMPLETED"}],)"
                          R"("score":0.5,"done":true,"extra_field":[1,2]})");
      }
      return Reply(201, R"({"id":"new-1","name":"n"})");
    });
  }

  void Script(std::vector<StandinReply> replies) {
    std::lock_guard lock(mutex_);
    scripted_ = std::move(replies);
  }

  CodeArtsStandin standin_{StandinWithTestKeys(), SharedPki()};
  GatewayOptions options_ = [] {
    GatewayOptions options;
    options.service = ThingServiceDescriptor();
    options.retry.base_backoff = std::chrono::milliseconds(1);
    return options;
  }();
  std::mutex mutex_;
  std::vector<StandinReply> scripted_;
};

GetThingRequest AGetRequest() {
  GetThingRequest request;
  request.set_project_id("0123abcd");
  request.set_thing_id("thing-7");
  request.set_limit(20);
  request.add_tags("x y");
  request.mutable_filter()->set_status("RUNNING");
  request.set_color(GREEN);
  return request;
}

TEST_F(GenericRouteE2eTest, GetWithPathAndQueryFields) {
  GatewayUnderTest gateway(standin_, options_);
  grpc::ClientContext context;
  Thing thing;
  const grpc::Status status =
      Call(&ThingService::Stub::GetThing, gateway, AGetRequest(), &thing, &context);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(thing.id(), "thing-7");
  EXPECT_EQ(thing.created_at(), 1732000000123);
  EXPECT_EQ(thing.color(), GREEN);
  ASSERT_EQ(thing.stages_size(), 1);
  EXPECT_EQ(thing.stages(0).status(), "COMPLETED");
  EXPECT_TRUE(thing.done());
  EXPECT_EQ(context.GetServerTrailingMetadata().count("x-request-id"), 1u);

  const std::vector<RecordedRequest> requests = standin_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].auth_ok) << requests[0].auth_error;
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target,
            "/v5/0123abcd/api/things/thing-7?color=GREEN&filter.status=RUNNING&limit=20&"
            "tags=x%20y");
  EXPECT_EQ(requests[0].body, "");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");

  const std::string metrics = gateway.Admin("/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "codearts_gateway_calls_total", R"(code="OK",method="GetThing")"),
            1);
  EXPECT_EQ(
      MetricValue(metrics, "codearts_gateway_calls_total", R"(code="OK",method="CreateThing")"), 0);
}

TEST_F(GenericRouteE2eTest, PostWithStarBodyAndNestedMessages) {
  GatewayUnderTest gateway(standin_, options_);
  CreateThingRequest request;
  request.set_project_id("0123abcd");
  request.set_name("n");
  auto* param = request.add_params();
  param->set_name("branch");
  param->set_value("main");
  request.mutable_filter()->set_min_size(2);
  request.set_start_time(1732000000000);
  Thing thing;
  const grpc::Status status = Call(&ThingService::Stub::CreateThing, gateway, request, &thing);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(thing.id(), "new-1");

  const std::vector<RecordedRequest> requests = standin_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].auth_ok) << requests[0].auth_error;  // the body's hash is signed
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v5/0123abcd/api/things");
  EXPECT_EQ(requests[0].body,
            R"({"name":"n","params":[{"name":"branch","value":"main"}],"filter":{"min_size":2},)"
            R"("start_time":1732000000000})");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json;charset=UTF-8");
}

TEST_F(GenericRouteE2eTest, FieldRulesFailBeforeAnythingIsSent) {
  GatewayUnderTest gateway(standin_, options_);
  GetThingRequest request = AGetRequest();
  request.set_thing_id("Thing 7");
  Thing thing;
  const grpc::Status status = Call(&ThingService::Stub::GetThing, gateway, request, &thing);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "thing_id does not match the pattern [a-z]+-[0-9]+");
  EXPECT_TRUE(standin_.Requests().empty());
}

TEST_F(GenericRouteE2eTest, ASuccessWithoutTheRequiredFieldIsInternal) {
  Script({Reply(200, R"({"name":"no id"})")});
  GatewayUnderTest gateway(standin_, options_);
  Thing thing;
  const grpc::Status status = Call(&ThingService::Stub::GetThing, gateway, AGetRequest(), &thing);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(status.error_message().find("not the documented ShowThing JSON"), std::string::npos)
      << status.error_message();
  ASSERT_TRUE(ErrorInfoOf(status).has_value());
  EXPECT_EQ(ErrorInfoOf(status)->reason(), "MALFORMED_UPSTREAM_RESPONSE");
}

TEST_F(GenericRouteE2eTest, AnIdempotentReadIsRetriedAfter502AndAWriteIsNot) {
  Script({Reply(502, R"({"error_code":"APIGW.0202","error_msg":"bad gateway"})")});
  GatewayUnderTest gateway(standin_, options_);
  Thing got;
  const grpc::Status read = Call(&ThingService::Stub::GetThing, gateway, AGetRequest(), &got);
  ASSERT_TRUE(read.ok()) << read.error_message();
  EXPECT_EQ(standin_.Requests().size(), 2u);
  Script({Reply(502, R"({"error_code":"APIGW.0202","error_msg":"bad gateway"})")});
  CreateThingRequest create;
  create.set_project_id("0123abcd");
  create.set_name("n");
  Thing thing;
  const grpc::Status status = Call(&ThingService::Stub::CreateThing, gateway, create, &thing);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message().rfind("APIGW.0202: bad gateway (HTTP 502)", 0), 0u)
      << status.error_message();
  EXPECT_EQ(standin_.Requests().size(), 3u);
}

}  // namespace
}  // namespace codearts::e2e
