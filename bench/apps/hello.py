"""The hello workload (and hello-close, slowloris): a 14-byte body with its Content-Length.

Unlike pyapps/hello.py it declares Content-Length itself, as frameworks do (Werkzeug, Django):
servers that do not derive it from a one-item list (bjoern) would otherwise send a chunked
response in several writes, which stalls on Nagle + delayed ACK (40 ms per request on
Linux), or a close-delimited one, which wrk counts as a read error."""

BODY = b"Hello, World!\n"


def application(environ, start_response):
    start_response(
        "200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]
