#!/usr/bin/env bash
# The demo: starts the local CodeArts stand-in and the gateway in front of it, then stops a
# pipeline over gRPC with pipelinectl and prints what came back (and one failure, for contrast).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install_deps.sh
work="$(mktemp -d)"
echo "== building (release preset)"
if ! { cmake --preset release && cmake --build --preset release -j "$(nproc)" \
         --target codearts-gateway pipelinectl codearts-standin; } >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  exit 1
fi

bin=build/release
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export HUAWEICLOUD_SDK_AK=DEMOACCESSKEY0000001
export HUAWEICLOUD_SDK_SK=demo-secret-key-for-the-local-stand-in

"$bin/tests/standin/codearts-standin" --ak="$HUAWEICLOUD_SDK_AK" --sk="$HUAWEICLOUD_SDK_SK" \
  --ca-out="$work/ca.pem" --port-file="$work/port" 2>"$work/standin.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port="$(cat "$work/port")"

"$bin/gateway/codearts-gateway" --listen="unix:$work/gateway.sock" \
  --endpoint="https://127.0.0.1:$port" --ca-file="$work/ca.pem" \
  --project-id=0123456789abcdef0123456789abcdef --admin-listen=127.0.0.1:0 --log-format=text \
  >"$work/gateway.log" 2>&1 &
pids+=($!)
"$bin/client/pipelinectl" health --target="unix:$work/gateway.sock" --timeout=10s >/dev/null

pipeline=0f1e2d3c4b5a69788796a5b4c3d2e1f0
echo "== pipelinectl start (Start -> POST /v3/pipelines/{id}/start, signed HTTPS to the stand-in)"
started="$("$bin/client/pipelinectl" start --target="unix:$work/gateway.sock" \
  --pipeline-id="$pipeline" --param=env=demo)"
echo "$started"
build="$(sed -n 's/.*"build_id":"\([^"]*\)".*/\1/p' <<<"$started")"
echo
echo "== pipelinectl status (GetStatus -> GET /v3/pipelines/{id}/status?build_id=...)"
"$bin/client/pipelinectl" status --target="unix:$work/gateway.sock" --pipeline-id="$pipeline" \
  --build-id="$build"
echo
echo "== pipelinectl stop of that build (Stop -> POST /v3/pipelines/{id}/stop?build_id=...)"
"$bin/client/pipelinectl" stop --target="unix:$work/gateway.sock" --pipeline-id="$pipeline" \
  --build-id="$build"
echo "== pipelinectl status once more: the build was aborted"
"$bin/client/pipelinectl" status --target="unix:$work/gateway.sock" --pipeline-id="$pipeline" \
  --build-id="$build"
echo
echo "== pipelinectl start --wait (Start, then the Watch stream: one line per change, about 6 s)"
"$bin/client/pipelinectl" start --wait --target="unix:$work/gateway.sock" \
  --pipeline-id="$pipeline" --poll-interval=1s --timeout=60s
echo "(exit status $?: the build succeeded)"
echo
echo "== pipelinectl stop (gateway -> signed HTTPS -> local CodeArts stand-in)"
"$bin/client/pipelinectl" stop --target="unix:$work/gateway.sock" \
  --pipeline-id=0f1e2d3c4b5a69788796a5b4c3d2e1f0 --build-id=3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b
echo "exit code: 0"
echo
echo "== pipelinectl stop for a pipeline CodeArts does not know (expect NOT_FOUND, exit 5)"
set +e
"$bin/client/pipelinectl" stop --target="unix:$work/gateway.sock" \
  --pipeline-id=missing0000 --build-id=1
echo "exit code: $?"
set -e
echo
echo "== the gateway's access log (--log-format=text; JSON lines by default)"
grep ' access ' "$work/gateway.log"
echo "== the gateway's metrics (GET /metrics on the admin port; excerpt)"
admin_port="$(sed -n 's/.* admin_port=\([0-9]*\).*/\1/p' "$work/gateway.log" | head -n 1)"
exec 3<>"/dev/tcp/127.0.0.1/$admin_port"
printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
grep -E '^codearts_gateway_(calls_total|upstream_requests_total|upstream_connections)' <&3 || true
exec 3<&-
echo "== what the stand-in saw"
cat "$work/standin.log"
