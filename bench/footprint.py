"""Startup time and memory of rsgi-server's two artifacts beside gunicorn's, in one run.

    .venv/bin/python bench/footprint.py [--rounds N] [--workers N] [--out FILE]

For each server (the standalone binary target/release/rsgi-server; the release wheel
installed into bench/out/wheel-venv, run by that venv's python; gunicorn's sync workers),
each app (bench/apps/hello.py, and pyapps/flask_app.py: a real framework's import) and
with and without --preload, N rounds (interleaved, so drift on this shared machine hits
every server alike), it:

- starts the server with N workers and times, from the spawn, the moment every worker has
  imported the app and is ready (rsgi-server logs "All N workers ready"; gunicorn is given a
  post_worker_init hook that logs "worker ready", and the time is the Nth of those lines),
  then the first 200 response;
- sends 400 requests over 4 keep-alive connections, so the workers have served;
- reads /proc/PID/smaps_rollup of the master and of each worker: RSS, PSS (shared pages
  split between the processes that map them: what the tree really costs) and USS (the
  process's private pages);
- stops it with SIGTERM and checks it exited.

Prints a Markdown report (medians over the rounds) and writes it to --out. Needs
`cargo build --release` and the wheel venv (bench/run.sh --servers rsgi-wheel makes both,
or: maturin build --release, then scripts/wheel-venv bench/out/wheel-venv PYTHON WHEELS);
installs Flask into the wheel venv from PyPI when it is missing there (the version pinned
in requirements-dev.txt).
"""

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
DEADLINE = 120.0

GUNICORN_HOOK = """
def post_worker_init(worker):
    worker.log.info("worker ready")
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smaps(pid):
    """RSS, PSS and USS of one process, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return fields["Rss"], fields["Pss"], uss


def children(pid):
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            kids.extend(int(k) for k in f.read().split())
    return kids


