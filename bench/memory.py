"""Memory of a Django project under --preload with 4 workers: rsgi-server vs gunicorn.

    .venv/bin/python bench/memory.py [--rounds 3] [--workers 4] [--requests 2000] [--out FILE]

Serves bench/apps/django_page.py (startproject's middleware, SQLite, a template; the
database is made by bench/apps/benchdb.py if missing) with ``--preload`` and N workers, by
rsgi-server (target/release/rsgi-server with ``--virtualenv .venv``) and by gunicorn 27
(sync workers), rounds interleaved. For each, once every worker is ready it sends
REQUESTS requests over 16 keep-alive connections (so every worker has rendered the page,
touched its database connection and its share of the app's objects), then reads
/proc/PID/smaps_rollup of the master and every worker and sums their PSS (shared pages
split between the processes that map them: what the tree really costs), with RSS and USS
beside it. Prints a Markdown table (medians over the rounds) and writes it to --out
(default bench/RESULTS-memory.md).
"""

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from footprint import GUNICORN_HOOK, children, free_port, get, smaps  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = os.path.join(ROOT, "bench", "apps")
DEADLINE = 120.0


def command(server, args, port, hook):
    common = ["--chdir", APPS, "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--preload"]
    if server == "rsgi-server":
        return [args.binary, *common, "--virtualenv", os.path.join(ROOT, ".venv"), "django_page:application"]
    return [args.gunicorn, *common, "-c", hook, "django_page:application"]


def load(port, requests, connections=16):
    """REQUESTS GETs of / over CONNECTIONS keep-alive connections at once."""
    errors = []

    def one(n):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for _ in range(n):
                conn.request("GET", "/")
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    errors.append(r.status)
            conn.close()
        except OSError as err:
            errors.append(err)

    threads = [threading.Thread(target=one, args=(requests // connections,)) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"load: {len(errors)} errors, e.g. {errors[0]!r}")


def run(server, args, hook):
    port = free_port()
    cmd = command(server, args, port, hook)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RSGI_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    needle, count = ("worker ready", args.workers) if server == "gunicorn" else (f"All {args.workers} workers ready", 1)
    with tempfile.TemporaryFile() as log:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True)
        try:
            while True:
                log.seek(0)
                text = log.read().decode(errors="replace")
                if text.count(needle) >= count:
                    break
                if time.monotonic() - start > DEADLINE or proc.poll() is not None:
                    raise RuntimeError(f"{server}: not ready: {text[-2000:]}")
                time.sleep(0.01)
            if get(port) != 200:
                raise RuntimeError(f"{server}: the page did not answer 200")
            load(port, args.requests)
            workers = children(proc.pid)
            if len(workers) != args.workers:
                raise RuntimeError(f"{server}: {len(workers)} workers, not {args.workers}")
            master = smaps(proc.pid)
            per_worker = [smaps(w) for w in workers]
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
    return {
        "pss": master[1] + sum(w[1] for w in per_worker),
        "rss": master[0] + sum(w[0] for w in per_worker),
        "uss": master[2] + sum(w[2] for w in per_worker),
        "master_pss": master[1],
        "worker_pss": statistics.mean(w[1] for w in per_worker),
        "worker_uss": statistics.mean(w[2] for w in per_worker),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "rsgi-server"))
    ap.add_argument("--gunicorn", default=os.path.join(ROOT, ".venv", "bin", "gunicorn"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS-memory.md"))
    args = ap.parse_args()

    sys.path.insert(0, APPS)
    import benchdb

    if not os.path.exists(benchdb.PATH):
        benchdb.create()
    servers = ("rsgi-server", "gunicorn")
    results = {s: [] for s in servers}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(GUNICORN_HOOK)
        hook = f.name
    try:
        for r in range(args.rounds):
            for s in servers:
                results[s].append(run(s, args, hook))
                print(f"round {r + 1}: {s}: total PSS {results[s][-1]['pss'] / 1024:.1f} MiB", file=sys.stderr)
    finally:
        os.unlink(hook)

    def med(s, key):
        return statistics.median(x[key] for x in results[s]) / 1024

    lines = [
        "# Memory: a Django project, `--preload`, "
        f"{args.workers} workers (generated by `bench/memory.py`)",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/memory.py'] + sys.argv[1:])}`: bench/apps/django_page.py "
        f"after {args.requests} requests over 16 keep-alive connections; "
        "from /proc/PID/smaps_rollup of the master and every worker, in MiB, medians of "
        f"{args.rounds} rounds. Total PSS is what the tree really costs (shared pages split "
        "between the processes mapping them); total RSS counts shared pages once per process.",
        "",
        "| Server | Total PSS | Master PSS | PSS per worker | USS per worker | Total RSS | Total PSS by round |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for s in servers:
        lines.append(
            f"| {s} `--preload` | {med(s, 'pss'):.1f} | {med(s, 'master_pss'):.1f} | {med(s, 'worker_pss'):.1f} "
            f"| {med(s, 'worker_uss'):.1f} | {med(s, 'rss'):.1f} | "
            + ", ".join(f"{x['pss'] / 1024:.1f}" for x in results[s]) + " |"
        )
    a, b = med("rsgi-server", "pss"), med("gunicorn", "pss")
    lines += ["", f"rsgi-server's total PSS is {a / b:.2f}x gunicorn's ({a - b:+.1f} MiB)."]
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
