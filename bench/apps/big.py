"""The big workload: a 64 KiB response body, built once at import, sent as one chunk."""

SIZE = 64 * 1024
BODY = (b"0123456789abcdef" * (SIZE // 16))[:SIZE]


def application(environ, start_response):
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(SIZE))],
    )
    return [BODY]
