#!/usr/bin/env bash
# Benchmark rsgi-server against gunicorn (sync and gthread), granian, uWSGI, bjoern, meinheld,
# pyruvate and nginx (the no-Python ceiling) in one run, on the same machine, with the same apps, worker count and
# load, and write bench/RESULTS.md. See bench/README.md.
#
# For each workload, for each server: start it on a free 127.0.0.1 port, wait until it
# answers, check the response body, warm up with wrk, sample the server's process tree
# (bench/procstat.py, and a second procstat sampling every 0.5 s for peak RSS), run the
# measured wrk (bench/wrk-report.lua prints the figures), sample again, stop the server with
# SIGTERM and check that it and its workers are gone. A server that does not start or fails
# a check gives a FAILED row with the reason, and the run goes on.
# Logs and raw output go to bench/out/ (not committed).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]
  -d, --duration D     measured wrk run per server and workload (default 8s)
  -W, --warmup D       wrk warm-up before each measured run (default 2s)
  -r, --rounds N       measure every server and workload N times, rounds outermost so the
                       servers interleave; the report gives each figure's median over the
                       rounds and every round's requests/s and CPU per request (default 1)
  -w, --workers N      worker processes for every server (default 2)
  -c, --connections N  wrk connections (default 64)
  -t, --threads N      wrk threads (default 2)
      --timeout D      wrk per-request timeout; slower requests count as errors (default 2s)
      --worker-threads N  threads per worker for the threaded servers (default 8): gunicorn
                       gthread always (--threads N); on the sleep workload also rsgi-server
                       (--threads N) and granian (--blocking-threads N)
      --slowloris N    slow connections held open during the slowloris workload (default 200)
      --servers LIST   space-separated, from: rsgi gunicorn gthread granian uwsgi bjoern
                       meinheld pyruvate nginx whitenoise rsgi-close rsgi-log rsgi-json rsgi-wheel rsgi-uwsgi
                       rsgi-proxy uwsgi-uwsgi gunicorn-proxy (default: all but these
                       variants: rsgi-server with
                       --keep-alive 0; with the access log, default format, to a file; with
                       the access log and --log-format json; rsgi-server pip-installed from
                       its wheel into a fresh virtualenv, run by the venv's python, instead of
                       the standalone binary; and rsgi-server behind nginx on a Unix socket,
                       with uwsgi_pass and the stock uwsgi_params, or with proxy_pass and
                       upstream keep-alive, and as peers of those two uWSGI behind nginx's
                       uwsgi_pass and gunicorn behind its proxy_pass: hello only, the figures
                       are nginx's and the server's together)
      --workloads LIST space-separated, from: hello hello-close big stream echo sleep
                       slowloris hello-tls stream-1g static-1k static-64k django flask
                       (default: all). django and flask are realistic pages: a Django page
                       (startproject's middleware, a SQLite query, a template of 20 rows)
                       and a Flask JSON view (a SQLite query, jsonify); their rows add the
                       app's own CPU per request, measured in-process (bench/appcost.py),
                       and the server's share of the CPU per request.
                       nginx runs only hello, hello-close, slowloris, hello-tls and the static
                       ones; bjoern, meinheld, pyruvate and uwsgi (no TLS in this build)
                       skip hello-tls. The static workloads
                       (a 1 KiB and a 64 KiB file under /static/) run on rsgi-server
                       (--static-map), nginx (alias, sendfile on), granian
                       (--static-path-mount) and whitenoise (gunicorn serving the app wrapped
                       in WhiteNoise) only; whitenoise runs only those.
      --rsgi-args A    extra arguments for rsgi-server (word-split)
      --gunicorn-args A  extra arguments for gunicorn, sync and gthread (word-split)
      --granian-args A extra arguments for granian (word-split)
      --out FILE       report file (default bench/RESULTS.md)
      --note TEXT      a note printed at the top of the report (e.g. "short development run")
      --no-build       use the existing release binary instead of cargo build --release
      --no-setup       do not run bench/setup (packages must already be installed)
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command_line=bench/run.sh
for arg in "$@"; do # the exact command, each argument shell-quoted only when it needs it
  if [[ $arg =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then command_line+=" $arg"; else command_line+=" '${arg//\'/\'\\\'\'}'"; fi
done

all_servers="rsgi gunicorn gthread granian uwsgi bjoern meinheld pyruvate nginx whitenoise"
all_workloads="hello hello-close big stream echo sleep slowloris hello-tls stream-1g static-1k static-64k django flask"
duration=8s warmup=2s workers=2 connections=64 threads=2 timeout=2s worker_threads=8 slow_n=200
rounds=1 servers=$all_servers workloads=$all_workloads rsgi_args="" gunicorn_args="" granian_args=""
out=$root/bench/RESULTS.md build=1 setup=1 note=""
while [ $# -gt 0 ]; do
  case $1 in
    -d | --duration) duration=$2; shift ;;
    -W | --warmup) warmup=$2; shift ;;
    -r | --rounds) rounds=$2; shift ;;
    -w | --workers) workers=$2; shift ;;
    -c | --connections) connections=$2; shift ;;
    -t | --threads) threads=$2; shift ;;
    --timeout) timeout=$2; shift ;;
    --worker-threads) worker_threads=$2; shift ;;
    --slowloris) slow_n=$2; shift ;;
    --servers) servers=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --rsgi-args) rsgi_args=$2; shift ;;
    --gunicorn-args) gunicorn_args=$2; shift ;;
    --granian-args) granian_args=$2; shift ;;
    --out) out=$(realpath -m "$2"); shift ;;
    --note) note=$2; shift ;;
    --no-build) build=0 ;;
    --no-setup) setup=0 ;;
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

