#include "iam/project_resolver.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "auth/request_auth.h"
#include "observability/log.h"

namespace codearts::iam {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

constexpr std::size_t kExcerptBytes = 200;

std::string Excerpt(std::string_view body) {
  if (body.size() <= kExcerptBytes) return std::string(body);
  return absl::StrCat(std::string(body.substr(0, kExcerptBytes)), "...");
}

}  // namespace

asio::awaitable<absl::StatusOr<std::string>> LookUpProjectId(
    upstream::HttpsClient& iam, const auth::AkSkCredentials& credentials, const auth::Clock& clock,
    const ProjectLookupOptions& options) {
  upstream::HttpRequest request;
  request.method = "GET";
  request.target = absl::StrCat("/v3/projects?name=", options.region);
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("User-Agent", options.user_agent);
  const std::size_t fixed_headers = request.headers.size();
  absl::StatusOr<auth::CanonicalTarget> target = auth::MakeCanonicalTarget(
      "/v3/projects", auth::CanonicalQueryString({{"name", options.region}}));
  if (!target.ok()) co_return target.status();
  upstream::PrepareRequest prepare = auth::MakeAuthenticator(
      auth::CallCredentials{.token = {},
                            .ak_sk = std::make_shared<const auth::AkSkCredentials>(credentials)},
      clock, *std::move(target), fixed_headers);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  absl::StatusOr<upstream::HttpResponse> response =
      co_await iam.Send(std::move(request), std::move(prepare),
                        upstream::RequestPolicy{.idempotent = true}, deadline, {}, nullptr);
  const std::string where = absl::StrCat("IAM ", iam.endpoint().authority);
  if (!response.ok()) {
    co_return absl::UnavailableError(
        absl::StrCat(where, " could not be asked: ", response.status().message()));
  }
  if (response->status < 200 || response->status >= 300) {
    co_return absl::UnavailableError(
        absl::StrCat(where, " answered HTTP ", response->status, ": ", Excerpt(response->body)));
  }
  boost::system::error_code ec;
  const json::value body = json::parse(response->body, ec);
  const json::object* object = ec ? nullptr : body.if_object();
  const json::value* projects = object != nullptr ? object->if_contains("projects") : nullptr;
  if (projects == nullptr || !projects->is_array()) {
    co_return absl::UnavailableError(
        absl::StrCat(where, " answered without a projects list: ", Excerpt(response->body)));
  }
  std::vector<std::string> ids;
  for (const json::value& project : projects->get_array()) {
    const json::object* entry = project.if_object();
    const json::value* id = entry != nullptr ? entry->if_contains("id") : nullptr;
    if (id != nullptr && id->is_string() && !id->get_string().empty()) {
      ids.emplace_back(id->get_string());
    }
  }
  if (ids.size() != 1) {
    co_return absl::FailedPreconditionError(
        absl::StrCat(where, " answered ", ids.size(), " projects named \"", options.region,
                     "\" (exactly one expected; set --project-id): ", Excerpt(response->body)));
  }
  co_return ids.front();
}

ProjectResolvingSource::ProjectResolvingSource(std::unique_ptr<auth::CredentialSource> inner,
                                               upstream::HttpsClient& iam, const auth::Clock& clock,
                                               asio::io_context& io, ProjectLookupOptions options)
    : inner_(std::move(inner)),
      iam_(iam),
      clock_(clock),
      options_(std::move(options)),
      strand_(asio::make_strand(io)),
      timer_(strand_) {}

ProjectResolvingSource::~ProjectResolvingSource() { Stop(); }

std::shared_ptr<const auth::AkSkCredentials> ProjectResolvingSource::Current() const {
  std::shared_ptr<const auth::AkSkCredentials> credentials = inner_->Current();
  if (!credentials || !credentials->project_id.empty()) return credentials;
  std::lock_guard lock(mutex_);
  if (credentials == seen_) return resolved_;
  auto found = project_by_key_.find(credentials->access_key);
  if (found == project_by_key_.end()) return credentials;  // Ready() says why
  auto resolved = std::make_shared<auth::AkSkCredentials>(*credentials);
  resolved->project_id = found->second;
  seen_ = std::move(credentials);
  resolved_ = std::move(resolved);
  return resolved_;
}

absl::Status ProjectResolvingSource::Ready() const {
  std::shared_ptr<const auth::AkSkCredentials> credentials = inner_->Current();
  if (!credentials || !credentials->project_id.empty()) return absl::OkStatus();
  std::lock_guard lock(mutex_);
  if (project_by_key_.contains(credentials->access_key)) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "the IAM project id of region ", options_.region, " is not known yet",
      why_not_ready_.empty() ? " (being looked up)" : absl::StrCat(": ", why_not_ready_)));
}

void ProjectResolvingSource::OnReadyChanged(std::function<void(bool)> changed) {
  std::lock_guard lock(mutex_);
  changed_ = std::move(changed);
}

void ProjectResolvingSource::Start() { asio::co_spawn(strand_, Run(), asio::detached); }

void ProjectResolvingSource::Stop() {
  if (stopped_.exchange(true)) return;
  asio::post(strand_, [this] { timer_.cancel(); });
}

void ProjectResolvingSource::SetState(bool ready, std::optional<std::string> why) {
  std::function<void(bool)> changed;
  {
    std::lock_guard lock(mutex_);
    if (why) why_not_ready_ = *std::move(why);
    if (announced_ && ready == ready_) return;
    announced_ = true;
    ready_ = ready;
    changed = changed_;
  }
  if (changed) changed(ready);
}

asio::awaitable<void> ProjectResolvingSource::Run() {
  std::chrono::milliseconds retry = options_.first_retry;
  while (!stopped_.load()) {
    std::chrono::milliseconds wait = options_.check_interval;
    std::shared_ptr<const auth::AkSkCredentials> credentials = inner_->Current();
    bool known = !credentials || !credentials->project_id.empty();
    if (!known) {
      std::lock_guard lock(mutex_);
      known = project_by_key_.contains(credentials->access_key);
    }
    if (known) {
      SetState(true, "");
    } else {
      // A new access key (at start, or brought by rotated credentials): calls signed with it
      // cannot go out until its project id is known, so the gateway is not ready meanwhile.
      SetState(false, std::nullopt);
      absl::StatusOr<std::string> id =
          co_await LookUpProjectId(iam_, *credentials, clock_, options_);
      if (stopped_.load()) co_return;
      if (id.ok()) {
        {
          std::lock_guard lock(mutex_);
          project_by_key_[credentials->access_key] = *id;
        }
        observability::Log(observability::LogLevel::kInfo,
                           absl::StrCat("IAM project id of region ", options_.region, ": ", *id));
        SetState(true, "");
        retry = options_.first_retry;
      } else {
        observability::Log(observability::LogLevel::kWarning,
                           absl::StrCat("IAM project lookup failed (retrying in ", retry.count(),
                                        " ms): ", id.status().message()));
        SetState(false, std::string(id.status().message()));
        wait = retry;
        retry = std::min(retry * 2, options_.max_retry);
      }
    }
    timer_.expires_after(wait);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace codearts::iam