def get(port, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def serve_some(port, requests=400, connections=4):
    for _ in range(connections):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(requests // connections):
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        conn.close()


class Case:
    def __init__(self, server, app, preload):
        self.server, self.app, self.preload = server, app, preload

    @property
    def name(self):
        return f"{self.server} {self.app}{' --preload' if self.preload else ''}"

    def command(self, args, port, hook):
        app_dir, spec = {
            "hello": (os.path.join(ROOT, "bench", "apps"), "hello:application"),
            "flask": (os.path.join(ROOT, "pyapps"), "flask_app:app"),
        }[self.app]
        preload = ["--preload"] if self.preload else []
        common = ["--chdir", app_dir, "-w", str(args.workers), "-b", f"127.0.0.1:{port}"]
        if self.server == "binary":
            venv = ["--virtualenv", os.path.join(ROOT, ".venv")] if self.app == "flask" else []
            return [args.binary, *common, *venv, *preload, spec]
        if self.server == "wheel":
            return [os.path.join(args.wheel_venv, "bin", "rsgi-server"), *common, *preload, spec]
        return [args.gunicorn, *common, "-c", hook, *preload, spec]

    def ready_line(self, args):
        if self.server == "gunicorn":
            return "worker ready", args.workers
        return f"All {args.workers} workers ready", 1


def run_case(case, args, hook):
    port = free_port()
    cmd = case.command(args, port, hook)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RSGI_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryFile() as log:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True)
        try:
            needle, count = case.ready_line(args)
            ready = None
            while ready is None:
                if time.monotonic() - start > DEADLINE or proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{case.name}: not ready: {log.read().decode(errors='replace')[-2000:]}")
                log.seek(0)
                if log.read().decode(errors="replace").count(needle) >= count:
                    ready = time.monotonic() - start
                else:
                    time.sleep(0.002)
            while True:
                try:
                    if get(port) == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() - start > DEADLINE:
                    raise RuntimeError(f"{case.name}: no 200 response")
                time.sleep(0.002)
            first = time.monotonic() - start
            serve_some(port)
            workers = children(proc.pid)
            assert len(workers) == args.workers, (case.name, workers)
            master = smaps(proc.pid)
            per_worker = [smaps(w) for w in workers]
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                status = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
    assert status == 0, (case.name, status)
    return {
        "ready": ready,
        "first": first,
        "master": master,
        "worker_mean": tuple(statistics.mean(w[i] for w in per_worker) for i in range(3)),
        "total_pss": master[1] + sum(w[1] for w in per_worker),
    }


def ensure_flask(venv):
    python = os.path.join(venv, "bin", "python")
    if subprocess.run([python, "-c", "import flask"], capture_output=True).returncode == 0:
        return
    pins = []
    with open(os.path.join(ROOT, "requirements-dev.txt")) as f:
        wanted = ("flask", "blinker", "click", "itsdangerous", "jinja2", "markupsafe", "werkzeug")
        for line in f:
            m = re.match(r"([A-Za-z0-9_.-]+)==", line)
            if m and m.group(1).lower() in wanted:
                pins.append(line.strip())
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "rsgi-server"))
    ap.add_argument("--wheel-venv", default=os.path.join(OUT, "wheel-venv"))
    ap.add_argument("--gunicorn", default=os.path.join(ROOT, ".venv", "bin", "gunicorn"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS-footprint.md"))
    args = ap.parse_args()
    for path in (args.binary, os.path.join(args.wheel_venv, "bin", "rsgi-server"), args.gunicorn):
        if not os.access(path, os.X_OK):
            sys.exit(f"footprint: {path} not found (see the docstring: bench/footprint.py --help)")
    ensure_flask(args.wheel_venv)

    cases = [Case(s, a, p) for a in ("hello", "flask") for p in (False, True) for s in ("binary", "wheel", "gunicorn")]
    results = {c.name: [] for c in cases}
    with tempfile.TemporaryDirectory() as tmp:
        hook = os.path.join(tmp, "gunicorn_ready.py")
        with open(hook, "w") as f:
            f.write(GUNICORN_HOOK)
        for r in range(args.rounds):
            for case in cases:
                results[case.name].append(run_case(case, args, hook))
            print(f"footprint: round {r + 1}/{args.rounds} done", file=sys.stderr)

    def med(rows, key, i=None):
        return statistics.median(row[key] if i is None else row[key][i] for row in rows)

    def mib(kib):
        return f"{kib / 1024:.1f}"

    versions = {
        "rsgi-server binary": subprocess.run([args.binary, "--version"], capture_output=True, text=True).stdout.strip(),
        "rsgi-server wheel": subprocess.run(
            [os.path.join(args.wheel_venv, "bin", "rsgi-server"), "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "gunicorn": subprocess.run([args.gunicorn, "--version"], capture_output=True, text=True).stdout.strip(),
    }
    lines = [
        "# Startup and memory: rsgi-server's binary and wheel beside gunicorn",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/footprint.py', *sys.argv[1:]])}` on "
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, {args.workers} workers, "
        f"median of {args.rounds} interleaved rounds.",
        "",
        *[f"- {k}: {v}" for k, v in versions.items()],
        "",
        "Ready: from the spawn until every worker has imported the app (rsgi-server's "
        '"All N workers ready"; gunicorn\'s Nth post_worker_init). First 200: until the first '
        "response. Memory after 400 requests, from /proc/PID/smaps_rollup, in MiB: RSS counts "
        "shared pages in every process; PSS splits them between their users (the sum is what "
        "the tree costs); USS is a process's private pages.",
        "",
        "| server | app | ready ms | first 200 ms | master RSS | master PSS | worker RSS | worker PSS | worker USS | total PSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        rows = results[case.name]
        app = case.app + (" --preload" if case.preload else "")
        lines.append(
            f"| {case.server} | {app} | {med(rows, 'ready') * 1000:.0f} | {med(rows, 'first') * 1000:.0f} "
            f"| {mib(med(rows, 'master', 0))} | {mib(med(rows, 'master', 1))} "
            f"| {mib(med(rows, 'worker_mean', 0))} | {mib(med(rows, 'worker_mean', 1))} "
            f"| {mib(med(rows, 'worker_mean', 2))} | {mib(med(rows, 'total_pss'))} |"
        )
    report = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(report)
    print(report)


if __name__ == "__main__":
    main()
