"""An app that builds ~50 MB of Python objects when imported, for ``--preload`` tests.

Answers ``pid=<worker pid> imported_in=<pid of the process that imported it>
objects=<count> frozen=<gc.get_freeze_count()>``: with ``--preload`` the importing process
is the master.
"""

import gc
import os

IMPORTED_IN = os.getpid()
# About 50 MB: small tuples of an int and a str.
DATA = [(i, f"value-{i:08d}") for i in range(320_000)]


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    body = (
        f"pid={os.getpid()} imported_in={IMPORTED_IN} objects={len(DATA)} "
        f"frozen={gc.get_freeze_count()}\n"
    )
    return [body.encode()]
