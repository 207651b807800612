"""An upload held in the app until a gate file exists, for request-buffering and spooling
tests.

When called the app prints ``held_upload called <id> content_length=<CONTENT_LENGTH>`` to
``wsgi.errors`` (``?id=``) without touching ``wsgi.input``, so a test knows the request is in
the app and can look at the worker (open files, ...) while it is held. With
``?until=<path>`` it waits (checking every 10 ms) until that file exists. Then it reads the
whole body with ``read(65536)`` and echoes it, or with ``&summary=1`` answers
``"<length> <crc32>"``.
"""

import os
import time
import zlib
from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    ident = query.get("id", ["-"])[0]
    errors = environ["wsgi.errors"]
    errors.write(
        f"held_upload called {ident} content_length={environ.get('CONTENT_LENGTH', '')}\n"
    )
    errors.flush()
    if "until" in query:
        path = query["until"][0]
        while not os.path.exists(path):
            time.sleep(0.01)
    summary = query.get("summary", ["0"])[0] == "1"
    stream = environ["wsgi.input"]
    pieces = []
    length, crc = 0, 0
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        length += len(piece)
        crc = zlib.crc32(piece, crc)
        if not summary:
            pieces.append(piece)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if summary:
        return [f"{length} {crc}".encode()]
    return [b"".join(pieces)]
