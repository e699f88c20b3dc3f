#include "observability/log.h"

#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "observability/access_log.h"

namespace codearts::observability {
namespace {

// Captures the log lines written while it lives.
class CapturedLog {
 public:
  CapturedLog() {
    EXPECT_EQ(pipe(fds_), 0);
    SetLogOutput(fds_[1]);
  }
  ~CapturedLog() {
    SetLogOutput(STDOUT_FILENO);
    SetLogFormat(LogFormat::kJson);
    close(fds_[0]);
  }
  // The bytes written so far and not read (the write end stays open).
  int Available() const {
    int bytes = 0;
    EXPECT_EQ(ioctl(fds_[0], FIONREAD, &bytes), 0);
    return bytes;
  }
  std::string ReadAvailable() {
    std::string out(static_cast<std::size_t>(Available()), '\0');
    EXPECT_EQ(read(fds_[0], out.data(), out.size()), static_cast<ssize_t>(out.size()));
    return out;
  }
  std::string Take() {
    close(fds_[1]);
    std::string out;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = read(fds_[0], buffer, sizeof(buffer))) > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

TEST(LogTest, JsonLinesAreOneValidObjectEach) {
  CapturedLog captured;
  SetLogFormat(LogFormat::kJson);
  Log(LogLevel::kWarning, "a \"quoted\"\nmessage",
      {{"text", "tab\there"}, {"count", std::int64_t{3}}, {"ratio", 0.5}, {"ok", true}});
  const std::string line = captured.Take();
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1) << line;
  const boost::json::object object = boost::json::parse(line).as_object();
  EXPECT_EQ(object.at("level").as_string(), "warning");
  EXPECT_EQ(object.at("msg").as_string(), "a \"quoted\"\nmessage");
  EXPECT_EQ(object.at("text").as_string(), "tab\there");
  EXPECT_EQ(object.at("count").as_int64(), 3);
  EXPECT_EQ(object.at("ratio").as_double(), 0.5);
  EXPECT_EQ(object.at("ok").as_bool(), true);
  EXPECT_TRUE(object.contains("ts"));
}

TEST(LogTest, TimestampIsUtcWithMicroseconds) {
  CapturedLog captured;
  const absl::Time before = absl::Now();
  Log(LogLevel::kInfo, "tick", {{"path", "C:\\dir \"x\" caf\xc3\xa9"}});
  const absl::Time after = absl::Now();
  const boost::json::object object = boost::json::parse(captured.Take()).as_object();
  EXPECT_EQ(object.at("path").as_string(), "C:\\dir \"x\" caf\xc3\xa9");
  const std::string ts(object.at("ts").as_string());
  ASSERT_EQ(ts.size(), 27u) << ts;  // 2026-12-01T10:00:00.123456Z
  EXPECT_EQ(ts[19], '.') << ts;
  EXPECT_EQ(ts.back(), 'Z') << ts;
  absl::Time parsed;
  std::string error;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E6SZ", ts, absl::UTCTimeZone(), &parsed, &error))
      << ts << ": " << error;
  EXPECT_GE(parsed, absl::FromUnixMicros(absl::ToUnixMicros(before)));
  EXPECT_LE(parsed, after);
}

TEST(LogTest, TextLinesQuoteValuesWithSpaces) {
  CapturedLog captured;
  SetLogFormat(LogFormat::kText);
  Log(LogLevel::kInfo, "started", {{"listen", "127.0.0.1:50051"}, {"credentials", "AK ab** SK"}});
  const std::string line = captured.Take();
  EXPECT_NE(line.find(" INFO started listen=127.0.0.1:50051 credentials=\"AK ab** SK\"\n"),
            std::string::npos)
      << line;
}

TEST(LogTest, ABatchWritesItsLinesWhenItEnds) {
  CapturedLog captured;
  {
    const LogBatch batch;
    Log(LogLevel::kInfo, "first");
    {
      const LogBatch nested;  // only the outermost batch writes
      Log(LogLevel::kInfo, "second");
    }
    Log(LogLevel::kInfo, "third");
    EXPECT_EQ(captured.Available(), 0);
  }
  const std::string out = captured.Take();
  const std::size_t first = out.find("\"first\"");
  const std::size_t second = out.find("\"second\"");
  const std::size_t third = out.find("\"third\"");
  ASSERT_NE(third, std::string::npos) << out;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3);
}

TEST(LogTest, AFullBatchWritesWholeLinesOfAtMostPipeBuf) {
  CapturedLog captured;
  const LogBatch batch;
  const std::string padding(200, 'x');
  int lines = 0;
  while (captured.Available() == 0 && lines < 100) {
    Log(LogLevel::kInfo, "line", {{"padding", padding}});
    ++lines;
  }
  const std::string written = captured.ReadAvailable();
  ASSERT_FALSE(written.empty()) << "a batch past 4 KiB must write what it holds";
  EXPECT_LE(written.size(), std::size_t{4096});
  EXPECT_EQ(written.back(), '\n');
  EXPECT_EQ(std::count(written.begin(), written.end(), '\n'), lines - 1);  // the last one waits
}

TEST(AccessLogTest, CarriesTheCallTheUpstreamAndTheTrace) {
  CapturedLog captured;
  AccessRecord record;
  record.method = "Stop";
  record.peer = "ipv4:127.0.0.1:5555";
  record.pipeline_id = "p\"1";
  record.build_id = "b1";
  record.auth_mode = "aksk";
  record.grpc_code = 5;
  record.http_status = 404;
  record.request_id = "req-1";
  record.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  record.caller_request_id = "caller-1";
  record.latency = std::chrono::microseconds(1500);
  record.upstream_latency = std::chrono::microseconds(1200);
  record.upstream_attempts = 1;
  record.message = "DEVPIPE.00011401: pipeline not found";
  WriteAccessLog(record);
  const boost::json::object object = boost::json::parse(captured.Take()).as_object();
  EXPECT_EQ(object.at("msg").as_string(), "access");
  EXPECT_EQ(object.at("method").as_string(), "Stop");
  EXPECT_EQ(object.at("pipeline_id").as_string(), "p?1");  // a caller's quote is neutralised
  EXPECT_EQ(object.at("code").as_string(), "NOT_FOUND");
  EXPECT_EQ(object.at("http_status").as_int64(), 404);
  EXPECT_EQ(object.at("request_id").as_string(), "req-1");
  EXPECT_EQ(object.at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(object.at("caller_request_id").as_string(), "caller-1");
  EXPECT_EQ(object.at("latency_ms").as_double(), 1.5);
  EXPECT_EQ(object.at("attempts").as_int64(), 1);
  EXPECT_EQ(object.at("message").as_string(), "DEVPIPE.00011401: pipeline not found");
}

}  // namespace
}  // namespace codearts::observability