fronted="rsgi-uwsgi rsgi-proxy uwsgi-uwsgi gunicorn-proxy"
is_fronted() { [[ " $fronted " == *" $1 "* ]]; }
for s in $servers; do [[ " $all_servers rsgi-close rsgi-log rsgi-json rsgi-wheel $fronted " == *" $s "* ]] || die "unknown server '$s'"; done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive whole number, not '$rounds'"
for w in $workloads; do [[ " $all_workloads " == *" $w "* ]] || die "unknown workload '$w'"; done

if [ "$setup" = 1 ]; then bench/setup >&2; fi
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_time=$SECONDS
py=$root/.venv/bin/python
outdir=$root/bench/out
mkdir -p "$outdir"
results=$outdir/results.jsonl
: >"$results"

# --- Processes we start: always cleaned up ----------------------------------------------------
# Servers (and the slowloris client and the RSS sampler) are started with setsid, so each
# leads its own process group and its workers are in that group: `kill -- -PID` reaches all.
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

# stop_group PID SECONDS: SIGTERM PID, wait up to SECONDS for it and its process group to
# end, then SIGKILL the group. Sets stop_result ("clean" or what went wrong).
stop_group() {
  local pid=$1 limit=$2 i status=0
  stop_result=clean
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < limit * 10; i++)); do
    stopped "$pid" && break
    sleep 0.1
  done
  if ! stopped "$pid"; then
    stop_result="killed (still running $limit s after SIGTERM)"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || status=$?
  if [ "$stop_result" = clean ] && [ "$status" -ne 0 ]; then stop_result="exit status $status after SIGTERM"; fi
  return 0
}

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
# rsgi-wheel: the release wheel for the project venv's CPython (the one the binary links),
# built as scripts/build-wheels does but for that interpreter only, installed into a fresh
# venv by scripts/wheel-venv.
wheel_bin=""
if [[ " $servers " == *" rsgi-wheel "* ]]; then
  base_python=$("$py" -c 'import sys; print(sys._base_executable)')
  if [ "$build" = 1 ]; then
    say "maturin build --release (the wheel for $base_python)"
    rm -rf "$outdir/wheels"
    "$root/.venv/bin/maturin" build --release --strip --locked --interpreter "$base_python" \
      --out "$outdir/wheels" >&2
  fi
  wheel_bin=$("$root/scripts/wheel-venv" "$outdir/wheel-venv" "$base_python" "$outdir/wheels") ||
    die "could not install the wheel (build it, or drop --no-build)"
