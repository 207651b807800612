"""Requests that answer only once ``?parties=N`` of them (default 4) are inside the app at
the same time, to prove concurrency without timing.

Every request waits on a ``threading.Barrier(N)`` shared by the worker process (one per
``?key=`` and party count). Before waiting it prints ``barrier waiting <id>`` to
``wsgi.errors``. The wait gives up after ``?timeout=`` seconds (default 60, a safety net
only) and then answers ``500`` with ``barrier broken``. Otherwise the answer is JSON:
``{"id", "pid", "thread", "multithread", "parties"}``, where ``thread`` is the ident of the
Python thread that ran the request.
"""

import json
import os
import threading
from urllib.parse import parse_qs

_lock = threading.Lock()
_barriers = {}


def _barrier(key, parties):
    with _lock:
        barrier = _barriers.get((key, parties))
        if barrier is None:
            barrier = _barriers[(key, parties)] = threading.Barrier(parties)
        return barrier


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    ident = query.get("id", ["-"])[0]
    parties = int(query.get("parties", ["4"])[0])
    key = query.get("key", ["default"])[0]
    timeout = float(query.get("timeout", ["60"])[0])
    errors = environ["wsgi.errors"]
    errors.write(f"barrier waiting {ident}\n")
    errors.flush()
    try:
        _barrier(key, parties).wait(timeout)
    except threading.BrokenBarrierError:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"barrier broken\n"]
    report = {
        "id": ident,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "multithread": environ["wsgi.multithread"],
        "parties": parties,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]
