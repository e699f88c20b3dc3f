#!/usr/bin/env bash
# The container image, built and run the way an operator runs it: deploy/Dockerfile built with
# podman, then the container started against the CodeArts stand-in with a read-only root, the
# image's non-root user, every capability dropped and the credentials in a read-only mounted file.
# Checks: the libraries ldd finds inside the image, the user and group, --help, Stop OK and
# NOT_FOUND through the container, /metrics and /readyz, and `podman stop` draining to exit 0.
#
#   bash tests/deploy/run_image_checks.sh [BUILD_DIR]
#
# BUILD_DIR (default build/dev) holds the host's codearts-standin and pipelinectl. No registry is
# reachable here, so the Debian 12 base images are made locally with debootstrap from the
# machine's own Debian mirror, once per machine (kept in podman's storage and as a tarball under
# CACHE_DIR, default /var/cache/codearts-gateway-ci); podman's layer cache keeps the dependency
# layer of the build stage between runs. Each step prints the seconds it started at.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir="${1:-build/dev}"
cache_dir="${CACHE_DIR:-/var/cache/codearts-gateway-ci}"
image=localhost/codearts-gateway:ci
container=codearts-gateway-ci-$$
started=$SECONDS

step() { echo "== [$((SECONDS - started)) s] $*"; }
fail() {
  echo "image check FAILED: $*" >&2
  exit 1
}

for binary in tests/standin/codearts-standin client/pipelinectl; do
  [[ -x "$build_dir/$binary" ]] || fail "no $build_dir/$binary: build the tests first"
done
standin="$build_dir/tests/standin/codearts-standin"
pipelinectl="$build_dir/client/pipelinectl"