fi
gunicorn_bin=$root/.venv/bin/gunicorn
granian_bin=$root/.venv/bin/granian
uwsgi_bin=$root/.venv/bin/uwsgi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# Every server serves the same app files, from bench/apps.
app_dir() { echo bench/apps; }
app_spec() {
  case $1 in
    hello | hello-close | slowloris | hello-tls | static-*) echo hello:application ;;
    stream | stream-1g) echo stream:application ;;
    django) echo django_page:application ;;
    flask) echo flask_json:application ;;
    *) echo "$1:application" ;;
  esac
}
is_static() { [[ $1 == static-* ]]; }
applies() { # server workload: does this server run this workload?
  [[ " bjoern meinheld pyruvate uwsgi " != *" $1 "* ]] || [ "$2" != hello-tls ] || return 1
  if is_static "$2"; then [[ " rsgi rsgi-wheel nginx granian whitenoise " == *" $1 "* ]]; return; fi
  [ "$1" != whitenoise ] || return 1
  ! is_fronted "$1" || [ "$2" = hello ] || return 1
  [ "$1" != nginx ] || [[ " hello hello-close slowloris hello-tls " == *" $2 "* ]]
}
# The path wrk and the checks request: the file for the static workloads, else /.
target_path() {
  case $1 in
    static-1k) echo /static/1k.bin ;;
    static-64k) echo /static/64k.bin ;;
    *) echo / ;;
  esac
}
scheme() { if [ "$1" = hello-tls ]; then echo https; else echo http; fi; }

# hello-tls: every server gets the same self-signed P-256 certificate for 127.0.0.1 (the
# clients do not verify it: -k, and wrk never does).
tls_cert=$outdir/tls-cert.pem tls_key=$outdir/tls-key.pem
if [[ " $workloads " == *" hello-tls "* ]] && [ ! -s "$tls_cert" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tls_key" -out "$tls_cert" >/dev/null 2>&1 || die "openssl could not make the bench certificate"
fi

# The realistic pages' SQLite database, made anew each run (bench/apps/benchdb.py).
if [[ " $workloads " == *" django "* || " $workloads " == *" flask "* ]]; then
  "$py" -B bench/apps/benchdb.py >/dev/null || die "could not create the bench database"
fi

# The bodies the checks compare against, written once.
"$py" -B - "$outdir" <<'EOF' || die "could not write the expected bodies"
import sys
sys.path.insert(0, "bench/apps")
import big, stream
out = sys.argv[1]
open(f"{out}/expect-hello", "wb").write(b"Hello, World!\n")
open(f"{out}/expect-big", "wb").write(big.BODY)
open(f"{out}/expect-stream", "wb").write(stream.PIECE * stream.CHUNKS)
open(f"{out}/expect-stream4", "wb").write(stream.PIECE * 4)
open(f"{out}/post-1m", "wb").write((b"0123456789abcdef" * 65536)[:1048576])
import os
os.makedirs(f"{out}/static", exist_ok=True)
for name, size in (("1k.bin", 1024), ("64k.bin", 65536)):
    open(f"{out}/static/{name}", "wb").write(bytes(i * 7 % 251 for i in range(size)))
EOF
# The realistic pages' bodies, as the apps answer them in-process (bench/appcost.py's call).
for w in django flask; do
  [[ " $workloads " == *" $w "* ]] || continue
  (cd bench/apps && "$py" -B - "$w" "$outdir/expect-$w" <<'EOF') || die "could not write the expected $w body"
import sys
sys.path.insert(0, "..")
import appcost, importlib
module = {"django": "django_page", "flask": "flask_json"}[sys.argv[1]]
status, body = appcost.call(importlib.import_module(module).application, appcost.environ("/"))
assert status.startswith("200"), status
open(sys.argv[2], "wb").write(body)
EOF
done
# The app's own CPU per request, in-process, with no server (bench/appcost.py), right
# before each server's row of a realistic workload: CPU time per call moves by a fifth
# with the load on a shared machine, so each row is set against the app measured next
# to it. One line each in app-cost.jsonl, and in the row's .appcost file.
appcost_file=$outdir/app-cost.jsonl
: >"$appcost_file"
measure_app_cost() { # workload round server -> the JSON line on stdout
  local n=2000
  [ "$1" = flask ] && n=8000
  (cd bench/apps && "$py" -B ../appcost.py -n "$n" "$(app_spec "$1")") |
    "$py" -c 'import json, sys; r = json.loads(sys.stdin.read()); r.update(workload=sys.argv[1], round=int(sys.argv[2]), server=sys.argv[3]); print(json.dumps(r))' "$1" "$2" "$3" |
    tee -a "$appcost_file"
}

nginx_conf() { # port dir workload [location [upstream]] -> nginx.conf on stdout
  local listen="listen 127.0.0.1:$1;"
  local location=${4:-'location / { return 200 "Hello, World!\n"; }'}
  ! is_static "$3" || location+=" location /static/ { alias $outdir/static/; }"
  [ "$3" != hello-tls ] || listen="listen 127.0.0.1:$1 ssl; ssl_certificate $tls_cert; ssl_certificate_key $tls_key;"
  cat <<EOF
# Generated by bench/run.sh: the ceiling, answering from the config with no Python at all
# (or, for rsgi-uwsgi and rsgi-proxy, the front end of rsgi-server).
daemon off;
master_process on;
worker_processes $workers;
pid $2/nginx.pid;
error_log $2/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    client_body_temp_path $2/client_body;
    proxy_temp_path $2/proxy;
    fastcgi_temp_path $2/fastcgi;
    uwsgi_temp_path $2/uwsgi;
    scgi_temp_path $2/scgi;
    sendfile on;
    tcp_nopush on;
    ${5:-}
    server {
        $listen
        $location
    }
}
EOF
}

