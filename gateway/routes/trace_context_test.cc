#include "routes/trace_context.h"

#include <gtest/gtest.h>

#include <string>

namespace codearts::routes {
namespace {

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceIdOfTest, AcceptsAValidVersion00Traceparent) {
  EXPECT_EQ(TraceIdOf(kValid), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceIdOfTest, AcceptsALaterVersionWithMoreFields) {
  EXPECT_EQ(TraceIdOf("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceIdOfTest, RejectsWhatW3cCallsInvalid) {
  for (const std::string bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with more
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",   // no dash after
       }) {
    EXPECT_EQ(TraceIdOf(bad), "") << bad;
  }
}

TEST(MakeTraceContextTest, KeepsTracestateOnlyWithAValidTraceparent) {
  TraceContext with = MakeTraceContext(kValid, "a=1, b=2", "");
  EXPECT_EQ(with.traceparent, kValid);
  EXPECT_EQ(with.tracestate, "a=1, b=2");
  TraceContext without = MakeTraceContext("garbage", "a=1", "");
  EXPECT_EQ(without.traceparent, "");
  EXPECT_EQ(without.tracestate, "");
  EXPECT_EQ(without.trace_id, "");
}

TEST(MakeTraceContextTest, DropsRequestIdsThatCouldForgeAHeaderOrALogField) {
  EXPECT_EQ(MakeTraceContext("", "", "7f1c-44aa").request_id, "7f1c-44aa");
  EXPECT_EQ(MakeTraceContext("", "", "a b").request_id, "");
  EXPECT_EQ(MakeTraceContext("", "", "a\r\nX-Evil: 1").request_id, "");
  EXPECT_EQ(MakeTraceContext("", "", std::string(129, 'a')).request_id, "");
}

}  // namespace
}  // namespace codearts::routes
