#!/usr/bin/env bash
# Hello's CPU per request with the client's CPU fixed: on the worker's own CPU ("same"),
# and on another one ("other"). Unpinned, the scheduler moves between the two from one run
# to the next, and the hello figures of bench/run.sh with them (a worker sharing its CPU with
# wrk costs half as much system time as one that does not); pinned, each is steady. One
# worker (nginx: one worker process), wrk -t1 -c32, the servers interleaved round by round:
# rsgi-server with --io-uring (the default) and with --io-uring=false, and nginx `return
# 200`. CPU is every process of the server's tree, from /proc (bench/procstat.py),
# counted in clock ticks (10 ms): about 1% of a 6 s run.
#
#   bench/placement.sh [ROUNDS] [SECONDS]     (default 3 rounds of 6 s; needs 2 CPUs)
#
# Prints a table, and writes it to bench/out/placement.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
secs=${2:-6}
py=$root/.venv/bin/python
bin=${SERVER:-$root/target/release/rsgi-server}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
out=$root/bench/out/placement
mkdir -p "$out"
[ -n "${SERVER:-}" ] || (cd "$root" && cargo build --release --quiet)
[ "$(nproc)" -ge 2 ] || { echo "placement.sh needs 2 CPUs" >&2; exit 1; }

port=18170
cat >"$out/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $out/nginx.pid;
error_log $out/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000000;
    client_body_temp_path $out;
    proxy_temp_path $out;
    fastcgi_temp_path $out;
    uwsgi_temp_path $out;
    scgi_temp_path $out;
    server { listen 127.0.0.1:$port; location / { return 200 "Hello, World!\n"; } }
}
EOF

# server NAME -> its command, bound to 127.0.0.1:$port, one worker
server() {
  case $1 in
    rsgi) echo "$bin hello:application --workers 1 --bind 127.0.0.1:$port --virtualenv $root/.venv" ;;
    rsgi-no-uring) echo "$bin hello:application --workers 1 --bind 127.0.0.1:$port --virtualenv $root/.venv --io-uring=false" ;;
    nginx) echo "$nginx_bin -p $out/ -c $out/nginx.conf" ;;
  esac
}

# measure NAME PLACEMENT -> one line: NAME PLACEMENT requests cpu_seconds
measure() {
  local client_cpu=0
  [ "$2" = other ] && client_cpu=1
  (cd "$root/bench/apps" && exec setsid taskset -c 0 $(server "$1")) >"$out/$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
  taskset -c $client_cpu wrk -t1 -c32 -d2s "http://127.0.0.1:$port/" >/dev/null
  local before after report
  before=$("$py" "$root/bench/procstat.py" "$pid")
  report=$(taskset -c $client_cpu wrk -t1 -c32 -d"${secs}s" "http://127.0.0.1:$port/")
  after=$("$py" "$root/bench/procstat.py" "$pid")
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local requests
  requests=$(awk '/requests in/ {print $1}' <<<"$report")
  "$py" -c 'import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(sys.argv[3], sys.argv[4], sys.argv[5], a["cpu_s"] - b["cpu_s"])' \
    "$before" "$after" "$1" "$2" "$requests"
}

for _ in $(seq "$rounds"); do
  for placement in same other; do
    for name in rsgi rsgi-no-uring nginx; do
      measure $name $placement
    done
  done
done | tee "$out/raw.txt" | "$py" -c '
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in sys.stdin:
    name, placement, requests, cpu = line.split()
    runs[placement, name].append((1e6 * float(cpu) / int(requests), int(requests)))
lines = ["| client CPU | server | CPU µs/request (median) | each round | requests/s |", "|---|---|--:|---|--:|"]
for (placement, name), rs in runs.items():
    cpu = statistics.median(r[0] for r in rs)
    rate = statistics.median(r[1] for r in rs) / float(sys.argv[1])
    each = ", ".join(f"{r[0]:.2f}" for r in rs)
    lines.append(f"| {placement} | {name} | {cpu:.2f} | {each} | {rate:,.0f} |")
print("\n".join(lines))
' "$secs" | tee "$out/placement.md"
