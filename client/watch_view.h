#ifndef CODEARTS_CLIENT_WATCH_VIEW_H_
#define CODEARTS_CLIENT_WATCH_VIEW_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "codearts/pipeline/v1/pipeline.pb.h"

namespace codearts::client {

/// How a followed build or run stands, as pipelinectl's exit status says it.
enum class RunResult { kRunning, kSucceeded, kFailed, kAborted };

/// pipelinectl's exit status for a finished build or run: 0 succeeded, 20 failed, 21 aborted
/// (v3 outcome "aborted", v5 CANCELED). gRPC errors exit with their code (1-16), usage errors 2.
inline constexpr int kExitBuildFailed = 20;
inline constexpr int kExitBuildAborted = 21;
int ExitCodeOf(RunResult result);

/// One state of a build (v3) or run (v5), reduced to what `pipelinectl watch` shows.
struct RunView {
  std::string pipeline;
  std::string run;
  std::string status;
  std::string outcome;  // v3 only
  struct Stage {
    std::string name;
    std::string status;
    std::string elapsed;                                    // "12s", or "-" when unknown
    std::vector<std::pair<std::string, std::string>> jobs;  // (name, status)
  };
  std::vector<Stage> stages;
  RunResult result = RunResult::kRunning;
};

RunView ViewOf(const pipeline::v1::PipelineStatus& status, absl::Time now);
RunView ViewOf(const pipeline::v1::PipelineRun& run, absl::Time now);

/// One line per state, for logs and pipes:
/// `pipeline=P build=B status=running outcome=- stages=Build:running[compile:running],...`.
std::string RenderLine(const RunView& view);
/// The live view for a terminal: a header line, then one line per stage.
std::string RenderFrame(const RunView& view);

}  // namespace codearts::client

#endif  // CODEARTS_CLIENT_WATCH_VIEW_H_
