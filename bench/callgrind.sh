#!/usr/bin/env bash
# Worker CPU instructions per keep-alive request, by callgrind: repeatable on a busy
# machine, where wall-clock numbers are not. Runs the server under
# `valgrind --tool=callgrind --trace-children=yes` with one worker, sends N and then 5N
# keep-alive requests on one connection (separate runs), and divides the difference of the
# worker's instruction totals by 4N, which cancels start-up and exit.
#
#   bench/callgrind.sh [N] [-- extra server options...]
#   bench/callgrind.sh 500 -- --access-logfile /tmp/access.log
#   bench/callgrind.sh 500 -- --certfile cert.pem --keyfile key.pem   # over TLS
#   SERVER=bench/out/wheel-venv/bin/rsgi-server bench/callgrind.sh 500   # the pip-installed one
#   TARGET=/static/1k.bin bench/callgrind.sh 500 -- --static-map /static=DIR   # another path
#   APP=django_page:application bench/callgrind.sh 100 -- --virtualenv .venv   # another app
#                                                     # (from bench/apps; the Django page)
#   PEER=bjoern APP=django_page:application bench/callgrind.sh 100   # a peer, for comparison
#                                   # (bjoern, meinheld or pyruvate, by bench/prefork_launcher.py)
#
# Builds the release binary first (honours CARGO_TARGET_DIR), unless SERVER names another
# server command.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=${1:-500}
shift || true
[ "${1:-}" = "--" ] && shift
extra=("$@")

if [ -n "${PEER:-}" ]; then
  bin=""
elif [ -n "${SERVER:-}" ]; then
  bin=$SERVER
else
  target=${CARGO_TARGET_DIR:-$root/target}
  (cd "$root" && cargo build --release --quiet)
  bin=$target/release/rsgi-server
fi
python=${RSGI_TEST_PYTHON:-$root/.venv/bin/python}
# With --certfile the server speaks TLS, and so does the client (the handshake is in the
# fixed cost that the difference cancels).
tls=0
for arg in "${extra[@]}"; do [ "$arg" = --certfile ] && tls=1; done

work=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "keeping $work" >&2 || trap 'rm -rf "$work"' EXIT

# Sends `count` GET requests on one keep-alive connection, reading each response whole.
client() {
  "$python" - "$1" "$2" "$tls" "${TARGET:-/}" <<'PY'
import socket, ssl, sys
port, count, tls = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
target = sys.argv[4].encode()
s = socket.create_connection(("127.0.0.1", port))
if tls:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s)
req = b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
buf = b""
for _ in range(count):
    s.sendall(req)
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1").lower()
            length = int(head.split("content-length: ")[1].split("\r\n")[0])
            if len(buf) >= end + 4 + length:
                buf = buf[end + 4 + length:]
                break
        data = s.recv(65536)
        if not data:
            sys.exit("server closed the connection")
        buf += data
s.close()
PY
}

# Runs the server under callgrind, sends `count` requests, stops it, prints the worker's
# instruction total.
measure() {
  local count=$1 out=$work/run-$1
  mkdir -p "$out"
  [ -z "${PEER:-}" ] || { measure_peer "$count" "$out"; return; }
  PYTHONHASHSEED=0 valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out/cg.%p" \
    "$bin" --chdir "$root/bench/apps" -w 1 -b 127.0.0.1:0 --keep-alive 60 "${extra[@]}" \
    "${APP:-hello}" 2>"$out/stderr" &
  local pid=$!
  local port=""
  for _ in $(seq 1 600); do
    if grep -q "Worker ready" "$out/stderr" 2>/dev/null; then
      port=$(grep -o 'Listening at: https\?://127.0.0.1:[0-9]*' "$out/stderr" | head -1 | sed 's/.*://')
      break
    fi
    sleep 0.5
  done
  [ -n "$port" ] || { cat "$out/stderr" >&2; echo "server did not start" >&2; exit 1; }
  local worker
  worker=$(grep -o 'Worker ready (pid: [0-9]*' "$out/stderr" | head -1 | grep -o '[0-9]*$')
  client "$port" "$count"
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/^(summary|totals):/ { print $2; exit }' "$out/cg.$worker"
}

# The same for a peer started by bench/prefork_launcher.py with one worker: ready when the
# port answers (the request is counted in both runs, so the difference cancels it); the
# worker is the launcher's one child.
measure_peer() {
  local count=$1 out=$2 port
  port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PYTHONHASHSEED=0 valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out/cg.%p" \
    "$python" "$root/bench/prefork_launcher.py" --engine "$PEER" --chdir "$root/bench/apps" --workers 1 \
    --bind "127.0.0.1:$port" "${APP:-hello}" 2>"$out/stderr" &
  local pid=$! ok=""
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null --max-time 30 "http://127.0.0.1:$port${TARGET:-/}" 2>/dev/null; then ok=1; break; fi
    sleep 0.5
  done
  [ -n "$ok" ] || { cat "$out/stderr" >&2; echo "$PEER did not start" >&2; exit 1; }
  local worker
  worker=$(grep -o 'workers \[[0-9]*' "$out/stderr" | grep -o '[0-9]*$')
  client "$port" "$count"
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/^(summary|totals):/ { print $2; exit }' "$out/cg.$worker"
}

small=$(measure "$n")
large=$(measure $((5 * n)))
per=$(( (large - small) / (4 * n) ))
echo "server: ${PEER:-${bin#"$root/"}}; app: ${APP:-hello}; options: ${extra[*]:-(none)}"
echo "worker instructions: $n requests: $small; $((5 * n)) requests: $large"
echo "per request: $per"
