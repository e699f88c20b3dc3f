#!/usr/bin/env bash
# The gateway's performance suite. Starts nginx (Debian's nginx-light) as an HTTPS upstream on
# loopback answering the Stop path with the documented 200 body, the gateway in front of it, and
# drives both with the same load generators; then the asynchrony, footprint and sporadic-traffic
# checks. Every call of every run is checked (a run with any non-OK call is reported FAILED).
# Prints one table: each figure next to its reference from the same run, median of the runs; then
# the concurrency sweep against the floor (a trivial completion-queue gRPC server answering a fixed
# response, plus wrk's client-side cost per keep-alive HTTPS POST to the same nginx).
#
#   bash tests/bench/run_bench.sh [runs=3] [seconds per load run=8]
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
runs="${1:-3}"
seconds="${2:-8}"
ulimit -n 65536 2>/dev/null || true  # 2,000 upstream connections and more
concurrency=16  # saturation: enough to keep both cores busy, same for every leg

bash tests/install_deps.sh
if ! command -v nginx >/dev/null || ! command -v h2load >/dev/null || ! command -v wrk >/dev/null
then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nginx-light nghttp2-client procps wrk
fi
if ! command -v valgrind >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends valgrind
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building (release preset)" >&2
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target codearts-gateway pipelinectl https_load \
  micro_bench floor_grpc_server >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
bin="$root/build/release"
bench_bin="$bin/tests/bench"

