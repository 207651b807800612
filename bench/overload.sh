#!/usr/bin/env bash
# The overload p99 of issue 16 item 5: an app with a fixed 10 ms service time
# (bench/apps/sleep.py) on `--workers 2 --threads 1` (capacity about 200 requests/s),
# offered about 4x its capacity by wrk (-t2 -c64, each connection waiting THINK_MS = 80 ms
# after each response: at most 64 x 12.5 = 800 requests/s), with and without
# `--max-queue-time`. wrk's own latency mixes the shed 503s (answered in microseconds) with
# the 200s, so every request carries its send time (bench/wrk-stamped.lua) and the latency
# of each status is read back from the server's JSON access log (bench/overload.py). The
# issue asks that with shedding the p99 of the 200s stays within
# 2 x (max-queue-time + app time) = 220 ms for the defaults.
#
#   bench/overload.sh [MAX_QUEUE_MS] [SECS]      # defaults: 100, 15
#   THINK_MS=0 bench/overload.sh                 # wrk's plain closed loop
#
# Builds the release binary first (honours CARGO_TARGET_DIR) unless SERVER names one.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
limit=${1:-100}
secs=${2:-15}
think=${THINK_MS:-80}
conns=${CONNS:-64}
if [ -n "${SERVER:-}" ]; then
  bin=$SERVER
else
  target=${CARGO_TARGET_DIR:-$root/target}
  (cd "$root" && cargo build --release --quiet)
  bin=$target/release/rsgi-server
fi
python=${RSGI_TEST_PYTHON:-$root/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Starts the server with extra options "$@", runs wrk against it, stops it, reports.
run() {
  local label=$1
  shift
  rm -f "$work/access.log"
  "$bin" --chdir "$root/bench/apps" -w 2 --threads 1 -b 127.0.0.1:0 --keep-alive 60 \
    --backlog 2048 --log-format json --access-logfile "$work/access.log" "$@" sleep \
    2>"$work/stderr" &
  local pid=$!
  local port=""
  for _ in $(seq 1 200); do
    if [ "$(grep -c "Worker ready" "$work/stderr" 2>/dev/null)" -ge 2 ]; then
      port=$(grep -o 'Listening at: http://127.0.0.1:[0-9]*' "$work/stderr" | head -1 | sed 's/.*://')
      break
    fi
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$work/stderr" >&2; kill "$pid"; exit 1; }
  echo "== $label"
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$root/bench/wrk-stamped.lua" \
    "http://127.0.0.1:$port/" -- "$think" | grep -E "Latency  |99%|Requests/sec|Non-2xx"
  kill -TERM "$pid"
  wait "$pid" || true
  "$python" "$root/bench/overload.py" "$work/access.log" 2
}

run "no shedding"
run "--max-queue-time $limit" --max-queue-time "$limit"