step "podman"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null ||
  ! command -v debootstrap >/dev/null; then
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    podman runc debootstrap uidmap ca-certificates >/dev/null
fi
work="$(mktemp -d)"
standin_pid=""
cleanup() {
  podman rm -f "$container" >/dev/null 2>&1 || true
  [[ -n "$standin_pid" ]] && kill -TERM "$standin_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# What this sandbox needs (the defaults are right on an ordinary host): crun 1.8 refuses hybrid
# cgroups, systemd is not there to manage cgroups or take events, and without CAP_SYS_RESOURCE
# the containers cannot be given more open files than the session has.
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$work/containers.conf"
if ! podman info >"$work/podman-info.txt" 2>&1; then
  fail "podman cannot run here: $(tail -n 1 "$work/podman-info.txt")"
fi

step "base images (debian:12 and debian:12-slim, made locally)"
if ! podman image exists localhost/debian:12 || ! podman image exists localhost/debian:12-slim; then
  mkdir -p "$cache_dir"
  if [[ ! -s "$cache_dir/debian-12-minbase.tar" ]]; then
    # The machine's own mirror, from its apt sources.
    mirror="$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources \
      2>/dev/null | head -n 1)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    rootfs="$work/rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -n 20 "$work/debootstrap.log"; fail "debootstrap from $mirror failed"; }
    # The image's apt reaches what this machine reaches.
    rm -f "$rootfs/etc/apt/sources.list"
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
      cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    else
      cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list"
    fi
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
    tar -C "$rootfs" -cf "$cache_dir/debian-12-minbase.tar.partial" .
    mv "$cache_dir/debian-12-minbase.tar.partial" "$cache_dir/debian-12-minbase.tar"
    rm -rf "$rootfs"
  fi
  podman import --quiet "$cache_dir/debian-12-minbase.tar" localhost/debian:12 >/dev/null
  # The slim variant: the same system without documentation, manual pages and translations.
  mkdir "$work/slim"
  tar -C "$work/slim" -xf "$cache_dir/debian-12-minbase.tar"
  rm -rf "$work"/slim/usr/share/doc/* "$work"/slim/usr/share/man/* "$work"/slim/usr/share/locale/*
  tar -C "$work/slim" -c . | podman import --quiet - localhost/debian:12-slim >/dev/null
  rm -rf "$work/slim"
fi

step "podman build -f deploy/Dockerfile"
build_started=$SECONDS
if ! podman build --network=host \
  --build-arg BASE_IMAGE=localhost/debian:12 --build-arg RUNTIME_IMAGE=localhost/debian:12-slim \
  -f deploy/Dockerfile -t "$image" . >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log"
  fail "the image does not build"
fi
echo "   built in $((SECONDS - build_started)) s, $(podman image inspect -f '{{.Size}}' "$image" |
  awk '{printf "%.0f MB", $1 / 1e6}')"

step "inside the image: libraries, user, --help"
ldd_out="$(podman run --rm --entrypoint /usr/bin/ldd "$image" \
  /usr/local/bin/codearts-gateway /usr/local/bin/pipelinectl)"
if grep -q "not found" <<<"$ldd_out"; then
  grep "not found" <<<"$ldd_out"
  fail "a shared library is missing from the image"
fi
echo "   ldd: $(grep -c '=>' <<<"$ldd_out") libraries resolved, none missing"
ids="$(podman run --rm --entrypoint /usr/bin/id "$image")"
[[ "$ids" == "uid=65532(gateway) gid=65532(gateway) groups=65532(gateway)" ]] ||
  fail "the image runs as \"$ids\", not gateway 65532:65532"
echo "   $ids"
podman run --rm "$image" --help >"$work/help.txt" || fail "--help exits $?"
grep -q -- "--connect_timeout" "$work/help.txt" || fail "--help does not list --connect_timeout"
stop_signal="$(podman image inspect -f '{{.Config.StopSignal}}' "$image")"
[[ "$stop_signal" == "SIGTERM" ]] || fail "the image's stop signal is \"$stop_signal\""

step "the container against the stand-in"
export HUAWEICLOUD_SDK_AK=IMAGECHECKACCESSKEY1
export HUAWEICLOUD_SDK_SK=image-check-secret-key-for-the-stand-in
"$standin" --ak="$HUAWEICLOUD_SDK_AK" --sk="$HUAWEICLOUD_SDK_SK" --ca-out="$work/ca.pem" \
  --port-file="$work/port" 2>"$work/standin.log" &
standin_pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || fail "the stand-in did not start"
port="$(cat "$work/port")"
# The Secret volume: read-only, readable by the container's user. The keys are not in the
# container's environment.
mkdir -m 0755 "$work/secret" "$work/run"
printf 'HUAWEICLOUD_SDK_AK=%s\nHUAWEICLOUD_SDK_SK=%s\n' "$HUAWEICLOUD_SDK_AK" \
  "$HUAWEICLOUD_SDK_SK" >"$work/secret/credentials"
cp "$work/ca.pem" "$work/secret/ca.pem"
chmod 0644 "$work/secret/credentials" "$work/secret/ca.pem"
chmod 0777 "$work/run" # the gRPC unix socket, made by uid 65532
podman run -d --name "$container" --network=host --read-only --cap-drop=ALL \
  --security-opt=no-new-privileges \
  -v "$work/secret:/etc/codearts:ro" -v "$work/run:/run/gateway" "$image" \
  --listen=unix:/run/gateway/gateway.sock --endpoint="https://127.0.0.1:$port" \
  --ca-file=/etc/codearts/ca.pem --credentials-file=/etc/codearts/credentials \
  --project-id=0123456789abcdef0123456789abcdef --admin-listen=127.0.0.1:0 --log-format=text \
  --drain-timeout=5s >/dev/null
target="unix:$work/run/gateway.sock"
for _ in $(seq 100); do [[ -S "$work/run/gateway.sock" ]] && break; sleep 0.1; done
"$pipelinectl" health --target="$target" --timeout=10s >/dev/null ||
  { podman logs "$container"; fail "the gateway in the container is not SERVING"; }

"$pipelinectl" stop --target="$target" --timeout=10s \
  --pipeline-id=0f1e2d3c4b5a69788796a5b4c3d2e1f0 --build-id=3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b ||
  fail "Stop through the container did not succeed"
set +e
"$pipelinectl" stop --target="$target" --timeout=10s --pipeline-id=missing0000 --build-id=1 \
  >"$work/not_found.txt" 2>&1
code=$?
set -e
((code == 5)) || { cat "$work/not_found.txt"; fail "Stop of an unknown pipeline exited $code, not 5"; }
echo "   Stop OK, and NOT_FOUND (exit 5) for an unknown pipeline"

# The log read into a file first: `podman logs | grep -q` would fail on SIGPIPE under pipefail.
podman logs "$container" >"$work/gateway.log" 2>&1
admin_port="$(sed -n 's/.* admin_port=\([0-9]*\).*/\1/p' "$work/gateway.log" | head -n 1)"
[[ -n "$admin_port" ]] || fail "no admin_port in the container's start-up line"
admin_get() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$admin_port"
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&3
  reply="$(cat <&3)"
  exec 3<&-
  printf '%s' "$reply"
}
readyz="$(admin_get /readyz)"
[[ "$readyz" == "HTTP/1.1 200"* ]] || fail "/readyz does not answer 200: ${readyz%%$'\r'*}"
metrics="$(admin_get /metrics | tr -d '\r')"
grep -q '^codearts_gateway_calls_total{.*code="OK".*} 1$' <<<"$metrics" ||
  fail "/metrics does not count the OK call"
grep -q '^codearts_gateway_calls_total{.*code="NOT_FOUND".*} 1$' <<<"$metrics" ||
  fail "/metrics does not count the NOT_FOUND call"
grep -q 'codearts_gateway_upstream_connect_timeouts_total' <<<"$metrics" ||
  fail "/metrics lacks the connect-timeout counter"
podman logs "$container" >"$work/gateway.log" 2>&1
grep -q 'credentials="from file /etc/codearts/credentials"' "$work/gateway.log" ||
  fail "the start-up line does not say the credentials came from the mounted file"
if grep -q -- "$HUAWEICLOUD_SDK_SK" "$work/gateway.log"; then
  fail "the secret key appears in the container's log"
fi
echo "   /readyz 200, /metrics counts the calls, the secret key is in no log line"

step "podman stop (SIGTERM, drain, exit 0)"
podman stop -t 30 "$container" >/dev/null
exit_code="$(podman inspect -f '{{.State.ExitCode}}' "$container")"
[[ "$exit_code" == "0" ]] || { podman logs "$container" 2>&1; fail "the container exited $exit_code"; }
podman logs "$container" >"$work/gateway.log" 2>&1
grep -q "stopped" "$work/gateway.log" || fail "no \"stopped\" line after the drain"
echo "   exit code 0 after the drain"

step "image checks passed ($((SECONDS - started)) s in all)"
