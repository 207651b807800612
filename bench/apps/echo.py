"""The echo workload: reads CONTENT_LENGTH bytes from wsgi.input and returns them, with a
Content-Length. bench/wrk-echo.lua POSTs 1 MiB to it."""


def application(environ, start_response):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
    )
    return [body]
