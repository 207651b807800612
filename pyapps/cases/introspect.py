"""Reports the worker process as JSON: pid, cwd, sys.prefix, sys.path, selected
``os.environ`` entries (``?env=NAME``, repeatable) and optionally imports a module
(``?import=NAME``) and reports its ``__file__``, and how many requests the serving thread
has run so far, as its ``threading.local`` remembers them.
"""

import importlib
import json
import os
import sys
import threading
from urllib.parse import parse_qs

_local = threading.local()


def application(environ, start_response):
    _local.requests = getattr(_local, "requests", 0) + 1
    query = parse_qs(environ.get("QUERY_STRING", ""))
    report = {
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "path": sys.path,
        "env": {name: os.environ.get(name) for name in query.get("env", [])},
        "multiprocess": environ["wsgi.multiprocess"],
        "thread_requests": _local.requests,
    }
    for name in query.get("import", []):
        try:
            module = importlib.import_module(name)
            report.setdefault("imported", {})[name] = getattr(module, "__file__", None)
            report.setdefault("values", {})[name] = getattr(module, "VALUE", None)
        except Exception as e:  # reported, not raised: the test asserts on it
            report.setdefault("import_errors", {})[name] = repr(e)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode()]
