"""Pre-fork launcher for bjoern, which has no worker processes of its own.

    python bench/bjoern_launcher.py --bind 127.0.0.1:8000 --workers 2 [--chdir DIR] module:callable

Binds one listening socket, imports the app, then forks WORKERS children that each run
bjoern's event loop on that same socket (``bjoern.server_run(sock, app)``), so the kernel
spreads connections between them as it does for gunicorn's or rsgi-server's workers.

The launcher stays in the foreground as the master. On SIGTERM or SIGINT it sends SIGTERM to
its children, waits for them and exits 0. If a child exits on its own, the launcher stops the
others and exits 1, so a benchmark sees a dead server rather than one worker short.
"""

import argparse
import importlib
import os
import signal
import sys
import time

import bjoern


class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop(signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bind", required=True, help="HOST:PORT")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chdir", help="directory to import the app from")
    ap.add_argument("--backlog", type=int, default=2048, help="listen backlog (gunicorn's default)")
    ap.add_argument("app", help="module:callable")
    args = ap.parse_args()

    if args.chdir:
        os.chdir(args.chdir)
    sys.path.insert(0, os.getcwd())
    module, _, name = args.app.partition(":")
    app = getattr(importlib.import_module(module), name or "application")

    host, _, port = args.bind.rpartition(":")
    sock = bjoern.bind_and_listen(host, int(port), listen_backlog=args.backlog)

    # Block the stop signals while forking, so a SIGTERM arriving now is handled (below)
    # after every child exists and is known, not in a half-made state.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            # Child: default signal handling (SIGTERM ends it; bjoern's loop handles SIGINT).
            for s in stop_signals:
                signal.signal(s, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
            try:
                bjoern.server_run(sock, app)
            except KeyboardInterrupt:
                pass
            os._exit(0)
        children.append(pid)
    sock.close()  # the master never accepts
    print(f"bjoern_launcher: pid {os.getpid()}, {args.workers} workers {children} on {args.bind}",
          file=sys.stderr, flush=True)

    for s in stop_signals:
        signal.signal(s, on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)

    status = 0
    try:
        pid, _ = os.wait()  # returns only if a child exits on its own
        children.remove(pid)
        print(f"bjoern_launcher: worker {pid} exited; stopping", file=sys.stderr, flush=True)
        status = 1
    except Stop:
        pass
    finally:
        for s in stop_signals:
            signal.signal(s, signal.SIG_IGN)
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
            elif pid in children:
                children.remove(pid)
        for pid in children:  # still there after 10 s
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
    sys.exit(status)


if __name__ == "__main__":
    main()
