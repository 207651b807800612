"""Responses of a chosen size, each telling which request it answers, for the tests of a
batch of responses sent at once.

``/gate?PATH`` prints ``gated`` to ``wsgi.errors`` and waits until the file PATH exists,
then answers: a test keeps the worker busy with it while other requests queue up.
``/<name>?size=N`` answers N bytes: ``<name>:`` repeated and cut to N.
"""

import os
import time
import urllib.parse


def body_for(name, size):
    unit = f"{name}:".encode()
    return (unit * (size // len(unit) + 1))[:size]


def application(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ["QUERY_STRING"]
    if path == "/gate":
        environ["wsgi.errors"].write("gated\n")
        environ["wsgi.errors"].flush()
        gate = urllib.parse.unquote(query)
        while not os.path.exists(gate):
            time.sleep(0.005)
        body = b"open"
    else:
        size = int(urllib.parse.parse_qs(query).get("size", ["0"])[0])
        body = body_for(path.strip("/"), size)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
