"""Echoes the WSGI environ as JSON: ``rsgi-server environ``.

Every key maps to ``{"type": ..., "repr": ...}`` plus ``"value"`` when the value is
JSON-native (str, int, float, bool, None, or a tuple/list of those). The request body is
read with ``wsgi.input.read(65536)`` and reported as ``body_length`` and ``body_crc32``, along
with the worker's ``pid``. The integration tests parse this output.
"""

import json
import os
import zlib

_NATIVE = (str, int, float, bool, type(None))


def _describe(value):
    entry = {"type": type(value).__name__, "repr": repr(value)}
    if isinstance(value, _NATIVE):
        entry["value"] = value
    elif isinstance(value, (tuple, list)) and all(isinstance(v, _NATIVE) for v in value):
        entry["value"] = list(value)
    return entry


def application(environ, start_response):
    # read(size) in a loop rather than read(): wsgiref.validate only allows the former.
    body = b""
    while True:
        piece = environ["wsgi.input"].read(65536)
        if not piece:
            break
        body += piece
    report = {
        "environ": {key: _describe(value) for key, value in environ.items()},
        "body_length": len(body),
        "body_crc32": zlib.crc32(body),
        "pid": os.getpid(),
    }
    payload = json.dumps(report, indent=1, sort_keys=True).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [payload]
