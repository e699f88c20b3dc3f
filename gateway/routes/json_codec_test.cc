#include "routes/json_codec.h"

#include <gtest/gtest.h>

#include "codearts/testing/v1/route_test.pb.h"

namespace codearts::routes {
namespace {

using testing::v1::CreateThingRequest;
using testing::v1::Thing;

TEST(JsonCodecTest, WritesSetFieldsWithProtoNamesAndNumbersAsNumbers) {
  CreateThingRequest request;
  request.set_project_id("0abc");
  request.set_name("n");
  request.set_start_time(1732000000123);
  auto* param = request.add_params();
  param->set_name("k");
  param->set_value("v\"1");
  request.mutable_filter()->set_min_size(3);
  EXPECT_EQ(WriteJson(request, {CreateThingRequest::descriptor()->FindFieldByName("project_id")}),
            R"({"name":"n","params":[{"name":"k","value":"v\"1"}],"filter":{"min_size":3},)"
            R"("start_time":1732000000123})");
  EXPECT_EQ(WriteJson(CreateThingRequest()), "{}");
}

TEST(JsonCodecTest, ReadsNestedRepeatedEnumsAndIgnoresUnknownFields) {
  Thing thing;
  const absl::Status read = ReadJson(
      R"({"id":"t-1","name":null,"created_at":1732000000123,"color":"GREEN","unknown":{"x":[1]},)"
      R"("stages":[{"name":"build","status":"RUNNING","children":[{"name":"unit"}]}],)"
      R"("score":1.5,"done":true,"filter":{"min_size":"7"},"params":[]})",
      &thing);
  ASSERT_TRUE(read.ok()) << read;
  EXPECT_EQ(thing.id(), "t-1");
  EXPECT_EQ(thing.created_at(), 1732000000123);
  EXPECT_EQ(thing.color(), testing::v1::GREEN);
  ASSERT_EQ(thing.stages_size(), 1);
  EXPECT_EQ(thing.stages(0).children(0).name(), "unit");
  EXPECT_DOUBLE_EQ(thing.score(), 1.5);
  EXPECT_TRUE(thing.done());
  EXPECT_EQ(thing.filter().min_size(), 7);
}

TEST(JsonCodecTest, UnknownEnumNamesReadAsTheDefault) {
  Thing thing;
  ASSERT_TRUE(ReadJson(R"({"id":"a","color":"PURPLE"})", &thing).ok());
  EXPECT_EQ(thing.color(), testing::v1::COLOR_UNSPECIFIED);
}

TEST(JsonCodecTest, WrongTypesAreErrorsNamingTheField) {
  for (const auto& [body, field] : std::vector<std::pair<const char*, const char*>>{
           {R"({"id":42})", "id"},
           {R"({"id":"a","created_at":1.5})", "created_at"},
           {R"({"id":"a","stages":[{"name":7}]})", "stages.name"},
           {R"({"id":"a","filter":[]})", "filter"},
           {R"({"id":"a","params":{}})", "params"},
           {R"({"id":"a","done":"yes"})", "done"},
           {R"({"id":"a","filter":{"min_size":99999999999}})", "filter.min_size"}}) {
    SCOPED_TRACE(body);
    Thing thing;
    const absl::Status read = ReadJson(body, &thing);
    EXPECT_EQ(read.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(read.message().rfind(field, 0), 0u) << read.message();
  }
  Thing thing;
  EXPECT_FALSE(ReadJson("", &thing).ok());
  EXPECT_FALSE(ReadJson("[]", &thing).ok());
  EXPECT_FALSE(ReadJson(R"({"id":"a")", &thing).ok());
}

TEST(JsonCodecTest, RoundTrips) {
  Thing thing;
  thing.set_id("x");
  thing.set_created_at(-5);
  thing.set_color(testing::v1::RED);
  thing.add_stages()->set_name("s");
  Thing back;
  ASSERT_TRUE(ReadJson(WriteJson(thing), &back).ok());
  EXPECT_EQ(back.SerializeAsString(), thing.SerializeAsString());
}

// See WithMaps in route_test.proto: map fields cannot be used in the ThreadSanitizer build.
#if !defined(__SANITIZE_THREAD__)
TEST(JsonCodecTest, MapsAreObjects) {
  testing::v1::WithMaps maps;
  (*maps.mutable_labels())["team"] = "ci";
  (*maps.mutable_counts())["ok"] = 2;
  const std::string json = WriteJson(maps);
  EXPECT_EQ(json, R"({"labels":{"team":"ci"},"counts":{"ok":2}})");
  testing::v1::WithMaps back;
  ASSERT_TRUE(ReadJson(json, &back).ok());
  EXPECT_EQ(back.counts().at("ok"), 2);
  EXPECT_EQ(back.labels().at("team"), "ci");
  const absl::Status wrong = ReadJson(R"({"counts":{"x":"y"}})", &back);
  EXPECT_EQ(wrong.message().rfind("counts.x", 0), 0u) << wrong.message();
}
#endif

}  // namespace
}  // namespace codearts::routes
