"""Echoes the request body piece by piece, each piece yielded as soon as it was read, for
``--request-buffering=false`` tests.

The app calls ``wsgi.input.read(?piece=N)`` (default 65536) in a loop and yields every piece
it gets, so a client that sent only part of its body can receive the echo of that part
before it sends the rest. It prints ``live_echo called <id>`` (``?id=``) to ``wsgi.errors``
when called, ``live_echo read <id> <n>`` after each read, and reports ``CONTENT_LENGTH`` in
an ``X-Content-Length`` response header. ``?pieces=K`` stops after K reads, leaving the rest
of the body unread (the server then discards it).
"""

from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    ident = query.get("id", ["-"])[0]
    piece_size = int(query.get("piece", ["65536"])[0])
    pieces = int(query.get("pieces", ["0"])[0])
    errors = environ["wsgi.errors"]
    stream = environ["wsgi.input"]
    errors.write(f"live_echo called {ident}\n")
    errors.flush()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/octet-stream"),
            ("X-Content-Length", environ.get("CONTENT_LENGTH", "")),
        ],
    )

    def echo():
        reads = 0
        while not pieces or reads < pieces:
            reads += 1
            piece = stream.read(piece_size)
            errors.write(f"live_echo read {ident} {len(piece)}\n")
            errors.flush()
            if not piece:
                return
            yield piece

    return echo()
