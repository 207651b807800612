"""The hello workload: the smallest useful WSGI app (same as pyapps/hello.py, which
bench/run.sh prefers when it exists)."""

BODY = b"Hello, World!\n"


def application(environ, start_response):
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))],
    )
    return [BODY]
