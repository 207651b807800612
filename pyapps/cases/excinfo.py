"""``start_response(..., exc_info)`` and other ``start_response`` call patterns.

* ``/replace``: start_response 200, then an error; the handler calls start_response again
  with ``exc_info`` before anything was sent, which replaces the response (PEP 3333).
* ``/after-sent``: the first chunk is out, then the same handler: start_response must
  re-raise, and the server can only cut the connection.
* ``/twice``: calls start_response twice without exc_info, a PEP 3333 error (500).
* ``/custom-server``: sets its own ``Server`` and ``Date`` headers, which must be kept.
"""

import sys


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/replace":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        try:
            raise ValueError("something broke")
        except ValueError:
            start_response("503 Replaced", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced body\n"]
    if path == "/after-sent":
        return _after_sent(environ, start_response)
    if path == "/twice":
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"second start_response was accepted\n"]
    if path == "/custom-server":
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Server", "custom/1.0"),
                ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ],
        )
        return [b"custom\n"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown case\n"]


def _after_sent(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"partial "
    try:
        raise ValueError("failed after the headers went out")
    except ValueError:
        # Must raise: the headers are already on the wire.
        start_response("500 Too Late", [("Content-Type", "text/plain")], sys.exc_info())
    yield b"must never be sent\n"
