#include "auth/credentials_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace codearts::auth {
namespace {

TEST(ParseCredentialsFileTest, ReadsTheSdkNames) {
  absl::StatusOr<AkSkCredentials> credentials = ParseCredentialsFile(
      "# rotated weekly\n"
      "HUAWEICLOUD_SDK_AK=AK1\n"
      "  HUAWEICLOUD_SDK_SK = secret/+=1  \n"
      "\n"
      "HUAWEICLOUD_SDK_SECURITY_TOKEN=sts\n"
      "HUAWEICLOUD_SDK_PROJECT_ID=proj\n");
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key, "AK1");
  EXPECT_EQ(credentials->secret_key, "secret/+=1");
  EXPECT_EQ(credentials->security_token, "sts");
  EXPECT_EQ(credentials->project_id, "proj");
}

TEST(ParseCredentialsFileTest, ErrorsNeverQuoteValues) {
  absl::StatusOr<AkSkCredentials> missing = ParseCredentialsFile("HUAWEICLOUD_SDK_AK=AK1\n");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<AkSkCredentials> bad =
      ParseCredentialsFile("HUAWEICLOUD_SDK_AK=AK1\nthe-secret-on-its-own\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().find("the-secret"), std::string::npos);
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos);
  EXPECT_EQ(
      ParseCredentialsFile("HUAWEICLOUD_SDK_AK=a\nHUAWEICLOUD_SDK_SK=b\nOTHER=c\n").status().code(),
      absl::StatusCode::kInvalidArgument);
}

class FileCredentialSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/gateway-credentials-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/credentials";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  // Replaces the file as Kubernetes does: write a new file, then rename it over the old one.
  void Replace(const std::string& contents) {
    const std::string next = dir_ + "/next";
    std::ofstream(next) << contents;
    ASSERT_EQ(std::rename(next.c_str(), path_.c_str()), 0);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(FileCredentialSourceTest, MissingOrInvalidFileFailsAtOpen) {
  EXPECT_FALSE(FileCredentialSource::Open(path_).ok());
  Replace("HUAWEICLOUD_SDK_AK=only-half\n");
  EXPECT_EQ(FileCredentialSource::Open(path_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FileCredentialSourceTest, RotationIsPickedUpWithoutARestart) {
  Replace("HUAWEICLOUD_SDK_AK=AK1\nHUAWEICLOUD_SDK_SK=SK1\n");
  auto source = FileCredentialSource::Open(path_, std::chrono::seconds(0));
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->Current()->access_key, "AK1");
  Replace("HUAWEICLOUD_SDK_AK=AK2\nHUAWEICLOUD_SDK_SK=SK2\n");
  std::shared_ptr<const AkSkCredentials> rotated = (*source)->Current();
  EXPECT_EQ(rotated->access_key, "AK2");
  EXPECT_EQ(rotated->secret_key, "SK2");
}

TEST_F(FileCredentialSourceTest, BrokenNewFileKeepsTheOldCredentials) {
  Replace("HUAWEICLOUD_SDK_AK=AK1\nHUAWEICLOUD_SDK_SK=SK1\n");
  auto source = FileCredentialSource::Open(path_, std::chrono::seconds(0));
  ASSERT_TRUE(source.ok()) << source.status();
  Replace("HUAWEICLOUD_SDK_AK=AK2\n");  // the SK is missing
  EXPECT_EQ((*source)->Current()->access_key, "AK1");
  Replace("HUAWEICLOUD_SDK_AK=AK3\nHUAWEICLOUD_SDK_SK=SK3\n");
  EXPECT_EQ((*source)->Current()->access_key, "AK3");
}

TEST_F(FileCredentialSourceTest, ChecksAtMostOncePerInterval) {
  Replace("HUAWEICLOUD_SDK_AK=AK1\nHUAWEICLOUD_SDK_SK=SK1\n");
  auto source = FileCredentialSource::Open(path_, std::chrono::hours(1));
  ASSERT_TRUE(source.ok());
  Replace("HUAWEICLOUD_SDK_AK=AK2\nHUAWEICLOUD_SDK_SK=SK2\n");
  EXPECT_EQ((*source)->Current()->access_key, "AK1");  // not looked at again yet
}

}  // namespace
}  // namespace codearts::auth