# rsgi-uwsgi / rsgi-proxy: nginx in front of rsgi-server on a Unix socket, each as its users
# deploy it (uwsgi_pass never reuses an upstream connection; proxy_pass with keepalive does).
front_location() { # server dir -> the location block
  case $1 in
    rsgi-uwsgi | uwsgi-uwsgi) echo "location / { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$2/rsgi.sock; }" ;;
    rsgi-proxy | gunicorn-proxy) echo "location / { proxy_pass http://rsgi; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host \$host; }" ;;
  esac
}
front_upstream() { # server dir -> the upstream block, if any
  [[ $1 != rsgi-proxy && $1 != gunicorn-proxy ]] || echo "upstream rsgi { server unix:$2/rsgi.sock; keepalive 64; }"
}

# A server behind nginx, run by one shell: procstat sums the shell's tree, and the shell
# passes the SIGTERM that stops the row on to both and waits for them.
fronted_cmd() { # server command line -> the shell's command line, one word per line
  printf '%s\n' bash -c "$1 & r=\$!; $nginx_bin -p $outdir/nginx/ -e $outdir/nginx/error.log -c $outdir/nginx/nginx.conf & n=\$!; trap 'kill -TERM \$r \$n; wait \$r; a=\$?; wait \$n; exit \$((a | \$?))' TERM; wait"
}

