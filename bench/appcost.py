"""The application's own CPU per request, with no server: calls a WSGI app in-process.

    python bench/appcost.py [--chdir DIR] [-n N] [--path /] module:callable

Imports the app, builds one environ such as a server builds for wrk's ``GET /`` (the CGI
keys, the request's Host header, the wsgi.* keys, an empty ``wsgi.input``), calls the app
with a fresh copy of it N times after a warm-up of N/10 calls, consuming the response
iterable and calling its ``close()``, and prints one JSON line with the CPU time
(``time.process_time()``: user + system, this process) per call in microseconds. The body
is checked to be the same on every call.

bench/run.sh runs it once per workload and round; bench/report.py divides it by each
server's CPU per request: the server's share is ``1 - app / server``.
"""

import argparse
import gc
import importlib
import io
import json
import os
import sys
import time


def environ(path):
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call(app, base):
    env = dict(base)
    env["wsgi.input"] = io.BytesIO(b"")
    status = []
    result = app(env, lambda s, h, exc_info=None: status.append(s))
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return status[0] if status else None, body


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chdir", help="directory to import the app from")
    ap.add_argument("-n", type=int, default=5000, help="timed calls (default 5000)")
    ap.add_argument("--path", default="/")
    ap.add_argument("app", help="module:callable")
    args = ap.parse_args()
    if args.chdir:
        os.chdir(args.chdir)
    sys.path.insert(0, os.getcwd())
    module, _, name = args.app.partition(":")
    app = getattr(importlib.import_module(module), name or "application")

    base = environ(args.path)
    first = call(app, base)
    if not (first[0] or "").startswith("200"):
        sys.exit(f"appcost: {args.app} answered {first[0]!r}, not 200")
    for _ in range(max(args.n // 10, 1)):
        call(app, base)
    gc.collect()
    start = time.process_time()
    for _ in range(args.n):
        if call(app, base)[1] != first[1]:
            sys.exit("appcost: the body changed between calls")
    cpu = time.process_time() - start
    print(json.dumps({"app": args.app, "calls": args.n, "app_us": round(cpu / args.n * 1e6, 2),
                      "body_bytes": len(first[1])}))


if __name__ == "__main__":
    main()
