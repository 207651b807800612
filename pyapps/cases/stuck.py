"""An app that gets stuck, for the worker-timeout tests.

``/spin`` loops forever in pure Python (holding the GIL) inside ``rsgi_spin_forever``;
``/sleep`` sleeps in C (GIL released) inside ``rsgi_sleep_forever``. Both print
``stuck <path>`` to ``wsgi.errors`` first, so a test knows the request is in the app.
``/gate?PATH`` prints ``gated`` and waits until the file PATH exists, then answers as
below: a test holds the worker busy with it while other requests queue up.
Anything else answers ``ok pid=<worker pid>``.
"""

import os
import time
import urllib.parse


def rsgi_spin_forever():
    n = 0
    while True:
        n += 1


def rsgi_sleep_forever():
    while True:
        time.sleep(3600)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/gate":
        environ["wsgi.errors"].write("gated\n")
        environ["wsgi.errors"].flush()
        gate = urllib.parse.unquote(environ["QUERY_STRING"])
        while not os.path.exists(gate):
            time.sleep(0.005)
    if path in ("/spin", "/sleep"):
        environ["wsgi.errors"].write(f"stuck {path}\n")
        environ["wsgi.errors"].flush()
        if path == "/spin":
            rsgi_spin_forever()
        else:
            rsgi_sleep_forever()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"ok pid={os.getpid()}\n".encode()]
