#ifndef CODEARTS_GATEWAY_OBSERVABILITY_THREAD_NAME_H_
#define CODEARTS_GATEWAY_OBSERVABILITY_THREAD_NAME_H_

#include <string_view>

namespace codearts::observability {

/// Names the calling thread for `top -H`, `perf` and /proc/<pid>/task/*/comm (Linux keeps the
/// first 15 bytes). The gateway's own threads are `gw-cq` (the gRPC completion queue),
/// `gw-io-<n>` (the Asio I/O threads) and `gw-probe-cq` (the probe health listener).
void NameThisThread(std::string_view name);

}  // namespace codearts::observability

#endif  // CODEARTS_GATEWAY_OBSERVABILITY_THREAD_NAME_H_
