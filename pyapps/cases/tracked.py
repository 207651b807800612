"""A generated response whose iterable's ``close()`` is observable, for client-disconnect
and send-timeout tests.

``?id=`` names the request. When called, the app prints ``tracked started <id>`` to
``wsgi.errors``; with ``?until=<path>`` it then waits (checking every 10 ms) until that file
exists before calling ``start_response``. The body is ``?chunks=`` chunks (default 65536) of
``?size=`` bytes (default 16384, so 1 GiB by default): chunk ``i`` is ``size`` copies of the
byte ``ord('a') + i % 26``, produced one at a time. ``&length=1`` declares Content-Length.
``close()`` prints ``tracked closed <id> after <n> chunks``.
"""

import os
import time
from urllib.parse import parse_qs


class Body:
    def __init__(self, errors, ident, chunks, size):
        self.errors = errors
        self.ident = ident
        self.chunks = chunks
        self.size = size
        self.sent = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.sent >= self.chunks:
            raise StopIteration
        chunk = bytes([ord("a") + self.sent % 26]) * self.size
        self.sent += 1
        return chunk

    def close(self):
        self.errors.write(f"tracked closed {self.ident} after {self.sent} chunks\n")
        self.errors.flush()


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    ident = query.get("id", ["-"])[0]
    chunks = int(query.get("chunks", ["65536"])[0])
    size = int(query.get("size", ["16384"])[0])
    errors = environ["wsgi.errors"]
    errors.write(f"tracked started {ident}\n")
    errors.flush()
    if "until" in query:
        path = query["until"][0]
        while not os.path.exists(path):
            time.sleep(0.01)
    headers = [("Content-Type", "application/octet-stream")]
    if query.get("length", ["0"])[0] == "1":
        headers.append(("Content-Length", str(chunks * size)))
    start_response("200 OK", headers)
    return Body(errors, ident, chunks, size)
