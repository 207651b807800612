"""Requests that take ``?ms=`` milliseconds in the app (default 10, sleeping with the GIL
released), so that a worker is busy most of the time under load: the chaos test kills
workers mid-request. Answers ``ok pid=<worker pid>``.
"""

import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    time.sleep(int(query.get("ms", ["10"])[0]) / 1000)
    body = f"ok pid={os.getpid()}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
