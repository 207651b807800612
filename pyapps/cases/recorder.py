"""Records what the application is handed, for the request corpus (tests/it/http_corpus.rs).

Each call answers JSON: ``calls`` (this worker's running count of calls, so a test can prove
a rejected request never reached the app), the method, the raw target, the protocol, the
body (latin-1) and the request headers as the environ carries them (``HTTP_*``,
``CONTENT_TYPE``, ``CONTENT_LENGTH``). Run it with one worker so the count is global.
"""

import json

calls = 0


def application(environ, start_response):
    global calls
    calls += 1
    body = environ["wsgi.input"].read()
    headers = {
        k: v
        for k, v in environ.items()
        if k.startswith("HTTP_") or k in ("CONTENT_TYPE", "CONTENT_LENGTH")
    }
    out = json.dumps(
        {
            "calls": calls,
            "method": environ["REQUEST_METHOD"],
            "uri": environ["RAW_URI"],
            "protocol": environ["SERVER_PROTOCOL"],
            "body": body.decode("latin-1"),
            "headers": headers,
        }
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(out)))],
    )
    return [out]
