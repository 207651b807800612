"""Pre-fork launcher for the single-process servers: bjoern, meinheld and pyruvate.

    python bench/prefork_launcher.py --engine bjoern --bind 127.0.0.1:8000 --workers 2 \
        [--chdir DIR] module:callable

None of the three forks workers of its own (pyruvate runs threads in one process, behind
one GIL). The launcher binds one listening socket, imports the app, then forks WORKERS
children that each run the engine's event loop on that same socket, so the kernel spreads
connections between them as it does for gunicorn's or rsgi-server's workers:

- bjoern: ``bjoern.server_run(sock, app)``;
- meinheld: ``meinheld.server.set_listen_socket(sock.fileno())`` and ``run(app)``, access log off
  (as every other server's is);
- pyruvate: the socket as systemd socket activation hands it over (fd 3, ``LISTEN_FDS=1``,
  ``LISTEN_PID``) and ``pyruvate.serve(app, None, 1)``: one thread per process, like the
  others' workers. Keep-alive stays at pyruvate's default (off): in 1.6.1 a second request
  on a kept connection (``max_reuse_count`` > 0) gets no answer, with curl as with wrk.
"""

import argparse
import importlib
import os
import signal
import socket
import sys
import time



class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop(signum)


def serve(engine, sock, app):
    """Runs ENGINE's loop on the listening SOCK in this (child) process, until stopped."""
    if engine == "bjoern":
        import bjoern

        bjoern.server_run(sock, app)
    elif engine == "meinheld":
        from meinheld import server

        server.set_access_logger(None)
        server.set_keepalive(75)  # off by default; every other server keeps connections open
        server.set_listen_socket(sock.fileno())
        server.run(app)
    else:
        import pyruvate

        os.dup2(sock.fileno(), 3)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
        pyruvate.serve(app, None, 1, async_logging=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=("bjoern", "meinheld", "pyruvate"), default="bjoern")
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
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    sock.listen(args.backlog)
    sock.setblocking(False)  # every engine's loop expects a non-blocking listener

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
                serve(args.engine, sock, app)
            except KeyboardInterrupt:
                pass
            os._exit(0)
        children.append(pid)
    sock.close()  # the master never accepts
    print(f"prefork_launcher: {args.engine}, pid {os.getpid()}, {args.workers} workers {children} on {args.bind}",
          file=sys.stderr, flush=True)

    for s in stop_signals:
        signal.signal(s, on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)

    status = 0
    try:
        pid, _ = os.wait()  # returns only if a child exits on its own
        children.remove(pid)
        print(f"prefork_launcher: worker {pid} exited; stopping", file=sys.stderr, flush=True)
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
