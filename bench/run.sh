#!/usr/bin/env bash
# Benchmark rsgi-server against gunicorn (sync workers) in one run, on the same machine,
# with the same apps, worker count and load, and write bench/RESULTS.md.
#
# For each workload, for each server: start it on a free 127.0.0.1 port, wait until it
# answers, check the response body, warm up with wrk, sample the server's process tree
# (bench/procstat.py), run the measured wrk (bench/wrk-report.lua prints the figures),
# sample again, stop the server with SIGTERM and check that it and its workers are gone.
# Logs and raw wrk output go to bench/out/ (not committed).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]
  -d, --duration D     measured wrk run per server and workload (default 10s)
  -W, --warmup D       wrk warm-up before each measured run (default 2s)
  -w, --workers N      worker processes for both servers (default 2)
  -c, --connections N  wrk connections (default 64)
  -t, --threads N      wrk threads (default 2)
      --timeout D      wrk per-request timeout; slower requests count as errors (default 2s)
      --servers LIST   space-separated, from: rsgi rsgi-close gunicorn (default: all three;
                       rsgi-close is rsgi-server with --keep-alive 0, which like gunicorn's
                       sync worker closes the connection after every response)
      --workloads LIST space-separated, from: hello big (default "hello big")
      --rsgi-args A    extra arguments for rsgi-server (word-split)
      --gunicorn-args A  extra arguments for gunicorn (word-split)
      --out FILE       report file (default bench/RESULTS.md)
      --no-build       use the existing release binary instead of cargo build --release
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command_line="bench/run.sh${*:+ $*}"

duration=10s warmup=2s workers=2 connections=64 threads=2 timeout=2s
servers="rsgi rsgi-close gunicorn" workloads="hello big" rsgi_args="" gunicorn_args=""
out=$root/bench/RESULTS.md build=1
while [ $# -gt 0 ]; do
  case $1 in
    -d | --duration) duration=$2; shift ;;
    -W | --warmup) warmup=$2; shift ;;
    -w | --workers) workers=$2; shift ;;
    -c | --connections) connections=$2; shift ;;
    -t | --threads) threads=$2; shift ;;
    --timeout) timeout=$2; shift ;;
    --servers) servers=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --rsgi-args) rsgi_args=$2; shift ;;
    --gunicorn-args) gunicorn_args=$2; shift ;;
    --out) out=$(realpath -m "$2"); shift ;;
    --no-build) build=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

cd "$root"
# Messages go to fd 3, the original stderr, even from inside a redirected command.
exec 3>&2
say() { printf 'bench: %s\n' "$*" >&3; }
die() { printf 'bench: error: %s\n' "$*" >&3; exit 1; }

for s in $servers; do [[ $s == rsgi || $s == rsgi-close || $s == gunicorn ]] || die "unknown server '$s'"; done
for w in $workloads; do [[ $w == hello || $w == big ]] || die "unknown workload '$w'"; done

scripts/setup >&2
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
py=$root/.venv/bin/python
outdir=$root/bench/out
mkdir -p "$outdir"
results=$outdir/results.jsonl
: >"$results"

# --- Server processes: always cleaned up ----------------------------------------------------
# Each server is started with setsid, so it leads its own process group and its workers are
# in that group: `kill -- -PID` reaches all of them.
started=()
# Long commands (wrk) run in the background and are waited for, so that a signal to this
# script is acted on at once rather than when the command ends (bash defers traps while a
# foreground command runs).
child=""
interruptible() {
  local rc=0
  "$@" &
  child=$!
  wait "$child" || rc=$?
  child=""
  return "$rc"
}
gone() { # true once PID has exited (a zombie counts as exited)
  local stat
  stat=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
  [ "${stat%% *}" = Z ]
}
others() { # live members of process group $1 other than $1 itself (its workers)
  local p
  for p in $(pgrep -g "$1"); do [ "$p" = "$1" ] || gone "$p" || echo "$p"; done
}
stopped() { gone "$1" && [ -z "$(others "$1")" ]; }
cleanup() {
  local pid
  [ -z "$child" ] || kill "$child" 2>/dev/null || true
  for pid in "${started[@]}"; do
    if ! stopped "$pid"; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      say "killed leftover process group $pid"
    fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Binaries and apps ----------------------------------------------------------------------
rsgi_bin=""
if [[ " $servers " == *" rsgi"[\ -]* ]]; then
  if [ "$build" = 1 ]; then
    say "cargo build --release"
    cargo build --release --locked >&2
  fi
  target_dir=$(cargo metadata --format-version 1 --no-deps |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  rsgi_bin=$target_dir/release/rsgi-server
  [ -x "$rsgi_bin" ] || die "$rsgi_bin not found (build it, or drop --no-build)"
fi
gunicorn_bin=$root/.venv/bin/gunicorn

# hello is the project's demo app; the benchmark's own apps live in bench/apps.
app_dir() { case $1 in hello) echo pyapps ;; big) echo bench/apps ;; esac; }
app_spec() { case $1 in hello) echo hello:application ;; big) echo big:application ;; esac; }
expected_body() { # the exact body each app must return, checked before measuring
  case $1 in
    hello) printf 'Hello, World!\n' ;;
    big) "$py" -B -c 'import sys; sys.path.insert(0, "bench/apps"); import big; sys.stdout.buffer.write(big.BODY)' ;;
  esac
}

