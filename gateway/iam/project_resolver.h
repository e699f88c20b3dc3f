#ifndef CODEARTS_GATEWAY_IAM_PROJECT_RESOLVER_H_
#define CODEARTS_GATEWAY_IAM_PROJECT_RESOLVER_H_

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "auth/clock.h"
#include "auth/credentials.h"
#include "upstream/https_client.h"

namespace codearts::iam {

struct ProjectLookupOptions {
  /// The region whose project is looked up (`GET /v3/projects?name={region}`).
  std::string region;
  /// Sent as User-Agent.
  std::string user_agent;
  /// How often the credentials are looked at for a rotated access key.
  std::chrono::milliseconds check_interval{1000};
  /// Backoff between failed lookups: doubling from `first_retry` up to `max_retry`.
  std::chrono::milliseconds first_retry{500};
  std::chrono::milliseconds max_retry{30000};
  /// Deadline of one lookup.
  std::chrono::milliseconds timeout{10000};
};

/// Asks IAM once: `GET {iam}/v3/projects?name={region}` signed with `credentials`. Exactly one
/// project in the answer gives its id; anything else is an error naming what IAM answered.
boost::asio::awaitable<absl::StatusOr<std::string>> LookUpProjectId(
    upstream::HttpsClient& iam, const auth::AkSkCredentials& credentials, const auth::Clock& clock,
    const ProjectLookupOptions& options);

/// The gateway's AK/SK with the IAM project id filled in the way the official SDKs do when none
/// is configured: looked up from IAM with the same AK/SK, at start and again whenever rotated
/// credentials bring a new access key, cached per access key (the region is fixed), retried
/// with backoff. Until the id of the current key is known, Ready() says why and the gateway
/// reports itself not ready. Credentials that carry their own project id are passed through.
class ProjectResolvingSource final : public auth::CredentialSource {
 public:
  ProjectResolvingSource(std::unique_ptr<auth::CredentialSource> inner, upstream::HttpsClient& iam,
                         const auth::Clock& clock, boost::asio::io_context& io,
                         ProjectLookupOptions options);
  ~ProjectResolvingSource() override;
  ProjectResolvingSource(const ProjectResolvingSource&) = delete;
  ProjectResolvingSource& operator=(const ProjectResolvingSource&) = delete;

  std::shared_ptr<const auth::AkSkCredentials> Current() const override;
  auth::CredentialStats Stats() const override { return inner_->Stats(); }
  absl::Status Ready() const override;

  /// `changed(ready)` runs (on an I/O thread) each time readiness changes, and once at start.
  void OnReadyChanged(std::function<void(bool)> changed);
  /// Starts looking; the I/O threads must be running for it to make progress.
  void Start();
  /// Ends the loop (its timer is cancelled); idempotent.
  void Stop();

 private:
  boost::asio::awaitable<void> Run();
  // `why`: the reason kept for Ready()'s message; nullopt keeps the previous one.
  void SetState(bool ready, std::optional<std::string> why);

  const std::unique_ptr<auth::CredentialSource> inner_;
  upstream::HttpsClient& iam_;
  const auth::Clock& clock_;
  const ProjectLookupOptions options_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;  // touched on strand_ only

  mutable std::mutex mutex_;
  std::map<std::string, std::string> project_by_key_;  // guarded by mutex_
  // The last credentials seen and the same with the project id filled in, so that Current()
  // allocates nothing per call.
  mutable std::shared_ptr<const auth::AkSkCredentials> seen_;      // guarded by mutex_
  mutable std::shared_ptr<const auth::AkSkCredentials> resolved_;  // guarded by mutex_
  bool ready_ = false;                                             // guarded by mutex_
  bool announced_ = false;                                         // guarded by mutex_
  std::string why_not_ready_;                                      // guarded by mutex_
  std::function<void(bool)> changed_;                              // guarded by mutex_
  std::atomic<bool> stopped_{false};
};

}  // namespace codearts::iam

#endif  // CODEARTS_GATEWAY_IAM_PROJECT_RESOLVER_H_
