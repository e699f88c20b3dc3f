#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a bounded time from its
# seed corpus. Exits non-zero on any crash, leak or sanitizer report.
#   bash tests/run_fuzz.sh [seconds-per-target]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

bash tests/install_deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
# The fuzz targets are compiled only here, so they are linted here, with their own flags.
tidy_log="$(mktemp)"
tidy_status=0
clang-tidy -p build/fuzz --quiet tests/fuzz/*.cc >"$tidy_log" 2>&1 || tidy_status=$?
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$tidy_log" || true
rm -f "$tidy_log"
if ((tidy_status != 0)); then
  echo "clang-tidy: findings in tests/fuzz"
  exit 1
fi

for target in response_mapping request_signing; do
  corpus="$(mktemp -d)"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  echo "== ${target}_fuzzer for ${seconds}s"
  log="$corpus.log"
  status=0
  build/fuzz/tests/fuzz/"${target}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
    -max_len=4096 "$corpus" >"$log" 2>&1 || status=$?
  if ((status != 0)); then
    tail -n 60 "$log"
    echo "${target}_fuzzer found a problem (exit $status)"
    exit 1
  fi
  grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  rm -rf "$corpus" "$log"
done
echo "fuzz: all targets ran clean"