server_cmd() { # server workload port -> the command line, one word per line
  local dir spec
  dir=$(app_dir "$2") spec=$(app_spec "$2")
  # shellcheck disable=SC2086 # the extra args are word-split on purpose
  case $1 in
    rsgi) printf '%s\n' "$rsgi_bin" --chdir "$dir" --workers "$workers" --bind "127.0.0.1:$3" $rsgi_args "$spec" ;;
    rsgi-close) printf '%s\n' "$rsgi_bin" --chdir "$dir" --workers "$workers" --bind "127.0.0.1:$3" --keep-alive 0 $rsgi_args "$spec" ;;
    gunicorn) printf '%s\n' "$gunicorn_bin" --chdir "$dir" -w "$workers" -b "127.0.0.1:$3" $gunicorn_args "$spec" ;;
  esac
}

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- One measurement --------------------------------------------------------------------------
run_one() {
  local server=$1 workload=$2 port log pid cmd i
  port=$(free_port)
  log=$outdir/$server-$workload.log
  mapfile -t cmd < <(server_cmd "$server" "$workload" "$port")
  say "$server/$workload: starting: ${cmd[*]#"$root/"}"
  setsid "${cmd[@]}" >"$log" 2>&1 </dev/null &
  pid=$!
  started+=("$pid")

  # Ready = answers GET / with 200, within 30 s; fail at once if the server exits.
  for ((i = 0; ; i++)); do
    if gone "$pid"; then
      local status=0
      wait "$pid" || status=$?
      say "$server exited before it answered a request (exit status $status); last lines of $log:"
      if [ -s "$log" ]; then tail -n 20 "$log" | sed 's/^/    /' >&2; else say "    (the log is empty)"; fi
      die "$server/$workload: server did not start"
    fi
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null && break
    [ "$i" -lt 60 ] || die "$server/$workload: no answer on 127.0.0.1:$port after 30 s (log: $log)"
    sleep 0.5
  done
  cmp -s <(curl -fsS --max-time 5 "http://127.0.0.1:$port/") <(expected_body "$workload") ||
    die "$server/$workload: the response body is not the app's body"
  # Does the server keep the connection open between requests? (wrk reuses it if so.)
  local keepalive=no trace
  trace=$(curl -sv -o /dev/null -o /dev/null --max-time 5 "http://127.0.0.1:$port/" "http://127.0.0.1:$port/" 2>&1) || true
  [[ $trace == *"Re-using existing connection"* ]] && keepalive=yes

  local url=http://127.0.0.1:$port/ before after
  interruptible wrk -t"$threads" -c"$connections" -d"$warmup" --timeout "$timeout" "$url" >"$outdir/$server-$workload.warmup" 2>&1 ||
    die "$server/$workload: wrk warm-up failed (see $outdir/$server-$workload.warmup)"
  before=$("$py" bench/procstat.py "$pid")
  say "$server/$workload: measuring for $duration"
  interruptible wrk -t"$threads" -c"$connections" -d"$duration" --timeout "$timeout" --latency \
    -s bench/wrk-report.lua "$url" >"$outdir/$server-$workload.wrk" 2>&1 ||
    die "$server/$workload: wrk failed (see $outdir/$server-$workload.wrk)"
  after=$("$py" bench/procstat.py "$pid")
  gone "$pid" && die "$server/$workload: server died during the measured run (log: $log)"

  # Stop: SIGTERM is the graceful stop for both; allow 35 s, then SIGKILL the group.
  local stop=clean status=0
  kill -TERM "$pid"
  for ((i = 0; i < 350; i++)); do
    stopped "$pid" && break
    sleep 0.1
  done
  if ! stopped "$pid"; then
    stop="killed (still running 35 s after SIGTERM)"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" || status=$?
  [ "$stop" = clean ] && [ "$status" -ne 0 ] && stop="exit status $status after SIGTERM"
  say "$server/$workload: stopped: $stop"

  "$py" - "$server" "$workload" "$(app_dir "$workload")/$(app_spec "$workload" | cut -d: -f1).py" \
    "${cmd[*]#"$root/"}" "$stop" "$keepalive" "$before" "$after" "$outdir/$server-$workload.wrk" >>"$results" <<'EOF'
import json, sys
server, workload, app, cmd, stop, keepalive, before, after, wrk_out = sys.argv[1:]
wrk = None
for line in open(wrk_out):
    if line.startswith("WRK_JSON "):
        wrk = json.loads(line[len("WRK_JSON "):])
if wrk is None:
    sys.exit(f"bench: no WRK_JSON line in {wrk_out}")
print(json.dumps({"server": server, "workload": workload, "app": app, "command": cmd,
                  "stop": stop, "keepalive": keepalive, "before": json.loads(before), "after": json.loads(after),
                  "wrk": wrk}))
EOF
}

for workload in $workloads; do
  for server in $servers; do
    run_one "$server" "$workload"
  done
done

# --- Report -----------------------------------------------------------------------------------
rsgi_version=unknown
if [ -n "$rsgi_bin" ]; then
  rsgi_version=$("$rsgi_bin" --version 2>/dev/null | head -n 1 || true)
  rsgi_version="${rsgi_version:-unknown} (git $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock build.rs || echo +dirty))"
fi
"$py" bench/report.py "$results" \
  --command "$command_line" \
  --param duration="$duration" --param warmup="$warmup" --param workers="$workers" \
  --param loadavg="$loadavg_start -> $(cut -d' ' -f1-3 /proc/loadavg)" \
  --param connections="$connections" --param threads="$threads" --param timeout="$timeout" \
  --version "rsgi-server=$rsgi_version" \
  --version "gunicorn=$("$gunicorn_bin" --version 2>&1 | head -n 1)" \
  --version "python=$("$py" -c 'import sys; print(sys.version.split()[0], sys.executable)')" \
  --version "wrk=$(wrk -v 2>&1 | head -n 1 || true)" \
  >"$out"
say "wrote ${out#"$root/"}"