server_cmd() { # server workload port -> the command line, one word per line
  local dir spec extra=()
  dir=$(app_dir "$2") spec=$(app_spec "$2")
  # shellcheck disable=SC2086 # the extra args are word-split on purpose
  case $1 in
    rsgi | rsgi-close | rsgi-log | rsgi-json | rsgi-wheel)
      local bin=$rsgi_bin
      [ "$1" = rsgi-wheel ] && bin=$wheel_bin
      [ "$1" = rsgi-close ] && extra+=(--keep-alive 0)
      [ "$1" = rsgi-log ] && extra+=(--access-logfile "$outdir/access-$2.log")
      [ "$1" = rsgi-json ] && extra+=(--access-logfile "$outdir/access-$2.json" --log-format json)
      [ "$2" = sleep ] && extra+=(--threads "$worker_threads")
      [ "$2" = hello-tls ] && extra+=(--certfile "$tls_cert" --keyfile "$tls_key")
      is_static "$2" && extra+=(--static-map "/static=$outdir/static")
      # The binary embeds the base interpreter: the pages' packages (Django, Flask) are the
      # project venv's, as every other server's are.
      # The wheel's fresh venv has neither: it is given the project venv's site-packages.
      if [[ $2 == django || $2 == flask ]]; then
        if [ "$1" = rsgi-wheel ]; then
          extra+=(--pythonpath "$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')")
        else
          extra+=(--virtualenv "$root/.venv")
        fi
      fi
      printf '%s\n' "$bin" --chdir "$dir" --workers "$workers" --bind "127.0.0.1:$3" "${extra[@]}" $rsgi_args "$spec" ;;
    gunicorn | gthread)
      [ "$1" = gthread ] && extra+=(-k gthread --threads "$worker_threads")
      [ "$2" = hello-tls ] && extra+=(--certfile "$tls_cert" --keyfile "$tls_key")
      printf '%s\n' "$gunicorn_bin" --chdir "$dir" -w "$workers" "${extra[@]}" -b "127.0.0.1:$3" $gunicorn_args "$spec" ;;
    granian)
      [ "$2" = sleep ] && extra+=(--blocking-threads "$worker_threads")
      [ "$2" = hello-tls ] && extra+=(--ssl-certificate "$tls_cert" --ssl-keyfile "$tls_key")
      is_static "$2" && extra+=(--static-path-route /static --static-path-mount "$outdir/static")
      printf '%s\n' "$granian_bin" --interface wsgi --working-dir "$dir" --workers "$workers" --host 127.0.0.1 \
        --port "$3" "${extra[@]}" $granian_args "$spec" ;;
    whitenoise) printf '%s\n' env "BENCH_STATIC_DIR=$outdir/static" "$gunicorn_bin" --chdir "$dir" -w "$workers" \
      -b "127.0.0.1:$3" $gunicorn_args whitenoise_app:application ;;
    bjoern | meinheld | pyruvate) printf '%s\n' "$py" bench/prefork_launcher.py --engine "$1" --chdir "$dir" \
      --workers "$workers" --bind "127.0.0.1:$3" "$spec" ;;
    uwsgi)
      # uWSGI's own HTTP/1.1 socket (keep-alive), a master that imports the app before it
      # forks (its default), TERM a shutdown, no request log (no server logs requests here).
      printf '%s\n' "$uwsgi_bin" --master --processes "$workers" --http11-socket "127.0.0.1:$3" --chdir "$dir" \
        --module "$spec" --need-app --die-on-term --disable-logging ;;
    nginx) printf '%s\n' "$nginx_bin" -p "$outdir/nginx/" -e "$outdir/nginx/error.log" -c "$outdir/nginx/nginx.conf" ;;
    rsgi-uwsgi | rsgi-proxy)
      # The socket is open to all (666): nginx's workers run as another user than the bench.
      local bind=unix:$outdir/nginx/rsgi.sock
      [ "$1" = rsgi-uwsgi ] && bind=uwsgi://$bind
      fronted_cmd "$rsgi_bin --chdir $dir --workers $workers --bind $bind --unix-socket-mode 666 $rsgi_args $spec" ;;
    uwsgi-uwsgi)
      # uWSGI as its users run it behind nginx: a master that imports the app before it
      # forks (uWSGI's default), TERM a shutdown, no request log (ours is off in every row).
      fronted_cmd "$uwsgi_bin --master --processes $workers --chdir $dir --socket $outdir/nginx/rsgi.sock --chmod-socket=666 --module $spec --need-app --die-on-term --disable-logging" ;;
    gunicorn-proxy)
      fronted_cmd "$gunicorn_bin --chdir $dir -w $workers -b unix:$outdir/nginx/rsgi.sock $gunicorn_args $spec" ;;
  esac
}

check_body() { # workload port: the response is the app's, byte for byte
  local url
  url=$(scheme "$1")://127.0.0.1:$2/
  case $1 in
    hello | hello-close | slowloris | sleep | hello-tls) cmp -s <(curl -kfsS --max-time 5 "$url") "$outdir/expect-hello" ;;
    big) cmp -s <(curl -fsS --max-time 5 "$url") "$outdir/expect-big" ;;
    stream) cmp -s <(curl -fsS --max-time 5 "$url") "$outdir/expect-stream" ;;
    stream-1g) cmp -s <(curl -fsS --max-time 5 "$url?chunks=4") "$outdir/expect-stream4" ;;
    echo) cmp -s <(curl -fsS --max-time 5 --data-binary "@$outdir/post-1m" -H 'Content-Type: application/octet-stream' "$url") \
      "$outdir/post-1m" ;;
    static-*) cmp -s <(curl -fsS --max-time 5 "${url%/}$(target_path "$1")") "$outdir/static/${1#static-}.bin" ;;
    django | flask) cmp -s <(curl -fsS --max-time 5 "$url") "$outdir/expect-$1" ;;
  esac
}

