"""An app whose import lets one worker through and holds the others until a gate opens,
for readiness during boot and reload without timing.

``GATE_DIR`` names a directory. An import proceeds at once if ``GATE_DIR/open`` exists;
otherwise the first import to create ``GATE_DIR/first`` proceeds, and every other prints
``gated import waiting <pid>`` to stderr and waits (polling) until ``open`` appears. The app
answers ``Hello, World!``.
"""

import os
import sys
import time

_gate = os.environ["GATE_DIR"]
_open = os.path.join(_gate, "open")


def _first():
    try:
        os.close(os.open(os.path.join(_gate, "first"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


if not os.path.exists(_open) and not _first():
    print(f"gated import waiting {os.getpid()}", file=sys.stderr, flush=True)
    while not os.path.exists(_open):
        time.sleep(0.02)


def application(environ, start_response):
    body = b"Hello, World!\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
