"""Counts its calls, and holds a request on demand, for load-shedding tests
(``--max-queue-time``).

``/hold?until=<path>&min_ms=<n>&after_ms=<m>`` prints ``queued holding`` to ``wsgi.errors``
and answers only once the file ``<path>`` exists, at least ``min_ms`` milliseconds have
passed since it was called, and ``after_ms`` more since the file appeared, so requests
behind it (sent before the file is made) wait at least that long. Any other path answers at
once. ``?set_id=<id>`` answers with its own ``X-Request-ID: <id>`` header. Every answer is
JSON: ``calls`` (this worker's count of calls so far, so a test can
prove that a shed request never reached the app), the path, and the request ID the environ
carries under ``HTTP_X_REQUEST_ID`` (``null`` without one).
"""

import json
import os
import threading
import time
from urllib.parse import parse_qs

calls = 0
lock = threading.Lock()


def application(environ, start_response):
    global calls
    with lock:
        calls += 1
        count = calls
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/hold":
        errors = environ["wsgi.errors"]
        errors.write("queued holding\n")
        errors.flush()
        until = query.get("until", [""])[0]
        deadline = time.monotonic() + int(query.get("min_ms", ["0"])[0]) / 1000
        while (until and not os.path.exists(until)) or time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(int(query.get("after_ms", ["0"])[0]) / 1000)
    headers = []
    if "set_id" in query:
        headers.append(("X-Request-ID", query["set_id"][0]))
    body = json.dumps(
        {"calls": count, "path": path, "request_id": environ.get("HTTP_X_REQUEST_ID")}
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        + headers,
    )
    return [body]
