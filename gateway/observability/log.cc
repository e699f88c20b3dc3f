#include "observability/log.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace codearts::observability {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> log_format{static_cast<int>(LogFormat::kJson)};
std::atomic<int> output_fd{STDOUT_FILENO};

// Lines built on this thread and not written yet (kept between lines: no allocation per line),
// and how many LogBatch objects are open on it.
thread_local std::string t_lines;
thread_local int t_batch_depth = 0;
// What a pipe writes whole (POSIX's PIPE_BUF minimum on Linux): lines of several threads never
// mix within one write of this size or less.
constexpr std::size_t kWholeWrite = 4096;

void WriteOut(std::string_view data) {
  const int fd = output_fd.load();
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) break;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void WritePending() {
  WriteOut(t_lines);
  t_lines.clear();
  if (t_lines.capacity() > 16 * kWholeWrite) t_lines.shrink_to_fit();  // after a huge line
}

const char* LevelName(LogLevel level, bool upper) {
  switch (level) {
    case LogLevel::kDebug:
      return upper ? "DEBUG" : "debug";
    case LogLevel::kInfo:
      return upper ? "INFO" : "info";
    case LogLevel::kWarning:
      return upper ? "WARN" : "warning";
    case LogLevel::kError:
      return upper ? "ERROR" : "error";
  }
  return "info";
}

// JSON string escaping is Boost.JSON's (quotes, backslashes, control characters); most values
// (ids, codes, method names) need none and are copied between quotes as they are.
constexpr std::array<bool, 256> kPlainInJson = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x7f; ++c) table[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return table;
}();

// Appends `before`, `text` as a JSON string, then `after` (a field's comma, key and colon are
// one append): one resize and plain copies, since this runs some twenty times per access line.
void AppendJsonString(std::string* out, std::string_view text, std::string_view before = {},
                      std::string_view after = {}) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char ch) {
    return kPlainInJson[static_cast<unsigned char>(ch)];
  });
  if (!plain) {
    out->append(before);
    out->append(boost::json::serialize(boost::json::string_view(text.data(), text.size())));
    out->append(after);
    return;
  }
  const std::size_t at = out->size();
  out->resize(at + before.size() + text.size() + after.size() + 2);
  char* p = out->data() + at;
  p = std::copy(before.begin(), before.end(), p);
  *p++ = '"';
  p = std::copy(text.begin(), text.end(), p);
  *p++ = '"';
  std::copy(after.begin(), after.end(), p);
}

// "2026-12-01T10:00:00.123456Z" for now. The part up to the seconds is formatted once per
// second per thread (absl::FormatTime is the costly part of a log line).
void AppendTimestamp(std::string* out) {
  struct Cached {
    std::int64_t second = -1;
    std::string text;
  };
  thread_local Cached cached;
  const absl::Time now = absl::Now();
  const std::int64_t micros = absl::ToUnixMicros(now);
  const std::int64_t second = micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000;
  if (second != cached.second) {
    cached.second = second;
    cached.text =
        absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second), absl::UTCTimeZone());
  }
  out->append(cached.text);
  const auto fraction = static_cast<int>(micros - second * 1000000);
  std::array<char, 8> digits{'.', '0', '0', '0', '0', '0', '0', 'Z'};
  int rest = fraction;
  for (std::size_t i = 6; i >= 1; --i) {
    digits[i] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  }
  out->append(digits.data(), digits.size());
}

// Text values: bare when they have no space, quote or '=', quoted otherwise.
void AppendTextValue(std::string* out, std::string_view text) {
  if (!text.empty() && text.find_first_of(" \"=\n\r\t") == std::string_view::npos) {
    out->append(text);
    return;
  }
  out->push_back('"');
  for (const char ch : text) {
    if (ch == '"' || ch == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (ch == '\n' || ch == '\r') {
      out->push_back(' ');
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

struct ValueAppender {
  std::string* out;
  bool json;
  void operator()(std::string_view text) const {
    json ? AppendJsonString(out, text) : AppendTextValue(out, text);
  }
  void operator()(std::int64_t number) const { absl::StrAppend(out, number); }
  void operator()(double number) const { absl::StrAppend(out, number); }
  void operator()(bool flag) const { out->append(flag ? "true" : "false"); }
};

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"debug", LogLevel::kDebug},
      {"info", LogLevel::kInfo},
      {"warning", LogLevel::kWarning},
      {"warn", LogLevel::kWarning},
      {"error", LogLevel::kError}};
  for (const auto& [name, value] : kNames) {
    if (text == name) {
      *level = value;
      return true;
    }
  }
  return false;
}

bool ParseLogFormat(std::string_view text, LogFormat* format) {
  if (text == "json") {
    *format = LogFormat::kJson;
  } else if (text == "text") {
    *format = LogFormat::kText;
  } else {
    return false;
  }
  return true;
}

void SetLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }
void SetLogFormat(LogFormat format) { log_format.store(static_cast<int>(format)); }
void SetLogOutput(int fd) { output_fd.store(fd); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= min_level.load(); }

void Log(LogLevel level, std::string_view message, absl::Span<const LogField> fields) {
  if (!LogEnabled(level)) return;
  const bool json = log_format.load() == static_cast<int>(LogFormat::kJson);
  std::string& line = t_lines;  // the line goes after those still pending in a batch
  const std::size_t start = line.size();
  if (json) {
    line.append(R"({"ts":")");
    AppendTimestamp(&line);
    absl::StrAppend(&line, R"(","level":")", LevelName(level, false), R"(","msg":)");
    AppendJsonString(&line, message);
    for (const LogField& field : fields) {
      AppendJsonString(&line, field.key, ",", ":");
      std::visit(ValueAppender{&line, true}, field.value);
    }
    line.append("}\n");
  } else {
    AppendTimestamp(&line);
    absl::StrAppend(&line, " ", LevelName(level, true), " ",
                    absl::string_view(message.data(), message.size()));
    for (const LogField& field : fields) {
      line.push_back(' ');
      line.append(field.key);
      line.push_back('=');
      std::visit(ValueAppender{&line, false}, field.value);
    }
    line.push_back('\n');
  }
  if (t_batch_depth == 0) {
    WritePending();  // one write(2) per line keeps lines whole across threads, without a lock
    return;
  }
  if (line.size() > kWholeWrite && start > 0) {  // the batch is full: write it, keep this line
    WriteOut(std::string_view(line).substr(0, start));
    line.erase(0, start);
  }
  if (line.size() > kWholeWrite) WritePending();
}

LogBatch::LogBatch() { ++t_batch_depth; }

LogBatch::~LogBatch() {
  if (--t_batch_depth == 0 && !t_lines.empty()) WritePending();
}

}  // namespace codearts::observability
