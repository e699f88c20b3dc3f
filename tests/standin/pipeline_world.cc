#include "standin/pipeline_world.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "standin/standin.h"

namespace codearts::testing {
namespace {

namespace json = boost::json;

struct JobShape {
  const char* id;
  const char* name;
};
struct StageShape {
  const char* id;
  const char* name;
  std::vector<JobShape> jobs;
};

// Every pipeline of the world: two stages, three jobs in all, run one after the other.
const std::vector<StageShape>& Shape() {
  static const std::vector<StageShape> shape = {
      {"stage-build", "Build", {{"job-compile", "compile"}, {"job-test", "unit-test"}}},
      {"stage-deploy", "Deploy", {{"job-deploy", "deploy"}}},
  };
  return shape;
}
constexpr int kJobs = 3;
constexpr int kFailingJob = 1;  // "failing..." pipelines fail in their second job
// The world's time zero, 2026-01-01T00:00:00Z, in Unix milliseconds.
constexpr std::int64_t kEpochMs = 1767225600000;

StandinReply Json(unsigned status, const json::value& body) {
  StandinReply reply;
  reply.status = status;
  reply.body = json::serialize(body);
  return reply;
}

StandinReply Error(unsigned status, std::string_view code, std::string_view message) {
  return Json(status, json::object{{"error_code", code}, {"error_msg", message}});
}

std::string QueryValue(const RecordedRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.query) {
    if (key == name) return value;
  }
  return {};
}

std::string V3Time(std::int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(kEpochMs + ms),
                          absl::UTCTimeZone());
}

std::int64_t Number(const json::object& object, std::string_view key, std::int64_t fallback) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_int64() ? value->get_int64() : fallback;
}

}  // namespace

PipelineWorld::PipelineWorld(std::chrono::milliseconds job_duration, bool real_time)
    : job_duration_(std::max(job_duration, std::chrono::milliseconds(1))), real_time_(real_time) {}

void PipelineWorld::Advance(std::chrono::milliseconds by) {
  std::lock_guard lock(mutex_);
  advanced_ += by;
}

std::uint64_t PipelineWorld::StatusReads() const {
  std::lock_guard lock(mutex_);
  return status_reads_;
}

std::chrono::milliseconds PipelineWorld::NowLocked() const {
  if (!real_time_) return advanced_;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               epoch_) +
         advanced_;
}

PipelineWorld::Progress PipelineWorld::ProgressOf(const Build& build) const {
  Progress progress;
  const bool failing = absl::StartsWith(build.pipeline_id, "failing");
  const std::chrono::milliseconds until = build.stopped ? *build.stopped : NowLocked();
  const auto done = static_cast<int>((until - build.started) / job_duration_);
  for (int job = 0; job < kJobs; ++job) {
    JobState state = JobState::kWaiting;
    if (failing && job == kFailingJob && done > job) {
      state = JobState::kFailed;
      progress.failed = true;
    } else if (progress.failed) {
      state = JobState::kWaiting;
    } else if (done > job) {
      state = JobState::kSucceeded;
    } else if (done == job) {
      state = build.stopped ? JobState::kAborted : JobState::kRunning;
      progress.aborted = build.stopped.has_value();
    }
    progress.jobs.push_back(state);
  }
  progress.finished = progress.failed || progress.aborted || done >= kJobs;
  return progress;
}

PipelineWorld::Build* PipelineWorld::FindBuild(const std::string& pipeline_id,
                                               const std::string& id) {
  for (std::size_t i = builds_.size(); i-- > 0;) {  // newest first
    Build& build = builds_[i];
    if (build.pipeline_id != pipeline_id) continue;
    if (id.empty() || build.id == id) return &build;  // empty: the latest
  }
  return nullptr;
}

PipelineWorld::Build& PipelineWorld::NewBuild(const std::string& pipeline_id,
                                              const std::string& project_id) {
  Build build;
  build.id = absl::StrFormat("%032x", next_id_++);
  build.pipeline_id = pipeline_id;
  build.project_id = project_id;
  build.number = ++runs_by_pipeline_[pipeline_id];
  build.started = NowLocked();
  builds_.push_back(std::move(build));
  return builds_.back();
}

