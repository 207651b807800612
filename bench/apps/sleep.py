"""The sleep workload: waits 10 ms (as a call to a slow backend would), then answers like
hello (hello.py). A server with W workers x T threads can do at most W*T/10 ms requests per second."""

import time

BODY = b"Hello, World!\n"


def application(environ, start_response):
    time.sleep(0.01)
    start_response(
        "200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]
