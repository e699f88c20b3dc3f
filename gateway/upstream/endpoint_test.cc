#include "upstream/endpoint.h"

#include <gtest/gtest.h>

namespace codearts::upstream {
namespace {

TEST(ParseEndpointTest, HostOnly) {
  absl::StatusOr<Endpoint> endpoint =
      ParseEndpoint("https://cloudpipeline-ext.cn-north-4.myhuaweicloud.com");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "cloudpipeline-ext.cn-north-4.myhuaweicloud.com");
  EXPECT_EQ(endpoint->port, 443);
  EXPECT_EQ(endpoint->authority, "cloudpipeline-ext.cn-north-4.myhuaweicloud.com");
}

TEST(ParseEndpointTest, HostAndPortKeepThePortInTheAuthority) {
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint("https://127.0.0.1:8443/");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 8443);
  EXPECT_EQ(endpoint->authority, "127.0.0.1:8443");
}

TEST(ParseEndpointTest, Ipv6Literal) {
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint("https://[::1]:9443");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->authority, "[::1]:9443");
}

TEST(ParseEndpointTest, RefusesAnythingButPlainHttpsOrigins) {
  for (const char* bad :
       {"http://example.com", "example.com", "https://", "https://u:p@h", "https://h/path",
        "https://h?q=1", "https://h:0", "https://h:70000", "ftp://h"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ParseEndpoint(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace codearts::upstream