std::string PipelineWorld::StatusV3(const Build& build) const {
  const Progress progress = ProgressOf(build);
  const auto word = [](JobState state) {
    switch (state) {
      case JobState::kWaiting:
        return std::pair<const char*, const char*>{"waiting", ""};
      case JobState::kRunning:
        return std::pair<const char*, const char*>{"running", ""};
      case JobState::kSucceeded:
        return std::pair<const char*, const char*>{"completed", "success"};
      case JobState::kFailed:
        return std::pair<const char*, const char*>{"completed", "error"};
      case JobState::kAborted:
        return std::pair<const char*, const char*>{"completed", "aborted"};
    }
    return std::pair<const char*, const char*>{"", ""};
  };
  json::array states;
  int job = 0;
  for (const StageShape& stage : Shape()) {
    json::array children;
    JobState stage_state = JobState::kSucceeded;
    for (const JobShape& shape : stage.jobs) {
      const JobState state = progress.jobs[static_cast<std::size_t>(job++)];
      if (state != JobState::kSucceeded && stage_state == JobState::kSucceeded) {
        stage_state = state;
      }
      children.push_back(json::object{{"id", shape.id},
                                      {"name", shape.name},
                                      {"type", "job"},
                                      {"status", word(state).first},
                                      {"outcome", word(state).second},
                                      {"children", json::array{}}});
    }
    states.push_back(json::object{{"id", stage.id},
                                  {"name", stage.name},
                                  {"type", "stage"},
                                  {"status", word(stage_state).first},
                                  {"outcome", word(stage_state).second},
                                  {"children", std::move(children)}});
  }
  json::array parameters;
  for (const auto& [name, value] : build.parameters) {
    parameters.push_back(json::object{{"name", name}, {"value", value}});
  }
  const char* outcome = !progress.finished ? ""
                        : progress.failed  ? "error"
                        : progress.aborted ? "aborted"
                                           : "success";
  json::object body{{"pipeline_id", build.pipeline_id},
                    {"pipeline_name", absl::StrCat("pipeline-", build.pipeline_id.substr(0, 8))},
                    {"executor", "standin"},
                    {"build_id", build.id},
                    {"start_time", V3Time(build.started.count())},
                    {"parameters", std::move(parameters)},
                    {"states", std::move(states)},
                    {"status", progress.finished ? "completed" : "running"},
                    {"outcome", outcome},
                    {"detail_url", absl::StrCat("https://standin.invalid/", build.id)}};
  return json::serialize(body);
}

std::string PipelineWorld::RunV5(const Build& build, bool summary) const {
  const Progress progress = ProgressOf(build);
  const auto word = [](JobState state) {
    switch (state) {
      case JobState::kWaiting:
        return "INIT";
      case JobState::kRunning:
        return "RUNNING";
      case JobState::kSucceeded:
        return "COMPLETED";
      case JobState::kFailed:
        return "FAILED";
      case JobState::kAborted:
        return "CANCELED";
    }
    return "";
  };
  const char* status = !progress.finished ? "RUNNING"
                       : progress.failed  ? "FAILED"
                       : progress.aborted ? "CANCELED"
                                          : "COMPLETED";
  json::array stages;
  int job = 0;
  for (std::size_t s = 0; s < Shape().size(); ++s) {
    const StageShape& stage = Shape()[s];
    json::array jobs;
    JobState stage_state = JobState::kSucceeded;
    for (const JobShape& shape : stage.jobs) {
      const JobState state = progress.jobs[static_cast<std::size_t>(job++)];
      if (state != JobState::kSucceeded && stage_state == JobState::kSucceeded) {
        stage_state = state;
      }
      jobs.push_back(json::object{{"id", shape.id}, {"name", shape.name}, {"status", word(state)}});
    }
    if (summary) {
      stages.push_back(json::object{{"id", stage.id},
                                    {"name", stage.name},
                                    {"sequence", static_cast<std::int64_t>(s)},
                                    {"status", word(stage_state)}});
    } else {
      stages.push_back(json::object{{"id", stage.id},
                                    {"name", stage.name},
                                    {"sequence", static_cast<std::int64_t>(s)},
                                    {"status", word(stage_state)},
                                    {"jobs", std::move(jobs)}});
    }
  }
  const std::int64_t start = kEpochMs + build.started.count();
  const std::string url = absl::StrCat("https://standin.invalid/", build.project_id, "/",
                                       build.pipeline_id, "/", build.id);
  if (summary) {
    return json::serialize(json::object{{"pipeline_id", build.pipeline_id},
                                        {"pipeline_run_id", build.id},
                                        {"status", status},
                                        {"run_number", build.number},
                                        {"trigger_type", "Manual"},
                                        {"start_time", start},
                                        {"stage_status_list", std::move(stages)},
                                        {"detail_url", url}});
  }
  return json::serialize(
      json::object{{"id", build.id},
                   {"pipeline_id", build.pipeline_id},
                   {"name", absl::StrCat("pipeline-", build.pipeline_id.substr(0, 8))},
                   {"status", status},
                   {"run_number", build.number},
                   {"trigger_type", "Manual"},
                   {"start_time", start},
                   {"project_id", build.project_id},
                   {"stages", std::move(stages)},
                   {"detail_url", url}});
}

