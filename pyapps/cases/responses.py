"""Response framing cases, picked by path.

* ``/write``: uses the ``write()`` callable from start_response, then returns more chunks.
* ``/write-only``: only ``write()``, returns ``[]``.
* ``/cl-more``: declares Content-Length 5 but produces 10 bytes (truncated, then closed).
* ``/cl-fewer``: declares Content-Length 10 but produces 5 bytes (connection closed).
* ``/single``: a single-item list (the server adds Content-Length).
* ``/multi``: a three-item list without Content-Length (the server may add one: a list's
  length is known).
* ``/many``: a 300-item list of 1000-byte items, each item filled with its index's last
  digit (more than the server queues for one write, and more than its high-water mark).
* ``/multi-gen``: the same three chunks from a generator (chunked on 1.1, close on 1.0).
* ``/empty-chunks``: a generator with empty chunks in between.
* ``/status/<code>``: that status with a body, e.g. 204 and 304 must go out without it.
* ``/bytesio``: ``wsgi.file_wrapper`` over a BytesIO (no fileno(), plain iteration).
* ``/closing``: a three-chunk iterable whose ``close()`` prints ``closed <id>``.
* ``/endless``: an endless generator of 64 KiB chunks; its ``finally`` prints
  ``closed <id>`` when the server closes it (e.g. after the client went away).
* ``/gated?until=<path>``: yields ``first`` and then waits for the file to exist before
  yielding ``second``; ``/gated-write`` does the same through ``write()``. A client can
  only see ``first`` before it creates the file if the server sends chunks as produced.
* ``/errors``: writes to ``wsgi.errors`` with write(), writelines() and flush().
"""

import io
import os
import time
from urllib.parse import parse_qs


class Closing:
    def __init__(self, environ, chunks):
        self.errors = environ["wsgi.errors"]
        self.ident = parse_qs(environ.get("QUERY_STRING", "")).get("id", ["-"])[0]
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.errors.write(f"closed {self.ident}\n")
        self.errors.flush()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    text = [("Content-Type", "text/plain")]
    if path == "/write":
        write = start_response("200 OK", text)
        write(b"one ")
        write(b"two ")
        return [b"three ", b"four\n"]
    if path == "/write-only":
        write = start_response("200 OK", text)
        write(b"only written\n")
        return []
    if path == "/cl-more":
        start_response("200 OK", text + [("Content-Length", "5")])
        return [b"01234", b"56789"]
    if path == "/cl-fewer":
        start_response("200 OK", text + [("Content-Length", "10")])
        return [b"01", b"234"]
    if path == "/single":
        start_response("200 OK", text)
        return [b"single item\n"]
    if path == "/multi":
        start_response("200 OK", text)
        return [b"one ", b"two ", b"three\n"]
    if path == "/many":
        start_response("200 OK", text)
        return [str(i % 10).encode() * 1000 for i in range(300)]
    if path == "/multi-gen":
        start_response("200 OK", text)
        return (chunk for chunk in [b"one ", b"two ", b"three\n"])
    if path == "/empty-chunks":
        start_response("200 OK", text)
        return iter([b"", b"a", b"", b"b", b""])
    if path.startswith("/status/"):
        code = path[len("/status/"):]
        start_response(f"{code} Whatever", text)
        return [b"this body must not be sent\n"]
    if path == "/bytesio":
        start_response("200 OK", text)
        return environ["wsgi.file_wrapper"](io.BytesIO(b"from a BytesIO\n" * 1000), 100)
    if path == "/closing":
        start_response("200 OK", text)
        return Closing(environ, [b"a", b"b", b"c"])
    if path == "/endless":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _endless(environ)
    if path in ("/gated", "/gated-write"):
        gate = parse_qs(environ.get("QUERY_STRING", ""))["until"][0]
        if path == "/gated-write":
            write = start_response("200 OK", text)
            write(b"first\n")
            _wait_for(gate)
            return [b"second\n"]
        start_response("200 OK", text)
        return _gated(gate)
    if path == "/errors":
        errors = environ["wsgi.errors"]
        errors.write("errors-write-probe\n")
        errors.writelines(["errors-writelines-probe-1\n", "errors-writelines-probe-2\n"])
        errors.flush()
        start_response("200 OK", text)
        return [b"logged\n"]
    start_response("404 Not Found", text)
    return [b"unknown case\n"]


def _endless(environ):
    errors = environ["wsgi.errors"]
    ident = parse_qs(environ.get("QUERY_STRING", "")).get("id", ["-"])[0]
    try:
        while True:
            yield b"z" * 65536
    finally:
        errors.write(f"closed {ident}\n")
        errors.flush()


def _wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.01)


def _gated(gate):
    yield b"first\n"
    _wait_for(gate)
    yield b"second\n"
