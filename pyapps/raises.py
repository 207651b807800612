"""An app that fails on purpose, to show what the server does with app errors.

* ``/before``: raises before calling ``start_response`` (the client gets a 500);
* ``/after-start``: calls ``start_response`` and raises before yielding anything (still a
  500: headers are only sent with the first non-empty chunk);
* ``/empty-then-raise``: yields ``b""`` and then raises (still a 500, same reason);
* ``/mid``: yields one chunk and then raises (the headers are out, so the server can only
  cut the connection);
* ``/ok``: a successful response through the same iterable.

The iterable's ``close()`` prints ``closed <id>`` to ``wsgi.errors`` (``?id=`` in the query),
so a test can check the server always calls it.
"""

from urllib.parse import parse_qs


class Body:
    def __init__(self, environ, steps):
        self.errors = environ["wsgi.errors"]
        self.ident = parse_qs(environ.get("QUERY_STRING", "")).get("id", ["-"])[0]
        self.steps = iter(steps)

    def __iter__(self):
        return self

    def __next__(self):
        step = next(self.steps)
        if isinstance(step, Exception):
            raise step
        return step

    def close(self):
        self.errors.write(f"closed {self.ident}\n")
        self.errors.flush()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/before":
        raise RuntimeError("raised before start_response")
    start_response("200 OK", [("Content-Type", "text/plain")])
    if path == "/after-start":
        return Body(environ, [RuntimeError("raised after start_response")])
    if path == "/empty-then-raise":
        return Body(environ, [b"", RuntimeError("raised after an empty chunk")])
    if path == "/mid":
        return Body(environ, [b"first chunk\n", RuntimeError("raised mid-iteration")])
    return Body(environ, [b"all ", b"good\n"])
