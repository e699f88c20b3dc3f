#include "observability/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <array>

namespace codearts::observability {

void NameThisThread(std::string_view name) {
  std::array<char, 16> text{};  // the kernel's limit, with the terminating zero
  const std::size_t length = std::min(name.size(), text.size() - 1);
  std::copy_n(name.data(), length, text.data());
  // Best effort: a name is for people reading tools, nothing depends on it.
  pthread_setname_np(pthread_self(), text.data());
}

}  // namespace codearts::observability