wrk_cmd() { # workload url duration -> the wrk command line, one word per line
  local script=bench/wrk-report.lua extra=()
  case $1 in
    hello-close) extra=(-H 'Connection: close') ;;
    echo) script=bench/wrk-echo.lua ;;
  esac
  printf '%s\n' wrk -t"$threads" -c"$connections" -d"$3" --timeout "$timeout" --latency "${extra[@]}" -s "$script" "$2"
}

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Writes one results.jsonl row from the named files (and the run's variables).
record() { # server workload status reason round
  "$py" - "$@" "$app" "${cmd[*]#"$root/"}" "$stop_result" "$keepalive" "$base" "$wrk_line" >>"$results" <<'EOF'
import json, sys
server, workload, status, reason, round_, app, cmd, stop, keepalive, base, wrk_line = sys.argv[1:]
def load(path, last_json=False):
    try:
        text = open(path).read()
    except OSError:
        return None
    if last_json:
        lines = [l for l in text.splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    return json.loads(text) if text.strip() else None
row = {"server": server, "workload": workload, "round": int(round_), "status": status,
       "reason": reason, "app": app,
       "command": cmd, "wrk_command": wrk_line, "stop": stop, "keepalive": keepalive,
       "before": load(base + ".before"), "after": load(base + ".after"),
       "peak": load(base + ".peak"), "slowloris_before": load(base + ".slow-before"),
       "slowloris_after": load(base + ".slow-after"), "stream": load(base + ".stream"),
       "app_cost": load(base + ".appcost")}
wrk = None
try:
    for line in open(base + ".wrk"):
        if line.startswith("WRK_JSON "):
            wrk = json.loads(line[len("WRK_JSON "):])
except OSError:
    pass
row["wrk"] = wrk
if status == "ok" and wrk is None and workload != "stream-1g":
    row["status"], row["reason"] = "failed", f"no WRK_JSON line in {base}.wrk"
print(json.dumps(row))
EOF
}

# --- One measurement --------------------------------------------------------------------------
# Sets: app cmd stop_result keepalive base wrk_line (read by record). Returns non-zero with
# $reason set when the row failed; the caller records it and goes on.
server_pid="" slow_pid="" watch_pid=""
stop_helpers() {
  if [ -n "$watch_pid" ]; then stop_group "$watch_pid" 5; watch_pid=""; fi
  if [ -n "$slow_pid" ]; then
    stop_group "$slow_pid" 5
    slow_pid=""
  fi
}
fail() { reason=$*; say "$server/$workload: FAILED: $reason"; }
run_one() {
  local port log i url
  port=$(free_port)
  base=$outdir/$server-$workload
  log=$base.log
  rm -f "$base".{before,after,peak,slow-before,slow-after,stream,wrk,warmup,slowloris}
  rm -f "$outdir/access-$workload".{log,json}  # up to ~100 MB per run: keep only the last
  app="$(app_dir "$workload")/$(app_spec "$workload" | cut -d: -f1).py"
  [ "$server" = nginx ] && app="(none: nginx.conf answers)"
  [ "$server" = whitenoise ] && app="bench/apps/whitenoise_app.py"
  stop_result="not started" keepalive="?" wrk_line="" reason=""
  if [ "$server" = nginx ] || is_fronted "$server"; then
    rm -rf "$outdir/nginx" && mkdir -p "$outdir/nginx"
    nginx_conf "$port" "$outdir/nginx" "$workload" "$(front_location "$server" "$outdir/nginx")" \
      "$(front_upstream "$server" "$outdir/nginx")" >"$outdir/nginx/nginx.conf"
  fi
  mapfile -t cmd < <(server_cmd "$server" "$workload" "$port")
  say "$server/$workload: starting: ${cmd[*]#"$root/"}"
  setsid "${cmd[@]}" >"$log" 2>&1 </dev/null &
  server_pid=$!
  started+=("$server_pid")

  # Ready = answers GET / with 200, within 30 s; fail at once if the server exits.
  for ((i = 0; ; i++)); do
    if gone "$server_pid"; then
      local status=0 last
      wait "$server_pid" || status=$?
      stop_result="exited before answering (status $status)"
      # The error line if there is one (clap's), else the last lines (a Python traceback).
      last=$(grep -m 1 '^error' "$log" || grep -v '^\s*$' "$log" | tail -n 3 | tr '\n' ' ' | cut -c1-300)
      fail "server exited before it answered a request (exit status $status): ${last:-empty log}"
      return 1
    fi
    curl -kfsS -o /dev/null --max-time 2 "$(scheme "$workload")://127.0.0.1:$port/" 2>/dev/null && break
    if [ "$i" -ge 60 ]; then fail "no answer on 127.0.0.1:$port after 30 s (log: ${log#"$root/"})"; return 1; fi
    sleep 0.5
  done
  if ! check_body "$workload" "$port"; then fail "the response body is not the app's body"; return 1; fi
  # Does the server keep the connection open between requests? (wrk reuses it if so.)
  local trace
  url=$(scheme "$workload")://127.0.0.1:$port$(target_path "$workload")
  trace=$(curl -ksv -o /dev/null -o /dev/null --max-time 5 "$url" "$url" 2>&1) || true
  keepalive=no
  [[ $trace == *"Re-using existing connection"* ]] && keepalive=yes

  if [ "$workload" = stream-1g ]; then
    run_stream_1g "$port" || return 1
    return 0
  fi

  if [ "$workload" = slowloris ]; then
    setsid "$py" -u bench/slowloris.py --port "$port" -n "$slow_n" >"$base.slowloris" 2>&1 </dev/null &
    slow_pid=$!
    started+=("$slow_pid")
    for ((i = 0; i < 100; i++)); do
      grep -q '^READY' "$base.slowloris" 2>/dev/null && break
      gone "$slow_pid" && break
      sleep 0.1
    done
    grep -q '^READY' "$base.slowloris" || say "$server/$workload: slowloris did not get $slow_n connections open in 10 s; going on"
  fi

  local wrk_args
  mapfile -t wrk_args < <(wrk_cmd "$workload" "$url" "$warmup")
  if ! interruptible "${wrk_args[@]}" >"$base.warmup" 2>&1; then
    fail "wrk warm-up failed: $(tail -n 2 "$base.warmup" | tr '\n' ' ')"
    return 1
  fi
  mapfile -t wrk_args < <(wrk_cmd "$workload" "$url" "$duration")
  wrk_line="${wrk_args[*]}"
  wrk_line=${wrk_line/Connection: close/\'Connection: close\'}
  [ "$workload" != slowloris ] || grep '^{' "$base.slowloris" | tail -n 1 >"$base.slow-before"
  "$py" bench/procstat.py "$server_pid" >"$base.before" || { fail "procstat failed"; return 1; }
  setsid "$py" bench/procstat.py --watch 0.5 "$server_pid" >"$base.peak" 2>&1 </dev/null &
  watch_pid=$!
  started+=("$watch_pid")
  say "$server/$workload: measuring for $duration"
  if ! interruptible "${wrk_args[@]}" >"$base.wrk" 2>&1; then
    fail "wrk failed: $(tail -n 2 "$base.wrk" | tr '\n' ' ')"
    return 1
  fi
  "$py" bench/procstat.py "$server_pid" >"$base.after" || { fail "procstat failed"; return 1; }
  [ "$workload" != slowloris ] || grep '^{' "$base.slowloris" | tail -n 1 >"$base.slow-after"
  if gone "$server_pid"; then fail "server died during the measured run (log: ${log#"$root/"})"; return 1; fi
  return 0
}

# The 1 GiB stream: one curl reads /?chunks=65536 (65536 x 16 KiB); RSS of the server tree
# before, every 0.5 s during (peak), and after.
run_stream_1g() {
  local port=$1 url="http://127.0.0.1:$1/?chunks=65536" w
  # Warm the code path first, so "before" is the server's steady state, not its cold start.
  for w in 1 2; do curl -fsS -o /dev/null --max-time 10 "http://127.0.0.1:$port/" || true; done
  wrk_line="curl -sS -o /dev/null $url"
  "$py" bench/procstat.py "$server_pid" >"$base.before" || { fail "procstat failed"; return 1; }
  setsid "$py" bench/procstat.py --watch 0.25 "$server_pid" >"$base.peak" 2>&1 </dev/null &
  watch_pid=$!
  started+=("$watch_pid")
  say "$server/$workload: streaming 1 GiB"
  local res
  if ! res=$(curl -fsS -o /dev/null --max-time 600 -w '%{size_download} %{time_total}' "$url"); then
    fail "curl failed reading the 1 GiB stream"
    return 1
  fi
  "$py" bench/procstat.py "$server_pid" >"$base.after" || { fail "procstat failed"; return 1; }
  read -r bytes secs <<<"$res"
  printf '{"bytes": %s, "seconds": %s}\n' "$bytes" "$secs" >"$base.stream"
  if [ "$bytes" != 1073741824 ]; then fail "read $bytes bytes, not 1 GiB"; return 1; fi
  if gone "$server_pid"; then fail "server died during the stream"; return 1; fi
  return 0
}

failed_rows=0
# Rounds outermost: a slow spell of the shared machine then hits every server alike instead
# of all the rounds of one.
for ((round = 1; round <= rounds; round++)); do
  [ "$rounds" -eq 1 ] || say "round $round of $rounds"
  for workload in $workloads; do
    for server in $servers; do
      applies "$server" "$workload" || continue
      rm -f "$outdir/$server-$workload.appcost"
      if [[ $workload == django || $workload == flask ]]; then
        measure_app_cost "$workload" "$round" "$server" >"$outdir/$server-$workload.appcost" ||
          say "$server/$workload: app cost not measured (bench/appcost.py failed)"
      fi
      status=ok
      run_one || status=failed
      stop_helpers
      if [ -n "$server_pid" ] && ! gone "$server_pid"; then
        # Graceful stop for every server; allow 35 s (gunicorn's graceful timeout is 30 s).
        stop_group "$server_pid" 35
        say "$server/$workload: stopped: $stop_result"
      fi
      server_pid=""
      [ "$status" = ok ] || failed_rows=$((failed_rows + 1))
      record "$server" "$workload" "$status" "$reason" "$round" || die "could not record $server/$workload"
    done
  done
done

# --- Report -----------------------------------------------------------------------------------
rsgi_version=unknown
if [ -n "$rsgi_bin" ]; then
  rsgi_version=$("$rsgi_bin" --version 2>/dev/null | head -n 1 || true)
  rsgi_version="${rsgi_version:-unknown} (git $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock build.rs || echo +dirty))"
fi
pkg_version() { "$py" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || echo unknown; }
conf=""
[ -f "$outdir/nginx/nginx.conf" ] && conf="$outdir/nginx/nginx.conf"
"$py" bench/report.py "$results" \
  --command "$command_line" \
  --param duration="$duration" --param warmup="$warmup" --param workers="$workers" \
  --param loadavg="$loadavg_start -> $(cut -d' ' -f1-3 /proc/loadavg)" \
  --param connections="$connections" --param threads="$threads" --param timeout="$timeout" \
  --param worker_threads="$worker_threads" --param slowloris="$slow_n" \
  --param elapsed="$((SECONDS - start_time))" --param rounds="$rounds" \
  ${conf:+--nginx-conf "$conf"} --note "$note" --app-cost "$appcost_file" \
  --version "rsgi-server=$rsgi_version" \
  --version "gunicorn=$(pkg_version gunicorn)" \
  --version "granian=$(pkg_version granian)" \
  --version "bjoern=$(pkg_version bjoern)" \
  --version "uWSGI=$(pkg_version uwsgi)" \
  --version "meinheld=$(pkg_version meinheld)" \
  --version "pyruvate=$(pkg_version pyruvate)" \
  --version "Django=$(pkg_version django)" \
  --version "Flask=$(pkg_version flask)" \
  --version "nginx=$("$nginx_bin" -v 2>&1 | head -n 1 || echo unknown)" \
  --version "python=$("$py" -c 'import sys; print(sys.version.split()[0], sys.executable)')" \
  --version "wrk=$(wrk -v 2>&1 | head -n 1 || true)" \
  >"$out"
say "wrote ${out#"$root/"} in $((SECONDS - start_time)) s; $failed_rows failed row(s)"
# The chart of this run, beside the report: requests/s and CPU per request per server and
# workload (bench/chart.py, from the same results file).
chart=${out%.md}.svg
"$py" bench/chart.py "$results" -o "$chart" --command "$command_line" \
  --title "rsgi-server and its peers, $(date -u '+%Y-%m-%d %H:%M UTC') ($(nproc) CPUs, $workers workers each)" ||
  die "could not draw $chart"
say "wrote ${chart#"$root/"}"
