#include "routes/route_table.h"

#include <gtest/gtest.h>

#include <string>

#include "auth/request_auth.h"
#include "codearts/testing/v1/route_test.grpc.pb.h"
#include "route_test_helpers.h"
#include "routes/rest_call.h"

namespace codearts::routes {
namespace {

using testing::v1::CreateThingRequest;
using testing::v1::GetThingRequest;
using testing::v1::RenameThingRequest;

const google::protobuf::ServiceDescriptor* TestService(const char* name) {
  return GetThingRequest::descriptor()->file()->FindServiceByName(name);
}

UpstreamCall Build(const Route& route, const google::protobuf::Message& request) {
  static const FrozenClock clock;
  auth::CallCredentials credentials;
  credentials.token = "token";
  absl::StatusOr<UpstreamCall> call =
      BuildUpstreamCall(route, request, {"iam-project", "ua"}, std::move(credentials), clock);
  EXPECT_TRUE(call.ok()) << call.status();
  return call.ok() ? *std::move(call) : UpstreamCall{};
}

TEST(RouteTableTest, StopIsAPostWithItsBuildIdInTheQuery) {
  const Route& stop = StopRoute();
  EXPECT_EQ(stop.grpc_path, "/codearts.pipeline.v1.PipelineService/Stop");
  EXPECT_EQ(stop.http_method, "POST");
  EXPECT_EQ(stop.path.text, "/v3/pipelines/{pipeline_id}/stop");
  EXPECT_EQ(stop.body, Route::Body::kNone);
  ASSERT_EQ(stop.query.size(), 1u);
  EXPECT_EQ(stop.query[0].name, "build_id");
  EXPECT_FALSE(stop.idempotent);
  EXPECT_EQ(stop.operation, "StopPipelineNew");
  EXPECT_EQ(stop.response_shape, R"({"pipeline_id","pipeline_name"})");
}

TEST(RouteTableTest, GetPutsEveryOtherFieldInTheQueryFlattened) {
  const Route& get = *TableOf(TestService("ThingService")).Find("GetThing");
  EXPECT_TRUE(get.idempotent);
  std::vector<std::string> names;
  for (const Route::QueryParam& param : get.query) names.push_back(param.name);
  EXPECT_EQ(names, (std::vector<std::string>{"limit", "tags", "filter.status", "filter.min_size",
                                             "color", "since"}));
  GetThingRequest request;
  request.set_project_id("0abc");
  request.set_thing_id("thing-7");
  request.add_tags("b c");
  request.add_tags("a");
  request.mutable_filter()->set_status("RUNNING");
  request.set_color(testing::v1::GREEN);
  request.set_since(0);  // optional: sent although zero
  const UpstreamCall call = Build(get, request);
  EXPECT_EQ(call.request.method, "GET");
  EXPECT_EQ(call.request.target,
            "/v5/0abc/api/things/thing-7?color=GREEN&filter.status=RUNNING&since=0&tags=a&"
            "tags=b%20c");
  EXPECT_EQ(call.request.body, "");
  EXPECT_TRUE(call.policy.idempotent);
}

TEST(RouteTableTest, PostWithStarBodySendsTheRestAsJson) {
  const Route& create = *TableOf(TestService("ThingService")).Find("CreateThing");
  CreateThingRequest request;
  request.set_project_id("0abc");
  request.set_name("n");
  request.set_dry_run(true);
  const UpstreamCall call = Build(create, request);
  EXPECT_EQ(call.request.target, "/v5/0abc/api/things");
  EXPECT_EQ(call.request.body, R"({"name":"n","dry_run":true})");
  EXPECT_EQ(call.request.headers[0],
            (upstream::Header{"Content-Type", "application/json;charset=UTF-8"}));
  EXPECT_FALSE(call.policy.idempotent);
}

TEST(RouteTableTest, BodyFieldAndMultiSegmentPath) {
  const Route& rename = *TableOf(TestService("ThingService")).Find("RenameThing");
  RenameThingRequest request;
  request.set_name("projects/p/things/t");
  request.mutable_rename()->set_new_name("m");
  request.set_reason("typo");
  const UpstreamCall call = Build(rename, request);
  EXPECT_EQ(call.request.method, "PUT");
  EXPECT_EQ(call.request.target, "/v5/projects/p/things/t:rename?reason=typo");
  EXPECT_EQ(call.request.body, R"({"new_name":"m"})");
  request.set_name("things/t");
  EXPECT_EQ(BuildUpstreamCall(rename, request, {}, {"t", nullptr}, FrozenClock()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RouteTableTest, FieldRulesNameTheField) {
  const Route& get = *TableOf(TestService("ThingService")).Find("GetThing");
  GetThingRequest request;
  request.set_project_id("0abc");
  request.set_thing_id("thing-7");
  EXPECT_TRUE(get.request_rules.Validate(request).ok());
  request.set_thing_id("Thing-7");
  EXPECT_EQ(get.request_rules.Validate(request).message(),
            "thing_id does not match the pattern [a-z]+-[0-9]+");
  request.set_thing_id("thing-7");
  request.set_project_id("0ABC");
  EXPECT_EQ(get.request_rules.Validate(request).message(),
            "project_id has a character outside [0-9a-f] at position 1");
  request.set_project_id(std::string(33, 'a'));
  EXPECT_EQ(get.request_rules.Validate(request).message(),
            "project_id is 33 characters long; at most 32 are allowed");
  request.set_project_id("0abc");
  // Assigned from a std::string: GCC 12's -Wrestrict misfires at -O3 on the const char* setter.
  const std::string tag = "t";
  for (int i = 0; i < 4; ++i) request.add_tags(tag);
  EXPECT_EQ(get.request_rules.Validate(request).message(),
            "tags has 4 elements; at most 3 are allowed");
  request.clear_tags();
  request.clear_project_id();
  EXPECT_EQ(get.request_rules.Validate(request).message(), "project_id is required");
}

TEST(RouteTableTest, NestedRulesAreChecked) {
  const Route& rename = *TableOf(TestService("ThingService")).Find("RenameThing");
  RenameThingRequest request;
  request.mutable_rename();
  // An empty sub-message is not set in proto3 JSON terms, but its presence is: check inside.
  EXPECT_EQ(rename.request_rules.Validate(request).message(), "rename.new_name is required");
}

TEST(RouteTableTest, RoutesThatCannotBeMappedFailNamingTheMethod) {
  for (const auto& [service, expected] : std::vector<std::pair<const char*, const char*>>{
           {"UnroutedService",
            "cannot serve codearts.testing.v1.UnroutedService.NoRule over REST: it has no "
            "google.api.http option"},
           {"BadPathService",
            "cannot serve codearts.testing.v1.BadPathService.UnknownField over REST: path "
            "variable {project}: \"project\" names no field of codearts.testing.v1."
            "GetThingRequest"},
           {"BadBodyService",
            "cannot serve codearts.testing.v1.BadBodyService.GetWithBody over REST: GET requests "
            "carry no body, but body is \"*\""},
           {"BadTemplateService",
            "cannot serve codearts.testing.v1.BadTemplateService.Wildcard over REST: path "
            "template \"/v5/*/things/{thing_id}\" at offset 4: a wildcard outside a variable "
            "binds no field"},
           {"BadRuleService",
            "cannot serve codearts.testing.v1.BadRuleService.BadPattern over REST: field "
            "codearts.testing.v1.BadPatternRequest.id: bad pattern: missing ): (unclosed"}}) {
    SCOPED_TRACE(service);
    absl::StatusOr<RouteTable> table = BuildRouteTable(*TestService(service));
    ASSERT_FALSE(table.ok());
    EXPECT_EQ(table.status().message(), expected);
  }
}

}  // namespace
}  // namespace codearts::routes
