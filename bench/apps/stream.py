"""The stream workload: 1 MiB sent as 64 yields of 16 KiB, with no Content-Length (so HTTP/1.1
servers frame it chunked). ``?chunks=N`` sends N chunks instead: the 1 GiB flat-RSS check
(bench/run.sh, workload stream-1g) asks for 65536. Each chunk is the same bytes object,
built once at import, so the app itself allocates nothing per chunk."""

from urllib.parse import parse_qs

CHUNK = 16 * 1024
CHUNKS = 64
PIECE = (b"0123456789abcdef" * (CHUNK // 16))[:CHUNK]


def application(environ, start_response):
    chunks = CHUNKS
    query = environ.get("QUERY_STRING", "")
    if query:
        chunks = int(parse_qs(query).get("chunks", [CHUNKS])[0])
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def generate():
        for _ in range(chunks):
            yield PIECE

    return generate()
