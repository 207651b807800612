"""An app with requests stuck in the application, for the ``--soft-timeout`` tests.

``/spin`` loops in pure Python inside ``rsgi_soft_spin``; ``/nap`` sleeps in steps of
50 ms inside ``rsgi_soft_nap`` (each ``time.sleep`` returns to Python bytecode, where the
exception lands); ``/swallow`` catches ``BaseException`` and keeps spinning, printing
``swallowed`` each time, so only ``--timeout`` ends it. Each prints ``stuck <path>`` to
``wsgi.errors`` first, so a test knows the request is in the app. ``/importable`` says
whether ``rsgi_server.RequestTimeout`` can be imported and what it derives from. Anything
else answers ``ok pid=<worker pid>``.
"""

import os
import time


def rsgi_soft_spin():
    n = 0
    while True:
        n += 1


def rsgi_soft_nap():
    while True:
        time.sleep(0.05)


def rsgi_soft_swallow(errors):
    while True:
        try:
            rsgi_soft_spin()
        except BaseException as exc:
            errors.write(f"swallowed {type(exc).__name__}\n")
            errors.flush()


def importable():
    from rsgi_server import RequestTimeout

    kind = "Exception" if issubclass(RequestTimeout, Exception) else "BaseException"
    return f"{RequestTimeout.__module__}.{RequestTimeout.__name__} {kind}"


def application(environ, start_response):
    path = environ["PATH_INFO"]
    errors = environ["wsgi.errors"]
    if path in ("/spin", "/nap", "/swallow"):
        errors.write(f"stuck {path}\n")
        errors.flush()
        if path == "/spin":
            rsgi_soft_spin()
        elif path == "/nap":
            rsgi_soft_nap()
        else:
            rsgi_soft_swallow(errors)
    if path == "/importable":
        body = importable()
    else:
        body = f"ok pid={os.getpid()}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode() + b"\n"]
