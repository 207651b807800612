"""Streams a generated body: ``/?chunks=16&size=16384``.

Chunk ``i`` is ``size`` copies of the byte ``ord('A') + i % 26``, produced one at a time, so
a huge response (``?chunks=16384&size=16384`` is 256 MiB) needs no memory in the app.
Without Content-Length the server frames it chunked (HTTP/1.1) or close-delimited
(HTTP/1.0); ``&length=1`` declares the total length up front.
"""

from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    chunks = int(query.get("chunks", ["16"])[0])
    size = int(query.get("size", ["16384"])[0])
    headers = [("Content-Type", "application/octet-stream")]
    if query.get("length", ["0"])[0] == "1":
        headers.append(("Content-Length", str(chunks * size)))
    start_response("200 OK", headers)

    def generate():
        for i in range(chunks):
            yield bytes([ord("A") + i % 26]) * size

    return generate()
