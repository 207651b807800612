"""Echoes the request body back, read the way the query string asks.

``?mode=`` selects how ``wsgi.input`` is consumed:

* ``stream`` (default): ``read(65536)`` in a loop, each piece yielded as it arrives, so a
  huge upload flows through in constant memory;
* ``read``: one ``read()``;
* ``readn``: ``read(n)`` in a loop, ``&n=`` bytes at a time (default 7);
* ``readline``: ``readline()`` until it returns ``b""``;
* ``readline_limit``: ``readline(n)`` until ``b""``;
* ``readlines``: ``readlines()``; ``readlines_hint``: ``readlines(n)`` repeatedly;
* ``iter``: ``for line in wsgi.input``;
* ``summary``: reads in 64 KiB pieces and answers ``"<length> <crc32>"`` instead of the body;
* ``ignore``: reads nothing and answers ``"ignored"``;
* ``prefix``: one ``read(n)`` and answers those bytes, leaving the rest unread.

``&overread=1`` reads once more after the end and appends ``|EOF`` if that read was empty,
which shows that the input never reads past the body.
"""

import zlib
from urllib.parse import parse_qs


def _pieces(stream, mode, n):
    if mode == "read":
        yield stream.read()
    elif mode == "readn":
        while True:
            piece = stream.read(n)
            if not piece:
                return
            yield piece
    elif mode == "readline":
        while True:
            line = stream.readline()
            if not line:
                return
            yield line
    elif mode == "readline_limit":
        while True:
            line = stream.readline(n)
            if not line:
                return
            assert len(line) <= n, (len(line), n)
            yield line
    elif mode == "readlines":
        yield from stream.readlines()
    elif mode == "readlines_hint":
        while True:
            lines = stream.readlines(n)
            if not lines:
                return
            yield from lines
    elif mode == "iter":
        yield from stream
    else:
        raise ValueError(f"unknown mode {mode!r}")


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    mode = query.get("mode", ["stream"])[0]
    n = int(query.get("n", ["7"])[0])
    overread = query.get("overread", ["0"])[0] == "1"
    stream = environ["wsgi.input"]
    text = [("Content-Type", "text/plain")]

    if mode == "ignore":
        start_response("200 OK", text)
        return [b"ignored"]

    if mode == "prefix":
        start_response("200 OK", text)
        return [stream.read(n)]

    if mode == "summary":
        length, crc = 0, 0
        while True:
            piece = stream.read(65536)
            if not piece:
                break
            length += len(piece)
            crc = zlib.crc32(piece, crc)
        start_response("200 OK", text)
        return [f"{length} {crc}".encode()]

    if mode == "stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def echo():
            while True:
                piece = stream.read(65536)
                if not piece:
                    break
                yield piece

        return echo()

    body = b"".join(_pieces(stream, mode, n))
    if overread and stream.read(1) == b"" and stream.read() == b"":
        body += b"|EOF"
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]
