#include "client/watch_view.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace codearts::client {
namespace {

std::string Seconds(absl::Duration elapsed) {
  if (elapsed < absl::ZeroDuration()) return "-";
  return absl::StrCat(absl::ToInt64Seconds(elapsed), "s");
}

// v3 times are "yyyy-MM-dd HH:mm:ss", all in the same zone, so only their difference counts.
std::string ElapsedV3(const pipeline::v1::PipelineStateStatus& stage) {
  if (!stage.elapsed_time().empty()) return stage.elapsed_time();
  absl::Time start;
  absl::Time end;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%d %H:%M:%S", stage.start_time(), &start, &error) ||
      !absl::ParseTime("%Y-%m-%d %H:%M:%S", stage.end_time(), &end, &error)) {
    return "-";
  }
  return Seconds(end - start);
}

std::string ElapsedV5(std::int64_t start_ms, std::int64_t end_ms, absl::Time now) {
  if (start_ms <= 0) return "-";
  const absl::Time end = end_ms > 0 ? absl::FromUnixMillis(end_ms) : now;
  return Seconds(end - absl::FromUnixMillis(start_ms));
}

}  // namespace

int ExitCodeOf(RunResult result) {
  switch (result) {
    case RunResult::kSucceeded:
      return 0;
    case RunResult::kAborted:
      return kExitBuildAborted;
    case RunResult::kFailed:
    case RunResult::kRunning:  // a stream that ended OK before the end is not a success
      return kExitBuildFailed;
  }
  return kExitBuildFailed;
}

RunView ViewOf(const pipeline::v1::PipelineStatus& status, absl::Time /*now*/) {
  RunView view;
  view.pipeline = status.pipeline_name().empty() ? status.pipeline_id() : status.pipeline_name();
  view.run = status.build_id();
  view.status = status.status();
  view.outcome = status.outcome();
  for (const auto& stage : status.states()) {
    RunView::Stage& shown = view.stages.emplace_back();
    shown = {stage.name(), stage.status(), ElapsedV3(stage), {}};
    for (const auto& job : stage.children()) shown.jobs.emplace_back(job.name(), job.status());
  }
  if (status.status() == "completed") {
    view.result = status.outcome() == "success"   ? RunResult::kSucceeded
                  : status.outcome() == "aborted" ? RunResult::kAborted
                                                  : RunResult::kFailed;
  }
  return view;
}

RunView ViewOf(const pipeline::v1::PipelineRun& run, absl::Time now) {
  RunView view;
  view.pipeline = run.name().empty() ? run.pipeline_id() : run.name();
  view.run = run.id();
  view.status = run.status();
  for (const auto& stage : run.stages()) {
    RunView::Stage& shown = view.stages.emplace_back();
    shown = {
        stage.name(), stage.status(), ElapsedV5(stage.start_time(), stage.end_time(), now), {}};
    for (const auto& job : stage.jobs()) shown.jobs.emplace_back(job.name(), job.status());
  }
  if (run.status() == "COMPLETED" || run.status() == "IGNORED") {
    view.result = RunResult::kSucceeded;
  } else if (run.status() == "CANCELED") {
    view.result = RunResult::kAborted;
  } else if (run.status() == "FAILED") {
    view.result = RunResult::kFailed;
  }
  return view;
}

std::string RenderLine(const RunView& view) {
  std::string stages;
  for (const RunView::Stage& stage : view.stages) {
    absl::StrAppend(&stages, stages.empty() ? "" : ",", stage.name, ":", stage.status);
    if (stage.jobs.empty()) continue;
    std::string jobs;
    for (const auto& [name, status] : stage.jobs) {
      absl::StrAppend(&jobs, jobs.empty() ? "" : ",", name, ":", status);
    }
    absl::StrAppend(&stages, "[", jobs, "]");
  }
  return absl::StrCat("pipeline=", view.pipeline, " build=", view.run, " status=", view.status,
                      " outcome=", view.outcome.empty() ? "-" : view.outcome,
                      " stages=", stages.empty() ? "-" : stages);
}

std::string RenderFrame(const RunView& view) {
  std::string frame =
      absl::StrCat("pipeline ", view.pipeline, "  build ", view.run, "  ", view.status,
                   view.outcome.empty() ? "" : absl::StrCat(" (", view.outcome, ")"), "\n");
  for (const RunView::Stage& stage : view.stages) {
    absl::StrAppend(&frame,
                    absl::StrFormat("  %-24s %-12s %s\n", stage.name, stage.status, stage.elapsed));
  }
  return frame;
}

}  // namespace codearts::client
