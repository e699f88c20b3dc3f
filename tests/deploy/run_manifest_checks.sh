#!/usr/bin/env bash
# Checks the Kubernetes manifests in deploy/kubernetes without a cluster: the Kubernetes API
# schema and the gateway's deployment rules (validate_manifests.mjs), then yamllint with the
# repository's .yamllint. Runs from any directory. Installs the npm packages pinned in
# package-lock.json first when node_modules is missing or older than the lock file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

for tool in node npm yamllint; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool not found: run tests/install_deps.sh" >&2
    exit 1
  fi
done

# npm writes node_modules/.package-lock.json when it installs.
stale() {
  local installed=node_modules/.package-lock.json
  [[ ! -f "$installed" || package-lock.json -nt "$installed" ]]
}
if stale; then
  # Serialised: build trees of several presets may run this test at the same time.
  exec 9<package-lock.json
  flock 9
  if stale; then
    npm ci --no-audit --no-fund
  fi
  exec 9<&-
fi

status=0
node validate_manifests.mjs "$root/deploy/kubernetes" || status=1
if yamllint -s -c "$root/.yamllint" "$root/deploy/kubernetes"; then
  echo "yamllint: clean"
else
  status=1
fi
exit "$status"
