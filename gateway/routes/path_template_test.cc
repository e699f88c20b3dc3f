#include "routes/path_template.h"

#include <gtest/gtest.h>

namespace codearts::routes {
namespace {

std::string Expand(const PathTemplate& path, const std::vector<std::string>& values) {
  std::string out;
  std::size_t next = 0;
  for (const PathTemplate::Part& part : path.parts) {
    if (!part.is_variable()) {
      out += part.literal;
      continue;
    }
    const absl::Status appended =
        AppendVariable(part.field_path, values[next++], part.pattern, &out);
    if (!appended.ok()) return std::string(appended.message());
  }
  return out;
}

TEST(PathTemplateTest, ParsesLiteralsAndVariables) {
  absl::StatusOr<PathTemplate> path = ParsePathTemplate("/v3/pipelines/{pipeline_id}/stop");
  ASSERT_TRUE(path.ok()) << path.status();
  ASSERT_EQ(path->parts.size(), 3u);
  EXPECT_EQ(path->parts[0].literal, "/v3/pipelines/");
  EXPECT_EQ(path->parts[1].field_path, "pipeline_id");
  EXPECT_EQ(path->parts[1].pattern, std::vector<std::string>{"*"});
  EXPECT_EQ(path->parts[2].literal, "/stop");
  EXPECT_EQ(path->VariableFields(), std::vector<std::string>{"pipeline_id"});
  EXPECT_EQ(Expand(*path, {"0f1e"}), "/v3/pipelines/0f1e/stop");
}

TEST(PathTemplateTest, EncodesValuesAsTheSignerCanonicalisesThem) {
  absl::StatusOr<PathTemplate> path = ParsePathTemplate("/v5/{project_id}/api/x");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(Expand(*path, {"a b+c~d.e_f-g"}), "/v5/a%20b%2Bc~d.e_f-g/api/x");
  EXPECT_EQ(Expand(*path, {"a/b"}), "project_id must have the form * (it is 2 path segments)");
  EXPECT_EQ(Expand(*path, {""}), "project_id is required (it is part of the path)");
}

TEST(PathTemplateTest, MultiSegmentVariablesAndVerbs) {
  absl::StatusOr<PathTemplate> path = ParsePathTemplate("/v1/{name=projects/*/things/*}:rename");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->parts.back().literal, ":rename");
  EXPECT_EQ(Expand(*path, {"projects/p1/things/t 2"}), "/v1/projects/p1/things/t%202:rename");
  EXPECT_EQ(Expand(*path, {"projects/p1/other/t2"}), "name must have the form projects/*/things/*");
  absl::StatusOr<PathTemplate> rest = ParsePathTemplate("/v1/{path=files/**}");
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(Expand(*rest, {"files/a/b/c"}), "/v1/files/a/b/c");
}

TEST(PathTemplateTest, RejectsWhatCannotBeFilledIn) {
  for (const char* bad : {"", "v3/x", "/v3//x", "/v3/*/x", "/v3/{id", "/v3/{a.}/x", "/v3/{id}x",
                          "/v3/{a={b}}", "/v3/{p=**}/x", "/v3/x:", "/v3/x y", "/v3/{p=a//b}"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ParsePathTemplate(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace codearts::routes
