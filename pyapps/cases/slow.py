"""A slow request, for graceful-shutdown and timeout tests.

It prints ``slow started <id>`` to ``wsgi.errors`` once the request is in the app, so a test
knows it is in flight, then either sleeps ``?seconds=`` or waits until the file
``?until=<path>`` exists (checked every 10 ms), and answers
``slow done <id> pid=<worker pid> multiprocess=<wsgi.multiprocess>``.
"""

import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    ident = query.get("id", ["-"])[0]
    errors = environ["wsgi.errors"]
    errors.write(f"slow started {ident}\n")
    errors.flush()
    if "until" in query:
        path = query["until"][0]
        while not os.path.exists(path):
            time.sleep(0.01)
    else:
        time.sleep(float(query.get("seconds", ["1"])[0]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    answer = f"slow done {ident} pid={os.getpid()} multiprocess={environ['wsgi.multiprocess']}\n"
    return [answer.encode()]
