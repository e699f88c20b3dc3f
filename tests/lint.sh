#!/usr/bin/env bash
# Checks that the sources pass .clang-format and .clang-tidy. Needs the compile database of a
# configured build (default: the dev preset, which tests/run_tests.sh creates).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${1:-build/dev}"

mapfile -t sources < <(git ls-files '*.cc' '*.h')
clang-format --dry-run --Werror "${sources[@]}"
echo "clang-format: ${#sources[@]} files clean"

# The translation units this build compiles (the fuzz targets are linted by tests/run_fuzz.sh
# against the clang build that compiles them: without their real flags clang-tidy guesses wrong).
mapfile -t units < <(git ls-files '*.cc' | while read -r unit; do
  grep -q "\"file\": \"$(pwd)/$unit\"" "$build_dir/compile_commands.json" && echo "$unit"
done)
log="$(mktemp)"
status=0
printf '%s\n' "${units[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build_dir" --quiet \
  >"$log" 2>&1 || status=$?
# clang-tidy counts the warnings it suppressed in system headers; only findings matter.
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$log" || true
rm -f "$log"
if ((status != 0)); then
  echo "clang-tidy: findings above"
  exit 1
fi
echo "clang-tidy: ${#units[@]} translation units clean"
