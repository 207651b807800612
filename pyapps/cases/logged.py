"""Log tests: prints ``app stdout <path>`` to standard output, ``app stderr <path>`` to
standard error and ``app wsgi.errors <path>`` to ``wsgi.errors`` (unless ``?quiet``), then
answers status ``?status=`` (default 200; an invalid one makes the server answer 500) with
the body ``?body=`` (default ``logged\\n``) and a header ``X-Resp: <?resp=, default r1>``.
"""

import sys
from urllib.parse import parse_qs


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    path = environ["PATH_INFO"]
    if "quiet" not in query:
        print(f"app stdout {path}", flush=True)
        print(f"app stderr {path}", file=sys.stderr, flush=True)
        environ["wsgi.errors"].write(f"app wsgi.errors {path}\n")
    status = query.get("status", ["200"])[0]
    body = query.get("body", ["logged\n"])[0].encode()
    headers = [("Content-Type", "text/plain"), ("X-Resp", query.get("resp", ["r1"])[0])]
    start_response(f"{status} Logged", headers)
    return [body]
