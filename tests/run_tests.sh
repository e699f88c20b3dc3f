#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds with warnings as errors, runs every test.
#   bash tests/run_tests.sh            # the default run (dev preset)
#   bash tests/run_tests.sh asan       # the same under AddressSanitizer + UBSan
#   bash tests/run_tests.sh tsan       # under ThreadSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."

preset="${1:-dev}"
bash tests/install_deps.sh

jobs="$(nproc)"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs" --timeout 300