std::optional<StandinReply> PipelineWorld::Handle(const RecordedRequest& request) {
  const boost::system::result<boost::urls::url_view> target =
      boost::urls::parse_origin_form(request.target);
  if (!target) return std::nullopt;
  const std::vector<std::string> path(target->segments().begin(), target->segments().end());
  const auto is = [&](std::initializer_list<const char*> pattern) {
    if (path.size() != pattern.size()) return false;
    std::size_t i = 0;
    for (const char* part : pattern) {
      if (*part != '*' && path[i] != part) return false;
      if (*part == '*' && path[i].empty()) return false;
      ++i;
    }
    return true;
  };
  boost::system::error_code ec;
  const json::value parsed =
      request.body.empty() ? json::value(json::object{}) : json::parse(request.body, ec);
  const json::object empty;
  const json::object& body = !ec && parsed.is_object() ? parsed.get_object() : empty;
  const auto missing = [](const std::string& pipeline_id) {
    return absl::StartsWith(pipeline_id, "missing");
  };
  const auto no_pipeline = [] { return Error(404, "DEVPIPE.00011401", "pipeline not found"); };
  const auto no_build = [] { return Error(404, "DEVPIPE.00011402", "build not found"); };

  std::lock_guard lock(mutex_);
  if (request.method == "GET" && is({"v3", "projects"})) {
    return Json(200, json::object{{"projects", json::array{json::object{
                                                   {"id", kIamProjectId},
                                                   {"name", QueryValue(request, "name")}}}}});
  }
  // v3: /v3/pipelines/{pipeline_id}/{start,status}
  if (is({"v3", "pipelines", "*", "start"}) && request.method == "POST") {
    if (missing(path[2])) return no_pipeline();
    Build& build = NewBuild(path[2], "");
    if (const json::value* params = body.if_contains("build_params");
        params != nullptr && params->is_array()) {
      for (const json::value& param : params->get_array()) {
        if (!param.is_object()) continue;
        const json::object& p = param.get_object();
        const json::value* name = p.if_contains("name");
        const json::value* value = p.if_contains("value");
        if (name != nullptr && name->is_string() && value != nullptr && value->is_string()) {
          build.parameters.emplace_back(std::string(name->get_string()),
                                        std::string(value->get_string()));
        }
      }
    }
    return Json(200, json::object{{"pipeline_id", build.pipeline_id}, {"build_id", build.id}});
  }
  if (is({"v3", "pipelines", "*", "status"}) && request.method == "GET") {
    if (missing(path[2])) return no_pipeline();
    const Build* build = FindBuild(path[2], QueryValue(request, "build_id"));
    if (build == nullptr) return no_build();
    ++status_reads_;
    StandinReply reply;
    reply.body = StatusV3(*build);
    return reply;
  }
  if (is({"v3", "pipelines", "*", "stop"}) && request.method == "POST") {
    // Known builds stop; any other build id is answered as the plain stand-in does.
    Build* build = FindBuild(path[2], QueryValue(request, "build_id"));
    if (build == nullptr || QueryValue(request, "build_id").empty()) return std::nullopt;
    if (!ProgressOf(*build).finished) build->stopped = NowLocked();
    return std::nullopt;  // the usual Stop answer
  }

  // v5: /v5/{project_id}/api/pipelines/...
  if (path.size() < 4 || path[0] != "v5" || path[2] != "api" || path[3] != "pipelines") {
    return std::nullopt;
  }
  const std::string& project = path[1];
  if (is({"v5", "*", "api", "pipelines", "list"}) && request.method == "POST") {
    std::vector<const Build*> latest;
    for (std::size_t i = builds_.size(); i-- > 0;) {  // newest first
      const Build& build = builds_[i];
      if (build.project_id != project) continue;
      const bool seen = std::any_of(latest.begin(), latest.end(), [&](const Build* other) {
        return other->pipeline_id == build.pipeline_id;
      });
      if (!seen) latest.push_back(&build);
    }
    json::array pipelines;
    for (const Build* build : latest) {
      pipelines.push_back(
          json::object{{"pipeline_id", build->pipeline_id},
                       {"name", absl::StrCat("pipeline-", build->pipeline_id.substr(0, 8))},
                       {"project_id", project},
                       {"latest_run", json::parse(RunV5(*build, true))}});
    }
    return Json(200, json::object{{"offset", 0},
                                  {"limit", static_cast<std::int64_t>(pipelines.size())},
                                  {"total", static_cast<std::int64_t>(pipelines.size())},
                                  {"pipelines", std::move(pipelines)}});
  }
  if (path.size() < 5) return std::nullopt;
  const std::string& pipeline_id = path[4];
  if (missing(pipeline_id)) return no_pipeline();
  if (is({"v5", "*", "api", "pipelines", "*", "run"}) && request.method == "POST") {
    Build& build = NewBuild(pipeline_id, project);
    return Json(200, json::object{{"pipeline_run_id", build.id}});
  }
  if (is({"v5", "*", "api", "pipelines", "*", "pipeline-runs", "detail"}) &&
      request.method == "GET") {
    const Build* build = FindBuild(pipeline_id, QueryValue(request, "pipeline_run_id"));
    if (build == nullptr) return no_build();
    ++status_reads_;
    StandinReply reply;
    reply.body = RunV5(*build, false);
    return reply;
  }
  if (is({"v5", "*", "api", "pipelines", "*", "pipeline-runs", "*", "stop"}) &&
      request.method == "POST") {
    Build* build = FindBuild(pipeline_id, path[6]);
    if (build == nullptr) return no_build();
    if (ProgressOf(*build).finished) return Json(200, json::object{{"success", false}});
    build->stopped = NowLocked();
    return Json(200, json::object{{"success", true}});
  }
  if (is({"v5", "*", "api", "pipelines", "*", "pipeline-runs", "list"}) &&
      request.method == "POST") {
    std::vector<const Build*> runs;
    for (std::size_t i = builds_.size(); i-- > 0;) {  // newest first
      const Build& build = builds_[i];
      if (build.pipeline_id == pipeline_id && build.project_id == project) runs.push_back(&build);
    }
    const std::int64_t offset = std::max<std::int64_t>(0, Number(body, "offset", 0));
    const std::int64_t limit = std::clamp<std::int64_t>(Number(body, "limit", 10), 1, 100);
    json::array page;
    for (auto i = static_cast<std::size_t>(offset);
         i < runs.size() && page.size() < static_cast<std::size_t>(limit); ++i) {
      page.push_back(json::parse(RunV5(*runs[i], true)));
    }
    return Json(200, json::object{{"offset", offset},
                                  {"limit", limit},
                                  {"total", static_cast<std::int64_t>(runs.size())},
                                  {"pipeline_runs", std::move(page)}});
  }
  return std::nullopt;
}

}  // namespace codearts::testing
