#ifndef CODEARTS_TESTS_STANDIN_PIPELINE_WORLD_H_
#define CODEARTS_TESTS_STANDIN_PIPELINE_WORLD_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace codearts::testing {

struct RecordedRequest;
struct StandinReply;

/// The stand-in's CodeArts state: pipelines and their builds (v3) and runs (v5), moving through
/// their stages on a clock the test controls. Every pipeline has the same shape: stage "Build"
/// with jobs "compile" and "unit-test", then stage "Deploy" with job "deploy", run one after the
/// other, each taking `job_duration` on the world's clock. A pipeline id starting with "missing"
/// does not exist (404); one starting with "failing" fails in its second job. Serves IAM's
/// project lookup too. Thread-safe.
class PipelineWorld {
 public:
  /// The project id IAM's lookup answers.
  static constexpr char kIamProjectId[] = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

  /// `real_time`: the clock follows the steady clock (for the demo); otherwise it moves only
  /// with Advance (for tests).
  explicit PipelineWorld(std::chrono::milliseconds job_duration, bool real_time = false);

  /// Moves the world's clock forward (tests).
  void Advance(std::chrono::milliseconds by);

  /// The answer to a request CodeArts (or IAM) would answer, or nullopt for one it does not
  /// know. `request` has passed authentication.
  std::optional<StandinReply> Handle(const RecordedRequest& request);

  /// How many status reads (v3 GetStatus, v5 run detail) have been served.
  std::uint64_t StatusReads() const;

 private:
  struct Build {
    std::string id;
    std::string pipeline_id;
    std::string project_id;  // the CodeArts project (v5); empty for v3 builds
    int number = 0;
    std::chrono::milliseconds started{0};
    std::optional<std::chrono::milliseconds> stopped;
    std::vector<std::pair<std::string, std::string>> parameters;
  };
  enum class JobState { kWaiting, kRunning, kSucceeded, kFailed, kAborted };
  struct Progress {
    std::vector<JobState> jobs;
    bool finished = false;
    bool failed = false;
    bool aborted = false;
  };

  std::chrono::milliseconds NowLocked() const;
  Progress ProgressOf(const Build& build) const;
  Build* FindBuild(const std::string& pipeline_id, const std::string& id);
  Build& NewBuild(const std::string& pipeline_id, const std::string& project_id);
  std::string StatusV3(const Build& build) const;
  std::string RunV5(const Build& build, bool summary) const;

  const std::chrono::milliseconds job_duration_;
  const bool real_time_;
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  mutable std::mutex mutex_;
  std::chrono::milliseconds advanced_{0};        // guarded by mutex_
  std::vector<Build> builds_;                    // guarded by mutex_, oldest first
  std::map<std::string, int> runs_by_pipeline_;  // guarded by mutex_
  std::uint64_t next_id_ = 1;                    // guarded by mutex_
  std::uint64_t status_reads_ = 0;               // guarded by mutex_
};

}  // namespace codearts::testing

#endif  // CODEARTS_TESTS_STANDIN_PIPELINE_WORLD_H_