free_port() {  # asks the kernel for a free loopback port
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' \
    2>/dev/null || shuf -i 20000-60000 -n 1
}
cpu_ticks() {  # user+system CPU of a process and its threads, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
status_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
result_field() { sed -n "s/.*RESULT.* $2=\([^ ]*\).*/\1/p" "$1"; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
hz="$(getconf CLK_TCK)"

# --- the upstream: nginx over TLS 1.3, keep-alive, one worker --------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
nginx_port="$(free_port)"
slow_port="$(free_port)"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /v3/pipelines/ {
      default_type application/json;
      return 200 '{"pipeline_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","pipeline_name":"bench"}';
    }
  }
  # The slow upstream of the asynchrony check: the same answer after 1 s (echo module, which
  # nginx-light ships), without blocking the worker.
  server {
    listen 127.0.0.1:$slow_port ssl backlog=4096;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    location /v3/pipelines/ {
      default_type application/json;
      echo_sleep 1;
      echo -n '{"pipeline_id":"0f1e2d3c4b5a69788796a5b4c3d2e1f0","pipeline_name":"bench"}';
    }
  }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
nginx_master=$!
for _ in $(seq 100); do nginx_worker="$(pgrep -P "$nginx_master" | head -n 1 || true)"; [[ -n "$nginx_worker" ]] && break; sleep 0.05; done
upstream="https://127.0.0.1:$nginx_port"
stop_path="/v3/pipelines/0f1e2d3c4b5a69788796a5b4c3d2e1f0/stop?build_id=3c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b"

export HUAWEICLOUD_SDK_AK=BENCHACCESSKEY000001 HUAWEICLOUD_SDK_SK=bench-secret-key-not-checked
start_gateway() {  # start_gateway <endpoint> <ca> <extra flags...>; sets gw_pid gw_port gw_admin
  local endpoint="$1" ca="$2"; shift 2
  gw_port="$(free_port)"; gw_admin="$(free_port)"
  local t0; t0="$(date +%s%N)"
  "$bin/gateway/codearts-gateway" --endpoint="$endpoint" --ca-file="$ca" \
    --listen="127.0.0.1:$gw_port" --admin-listen="127.0.0.1:$gw_admin" \
    --max-in-flight=10000 --project-id=0123456789abcdef0123456789abcdef "$@" \
    >"$work/gateway.log" 2>&1 &
  gw_pid=$!
  pids+=("$gw_pid")
  "$bin/client/pipelinectl" health --target="127.0.0.1:$gw_port" --timeout=10s >/dev/null
  # From the fork to the log line written once the gateway serves (SERVING set).
  local serving_ts; serving_ts="$(sed -n 's/.*"ts":"\([^"]*\)".*"msg":"codearts-gateway serving".*/\1/p' "$work/gateway.log")"
  startup_ms="$(awk -v a="$t0" -v b="$(date -d "$serving_ts" +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e6}')"
}
stop_gateway() { kill -TERM "$gw_pid"; wait "$gw_pid" || true; }
call_counts() {  # "<failed> <cancelled>": the calls the gateway counted as not OK (/metrics)
  exec 3<>"/dev/tcp/127.0.0.1/$gw_admin"
  printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  awk '/^codearts_gateway_calls_total\{/ && !/code="OK"/ {
      if ($0 ~ /code="CANCELLED"/) cancelled += $2; else failed += $2 }
    END {printf "%d %d\n", failed, cancelled}' <&3
  exec 3<&-
}
# h2load abandons the requests in flight when its time is up: up to one CANCELLED call per
# stream is the generator's doing; any other call that is not OK is a failure.
calls_ok() {  # calls_ok "<counts before>" "<counts after>" <streams>
  local -a before=($1) after=($2)
  ((after[0] - before[0] == 0 && after[1] - before[1] <= $3))
}

# A gRPC Stop request for h2load: the 5-byte gRPC prefix, then the StopRequest message.
printf '\x00\x00\x00\x00\x44\x0a\x200f1e2d3c4b5a69788796a5b4c3d2e1f0\x12\x203c6a1e2f9b8d4c7e8a1b2c3d4e5f6a7b' \
  >"$work/stop.grpc"
printf '{}' >"$work/body"  # h2load cannot send an empty body file

# wrk's request: the Stop POST with the headers the gateway sends (static values: the client's
# cost is the same, the signing is the gateway's own work and counted there).
cat >"$work/stop.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "codearts-gateway/bench"
wrk.headers["X-Project-Id"] = "0123456789abcdef0123456789abcdef"
wrk.headers["X-Sdk-Date"] = "20261201T000000Z"
wrk.headers["Authorization"] = "SDK-HMAC-SHA256 Access=BENCHACCESSKEY000001, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
EOF
sweep_streams=(1 16 128 512)
# h2load's connections and streams per connection for N concurrent streams: up to 8 connections.
h2load_shape() { local n="$1" c; c=$((n < 8 ? n : 8)); echo "-c $c -m $((n / c))"; }
grpc_leg() {  # grpc_leg <pid> <port> <streams> <out> [gateway]: prints the CPU us per call
  local pid="$1" port="$2" n="$3" out="$4" c0 c1 calls counts0=""
  [[ "${5:-}" == gateway ]] && counts0="$(call_counts)"
  c0="$(cpu_ticks "$pid")"
  # shellcheck disable=SC2046
  h2load $(h2load_shape "$n") -D "$seconds" -d "$work/stop.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$port/codearts.pipeline.v1.PipelineService/Stop" >"$out" 2>&1
  c1="$(cpu_ticks "$pid")"
  h2load_ok "$out" || { echo "FAILED RUN: h2load $out" >&2; cat "$out" >&2; failures=$((failures + 1)); }
  if [[ -n "$counts0" ]] && ! calls_ok "$counts0" "$(call_counts)" "$n"; then
    echo "FAILED RUN: the gateway counted non-OK calls during $out" >&2; failures=$((failures + 1))
  fi
  calls="$(sed -n 's/^requests: [0-9]* total, [0-9]* started, \([0-9]*\) done.*/\1/p' "$out")"
  awk -v c="$((c1 - c0))" -v n="$calls" -v hz="$hz" 'BEGIN {printf "%.1f\n", c / hz / n * 1e6}'
}
wrk_leg() {  # wrk_leg <streams> <out>: prints wrk's own CPU us per request (keep-alive HTTPS)
  local n="$1" out="$2"
  python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("CPU_SECONDS", r.ru_utime + r.ru_stime)' \
    wrk -t1 -c "$n" -d "${seconds}s" -s "$work/stop.lua" "$upstream$stop_path" >"$out" 2>&1 || true
  local requests cpu
  requests="$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$out")"
  cpu="$(sed -n 's/^CPU_SECONDS \(.*\)/\1/p' "$out")"
  if [[ -z "$requests" || -z "$cpu" ]] || grep -q "Non-2xx\|Socket errors" "$out"; then
    echo "FAILED RUN: wrk $out" >&2; cat "$out" >&2; failures=$((failures + 1)); echo 0; return
  fi
  awk -v c="$cpu" -v n="$requests" 'BEGIN {printf "%.1f\n", c / n * 1e6}'
}

failures=0
check() {  # check <what> <result file>: a run with any non-OK call fails the benchmark
  if ! grep -q "RESULT" "$2" || [[ "$(result_field "$2" failed)" != "0" ]]; then
    echo "FAILED RUN: $1 had non-OK calls or no result:" >&2; cat "$2" >&2; failures=$((failures + 1))
  fi
}
h2load_rps() { sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$1"; }
h2load_ok() {  # every request answered 2xx, none failed or errored
  grep -q "requests: .* 0 failed, 0 errored" "$1" && grep -q "status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" "$1"
}

for run in $(seq "$runs"); do
  echo "== run $run of $runs" >&2
  start_gateway "$upstream" "$work/cert.pem"
  echo "$startup_ms" >>"$work/startup_ms"
  sleep 1  # idle, then read the footprint
  status_field "$gw_pid" VmRSS >>"$work/idle_rss_kb"
  # Idle CPU: ten seconds without a call must cost (next to) nothing: no polling, no spinning.
  idle0="$(cpu_ticks "$gw_pid")"; sleep 10; idle1="$(cpu_ticks "$gw_pid")"
  awk -v c="$((idle1 - idle0))" -v hz="$hz" 'BEGIN {printf "%.3f\n", c / hz / 10 * 100}' \
    >>"$work/idle_cpu_percent"

  # The concurrency sweep against the floor, every leg in this run.
  "$bench_bin/floor_grpc_server" --listen=127.0.0.1:0 >"$work/floor.out" 2>&1 &
  floor_pid=$!
  pids+=("$floor_pid")
  for _ in $(seq 100); do grep -q "listening on" "$work/floor.out" && break; sleep 0.05; done
  floor_port="$(sed -n 's/^listening on \([0-9]*\)/\1/p' "$work/floor.out")"
  # The same server handing each answer to an Asio thread, as the gateway does: the hand-off's
  # own cost, for the breakdown.
  "$bench_bin/floor_grpc_server" --listen=127.0.0.1:0 --hop >"$work/hop.out" 2>&1 &
  hop_pid=$!
  pids+=("$hop_pid")
  for _ in $(seq 100); do grep -q "listening on" "$work/hop.out" && break; sleep 0.05; done
  hop_port="$(sed -n 's/^listening on \([0-9]*\)/\1/p' "$work/hop.out")"
  for n in "${sweep_streams[@]}"; do
    grpc_leg "$gw_pid" "$gw_port" "$n" "$work/sweep_gw_$n" gateway >>"$work/sweep_gw_us_$n"
    grpc_leg "$floor_pid" "$floor_port" "$n" "$work/sweep_floor_$n" >>"$work/sweep_floor_us_$n"
    grpc_leg "$hop_pid" "$hop_port" "$n" "$work/sweep_hop_$n" >>"$work/sweep_hop_us_$n"
    wrk_leg "$n" "$work/sweep_wrk_$n" >>"$work/sweep_wrk_us_$n"
    paste -d' ' <(tail -n 1 "$work/sweep_gw_us_$n") <(tail -n 1 "$work/sweep_floor_us_$n") \
      <(tail -n 1 "$work/sweep_wrk_us_$n") |
      awk '{printf "%.2f\n", ($2 + $3 > 0) ? $1 / ($2 + $3) : 0}' >>"$work/sweep_ratio_$n"
    sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$work/sweep_gw_$n" >>"$work/sweep_gw_rps_$n"
  done
  kill -TERM "$floor_pid" "$hop_pid"; wait "$floor_pid" "$hop_pid" || true

  # Throughput and CPU at saturation, h2load for both legs (HTTP/1.1+TLS to nginx; gRPC to the
  # gateway, which calls nginx): the same generator, the same concurrency.
  h2load --h1 -c "$concurrency" -m 1 -D "$seconds" --warm-up-time=1 -d "$work/body" \
    -H 'content-type: application/json' "$upstream$stop_path" >"$work/h2load_direct" 2>&1
  h2load_ok "$work/h2load_direct" || { echo "FAILED RUN: h2load direct" >&2; cat "$work/h2load_direct" >&2; failures=$((failures + 1)); }
  h2load_rps "$work/h2load_direct" >>"$work/direct_rps"

  counts0="$(call_counts)"
  gw_cpu0="$(cpu_ticks "$gw_pid")"; ng_cpu0="$(cpu_ticks "$nginx_worker")"
  h2load -c "$concurrency" -m 1 -D "$seconds" -d "$work/stop.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$gw_port/codearts.pipeline.v1.PipelineService/Stop" >"$work/h2load_gw" 2>&1
  gw_cpu1="$(cpu_ticks "$gw_pid")"; ng_cpu1="$(cpu_ticks "$nginx_worker")"
  calls="$(sed -n 's/^requests: [0-9]* total, [0-9]* started, \([0-9]*\) done.*/\1/p' "$work/h2load_gw")"
  h2load_ok "$work/h2load_gw" && calls_ok "$counts0" "$(call_counts)" "$concurrency" \
    || { echo "FAILED RUN: h2load gateway" >&2; cat "$work/h2load_gw" >&2; failures=$((failures + 1)); }
  h2load_rps "$work/h2load_gw" >>"$work/gateway_rps"
  # The gateway's CPU per call, and nginx's per request it served for those calls (same run).
  awk -v c="$((gw_cpu1 - gw_cpu0))" -v n="$calls" -v hz="$hz" 'BEGIN {printf "%.1f\n", c / hz / n * 1e6}' >>"$work/gw_cpu_us"
  awk -v c="$((ng_cpu1 - ng_cpu0))" -v n="$calls" -v hz="$hz" 'BEGIN {printf "%.1f\n", c / hz / n * 1e6}' >>"$work/nginx_cpu_us"

  # The same comparison with the project's own generator, which checks every status.
  "$bin/client/pipelinectl" bench --target="127.0.0.1:$gw_port" --concurrency="$concurrency" \
    --duration="${seconds}s" >"$work/pctl_sat" 2>&1 || true
  check "pipelinectl bench --concurrency=$concurrency" "$work/pctl_sat"
  result_field "$work/pctl_sat" rps >>"$work/pctl_gateway_rps"
  "$bench_bin/https_load" --endpoint="$upstream" --ca-file="$work/cert.pem" \
    --concurrency="$concurrency" --duration="${seconds}s" >"$work/https_sat" 2>&1 || true
  check "https_load --concurrency=$concurrency" "$work/https_sat"
  result_field "$work/https_sat" rps >>"$work/pctl_direct_rps"

  # Added latency at a fixed offered load of 1,000 calls/s.
  "$bin/client/pipelinectl" bench --target="127.0.0.1:$gw_port" --rate=1000 \
    --duration="${seconds}s" >"$work/pctl_rate" 2>&1 || true
  check "pipelinectl bench --rate=1000" "$work/pctl_rate"
  "$bench_bin/https_load" --endpoint="$upstream" --ca-file="$work/cert.pem" --rate=1000 \
    --duration="${seconds}s" >"$work/https_rate" 2>&1 || true
  check "https_load --rate=1000" "$work/https_rate"
  for p in p50_us p99_us; do
    result_field "$work/pctl_rate" "$p" >>"$work/gw_rate_$p"
    result_field "$work/https_rate" "$p" >>"$work/direct_rate_$p"
  done

  # Sporadic traffic: 20 calls each after 1.1 s of idle, against back-to-back calls.
  "$bin/client/pipelinectl" bench --target="127.0.0.1:$gw_port" --concurrency=1 \
    --duration=3s >"$work/busy" 2>&1 || true
  check "back-to-back calls" "$work/busy"
  "$bin/client/pipelinectl" bench --target="127.0.0.1:$gw_port" --rate=0.909 --calls=21 \
    >"$work/sporadic" 2>&1 || true
  check "sporadic calls" "$work/sporadic"
  result_field "$work/busy" p99_us >>"$work/busy_p99_us"
  result_field "$work/sporadic" p99_us >>"$work/sporadic_p99_us"
  stop_gateway

  # Asynchrony: 2,000 calls at once against an upstream that answers after 1 s. A few calls
  # first, so that the thread count is a warmed-up gateway's.
  start_gateway "https://127.0.0.1:$slow_port" "$work/cert.pem" --max-connections=2500
  "$bin/client/pipelinectl" bench --target="127.0.0.1:$gw_port" --concurrency=2 --calls=4 \
    >"$work/warm" 2>&1 || true
  check "warm-up calls" "$work/warm"
  threads_before="$(status_field "$gw_pid" Threads)"
  "$bin/client/pipelinectl" bench --target="127.0.0.1:$gw_port" --concurrency=2000 --calls=2000 \
    --channels=4 --timeout=10s >"$work/burst" 2>&1 || true
  check "2,000 concurrent calls" "$work/burst"
  threads_after="$(status_field "$gw_pid" Threads)"
  result_field "$work/burst" seconds >>"$work/burst_seconds"
  echo "$((threads_after - threads_before))" >>"$work/burst_thread_growth"
  status_field "$gw_pid" VmHWM >>"$work/burst_peak_rss_kb"
  stop_gateway
done

# User-space instructions per call under callgrind: the same comparison as the sweep without the
# machine's noise (instruction counts repeat exactly), but without the kernel's share. The server
# legs count only the measured calls (callgrind_control zeroes the counters after a warm-up);
# wrk's is the difference between a 2 s and a 4 s run, which cancels its start-up.
echo "== instructions per call (callgrind)" >&2
callgrind_total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; }
grpc_instructions() {  # grpc_instructions <port> <pid> <name>: user instructions per call at 16 streams
  local port="$1" pid="$2" name="$3" load=(-c 4 -m 4 -d "$work/stop.grpc" -H 'content-type: application/grpc' -H 'te: trailers')
  h2load "${load[@]}" -n 500 "http://127.0.0.1:$port/codearts.pipeline.v1.PipelineService/Stop" >"$work/cg_warm_$name" 2>&1
  callgrind_control -z "$pid" >/dev/null
  h2load "${load[@]}" -n 2000 "http://127.0.0.1:$port/codearts.pipeline.v1.PipelineService/Stop" >"$work/cg_load_$name" 2>&1
  h2load_ok "$work/cg_load_$name" || { echo "FAILED RUN: callgrind leg $name" >&2; failures=$((failures + 1)); }
  callgrind_control -d "$pid" >/dev/null
  kill -TERM "$pid"; wait "$pid" || true
  echo $(($(callgrind_total "$work/cg.$name.1") / 2000))
}
cg_port="$(free_port)"
valgrind --tool=callgrind --callgrind-out-file="$work/cg.gateway" \
  "$bin/gateway/codearts-gateway" --endpoint="$upstream" --ca-file="$work/cert.pem" \
  --listen="127.0.0.1:$cg_port" --admin-listen=127.0.0.1:0 --max-in-flight=10000 \
  --project-id=0123456789abcdef0123456789abcdef >"$work/cg_gateway.log" 2>&1 &
cg_pid=$!
"$bin/client/pipelinectl" health --target="127.0.0.1:$cg_port" --timeout=60s >/dev/null
cg_gateway="$(grpc_instructions "$cg_port" "$cg_pid" gateway)"
cg_port="$(free_port)"
valgrind --tool=callgrind --callgrind-out-file="$work/cg.floor" \
  "$bench_bin/floor_grpc_server" --listen="127.0.0.1:$cg_port" >"$work/cg_floor.log" 2>&1 &
cg_pid=$!
for _ in $(seq 600); do grep -q "listening on" "$work/cg_floor.log" && break; sleep 0.1; done
cg_floor="$(grpc_instructions "$cg_port" "$cg_pid" floor)"
for d in 2 4; do
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.wrk$d" wrk -t1 -c 16 -d "${d}s" \
    -s "$work/stop.lua" "$upstream$stop_path" >"$work/cg_wrk$d" 2>&1 || true
done
wrk_requests() { sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$1"; }
cg_wrk="$(awk -v a="$(callgrind_total "$work/cg.wrk2")" -v b="$(callgrind_total "$work/cg.wrk4")" \
  -v ra="$(wrk_requests "$work/cg_wrk2")" -v rb="$(wrk_requests "$work/cg_wrk4")" \
  'BEGIN {printf "%d", (rb > ra) ? (b - a) / (rb - ra) : 0}')"

m() { median <"$work/$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {ok = (op == "<=") ? v <= t : v >= t; print ok ? "met" : "MISSED"}'; }

gw_cpu="$(m gw_cpu_us)"; ng_cpu="$(m nginx_cpu_us)"; cpu_ratio="$(ratio "$gw_cpu" "$ng_cpu")"
direct_rps="$(m direct_rps)"; gateway_rps="$(m gateway_rps)"; rps_ratio="$(ratio "$gateway_rps" "$direct_rps")"
pctl_direct="$(m pctl_direct_rps)"; pctl_gw="$(m pctl_gateway_rps)"; pctl_ratio="$(ratio "$pctl_gw" "$pctl_direct")"
add50="$(awk -v a="$(m gw_rate_p50_us)" -v b="$(m direct_rate_p50_us)" 'BEGIN {printf "%.3f", (a - b) / 1000}')"
add99="$(awk -v a="$(m gw_rate_p99_us)" -v b="$(m direct_rate_p99_us)" 'BEGIN {printf "%.3f", (a - b) / 1000}')"
sporadic_add="$(awk -v a="$(m sporadic_p99_us)" -v b="$(m busy_p99_us)" 'BEGIN {printf "%.3f", (a - b) / 1000}')"
burst_s="$(m burst_seconds)"; burst_threads="$(m burst_thread_growth)"
burst_rss="$(awk -v k="$(m burst_peak_rss_kb)" 'BEGIN {printf "%.1f", k / 1024}')"
idle_rss="$(awk -v k="$(m idle_rss_kb)" 'BEGIN {printf "%.1f", k / 1024}')"
startup="$(m startup_ms)"

echo
echo "codearts-gateway benchmark: median of $runs runs, ${seconds} s per load run, concurrency $concurrency, $(nproc) cores"
printf '%-58s %-26s %-34s %s\n' "figure" "measured" "reference (same run)" "target"
printf '%-58s %-26s %-34s %s\n' \
  "CPU per Stop call, gateway process (user+sys)" "$gw_cpu us" "nginx: $ng_cpu us per request" "ratio $cpu_ratio <= 2.0: $(verdict "$cpu_ratio" "<=" 2.0)" \
  "Throughput via gateway (h2load, gRPC)" "$gateway_rps calls/s" "direct HTTPS: $direct_rps req/s" "$rps_ratio >= 0.60: $(verdict "$rps_ratio" ">=" 0.60)" \
  "Throughput via gateway (pipelinectl bench / https_load)" "$pctl_gw calls/s" "direct HTTPS: $pctl_direct req/s" "$pctl_ratio >= 0.60: $(verdict "$pctl_ratio" ">=" 0.60)" \
  "Latency added at 1,000 calls/s, p50" "+$add50 ms" "direct p50 $(m direct_rate_p50_us) us" "<= 0.2 ms: $(verdict "$add50" "<=" 0.2)" \
  "Latency added at 1,000 calls/s, p99" "+$add99 ms" "direct p99 $(m direct_rate_p99_us) us" "<= 1 ms: $(verdict "$add99" "<=" 1.0)" \
  "2,000 concurrent calls, upstream answers after 1 s" "$burst_s s wall" "" "<= 1.5 s: $(verdict "$burst_s" "<=" 1.5)" \
  "  gateway threads added during the burst" "$burst_threads" "" "0: $(verdict "$burst_threads" "<=" 0)" \
  "  peak RSS" "$burst_rss MiB" "" "<= 150 MiB: $(verdict "$burst_rss" "<=" 150)" \
  "Idle RSS" "$idle_rss MiB" "" "<= 20 MiB: $(verdict "$idle_rss" "<=" 20)" \
  "Start to SERVING" "$startup ms" "" "<= 100 ms: $(verdict "$startup" "<=" 100)" \
  "Call after 1.1 s idle, p99 over 20, minus busy p99" "+$sporadic_add ms" "busy p99 $(m busy_p99_us) us" "<= 2 ms: $(verdict "$sporadic_add" "<=" 2.0)" \
  "Idle CPU over 10 s" "$(m idle_cpu_percent) % of a core" "" "<= 0.1 %: $(verdict "$(m idle_cpu_percent)" "<=" 0.1)"
echo
echo "CPU per call against the floor (same run; floor = trivial CQ gRPC server + wrk's client cost):"
printf '%-9s %-12s %-15s %-15s %-14s %-8s %-16s %s\n' "streams" "gateway us" "floor gRPC us" "wrk HTTPS us" "(gRPC+hop us)" "ratio" "gateway calls/s" "target"
for n in "${sweep_streams[@]}"; do
  target="-"
  if [[ "$n" == 16 || "$n" == 128 ]]; then target="<= 1.5: $(verdict "$(m "sweep_ratio_$n")" "<=" 1.5)"; fi
  printf '%-9s %-12s %-15s %-15s %-14s %-8s %-16s %s\n' "$n" "$(m "sweep_gw_us_$n")" \
    "$(m "sweep_floor_us_$n")" "$(m "sweep_wrk_us_$n")" "$(m "sweep_hop_us_$n")" \
    "$(m "sweep_ratio_$n")" "$(m "sweep_gw_rps_$n")" "$target"
done
echo
echo "User-space instructions per call (callgrind, 2,000 calls at 16 streams; no kernel time):"
echo "  gateway $cg_gateway, floor gRPC $cg_floor + wrk $cg_wrk = $((cg_floor + cg_wrk)):" \
  "ratio $(awk -v g="$cg_gateway" -v f="$((cg_floor + cg_wrk))" 'BEGIN {printf "%.2f", (f > 0) ? g / f : 0}')"
echo
echo "micro-benchmarks (Google Benchmark, one run):"
"$bin/tests/bench/micro_bench" --benchmark_min_time=0.2 2>/dev/null | sed -n '/^Bm/p'
if ((failures > 0)); then
  echo "benchmark FAILED: $failures run(s) had non-OK calls (figures above are not valid)"
  exit 1
fi
