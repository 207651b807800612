"""A worker that misbehaves on request, for the supervisor's tests.

Every request prints ``misbehave <path> pid=<pid>`` to ``wsgi.errors`` first. Then, by path:

* ``/crash``: the worker dereferences NULL (a real SIGSEGV); ``/crash?signal=NAME`` kills
  it with that signal instead.
* ``/grow?mib=N``: the worker keeps N more MiB of touched memory for the rest of its life.
* ``/stuck?until=<path>``: waits until the file exists; with ``&ignore_abort=1`` it first
  ignores SIGABRT (a worker that does not exit when told it timed out).
* anything else: ``ok pid=<pid>``.
"""

import os
import signal
import time
from urllib.parse import parse_qs

_held = []


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    errors = environ["wsgi.errors"]
    errors.write(f"misbehave {path} pid={os.getpid()}\n")
    errors.flush()
    if path == "/crash":
        if "signal" in query:
            os.kill(os.getpid(), getattr(signal, "SIG" + query["signal"][0]))
        else:
            import ctypes

            ctypes.string_at(0)
        time.sleep(60)
    elif path == "/grow":
        mib = int(query.get("mib", ["64"])[0])
        # bytes filled with a non-zero byte: every page is touched, so it is resident.
        _held.append(b"x" * (mib << 20))
    elif path == "/stuck":
        if query.get("ignore_abort"):
            signal.signal(signal.SIGABRT, signal.SIG_IGN)
        gate = query["until"][0]
        while not os.path.exists(gate):
            time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"ok pid={os.getpid()}\n".encode()]
